//! PyYAML's verdict on a `:` inside a flow collection that cannot start a
//! value: `{name: a\nb: c}` (an unclosed flow mapping running into the next
//! lines) fails in PyYAML at the second `:` with "expected ',' or '}', but
//! got ':'", because a simple key must sit on one line and, in flow context,
//! none is allowed after a value. yaml-rust2 accepts the multi-line key and
//! fails further on, so the reported position differed from upstream's.
//!
//! This is a small scanner of flow context only, run after yaml-rust2 has
//! already rejected the document: it never turns a valid document invalid,
//! it only finds an earlier, PyYAML-shaped error.

use crate::error::{Pos, YamlError};

/// One open flow collection.
struct Level {
    mapping: bool,
    open: Pos,
    /// A simple key may start here (after `{`, `[`, `,`).
    allow_key: bool,
    /// Line of the pending simple-key candidate.
    candidate: Option<usize>,
    /// A node ended since the last `,` (or the opening bracket).
    node_done: bool,
}

impl Level {
    fn new(mapping: bool, open: Pos) -> Level {
        Level {
            mapping,
            open,
            allow_key: true,
            candidate: None,
            node_done: false,
        }
    }

    /// A scalar or a nested collection starts on `line`.
    fn node_starts(&mut self, line: usize) {
        if self.allow_key {
            self.candidate = Some(line);
            self.allow_key = false;
        }
    }
}

struct Scan {
    chars: Vec<char>,
    i: usize,
    line: usize,
    col: usize,
}

impl Scan {
    fn peek(&self, k: usize) -> Option<char> {
        self.chars.get(self.i + k).copied()
    }

    fn bump(&mut self) {
        if let Some(c) = self.peek(0) {
            self.i += 1;
            if c == '\n' {
                self.line += 1;
                self.col = 1;
            } else {
                self.col += 1;
            }
        }
    }

    fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            col: self.col,
        }
    }

    fn skip_to_eol(&mut self) {
        while self.peek(0).is_some_and(|c| c != '\n') {
            self.bump();
        }
    }

    /// Skip a quoted scalar starting at the quote; false if unterminated.
    fn skip_quoted(&mut self) -> bool {
        let q = self.peek(0);
        self.bump();
        while let Some(c) = self.peek(0) {
            if q == Some('\'') && c == '\'' {
                if self.peek(1) == Some('\'') {
                    self.bump();
                    self.bump();
                    continue;
                }
                self.bump();
                return true;
            }
            if q == Some('"') && c == '\\' {
                self.bump();
                self.bump();
                continue;
            }
            if q == Some('"') && c == '"' {
                self.bump();
                return true;
            }
            self.bump();
        }
        false
    }
}

fn is_blank(c: Option<char>) -> bool {
    matches!(c, None | Some(' ' | '\t' | '\r' | '\n'))
}

fn is_flow_indicator(c: Option<char>) -> bool {
    matches!(c, Some(',' | '[' | ']' | '{' | '}'))
}

/// The first flow-context `:` PyYAML rejects, as PyYAML words it.
pub(crate) fn first_flow_error(text: &str) -> Option<YamlError> {
    let mut s = Scan {
        chars: text.chars().collect(),
        i: 0,
        line: 1,
        col: 1,
    };
    let mut stack: Vec<Level> = Vec::new();
    // Block context: a flow collection only starts where a token starts.
    let mut token_start = true;
    while let Some(c) = s.peek(0) {
        if stack.is_empty() {
            match c {
                '\n' => {
                    token_start = true;
                    s.bump();
                }
                ' ' | '\t' => s.bump(),
                '#' if token_start
                    || s.i == 0
                    || matches!(s.chars.get(s.i - 1), Some(' ' | '\t')) =>
                {
                    s.skip_to_eol()
                }
                '\'' | '"' if token_start => {
                    if !s.skip_quoted() {
                        return None;
                    }
                    token_start = false;
                }
                '|' | '>' if token_start => {
                    // A block scalar: its lines are content, not syntax.
                    let indent_of = |s: &Scan, from: usize| {
                        s.chars[from..].iter().take_while(|c| **c == ' ').count()
                    };
                    s.skip_to_eol();
                    let base = {
                        let start = s.chars[..s.i]
                            .iter()
                            .rposition(|c| *c == '\n')
                            .map_or(0, |p| p + 1);
                        indent_of(&s, start)
                    };
                    loop {
                        if s.peek(0) != Some('\n') {
                            break;
                        }
                        let next = s.i + 1;
                        let ind = indent_of(&s, next);
                        let blank = s.chars.get(next + ind).is_none_or(|c| *c == '\n');
                        if !blank && ind <= base {
                            break;
                        }
                        s.bump();
                        s.skip_to_eol();
                    }
                }
                '{' | '[' if token_start => {
                    stack.push(Level::new(c == '{', s.pos()));
                    s.bump();
                }
                '-' | '?' | ':' if is_blank(s.peek(1)) => {
                    token_start = true;
                    s.bump();
                }
                _ => {
                    // Plain text up to ": " / " #" / end of line.
                    token_start = false;
                    s.bump();
                    while let Some(d) = s.peek(0) {
                        if d == '\n'
                            || (d == ':' && is_blank(s.peek(1)))
                            || (d == '#'
                                && s.i > 0
                                && matches!(s.chars.get(s.i - 1), Some(' ' | '\t')))
                        {
                            break;
                        }
                        s.bump();
                    }
                }
            }
            continue;
        }
        // Flow context.
        let here = s.pos();
        match c {
            ' ' | '\t' | '\r' | '\n' => s.bump(),
            '#' if s.i == 0 || matches!(s.chars.get(s.i - 1), Some(' ' | '\t' | '\n')) => {
                s.skip_to_eol()
            }
            '{' | '[' => {
                if let Some(top) = stack.last_mut() {
                    top.node_starts(here.line);
                }
                stack.push(Level::new(c == '{', here));
                s.bump();
            }
            '}' | ']' => {
                stack.pop();
                s.bump();
                match stack.last_mut() {
                    Some(top) => {
                        top.node_done = true;
                        top.allow_key = false;
                    }
                    None => token_start = false,
                }
            }
            ',' => {
                if let Some(top) = stack.last_mut() {
                    top.allow_key = true;
                    top.candidate = None;
                    top.node_done = false;
                }
                s.bump();
            }
            // In flow context any `:` at a token start is a value indicator.
            ':' => {
                let top = stack.last_mut()?;
                let keyed = top.candidate.take().is_some_and(|l| l == here.line);
                if !keyed && top.node_done {
                    let (what, close) = if top.mapping {
                        ("while parsing a flow mapping", '}')
                    } else {
                        ("while parsing a flow sequence", ']')
                    };
                    return Some(
                        YamlError::at(here, format!("expected ',' or '{close}', but got ':'"))
                            .with_context(what, top.open),
                    );
                }
                top.node_done = false;
                top.allow_key = false;
                s.bump();
            }
            '\'' | '"' => {
                if let Some(top) = stack.last_mut() {
                    top.node_starts(here.line);
                }
                if !s.skip_quoted() {
                    return None;
                }
                if let Some(top) = stack.last_mut() {
                    top.node_done = true;
                }
            }
            _ => {
                // A plain scalar; in flow context it may run over lines.
                if let Some(top) = stack.last_mut() {
                    top.node_starts(here.line);
                }
                s.bump();
                while let Some(d) = s.peek(0) {
                    let ends = is_flow_indicator(Some(d))
                        || (d == ':' && (is_blank(s.peek(1)) || is_flow_indicator(s.peek(1))))
                        || (d == '#'
                            && matches!(s.chars.get(s.i.wrapping_sub(1)), Some(' ' | '\t')));
                    if ends {
                        break;
                    }
                    if d == '\n' || d == ' ' || d == '\t' || d == '\r' {
                        // Continue only if more plain text follows the blanks.
                        let mut k = 0;
                        while matches!(s.peek(k), Some(' ' | '\t' | '\r' | '\n')) {
                            k += 1;
                        }
                        let next = s.peek(k);
                        let next2 = s.peek(k + 1);
                        let stops = next.is_none()
                            || is_flow_indicator(next)
                            || next == Some('#')
                            || (next == Some(':') && (is_blank(next2) || is_flow_indicator(next2)));
                        if stops {
                            break;
                        }
                    }
                    s.bump();
                }
                if let Some(top) = stack.last_mut() {
                    top.node_done = true;
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    type Found = (usize, usize, String, Option<(usize, usize)>);

    fn err(text: &str) -> Option<Found> {
        first_flow_error(text).map(|e| (e.line, e.column, e.message, e.context_mark))
    }

    #[test]
    fn unclosed_flow_mapping_running_into_the_next_key() {
        let text = "#cloud-config\nusers: [ {name: nobody-here\nruncmd:\n  - : : [\n";
        let e = first_flow_error(text).unwrap();
        assert_eq!((e.line, e.column), (3, 7));
        assert_eq!(e.context_mark, Some((2, 10)));
        assert_eq!(e.context.as_deref(), Some("while parsing a flow mapping"));
        assert_eq!(e.message, "expected ',' or '}', but got ':'");
    }

    #[test]
    fn sequences_and_valid_flow_are_left_alone() {
        assert_eq!(
            err("a: [x, y\nb: c]\n"),
            Some((
                2,
                2,
                "expected ',' or ']', but got ':'".into(),
                Some((1, 4))
            ))
        );
        // Positions as PyYAML 6.0.2 reports them.
        let m = "expected ',' or '}', but got ':'".to_string();
        assert_eq!(
            err("a: {x: 1 y: 2}\n"),
            Some((1, 11, m.clone(), Some((1, 4))))
        );
        assert_eq!(err("a: {x\ny: 1}\n"), Some((2, 2, m.clone(), Some((1, 4)))));
        assert_eq!(
            err("a: [{k: v\nb: c}]\n"),
            Some((2, 2, m.clone(), Some((1, 5))))
        );
        assert_eq!(err("a: {b: c: d}\n"), Some((1, 9, m, Some((1, 4)))));
        assert_eq!(
            err("a: {x: 1, y: [1, 2], 'q': \"r\"}\nb: [c: d, e]\n"),
            None
        );
        assert_eq!(err("a: {x: 1,\n  y: 2}\n"), None);
        assert_eq!(err("a: [http://x:80/p, {k: v}]\n"), None);
        assert_eq!(err("a: |\n  {x: 1 y: 2\n  z: 3\nb: 1\n"), None);
        assert_eq!(err("k: 'quoted [ { text'\n"), None);
        assert_eq!(err("- [a, b] # {c: d: e}\n"), None);
    }
}

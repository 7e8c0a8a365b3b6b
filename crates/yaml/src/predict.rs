//! Finds, in one pass, every place `repair` would patch, so a document
//! needing many repairs is patched once instead of once per yaml-rust2
//! error (each of which would mean parsing the whole document again).
//!
//! This is a rough PyYAML tokenizer: it only needs to know where quoted
//! scalars, flow collections and comments are. It may guess wrong (a quote
//! inside a multi-line plain scalar, say); the caller then checks every
//! patch against yaml-rust2's own tokens of the patched text and falls back
//! to repairing error by error when one does not hold.

use crate::tabs::close_quote;

/// Where patches go, as char indices of the original text.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// Quoted scalars spanning lines: (opening quote, closing quote).
    pub quoted: Vec<(usize, usize)>,
    /// Starts of lines that continue a flow collection (outside quoted
    /// scalars).
    pub flow_lines: Vec<usize>,
    /// `#` that PyYAML reads as a comment right after a flow indicator or a
    /// closing quote, where YAML 1.2 wants a space.
    pub tight_comments: Vec<usize>,
}

impl Plan {
    /// The patches wholly before char index `limit`.
    pub(crate) fn before(&self, limit: usize) -> Plan {
        Plan {
            quoted: self
                .quoted
                .iter()
                .copied()
                .filter(|q| q.1 < limit)
                .collect(),
            flow_lines: self
                .flow_lines
                .iter()
                .copied()
                .filter(|l| *l < limit)
                .collect(),
            tight_comments: self
                .tight_comments
                .iter()
                .copied()
                .filter(|c| *c < limit)
                .collect(),
        }
    }
}

struct Scan<'a> {
    c: &'a [char],
    i: usize,
    flow: usize,
    plan: Plan,
    /// Column of the first token of the line after any `- `/`? `, and of
    /// the last such indicator: the block a scalar on this line belongs to.
    key_col: Option<usize>,
    indicator_col: Option<usize>,
    line_start: usize,
    /// A block scalar's parent column: its content is every line deeper.
    block_parent: Option<usize>,
    /// A plain scalar ended the last line; lines deeper than this column
    /// (-1: any) continue it.
    plain_parent: Option<isize>,
    /// A plain scalar in a flow collection ended the last line; the next
    /// line's text continues it.
    flow_plain: bool,
}

fn blank(c: Option<char>) -> bool {
    matches!(c, None | Some(' ' | '\t' | '\r' | '\n'))
}

impl Scan<'_> {
    fn get(&self, i: usize) -> Option<char> {
        self.c.get(i).copied()
    }

    fn col(&self) -> usize {
        self.i - self.line_start
    }

    fn skip_to_eol(&mut self) {
        while self.get(self.i).is_some_and(|c| c != '\n') {
            self.i += 1;
        }
    }

    fn indent_at(&self, ls: usize) -> (usize, bool) {
        let mut k = ls;
        while self.get(k) == Some(' ') {
            k += 1;
        }
        let empty = matches!(self.get(k), None | Some('\n' | '\r' | '#' | '\t'));
        (k - ls, empty)
    }

    /// At a line start: skips block scalar content and plain scalar
    /// continuation lines, which hold no tokens.
    fn start_line(&mut self) {
        self.line_start = self.i;
        self.key_col = None;
        self.indicator_col = None;
        if self.flow > 0 {
            self.plan.flow_lines.push(self.i);
            if std::mem::take(&mut self.flow_plain) {
                let mut k = self.i;
                while matches!(self.get(k), Some(' ' | '\t')) {
                    k += 1;
                }
                match self.get(k) {
                    Some('\n' | '\r') => self.flow_plain = true,
                    Some(',' | ']' | '}' | '#' | ':') | None => {}
                    Some(_) => {
                        self.i = k;
                        self.plain(true);
                    }
                }
            }
            return;
        }
        if let Some(parent) = self.block_parent {
            let (width, empty) = self.indent_at(self.i);
            if width > parent || (empty && self.get(self.i + width) != Some('#')) {
                self.skip_to_eol();
                return;
            }
            self.block_parent = None;
        }
        if let Some(parent) = self.plain_parent.take() {
            let (width, empty) = self.indent_at(self.i);
            if width as isize > parent && !empty {
                self.i += width;
                self.plain(false);
                self.plain_parent = Some(parent);
            }
        }
    }

    /// A plain scalar from `self.i`; stops at `: `, ` #`, the end of the
    /// line, and in flow context at `,[]{}`.
    fn plain(&mut self, may_continue: bool) {
        // A plain scalar first on its line (an item, or the root) belongs
        // to the block of the indicator before it; one after `key:` to the
        // key's.
        let parent = if self.key_col == Some(self.col()) {
            self.indicator_col.map_or(-1, |c| c as isize)
        } else {
            self.key_col.map_or(-1, |c| c as isize)
        };
        while let Some(c) = self.get(self.i) {
            let next = self.get(self.i + 1);
            match c {
                '\n' => {
                    if may_continue && self.flow == 0 {
                        self.plain_parent = Some(parent);
                    }
                    self.flow_plain = may_continue && self.flow > 0;
                    return;
                }
                ':' if blank(next) || (self.flow > 0 && matches!(next, Some(',' | ']' | '}'))) => {
                    return
                }
                ' ' | '\t' if next == Some('#') => return,
                ',' | '[' | ']' | '{' | '}' if self.flow > 0 => return,
                _ => self.i += 1,
            }
        }
    }

    fn run(mut self, mid_line: bool) -> Plan {
        // Whether the next character starts a token, and whether the last
        // token was a flow indicator or quoted scalar (a `#` right after
        // one starts a comment for PyYAML).
        let mut token_start = true;
        let mut after_tight = false;
        if !mid_line {
            self.start_line();
        }
        while let Some(c) = self.get(self.i) {
            let next = self.get(self.i + 1);
            let col = self.col();
            if token_start && self.key_col.is_none() && !matches!(c, ' ' | '\t' | '\n' | '\r') {
                let is_indicator = matches!(c, '-' | '?') && blank(next);
                if is_indicator {
                    self.indicator_col = Some(col);
                } else {
                    self.key_col = Some(col);
                }
            }
            let was_tight = std::mem::take(&mut after_tight);
            match c {
                '\n' => {
                    self.i += 1;
                    token_start = true;
                    self.start_line();
                    continue;
                }
                ' ' | '\t' | '\r' => {
                    self.i += 1;
                    token_start = true;
                    continue;
                }
                '#' if token_start || was_tight => {
                    if was_tight && !token_start {
                        self.plan.tight_comments.push(self.i);
                    }
                    self.skip_to_eol();
                    continue;
                }
                ']' | '}' if self.flow > 0 => {
                    self.flow -= 1;
                    self.i += 1;
                    token_start = false;
                    after_tight = true;
                }
                ',' if self.flow > 0 => {
                    self.i += 1;
                    token_start = true;
                    after_tight = true;
                }
                _ if !token_start && !was_tight => {
                    // Inside a token (an anchor, tag or the like).
                    self.i += 1;
                    continue;
                }
                '"' | '\'' => {
                    let close = close_quote(self.c, self.i);
                    if close >= self.c.len() {
                        break;
                    }
                    // PyYAML refuses text right after a closing quote, so a
                    // "scalar" followed by some is not one: read it as plain.
                    let after = self.get(close + 1);
                    let fits = blank(after)
                        || matches!(after, Some(':' | '#'))
                        || (self.flow > 0 && matches!(after, Some(',' | ']' | '}')));
                    if !fits {
                        self.plain(true);
                        token_start = false;
                        continue;
                    }
                    if self.c.get(self.i..close).is_some_and(|s| s.contains(&'\n')) {
                        self.plan.quoted.push((self.i, close));
                    }
                    // Its lines are the quoted scalar's, not new lines.
                    let last_break = (self.i..close).rev().find(|k| self.get(*k) == Some('\n'));
                    if let Some(lb) = last_break {
                        self.line_start = lb + 1;
                    }
                    self.i = close + 1;
                    token_start = false;
                    after_tight = true;
                }
                '[' | '{' => {
                    self.flow += 1;
                    self.i += 1;
                    token_start = true;
                    after_tight = true;
                }
                ':' | '?' | '-' if blank(next) || (c == ':' && self.flow > 0) => {
                    self.i += 1;
                    token_start = true;
                }
                '|' | '>' if self.flow == 0 => {
                    let parent = if self.key_col == Some(col) {
                        self.indicator_col.unwrap_or(0)
                    } else {
                        self.key_col.unwrap_or(0)
                    };
                    self.block_parent = Some(parent);
                    self.skip_to_eol();
                }
                '%' if col == 0 && self.flow == 0 => self.skip_to_eol(),
                '&' | '!' | '*' => {
                    while !blank(self.get(self.i)) {
                        if self.flow > 0 && matches!(self.get(self.i), Some(',' | ']' | '}')) {
                            break;
                        }
                        self.i += 1;
                    }
                    token_start = false;
                }
                _ => {
                    if col == 0
                        && self.flow == 0
                        && matches!(c, '-' | '.')
                        && next == Some(c)
                        && self.get(self.i + 2) == Some(c)
                        && blank(self.get(self.i + 3))
                    {
                        self.i += 3;
                        token_start = true;
                        continue;
                    }
                    self.plain(true);
                    token_start = false;
                }
            }
        }
        self.plan
    }
}

/// The patch plan for `chars` from char index `from` on, a token start
/// inside `flow` flow collections and no other open construct (see
/// [`Plan`]).
pub(crate) fn plan(chars: &[char], from: usize, flow: usize) -> Plan {
    let line_start = chars
        .get(..from)
        .and_then(|b| b.iter().rposition(|c| *c == '\n'))
        .map_or(0, |k| k + 1);
    Scan {
        c: chars,
        i: from,
        flow,
        plan: Plan::default(),
        key_col: None,
        indicator_col: None,
        line_start,
        block_parent: None,
        plain_parent: None,
        flow_plain: false,
    }
    .run(from > line_start)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    #[test]
    fn finds_quoted_flow_and_tight_comments() {
        let p = plan(
            &chars("a:\n  b: \"x\ny\"\n  c: [1,\n2]#n\n  d: it's\n"),
            0,
            0,
        );
        assert_eq!(p.quoted, vec![(8, 12)]);
        assert_eq!(p.flow_lines, vec![23]);
        assert_eq!(p.tight_comments, vec![25]);
    }

    #[test]
    fn skips_block_scalars_comments_and_plain_text() {
        let p = plan(
            &chars("k: |\n  \"no\n- |\n  'no\nj: 1 # \"no\nm: a\"b\n"),
            0,
            0,
        );
        assert!(p.quoted.is_empty(), "{p:?}");
        assert!(p.tight_comments.is_empty(), "{p:?}");
    }
}

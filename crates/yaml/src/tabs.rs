//! PyYAML only ever skips spaces between tokens, so a tab anywhere outside
//! a quoted scalar, block scalar content or comment is an error ("found
//! character '\t' that cannot start any token"). yaml-rust2 follows YAML
//! 1.2 and accepts many such tabs, so they are found here, using the
//! scanner's scalar tokens to know where tabs are content.

use yaml_rust2::scanner::TScalarStyle;

/// A scalar token: start (char index; a block scalar's indicator) and the
/// start of the token after it.
pub(crate) struct Span {
    pub start: usize,
    pub style: TScalarStyle,
    pub next: usize,
}

/// A tab PyYAML rejects: where, and the block scalar indicator when it
/// sits in a block scalar header.
pub(crate) struct BadTab {
    pub at: usize,
    pub header_of: Option<usize>,
}

/// The first tab PyYAML would reject.
pub(crate) fn first_bad_tab(chars: &[char], spans: &[Span]) -> Option<BadTab> {
    if !chars.contains(&'\t') {
        return None;
    }
    let mut spans = spans.iter().peekable();
    let mut i = 0;
    let mut prev_ws = true;
    while i < chars.len() {
        while spans.peek().is_some_and(|s| s.start < i) {
            spans.next();
        }
        if let Some(s) = spans.peek().filter(|s| s.start == i) {
            match s.style {
                TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted => {
                    i = close_quote(chars, i) + 1;
                    prev_ws = false;
                    spans.next();
                    continue;
                }
                TScalarStyle::Literal | TScalarStyle::Folded => {
                    let next = s.next;
                    spans.next();
                    match block_scalar(chars, i, next) {
                        Ok(resume) => i = resume,
                        Err(bad) => return Some(bad),
                    }
                    prev_ws = true;
                    continue;
                }
                TScalarStyle::Plain => {}
            }
        }
        let c = chars.get(i).copied().unwrap_or('\n');
        if c == '#' && prev_ws {
            i = line_end(chars, i);
            continue;
        }
        if c == '\t' {
            return Some(BadTab {
                at: i,
                header_of: None,
            });
        }
        prev_ws = matches!(c, ' ' | '\n' | '\r');
        i += 1;
    }
    None
}

fn line_end(chars: &[char], mut i: usize) -> usize {
    while chars.get(i).is_some_and(|c| *c != '\n') {
        i += 1;
    }
    i
}

/// Index of the closing quote of the quoted scalar opening at `start`.
pub(crate) fn close_quote(chars: &[char], start: usize) -> usize {
    let q = chars.get(start).copied().unwrap_or('"');
    let mut i = start + 1;
    while let Some(&c) = chars.get(i) {
        if q == '"' && c == '\\' {
            i += 2;
            continue;
        }
        if c == q {
            if q == '\'' && chars.get(i + 1) == Some(&'\'') {
                i += 2;
                continue;
            }
            return i;
        }
        i += 1;
    }
    chars.len()
}

/// Checks a block scalar from its indicator to the next token; `Ok` is
/// where normal scanning resumes (the end of its content), `Err` a bad tab.
fn block_scalar(chars: &[char], start: usize, next: usize) -> Result<usize, BadTab> {
    // Header: indicators, spaces, then an optional comment.
    let mut i = start;
    let mut prev_ws = false;
    while let Some(&c) = chars.get(i).filter(|c| **c != '\n') {
        if c == '#' && prev_ws {
            i = line_end(chars, i);
            break;
        }
        if c == '\t' {
            return Err(BadTab {
                at: i,
                header_of: Some(start),
            });
        }
        prev_ws = c == ' ';
        i += 1;
    }
    let mut indent: Option<usize> = None;
    while i < next.min(chars.len()) {
        // i is at a '\n'; look at the following line.
        let line = i + 1;
        let mut j = line;
        while chars.get(j) == Some(&' ') {
            j += 1;
        }
        let spaces = j - line;
        let rest = chars.get(j).copied();
        let blank = matches!(rest, None | Some('\n' | '\r'));
        if !blank {
            let want = *indent.get_or_insert(spaces.max(1));
            if spaces < want {
                return Ok(line);
            }
        }
        i = line_end(chars, j);
    }
    Ok(i)
}

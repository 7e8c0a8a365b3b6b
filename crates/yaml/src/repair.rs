//! yaml-rust2 follows YAML 1.2, which is stricter than PyYAML in a few
//! places where the difference is only whitespace: continuation lines of
//! quoted scalars and flow collections may sit at any indentation (and be
//! tab-indented, in quoted scalars) for PyYAML, and a comment may follow a
//! flow indicator without a space. When yaml-rust2 stops on one of these,
//! the text is patched with whitespace that cannot change the value
//! (leading whitespace of those lines is insignificant) and parsed again;
//! positions are mapped back to the caller's text.

use crate::error::Pos;
use crate::tabs::close_quote;
use crate::text::Text;

/// After this many patches the original error is reported.
pub(crate) const MAX_REPAIRS: usize = 200;

/// Characters inserted at `col` (1-based, in the text as it was then) of
/// `line`; negative when whitespace was replaced by less.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Insert {
    line: usize,
    col: usize,
    count: usize,
}

/// Maps a position in the patched text back to the original text.
pub(crate) fn to_original(inserts: &[Insert], mut p: Pos) -> Pos {
    for ins in inserts.iter().rev() {
        if ins.line != p.line || p.col < ins.col {
            continue;
        }
        p.col = if p.col >= ins.col + ins.count {
            p.col - ins.count
        } else {
            ins.col
        };
    }
    p
}

fn line_bounds(text: &Text, line_start: usize) -> (usize, usize) {
    let mut ws_end = line_start;
    while matches!(text.get(ws_end), Some(' ' | '\t')) {
        ws_end += 1;
    }
    (line_start, ws_end)
}

fn is_doc_marker(text: &Text, i: usize) -> bool {
    let three: String = (i..i + 3).filter_map(|k| text.get(k)).collect();
    (three == "---" || three == "...")
        && matches!(text.get(i + 3), None | Some(' ' | '\t' | '\r' | '\n'))
}

/// Rebuilds `source` with the leading whitespace of each listed line
/// replaced by `indent` spaces (kept if already wider and tab-free).
fn reindent(
    text: &Text,
    lines: &[usize],
    indent: usize,
    replace_tabs: bool,
) -> (String, Vec<Insert>) {
    let mut out = String::with_capacity(text.chars.len() + lines.len() * indent);
    let mut inserts = Vec::new();
    let mut i = 0;
    for &ls in lines {
        out.extend(text.chars.get(i..ls).unwrap_or(&[]).iter());
        let (start, ws_end) = line_bounds(text, ls);
        let ws: String = text
            .chars
            .get(start..ws_end)
            .unwrap_or(&[])
            .iter()
            .collect();
        let width = ws_end - start;
        let new_ws = if replace_tabs {
            " ".repeat(indent.max(width))
        } else {
            format!("{}{ws}", " ".repeat(indent.saturating_sub(width)))
        };
        let added = new_ws.chars().count().saturating_sub(width);
        if added > 0 {
            inserts.push(Insert {
                line: text.pos(ls).line,
                col: 1,
                count: added,
            });
        }
        out.push_str(&new_ws);
        i = ws_end;
    }
    out.extend(text.chars.get(i..).unwrap_or(&[]).iter());
    (out, inserts)
}

/// The widest indentation of the lines before `idx`, plus one: deeper than
/// any enclosing block, which is all YAML 1.2 asks of a continuation line.
fn safe_indent(text: &Text, idx: usize) -> usize {
    let mut widest = 0;
    let mut at_line_start = true;
    let mut run = 0;
    for c in text.chars.iter().take(idx) {
        match c {
            '\n' => {
                at_line_start = true;
                run = 0;
            }
            ' ' if at_line_start => {
                run += 1;
                widest = widest.max(run);
            }
            _ => at_line_start = false,
        }
    }
    widest + 1
}

/// A patched text for a yaml-rust2 error PyYAML would not raise, if any.
pub(crate) fn repair(source: &str, info: &str, pos: Pos) -> Option<(String, Vec<Insert>)> {
    let text = Text::new(source);
    let idx = text.idx(pos);
    match info {
        "invalid indentation in quoted scalar" | "tab cannot be used as indentation" => {
            let start = if matches!(text.get(idx), Some('"' | '\'')) {
                idx
            } else {
                enclosing_quote(&text, idx)?
            };
            let end = close_quote(&text.chars, start);
            if end >= text.chars.len() {
                return None;
            }
            let indent = text.pos(start).col.max(safe_indent(&text, start));
            let lines: Vec<usize> = (start..end)
                .filter(|i| text.get(*i) == Some('\n'))
                .map(|i| i + 1)
                .filter(|ls| !is_doc_marker(&text, *ls))
                .collect();
            if lines.is_empty() {
                return None;
            }
            Some(reindent(&text, &lines, indent, true))
        }
        // yaml-rust2 raises the plain "invalid indentation" only inside
        // flow collections (block indentation is unrolled first).
        "invalid indentation in flow construct" | "invalid indentation" => {
            let mut ls = idx;
            while ls > 0 && text.get(ls - 1) != Some('\n') {
                ls -= 1;
            }
            if is_doc_marker(&text, ls) {
                return None;
            }
            let indent = safe_indent(&text, ls);
            let (start, ws_end) = line_bounds(&text, ls);
            if ws_end - start >= indent {
                return None;
            }
            Some(reindent(&text, &[ls], indent, false))
        }
        "comments must be separated from other tokens by whitespace" => {
            let hash = (idx..text.chars.len().min(idx + 2)).find(|i| text.get(*i) == Some('#'))?;
            // PyYAML starts a comment there only after a flow indicator or a
            // closing quote (after `|`/`>` it is a header error).
            let before = hash.checked_sub(1).and_then(|i| text.get(i));
            if !matches!(before, Some(']' | '}' | '[' | '{' | ',' | '"' | '\'')) {
                return None;
            }
            let mut out: String = text.chars.get(..hash).unwrap_or(&[]).iter().collect();
            out.push(' ');
            out.extend(text.chars.get(hash..).unwrap_or(&[]).iter());
            let p = text.pos(hash);
            Some((
                out,
                vec![Insert {
                    line: p.line,
                    col: p.col,
                    count: 1,
                }],
            ))
        }
        _ => None,
    }
}

/// The opening quote of a quoted scalar that spans `idx`: the nearest
/// quote before it that starts a token and closes after it.
fn enclosing_quote(text: &Text, idx: usize) -> Option<usize> {
    (0..idx).rev().find(|&q| {
        matches!(text.get(q), Some('"' | '\''))
            && (q == 0 || matches!(text.get(q - 1), Some(' ' | '\t' | '\n' | '[' | '{' | ',')))
            && close_quote(&text.chars, q) > idx
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_mapping() {
        let ins = [Insert {
            line: 2,
            col: 1,
            count: 3,
        }];
        assert_eq!(
            to_original(&ins, Pos { line: 2, col: 5 }),
            Pos { line: 2, col: 2 }
        );
        assert_eq!(
            to_original(&ins, Pos { line: 2, col: 2 }),
            Pos { line: 2, col: 1 }
        );
        assert_eq!(
            to_original(&ins, Pos { line: 1, col: 5 }),
            Pos { line: 1, col: 5 }
        );
    }
}

//! yaml-rust2 follows YAML 1.2, which is stricter than PyYAML in a few
//! places where the difference is only whitespace: continuation lines of
//! quoted scalars and flow collections may sit at any indentation (and be
//! tab-indented, in quoted scalars) for PyYAML, and a comment may follow a
//! flow indicator without a space. When yaml-rust2 stops on one of these,
//! the text is patched with whitespace that cannot change the value
//! (leading whitespace of those lines is insignificant) and parsed again;
//! positions are mapped back to the caller's text. [`apply_plan`] makes all
//! the patches `predict` expects in one pass; [`repair`] one, for the error
//! yaml-rust2 stopped on.

use crate::error::Pos;
use crate::predict::Plan;
use crate::tabs::close_quote;
use crate::text::Text;
use std::collections::HashMap;

/// Characters inserted at `col` (1-based, in the text as it was then) of
/// `line`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Insert {
    line: usize,
    col: usize,
    count: usize,
}

/// Every patch made, by line in the order made (patches add no lines, so
/// line numbers hold across rounds).
#[derive(Debug, Default)]
pub(crate) struct Inserts {
    by_line: HashMap<usize, Vec<Insert>>,
}

impl Inserts {
    pub(crate) fn is_empty(&self) -> bool {
        self.by_line.is_empty()
    }

    pub(crate) fn extend(&mut self, more: Vec<Insert>) {
        for ins in more {
            self.by_line.entry(ins.line).or_default().push(ins);
        }
    }

    /// Maps a position in the patched text back to the original text.
    pub(crate) fn to_original(&self, p: Pos) -> Pos {
        match self.by_line.get(&p.line) {
            Some(list) => to_original(list, p),
            None => p,
        }
    }
}

/// Maps a position back through `inserts` (made in this order).
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

/// A patched place, for checking against yaml-rust2's tokens of the
/// patched text (char indices in that text).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Check {
    /// A line start reindented as part of a quoted scalar.
    QuotedLine(usize),
    /// A line start reindented inside a flow collection.
    FlowLine(usize),
    /// A space put before a comment's `#`.
    CommentSpace(usize),
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

/// A repair: the patched text, its inserts, and the char index (in the
/// patched text) of the token start the repair was about.
pub(crate) type Repaired = (String, Vec<Insert>, usize);

/// A patched text for a yaml-rust2 error PyYAML would not raise, if any.
pub(crate) fn repair(source: &str, info: &str, pos: Pos) -> Option<Repaired> {
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
            let (t, ins) = reindent(&text, &lines, indent, true);
            Some((t, ins, start))
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
            let (t, ins) = reindent(&text, &[ls], indent, false);
            Some((t, ins, ls))
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
                hash + 1,
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

/// Leading whitespace of the line starting at `ls` replaced so the line is
/// at least `indent` wide (tabs become spaces when `replace_tabs`).
fn new_lead(text: &Text, ls: usize, indent: usize, replace_tabs: bool) -> Option<(usize, String)> {
    let (start, ws_end) = line_bounds(text, ls);
    let ws = text.chars.get(start..ws_end).unwrap_or(&[]);
    let width = ws_end - start;
    let has_tab = ws.contains(&'\t');
    if width >= indent && !(replace_tabs && has_tab) {
        return None;
    }
    let new_ws = if replace_tabs {
        " ".repeat(indent.max(width))
    } else {
        let mut w = " ".repeat(indent - width);
        w.extend(ws.iter());
        w
    };
    Some((width, new_ws))
}

/// Applies a whole [`Plan`] in one pass: the text, its inserts, and the
/// places to check. `None` when nothing needs patching.
pub(crate) fn apply_plan(source: &str, plan: &Plan) -> Option<(String, Vec<Insert>, Vec<Check>)> {
    let text = Text::new(source);
    // Widest leading run of spaces of the lines before each line.
    let mut lead = Vec::new();
    let mut at = 0;
    while at <= text.chars.len() {
        let (s, e) = line_bounds(&text, at);
        let spaces = text
            .chars
            .get(s..e)
            .unwrap_or(&[])
            .iter()
            .take_while(|c| **c == ' ')
            .count();
        lead.push(spaces);
        match text
            .chars
            .get(at..)
            .and_then(|r| r.iter().position(|c| *c == '\n'))
        {
            Some(k) => at += k + 1,
            None => break,
        }
    }
    let mut widest_before = Vec::with_capacity(lead.len());
    let mut widest = 0;
    for l in &lead {
        widest_before.push(widest);
        widest = widest.max(*l);
    }
    // Like `safe_indent`, over the original text.
    let safe = |idx: usize| {
        let p = text.pos(idx);
        let own = lead.get(p.line - 1).copied().unwrap_or(0).min(p.col - 1);
        widest_before.get(p.line - 1).copied().unwrap_or(0).max(own) + 1
    };
    // Line start → (new leading whitespace, old width, quoted).
    let mut lines: Vec<(usize, String, usize, bool)> = Vec::new();
    for &(open, close) in &plan.quoted {
        let indent = text.pos(open).col.max(safe(open));
        for k in open..close {
            let ls = k + 1;
            if text.get(k) != Some('\n') || is_doc_marker(&text, ls) {
                continue;
            }
            if let Some((width, ws)) = new_lead(&text, ls, indent, true) {
                lines.push((ls, ws, width, true));
            }
        }
    }
    for &ls in &plan.flow_lines {
        if is_doc_marker(&text, ls) {
            continue;
        }
        if let Some((width, ws)) = new_lead(&text, ls, safe(ls), false) {
            lines.push((ls, ws, width, false));
        }
    }
    if lines.is_empty() && plan.tight_comments.is_empty() {
        return None;
    }
    lines.sort_by_key(|l| l.0);
    let mut comments = plan.tight_comments.clone();
    comments.sort_unstable();
    let (mut lines, mut comments) = (
        lines.into_iter().peekable(),
        comments.into_iter().peekable(),
    );
    let mut out = String::with_capacity(source.len() + source.len() / 4);
    let (mut out_len, mut inserts, mut checks) = (0, Vec::new(), Vec::new());
    // Characters added on the current output line so far.
    let mut added_here = 0;
    let mut i = 0;
    while i <= text.chars.len() {
        if lines.peek().is_some_and(|l| l.0 == i) {
            if let Some((ls, ws, width, quoted)) = lines.next() {
                let added = ws.chars().count().saturating_sub(width);
                if added > 0 {
                    inserts.push(Insert {
                        line: text.pos(ls).line,
                        col: 1,
                        count: added,
                    });
                }
                checks.push(if quoted {
                    Check::QuotedLine(out_len)
                } else {
                    Check::FlowLine(out_len)
                });
                out_len += ws.chars().count();
                out.push_str(&ws);
                added_here = added;
                i = ls + width;
                continue;
            }
        }
        if comments.peek() == Some(&i) {
            comments.next();
            let p = text.pos(i);
            inserts.push(Insert {
                line: p.line,
                col: p.col + added_here,
                count: 1,
            });
            checks.push(Check::CommentSpace(out_len));
            out.push(' ');
            out_len += 1;
        }
        let Some(c) = text.get(i) else { break };
        if c == '\n' {
            added_here = 0;
        }
        out.push(c);
        out_len += 1;
        i += 1;
    }
    Some((out, inserts, checks))
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

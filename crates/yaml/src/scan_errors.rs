//! yaml-rust2's scanner/parser errors, reworded and re-positioned the way
//! PyYAML reports the same problem: its problem text, the problem mark at
//! the offending token's start, and the context ("while parsing a block
//! mapping") with the mark of the enclosing construct.

use crate::error::{Pos, YamlError};
use crate::tabs::close_quote;
use crate::text::Text;
use std::collections::HashMap;
use yaml_rust2::scanner::ScanError;

/// The innermost collection open when the error happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Open {
    BlockMap,
    BlockSeq,
    FlowMap,
    FlowSeq,
}

pub(crate) struct ErrCtx<'a> {
    pub text: &'a Text,
    pub aliases: &'a HashMap<(usize, usize), String>,
    pub open: Option<(Open, Pos)>,
}

fn quote_char(c: char) -> String {
    match c {
        '\t' => "'\\t'".into(),
        '\n' => "'\\n'".into(),
        '\'' => "\"'\"".into(),
        c => format!("'{c}'"),
    }
}

pub(crate) fn translate(e: &ScanError, cx: &ErrCtx) -> YamlError {
    let text = cx.text;
    let pos = text.clamp(Pos::from_marker(e.marker()));
    let idx = text.idx(pos);
    let info = e.info();
    match info {
        "while parsing node, found unknown anchor" => {
            let name = cx
                .aliases
                .get(&(pos.line, pos.col))
                .cloned()
                .unwrap_or_default();
            YamlError::at(pos, format!("found undefined alias '{name}'"))
        }
        "mapping values are not allowed in this context" => {
            YamlError::at(pos, "mapping values are not allowed here")
        }
        "simple key expect ':'" | "simple key expected" => {
            YamlError::at(pos, "could not find expected ':'")
                .with_context("while scanning a simple key", simple_key_start(text, idx))
        }
        "while scanning a quoted scalar, found unexpected document indicator" => {
            let mut i = idx;
            let sep = loop {
                match text.get(i) {
                    None => break None,
                    Some('\n') => {
                        let three: String = (i + 1..i + 4).filter_map(|k| text.get(k)).collect();
                        if three == "---" || three == "..." {
                            break Some(i + 1);
                        }
                    }
                    Some(_) => {}
                }
                i += 1;
            };
            YamlError::at(
                sep.map_or(pos, |s| text.pos(s)),
                "found unexpected document separator",
            )
            .with_context("while scanning a quoted scalar", pos)
        }
        "while scanning a quoted scalar, found unexpected end of stream"
        | "invalid indentation in quoted scalar" => {
            // PyYAML ignores the indentation of quoted continuation lines, so
            // an unterminated quote runs to the end of the stream.
            if close_quote(&text.chars, idx) >= text.chars.len() {
                YamlError::at(text.eof(), "found unexpected end of stream")
                    .with_context("while scanning a quoted scalar", pos)
            } else {
                YamlError::at(pos, info).with_context("while scanning a quoted scalar", pos)
            }
        }
        "while parsing a quoted scalar, found unknown escape character" => {
            bad_escape(text, idx, pos)
        }
        "comments must be separated from other tokens by whitespace" => {
            let mut i = idx;
            while i > 0
                && text
                    .get(i - 1)
                    .is_some_and(|c| c == '+' || c == '-' || c.is_ascii_digit())
            {
                i -= 1;
            }
            match i.checked_sub(1) {
                Some(ind) if matches!(text.get(ind), Some('|' | '>')) => {
                    block_header(text, ind, text.pos(ind))
                }
                _ => YamlError::at(pos, info),
            }
        }
        "while scanning a block scalar, did not find expected comment or line break" => {
            block_header(text, idx, pos)
        }
        "while parsing a block mapping, did not find expected key"
        | "while parsing a block collection, did not find expected '-' indicator"
        | "while parsing a flow sequence, expected ',' or ']'"
        | "while parsing a flow mapping, did not find expected ',' or '}'"
        | "invalid trailing content after double-quoted scalar"
        | "illegal placement of ':' indicator" => unexpected_token(cx, idx, pos, info),
        "tabs disallowed within this context (block indentation)"
        | "tabs disallowed in this context"
        | "tab cannot be used as indentation"
        | "while scanning a plain scalar, found a tab" => {
            YamlError::at(pos, "found character '\\t' that cannot start any token")
                .with_context("while scanning for the next token", pos)
        }
        _ => YamlError::at(pos, info),
    }
}

/// A simple key is one line: the key PyYAML was scanning starts on the
/// last non-blank line before the problem, after any "- " entries.
fn simple_key_start(text: &Text, idx: usize) -> Pos {
    let mut i = idx;
    while i > 0 && text.get(i - 1).is_some_and(char::is_whitespace) {
        i -= 1;
    }
    while i > 0 && text.get(i - 1) != Some('\n') {
        i -= 1;
    }
    loop {
        while text.get(i) == Some(' ') {
            i += 1;
        }
        if text.get(i) == Some('-') && text.get(i + 1) == Some(' ') {
            i += 1;
        } else {
            break;
        }
    }
    text.pos(i)
}

/// PyYAML names the token it found where a key/entry/separator was due.
fn unexpected_token(cx: &ErrCtx, idx: usize, pos: Pos, info: &str) -> YamlError {
    let text = cx.text;
    let block = matches!(cx.open, Some((Open::BlockMap | Open::BlockSeq, _)) | None);
    let mut at = idx;
    let mut found = match text.get(idx) {
        None => "<stream end>".to_string(),
        Some(c @ ('[' | ']' | '{' | '}' | ',' | '?' | ':')) => c.to_string(),
        Some('-') if matches!(text.get(idx + 1), None | Some(' ' | '\n' | '\r')) => "-".to_string(),
        Some(_) => "<scalar>".to_string(),
    };
    if block && text.get(idx) == Some(':') {
        // yaml-rust2 places a new block mapping at its ':'; PyYAML at the key.
        let mut s = idx;
        while s > 0 && text.get(s - 1) != Some('\n') {
            s -= 1;
        }
        while text.get(s) == Some(' ') {
            s += 1;
        }
        at = s;
        found = "<block mapping start>".into();
    } else if block {
        // yaml-rust2 marks a block entry after the "- "; PyYAML at the '-'.
        let mut s = idx;
        while s > 0 && text.get(s - 1) == Some(' ') {
            s -= 1;
        }
        if s > 0 && text.get(s - 1) == Some('-') && idx != s {
            at = s - 1;
            found = "-".into();
        }
    }
    let p = if at == idx { pos } else { text.pos(at) };
    let (problem, context) = match cx.open {
        Some((Open::BlockMap, _)) => (
            format!("expected <block end>, but found '{found}'"),
            "while parsing a block mapping",
        ),
        Some((Open::BlockSeq, _)) => (
            format!("expected <block end>, but found '{found}'"),
            "while parsing a block collection",
        ),
        Some((Open::FlowSeq, _)) => (
            format!("expected ',' or ']', but got '{found}'"),
            "while parsing a flow sequence",
        ),
        Some((Open::FlowMap, _)) => (
            format!("expected ',' or '}}', but got '{found}'"),
            "while parsing a flow mapping",
        ),
        None => return YamlError::at(p, info),
    };
    let err = YamlError::at(p, problem);
    match cx.open {
        Some((_, start)) => err.with_context(context, start),
        None => err,
    }
}

fn bad_escape(text: &Text, start: usize, pos: Pos) -> YamlError {
    let mut i = start + 1;
    while let Some(c) = text.get(i) {
        if c == '"' {
            break;
        }
        if c == '\\' {
            let Some(e) = text.get(i + 1) else { break };
            let len = match e {
                'x' => 2,
                'u' => 4,
                'U' => 8,
                '0' | 'a' | 'b' | 't' | '\t' | 'n' | 'v' | 'f' | 'r' | 'e' | ' ' | '"' | '\\'
                | '/' | 'N' | '_' | 'L' | 'P' | '\n' | '\r' => 0,
                other => {
                    return YamlError::at(
                        text.pos(i + 1),
                        format!("found unknown escape character {}", quote_char(other)),
                    )
                    .with_context("while scanning a double-quoted scalar", pos);
                }
            };
            i += 2 + len;
            continue;
        }
        i += 1;
    }
    YamlError::at(pos, "found unknown escape character")
        .with_context("while scanning a double-quoted scalar", pos)
}

/// The header of a block scalar: indicators, then spaces and a comment.
fn block_header(text: &Text, start: usize, pos: Pos) -> YamlError {
    block_header_problem(text, start).unwrap_or_else(|| {
        YamlError::at(pos, "expected a comment or a line break")
            .with_context("while scanning a block scalar", pos)
    })
}

/// What PyYAML rejects in a block scalar header (the `|`/`>` at `start`,
/// its indicators, then spaces and an optional comment).
pub(crate) fn block_header_problem(text: &Text, start: usize) -> Option<YamlError> {
    let ctx = "while scanning a block scalar";
    let pos = text.pos(start);
    let mut i = start + 1;
    for _ in 0..2 {
        if text
            .get(i)
            .is_some_and(|c| c == '+' || c == '-' || c.is_ascii_digit())
        {
            i += 1;
        }
    }
    match text.get(i) {
        None | Some(' ' | '\n' | '\r') => {}
        Some(c) => {
            return Some(
                YamlError::at(
                    text.pos(i),
                    format!(
                        "expected chomping or indentation indicators, but found {}",
                        quote_char(c)
                    ),
                )
                .with_context(ctx, pos),
            );
        }
    }
    while text.get(i) == Some(' ') {
        i += 1;
    }
    match text.get(i) {
        Some(c) if c != '#' && c != '\n' && c != '\r' => Some(
            YamlError::at(
                text.pos(i),
                format!(
                    "expected a comment or a line break, but found {}",
                    quote_char(c)
                ),
            )
            .with_context(ctx, pos),
        ),
        _ => None,
    }
}

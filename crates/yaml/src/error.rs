//! Errors shaped like PyYAML's `MarkedYAMLError`: an optional context with
//! its own mark, and a problem with the mark callers report.

use std::fmt;

/// A load failure. `line`/`column` (1-based) are PyYAML's `problem_mark`
/// plus one; `message` is PyYAML's `problem` text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct YamlError {
    pub line: usize,
    pub column: usize,
    pub message: String,
    /// PyYAML's `context` ("while scanning a simple key", ...), if any.
    pub context: Option<String>,
    /// PyYAML's `context_mark` (1-based line, column), if any. Upstream
    /// cloud-init reports this mark in preference to the problem mark.
    pub context_mark: Option<(usize, usize)>,
    /// Set for PyYAML's reader errors (a character it does not accept): the
    /// character offset PyYAML reports as `position`. Such an error carries
    /// no mark upstream; `line`/`column` still locate the character.
    pub position: Option<usize>,
}

impl YamlError {
    pub(crate) fn at(pos: Pos, message: impl Into<String>) -> Self {
        YamlError {
            line: pos.line,
            column: pos.col,
            message: message.into(),
            context: None,
            context_mark: None,
            position: None,
        }
    }

    /// PyYAML's `ReaderError` for an unacceptable character at character
    /// offset `position` (`pos` locates it for humans).
    pub(crate) fn reader(pos: Pos, position: usize, character: char) -> Self {
        YamlError {
            position: Some(position),
            ..YamlError::at(
                pos,
                format!(
                    "unacceptable character #x{:04x}: special characters are not allowed",
                    u32::from(character)
                ),
            )
        }
    }

    pub(crate) fn with_context(mut self, context: impl Into<String>, pos: Pos) -> Self {
        self.context = Some(context.into());
        self.context_mark = Some((pos.line, pos.col));
        self
    }

    /// The mark upstream cloud-init prints ("Invalid format at line L column
    /// C"): the context mark when there is one, else the problem mark, and
    /// `None` for a reader error, which has neither (upstream's
    /// `util.load_yaml` then writes "Failed loading yaml blob. {text}").
    pub fn mark(&self) -> Option<(usize, usize)> {
        if self.position.is_some() {
            return None;
        }
        Some(self.context_mark.unwrap_or((self.line, self.column)))
    }

    /// [`mark`](Self::mark), with upstream's schema default of line 1,
    /// column 1 for an error without one.
    pub fn reported_mark(&self) -> (usize, usize) {
        self.mark().unwrap_or((1, 1))
    }

    /// Upstream `util.load_yaml`'s warning for this error, given the text
    /// that was loaded: "Failed loading yaml blob. Invalid format at line L
    /// column C: \"{str(e)}\"", or, for an error without a mark (an
    /// unacceptable character), "Failed loading yaml blob. {str(e)}".
    pub fn load_yaml_warning(&self, source: &str) -> String {
        let text = self.pyyaml_text(source);
        match self.mark() {
            Some((line, col)) => format!(
                "Failed loading yaml blob. Invalid format at line {line} column {col}: \"{text}\""
            ),
            None => format!("Failed loading yaml blob. {text}"),
        }
    }

    /// The text of `str(e)` for the equivalent PyYAML error, including the
    /// source snippets, given the text that was loaded.
    pub fn pyyaml_text(&self, source: &str) -> String {
        self.pyyaml_text_named(source, "<unicode string>")
    }

    /// [`pyyaml_text`](Self::pyyaml_text) for a stream PyYAML names `name`
    /// (`<byte string>` when bytes were loaded, a file name for files).
    pub fn pyyaml_text_named(&self, source: &str, name: &str) -> String {
        if let Some(position) = self.position {
            return format!("{}\n  in \"{name}\", position {position}", self.message);
        }
        let mut parts = Vec::new();
        if let Some(ctx) = &self.context {
            parts.push(ctx.clone());
        }
        if let Some((l, c)) = self.context_mark {
            if (l, c) != (self.line, self.column) {
                parts.push(mark_text(source, name, l, c));
            }
        }
        parts.push(self.message.clone());
        parts.push(mark_text(source, name, self.line, self.column));
        parts.join("\n")
    }
}

/// PyYAML's `Mark.__str__`: position line plus a snippet with a caret.
fn mark_text(source: &str, name: &str, line: usize, column: usize) -> String {
    let head = format!("  in \"{name}\", line {line}, column {column}:");
    let Some(src_line) = source.split('\n').nth(line.saturating_sub(1)) else {
        return head;
    };
    let chars: Vec<char> = src_line.trim_end_matches('\r').chars().collect();
    let col0 = column.saturating_sub(1).min(chars.len());
    // PyYAML clips the snippet to about 75 characters around the mark.
    let (mut start, mut lead) = (0, "");
    if col0 >= 37 {
        start = col0 - 32;
        lead = " ... ";
    }
    let (mut end, mut tail) = (chars.len(), "");
    if end - col0 >= 37 {
        end = col0 + 32;
        tail = " ... ";
    }
    let start = start.min(end);
    let snippet: String = chars.get(start..end).unwrap_or(&[]).iter().collect();
    let caret_pad = " ".repeat(4 + col0 - start + lead.len());
    format!("{head}\n    {lead}{snippet}{tail}\n{caret_pad}^")
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(ctx) = &self.context {
            write!(f, "{ctx}: ")?;
        }
        write!(
            f,
            "{} (line {}, column {}",
            self.message, self.line, self.column
        )?;
        if let Some(position) = self.position {
            write!(f, ", position {position}")?;
        }
        f.write_str(")")
    }
}

/// A 1-based source position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Pos {
    pub line: usize,
    pub col: usize,
}

impl Pos {
    pub(crate) fn from_marker(m: &yaml_rust2::scanner::Marker) -> Pos {
        Pos {
            line: m.line(),
            col: m.col() + 1,
        }
    }
}

//! Reading one config source: a file (on the target or local), the kernel
//! command line's `cc:` text, with upstream's `load_yaml` rules (a mapping,
//! or nothing; anything else is warned about and dropped).

use ci_pyval::py_type;
use serde_json::{Map, Value};
use std::fmt;
use std::io;

/// A problem met while loading configuration; loading goes on without the
/// source it names. Each one has already been logged at WARNING level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    /// The file (or `kernel command line`) the problem is in.
    pub file: String,
    /// Upstream's message text.
    pub message: String,
    /// 1-based position of a YAML error, when there is one.
    pub line: Option<usize>,
    pub column: Option<usize>,
}

impl ConfigWarning {
    pub fn new(file: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigWarning {
            file: file.into(),
            message: message.into(),
            line: None,
            column: None,
        }
    }

    pub(crate) fn log(self) -> Self {
        log::warn!("{} ({})", self.message, self.file);
        self
    }
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.message)
    }
}

/// What reading a file gave, before any YAML.
pub(crate) enum Read {
    Missing,
    Text(String),
    Denied,
    Failed(String),
}

pub(crate) fn read_result(r: io::Result<Option<Vec<u8>>>) -> Read {
    match r {
        Ok(None) => Read::Missing,
        Ok(Some(bytes)) => match String::from_utf8(bytes) {
            Ok(s) => Read::Text(s),
            Err(e) => Read::Failed(format!("not UTF-8: {e}")),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => Read::Missing,
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => Read::Denied,
        Err(e) => Read::Failed(e.to_string()),
    }
}

pub(crate) fn read_local(path: &std::path::Path) -> Read {
    read_result(match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    })
}

/// Upstream `load_yaml(text, allowed=(dict,))`: `Ok(None)` for an empty
/// document; a warning for a syntax error or a root that is not a mapping.
pub fn parse_mapping(text: &str, file: &str) -> Result<Option<Map<String, Value>>, ConfigWarning> {
    match ci_yaml::load(text) {
        Ok(Value::Null) => Ok(None),
        Ok(Value::Object(m)) => Ok(Some(m)),
        Ok(other) => Err(ConfigWarning::new(
            file,
            format!(
                "Failed loading yaml blob. Yaml load allows (<class 'dict'>,) root types, but got {} instead",
                py_type(&other)
            ),
        )
        .log()),
        // A character PyYAML's reader refuses has a position, not a mark:
        // upstream's warning then carries no line or column.
        Err(e) if e.mark().is_none() => {
            Err(ConfigWarning::new(file, e.load_yaml_warning(text)).log())
        }
        Err(e) => Err(ConfigWarning {
            file: file.to_string(),
            message: format!(
                "Failed loading yaml blob. Invalid format at line {} column {}: \"{}\"",
                e.line, e.column, e.message
            ),
            line: Some(e.line),
            column: Some(e.column),
        }
        .log()),
    }
}

/// A config file's mapping, `{}` when it is empty, missing or unusable
/// (then with the warning), as upstream `read_conf` + its callers.
pub(crate) fn conf_from_read(
    read: Read,
    file: &str,
    fail_prefix: &str,
) -> (Value, Option<ConfigWarning>) {
    let empty = Value::Object(Map::new());
    match read {
        Read::Missing => (empty, None),
        Read::Text(t) => match parse_mapping(&t, file) {
            Ok(m) => (Value::Object(m.unwrap_or_default()), None),
            Err(w) => (empty, Some(w)),
        },
        Read::Denied => (
            empty,
            Some(
                ConfigWarning::new(file, format!("{fail_prefix} {file}: permission denied")).log(),
            ),
        ),
        Read::Failed(e) => (
            empty,
            Some(ConfigWarning::new(file, format!("{fail_prefix} {file}: [{e}]")).log()),
        ),
    }
}

/// Upstream `read_cc_from_cmdline`: every `cc:` … `end_cc` stretch (or to
/// the end of the line), URL-decoded, literal `\n` turned into newlines,
/// joined by newlines.
pub fn cc_text_from_cmdline(cmdline: &str) -> String {
    const BEGIN: &str = " cc:";
    const END: &str = "end_cc";
    let line = format!(" {cmdline}");
    let mut tokens = Vec::new();
    let mut begin = line.find(BEGIN);
    while let Some(b) = begin {
        let start = b + BEGIN.len();
        let end = find_from(&line, END, start).unwrap_or(line.len());
        let raw = line.get(start..end).unwrap_or_default().trim_start();
        tokens.push(percent_decode(raw).replace("\\n", "\n"));
        begin = find_from(&line, BEGIN, end + END.len());
    }
    tokens.join("\n")
}

fn find_from(hay: &str, needle: &str, from: usize) -> Option<usize> {
    hay.get(from..)?.find(needle).map(|i| i + from)
}

/// Python `urllib.parse.unquote`: `%XX` to bytes, decoded as UTF-8 with
/// replacement; `+` stays.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The jinja header upstream looks for on a config file's first line:
/// `## template: jinja` (any case, spaces allowed after `##`).
pub fn template_kind(text: &str) -> Option<String> {
    let first = text.split('\n').next().unwrap_or_default();
    let rest = first.strip_prefix("##")?.trim_start();
    let head = rest.get(..9)?;
    if !head.eq_ignore_ascii_case("template:") {
        return None;
    }
    Some(rest.get(9..).unwrap_or_default().trim().to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_characters_warn_as_upstream_without_a_mark() {
        let w = parse_mapping("a: 1\nb: x\u{0}y\n", "/etc/cloud/cloud.cfg.d/x.cfg").unwrap_err();
        assert_eq!(
            w.message,
            "Failed loading yaml blob. unacceptable character #x0000: special characters are not allowed\n  in \"<unicode string>\", position 9"
        );
        assert_eq!((w.line, w.column), (None, None));
        // Syntax errors keep their mark.
        let w = parse_mapping("a: [1\n", "f").unwrap_err();
        assert!(w.line.is_some(), "{w:?}");
    }

    #[test]
    fn cmdline_cc_forms() {
        assert_eq!(cc_text_from_cmdline("ro quiet"), "");
        assert_eq!(
            cc_text_from_cmdline(
                "root=/dev/sda cc: ssh_import_id: [smoser, bob]\\nruncmd: [ls] end_cc quiet"
            ),
            "ssh_import_id: [smoser, bob]\nruncmd: [ls] "
        );
        assert_eq!(
            cc_text_from_cmdline("cc:a: 1 end_cc cc:b: %5Bx%5D end_cc"),
            "a: 1 \nb: [x] "
        );
        assert_eq!(cc_text_from_cmdline("x cc: a: 1"), "a: 1");
        // `cc:` must start a word.
        assert_eq!(cc_text_from_cmdline("xcc: a: 1"), "");
        assert_eq!(percent_decode("%e2%82%AC+%zz%4"), "€+%zz%4");
    }

    #[test]
    fn template_header() {
        assert_eq!(
            template_kind("## template: jinja\na: 1").as_deref(),
            Some("jinja")
        );
        assert_eq!(template_kind("##Template:JINJA").as_deref(), Some("jinja"));
        assert_eq!(template_kind("# template: jinja"), None);
        assert_eq!(template_kind("a: 1"), None);
    }
}

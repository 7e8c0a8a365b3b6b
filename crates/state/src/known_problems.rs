//! Known problems: a table, shipped in the binary, of failure patterns
//! of `cloud-init.log`, each with a stable id, a one-line explanation and a
//! fix. `cloud-init status --long` / `--format json|yaml` show the ones this
//! boot's log matches, and the last stage of each boot logs a WARNING per
//! match ([`log_known_problems`]).
//!
//! # Table format (`crates/state/data/known-problems.txt`)
//!
//! Line based, `#` starts a comment line, blank lines are ignored. Each entry
//! opens with `[id]` (lowercase letters, digits and `-`; ids are stable: other
//! tools key on them) followed by `key = value` lines:
//!
//! - `match = A | B | C`: the line matches when it contains each of the
//!   literal substrings `A`, `B` and `C` (case-sensitive, any order, spaces
//!   around `|` are not part of them). Repeat `match` for alternatives: one
//!   matching alternative is enough. At least one is required.
//! - `level = WARNING ERROR` (optional): the line must also carry one of
//!   these levels as the log formatter writes it (`...[WARNING]: ...`).
//!   Without it any line matches, continuation lines of multi-line records
//!   (tracebacks, command output) included.
//! - `explain = ...`, `fix = ...` (required): one line each; `fix` may be a
//!   link.
//!
//! No regular expressions: literal substrings keep the matcher small,
//! linear in the log size and free of a regex dependency.
//!
//! # What is scanned
//!
//! The log is read through [`Host`] inside the root, at most the last
//! [`MAX_TAIL_BYTES`], decoded lossily (the log may hold non-UTF-8 command
//! output). Only the current boot counts: scanning starts at the last
//! `running 'init-local' at` stage banner (or, without one, the last
//! `running 'init' at` banner; without either, the whole tail). Each entry
//! reports its first matching line (cut to [`MAX_LINE_CHARS`]) and how many
//! lines matched, counting up to [`MAX_COUNT`].

use ci_host::Host;
use serde_json::{json, Value};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::OnceLock;

/// The table, embedded at build time.
pub const TABLE_TEXT: &str = include_str!("../data/known-problems.txt");

/// Upstream's default log file (`def_log_file`).
pub const DEFAULT_LOG_FILE: &str = "/var/log/cloud-init.log";

/// How much of the end of the log is read.
pub const MAX_TAIL_BYTES: u64 = 8 * 1024 * 1024;

/// Longest log line kept in a [`Match`], in characters.
pub const MAX_LINE_CHARS: usize = 500;

/// Matching lines counted per entry; a count stops there.
pub const MAX_COUNT: usize = 1000;

/// `O_NOFOLLOW` for the final open: the path was resolved inside the root,
/// so a link found there now was swapped in since.
const NOFOLLOW: i32 = rustix::fs::OFlags::NOFOLLOW.bits() as i32;

/// One entry of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub id: String,
    /// Accepted levels (`WARNING`, `ERROR`, ...); empty: any line.
    pub levels: Vec<String>,
    /// Alternatives; each a list of substrings that must all appear.
    pub patterns: Vec<Vec<String>>,
    pub explanation: String,
    pub fix: String,
}

impl Problem {
    /// Whether one log line shows this problem.
    pub fn matches(&self, line: &str) -> bool {
        let level_ok = self.levels.is_empty()
            || self
                .levels
                .iter()
                .any(|l| line.contains(&format!("[{l}]: ")));
        level_ok
            && self
                .patterns
                .iter()
                .any(|all| all.iter().all(|s| line.contains(s.as_str())))
    }
}

/// A problem seen in this boot's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    pub id: String,
    pub explanation: String,
    pub fix: String,
    /// The first matching line, cut to [`MAX_LINE_CHARS`].
    pub line: String,
    /// Matching lines, up to [`MAX_COUNT`].
    pub count: usize,
}

impl Match {
    /// The object `status --format json|yaml` lists.
    pub fn to_value(&self) -> Value {
        json!({
            "id": self.id,
            "explanation": self.explanation,
            "fix": self.fix,
            "line": self.line,
            "count": self.count,
        })
    }
}

/// Parse a table in the format of the module docs; the error names the line.
pub fn parse_table(text: &str) -> Result<Vec<Problem>, String> {
    let mut out: Vec<Problem> = Vec::new();
    let mut current: Option<Problem> = None;
    let finish = |p: Problem, out: &mut Vec<Problem>| -> Result<(), String> {
        if p.patterns.is_empty() || p.explanation.is_empty() || p.fix.is_empty() {
            return Err(format!(
                "known problem [{}] needs match, explain and fix",
                p.id
            ));
        }
        if out.iter().any(|q| q.id == p.id) {
            return Err(format!("known problem [{}] is defined twice", p.id));
        }
        out.push(p);
        Ok(())
    };
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let at = || format!("known problems table line {}", n + 1);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(id) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let valid = !id.is_empty()
                && id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !valid {
                return Err(format!("{}: bad id {id:?}", at()));
            }
            if let Some(p) = current.take() {
                finish(p, &mut out)?;
            }
            current = Some(Problem {
                id: id.to_string(),
                levels: Vec::new(),
                patterns: Vec::new(),
                explanation: String::new(),
                fix: String::new(),
            });
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("{}: expected key = value", at()));
        };
        let Some(p) = current.as_mut() else {
            return Err(format!("{}: {} before any [id]", at(), key.trim()));
        };
        let value = value.trim();
        match key.trim() {
            "match" => {
                let parts: Vec<String> = value
                    .split('|')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
                if parts.is_empty() {
                    return Err(format!("{}: empty match", at()));
                }
                p.patterns.push(parts);
            }
            "level" => p.levels = value.split_whitespace().map(str::to_string).collect(),
            "explain" => p.explanation = value.to_string(),
            "fix" => p.fix = value.to_string(),
            other => return Err(format!("{}: unknown key {other:?}", at())),
        }
    }
    if let Some(p) = current.take() {
        finish(p, &mut out)?;
    }
    Ok(out)
}

/// The embedded table (parsed once). A broken table is a build defect the
/// tests catch; at run time it only disables the feature.
pub fn table() -> &'static [Problem] {
    static TABLE: OnceLock<Vec<Problem>> = OnceLock::new();
    TABLE.get_or_init(|| {
        parse_table(TABLE_TEXT).unwrap_or_else(|e| {
            log::debug!("{e}");
            Vec::new()
        })
    })
}

/// The part of `log` written by the current boot (see the module docs).
pub fn current_boot(log: &str) -> &str {
    let start_of = |needle: &str| -> Option<usize> {
        let i = log.rfind(needle)?;
        Some(log[..i].rfind('\n').map_or(0, |nl| nl + 1))
    };
    let start = start_of("running 'init-local' at ")
        .or_else(|| start_of("running 'init' at "))
        .unwrap_or(0);
    &log[start..]
}

/// `line` cut to [`MAX_LINE_CHARS`], control characters (terminal escapes
/// a hostile log line could carry) shown as U+FFFD.
fn printable(line: &str) -> String {
    line.chars()
        .take(MAX_LINE_CHARS)
        .map(|c| match c {
            '\t' => ' ',
            c if c.is_control() => '\u{FFFD}',
            c => c,
        })
        .collect()
}

/// Match `log` (already cut to the current boot) against `table`, in table order.
pub fn scan_text(log: &str, table: &[Problem]) -> Vec<Match> {
    let mut found: Vec<Option<Match>> = vec![None; table.len()];
    for line in log.lines() {
        for (p, slot) in table.iter().zip(found.iter_mut()) {
            if let Some(m) = slot {
                if m.count >= MAX_COUNT {
                    continue;
                }
            }
            if !p.matches(line) {
                continue;
            }
            match slot {
                Some(m) => m.count += 1,
                None => {
                    *slot = Some(Match {
                        id: p.id.clone(),
                        explanation: p.explanation.clone(),
                        fix: p.fix.clone(),
                        line: printable(line),
                        count: 1,
                    })
                }
            }
        }
    }
    found.into_iter().flatten().collect()
}

/// The last [`MAX_TAIL_BYTES`] of the file at `log_path` in the root,
/// decoded lossily, starting at a line. `None` when it cannot be read.
pub fn read_tail(host: &Host, log_path: &str) -> Option<String> {
    let p = host.try_resolve(log_path).ok()?;
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(NOFOLLOW)
        .open(p)
        .ok()?;
    let len = f.metadata().ok()?.len();
    let skip = len.saturating_sub(MAX_TAIL_BYTES);
    f.seek(SeekFrom::Start(skip)).ok()?;
    let mut buf = Vec::new();
    f.take(MAX_TAIL_BYTES).read_to_end(&mut buf).ok()?;
    let mut text = String::from_utf8_lossy(&buf).into_owned();
    if skip > 0 {
        // The first line was cut in the middle.
        let cut = text.find('\n').map_or(text.len(), |i| i + 1);
        text.drain(..cut);
    }
    Some(text)
}

/// The known problems in the current boot's part of the log at `log_path`
/// (a path in the root, e.g. [`DEFAULT_LOG_FILE`]). A missing or unreadable
/// log has none.
pub fn scan_log(host: &Host, log_path: &str) -> Vec<Match> {
    match read_tail(host, log_path) {
        Some(text) => scan_text(current_boot(&text), table()),
        None => Vec::new(),
    }
}

/// The WARNING text logged for a match. It names the id, never the matched
/// line, so the next scan does not match its own report.
pub fn warning_text(m: &Match) -> String {
    format!(
        "Known problem {} ({} log line(s)): {} Fix: {}",
        m.id, m.count, m.explanation, m.fix
    )
}

/// Scan this boot's log and log a WARNING per match (the final stage calls
/// this when it is done). Returns the matches.
pub fn log_known_problems(host: &Host, log_path: &str) -> Vec<Match> {
    let found = scan_log(host, log_path);
    for m in &found {
        log::warn!("{}", warning_text(m));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_table_parses() {
        let t = parse_table(TABLE_TEXT).unwrap();
        assert!(t.len() >= 15, "{}", t.len());
        assert_eq!(table().len(), t.len());
    }

    #[test]
    fn bad_tables_name_the_line() {
        assert_eq!(
            parse_table("[a]\nmatch = x\nexplain = e\n").unwrap_err(),
            "known problem [a] needs match, explain and fix"
        );
        assert_eq!(
            parse_table("match = x\n").unwrap_err(),
            "known problems table line 1: match before any [id]"
        );
        assert_eq!(
            parse_table("[A b]\n").unwrap_err(),
            "known problems table line 1: bad id \"A b\""
        );
        assert!(parse_table(
            "[a]\nmatch = x\nexplain = e\nfix = f\n[a]\nmatch = y\nexplain = e\nfix = f\n"
        )
        .unwrap_err()
        .contains("twice"));
        assert_eq!(
            parse_table("[a]\nfoo = 1\n").unwrap_err(),
            "known problems table line 2: unknown key \"foo\""
        );
    }

    #[test]
    fn only_the_current_boot_counts() {
        let log = "x - util.py[WARNING]: old\n\
                   t - log_util.py[DEBUG]: Cloud-init v. 1 running 'init-local' at X. Up 1 seconds.\n\
                   y - util.py[WARNING]: new\n";
        assert_eq!(
            current_boot(log),
            "t - log_util.py[DEBUG]: Cloud-init v. 1 running 'init-local' at X. Up 1 seconds.\n\
             y - util.py[WARNING]: new\n"
        );
        assert_eq!(current_boot("a\nb\n"), "a\nb\n");
    }
}

//! Schema findings for the boot stages: what a user-data cloud-config gets
//! wrong, with positions, and console lines of at most 80 columns.

use crate::annotate::locate;
use crate::problems::{validate_cloud_config, Problem};

/// Error or deprecation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindingKind {
    Error,
    Deprecation,
}

impl FindingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::Error => "error",
            FindingKind::Deprecation => "deprecation",
        }
    }
}

/// One schema finding in a user-data cloud-config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub kind: FindingKind,
    /// Dotted key path as upstream prints it (`users.0.name`), or
    /// `format-lL.cC` for a YAML syntax error.
    pub path: String,
    /// 1-based position of the key (or of its nearest enclosing key).
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Errors (sorted by path) then deprecations of a cloud-config text, as
/// upstream's boot-time check sees them. Text that is not a YAML mapping
/// has nothing to check and gives no findings; a YAML syntax error is one
/// error at its position.
pub fn boot_problems(text: &str) -> Vec<Finding> {
    let (config, marks) = match ci_yaml::load_with_marks(text) {
        Ok(v) => v,
        Err(e) => {
            let (line, column) = e.reported_mark();
            return vec![Finding {
                kind: FindingKind::Error,
                path: format!("format-l{line}.c{column}"),
                line,
                column,
                message: format!("File is not valid YAML. {}", e.pyyaml_text(text)),
            }];
        }
    };
    if !config.is_object() {
        return Vec::new();
    }
    let problems = validate_cloud_config(&config);
    let to_finding = |kind: FindingKind, p: &Problem| {
        let (line, column) = locate(&p.path, &marks);
        Finding {
            kind,
            path: p.path.clone(),
            line,
            column,
            message: p.message.clone(),
        }
    };
    problems
        .errors
        .iter()
        .map(|p| to_finding(FindingKind::Error, p))
        .chain(
            problems
                .deprecations
                .iter()
                .map(|p| to_finding(FindingKind::Deprecation, p)),
        )
        .collect()
}

/// Console lines for findings, none wider than `width` columns (80 when
/// `width` is smaller than 20): `<kind> line L: <path>: <message>`, the
/// message wrapped on word boundaries with continuation lines indented by
/// four spaces. Words longer than a line are cut.
pub fn format_console(findings: &[Finding], width: usize) -> Vec<String> {
    let width = if width < 20 { 80 } else { width };
    let mut lines = Vec::new();
    for f in findings {
        let head = format!("{} line {}: {}:", f.kind.as_str(), f.line, f.path);
        let text = format!("{head} {}", f.message.replace('\n', " "));
        wrap(&text, width, "    ", &mut lines);
    }
    lines
}

fn wrap(text: &str, width: usize, indent: &str, out: &mut Vec<String>) {
    let mut prefix_len = 0;
    let mut line = String::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let used = line.chars().count();
            let empty = used == prefix_len;
            let need = word.len() + usize::from(!empty);
            if used + need <= width {
                if !empty {
                    line.push(' ');
                }
                line.extend(word.iter());
                break;
            }
            if empty {
                // A word wider than a whole line: cut it.
                let room = width.saturating_sub(used).max(1).min(word.len());
                line.extend(word.iter().take(room));
                word.drain(..room);
            }
            out.push(std::mem::replace(&mut line, indent.to_string()));
            prefix_len = indent.len();
            if word.is_empty() {
                break;
            }
        }
    }
    if line.chars().count() > prefix_len {
        out.push(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_with_positions_and_kinds() {
        let text =
            "#cloud-config\nusers:\n  - name: bob\n    lock-passwd: true\nhostname: 42\nbogus: 1\n";
        let got = boot_problems(text);
        let summary: Vec<(FindingKind, &str, usize, usize)> = got
            .iter()
            .map(|f| (f.kind, f.path.as_str(), f.line, f.column))
            .collect();
        assert_eq!(
            summary,
            vec![
                (FindingKind::Error, "bogus", 6, 1),
                (FindingKind::Error, "hostname", 5, 1),
                (FindingKind::Deprecation, "users.0.lock-passwd", 4, 5),
            ]
        );
        assert_eq!(got[1].message, "42 is not of type 'string'");
        assert_eq!(
            got[2].message,
            " Deprecated in version 22.3. Use **lock_passwd** instead."
        );
    }

    #[test]
    fn valid_non_mapping_and_syntax_error() {
        assert!(boot_problems("#cloud-config\nhostname: a\n").is_empty());
        assert!(boot_problems("#cloud-config\n- a\n").is_empty());
        let got = boot_problems("#cloud-config\nruncmd: [\n");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].kind, FindingKind::Error);
        assert!(got[0].path.starts_with("format-l3."), "{}", got[0].path);
    }

    #[test]
    fn console_lines_fit_and_keep_path_first() {
        let f = Finding {
            kind: FindingKind::Error,
            path: "write_files.0.permissions".into(),
            line: 12,
            column: 5,
            message: format!(
                "{} is not valid under any of the given schemas, and a very long word {}",
                "x".repeat(30),
                "y".repeat(120)
            ),
        };
        let lines = format_console(&[f.clone(), f], 80);
        assert!(lines.len() >= 4);
        assert!(lines.iter().all(|l| l.chars().count() <= 80), "{lines:#?}");
        assert!(lines[0].starts_with("error line 12: write_files.0.permissions: "));
        assert!(lines[1].starts_with("    "));
        let joined: String = lines.iter().map(|l| l.trim()).collect::<Vec<_>>().join("");
        assert!(joined.contains(&"y".repeat(120)));
    }

    #[test]
    fn short_findings_stay_on_one_line() {
        let f = Finding {
            kind: FindingKind::Deprecation,
            path: "apt_update".into(),
            line: 2,
            column: 1,
            message: "Deprecated in version 22.2.".into(),
        };
        assert_eq!(
            format_console(&[f], 80),
            vec!["deprecation line 2: apt_update: Deprecated in version 22.2.".to_string()]
        );
    }
}

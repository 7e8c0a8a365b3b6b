//! User-data schema checks at boot.
//!
//! As upstream, the network stage validates the instance's user-data
//! cloud-config after consuming it: errors give upstream's warning (the
//! stage is degraded, the config is still applied) and deprecations its
//! `Deprecated cloud-config provided:` line. Ours on top: the findings with
//! key path, line and column go to the console in lines of at most 80
//! columns and to `/run/cloud-init/schema-findings.json`, which `cloud-init
//! status --format json` shows as `schema_errors`.
//!
//! Strict mode (ours, off by default), in `/etc/cloud/cloud.cfg.d/*.cfg`:
//!
//! ```yaml
//! cloud_init_rs:
//!   strict_schema: true        # schema errors reject the user-data
//!   strict_deprecations: true  # deprecated keys too (needs strict_schema)
//! ```
//!
//! Rejected user-data contributes nothing: no cloud-config, no scripts, no
//! boothooks. The system config and vendor-data still apply, so the default
//! user gets the metadata's SSH keys; the network stage ends in error.

use ci_host::{Host, WriteOpts};
use ci_schema::{boot_problems, format_console, Finding, FindingKind};
use ci_state::status::SCHEMA_FINDINGS_FILE;
use ci_state::Paths;
use serde_json::{json, Value};

/// Console width for the findings.
const CONSOLE_WIDTH: usize = 80;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Strict {
    pub errors: bool,
    pub deprecations: bool,
}

impl Strict {
    pub(crate) fn from_config(cfg: &Value) -> Strict {
        let ours = cfg.get("cloud_init_rs");
        let flag = |k: &str| ours.and_then(|o| o.get(k)).is_some_and(ci_pyval::is_true);
        let errors = flag("strict_schema");
        Strict {
            errors,
            deprecations: errors && flag("strict_deprecations"),
        }
    }

    /// The findings that reject the user-data under this mode.
    pub(crate) fn fatal<'a>(&self, findings: &'a [Finding]) -> Vec<&'a Finding> {
        findings
            .iter()
            .filter(|f| match f.kind {
                FindingKind::Error => self.errors,
                FindingKind::Deprecation => self.deprecations,
            })
            .collect()
    }
}

/// The text to check: the user's own document when the user-data is one
/// plain cloud-config (so lines are the user's), else the processed
/// cloud-config (MIME, includes, jinja and merges applied).
pub(crate) fn text_to_check(raw: &[u8], processed: &str) -> String {
    match std::str::from_utf8(raw) {
        Ok(t) if ci_userdata::type_from_starts_with(raw) == Some("text/cloud-config") => {
            t.to_string()
        }
        _ => processed.to_string(),
    }
}

/// Strict mode, while consuming user-data: `Some(reason)` when the
/// cloud-config must be rejected. The console gets the findings.
pub(crate) fn strict_verdict(strict: Strict, text: &str) -> Option<String> {
    if !strict.errors || text.trim().is_empty() {
        return None;
    }
    let findings = boot_problems(text);
    let fatal = strict.fatal(&findings);
    if fatal.is_empty() {
        return None;
    }
    let owned: Vec<Finding> = fatal.into_iter().cloned().collect();
    let reason = format!(
        "User-data rejected by strict schema validation (cloud_init_rs.strict_schema): {} problem(s); no module runs from it",
        owned.len()
    );
    log::error!("{reason}");
    console(&reason, &owned);
    Some(reason)
}

/// Upstream's boot-time check of `instances/<iid>/cloud-config.txt`, with
/// our console lines and findings file.
pub(crate) fn validate_user_data(host: &Host, paths: &Paths) {
    let file = paths.instance_file("cloud-config.txt");
    let processed = host.read_to_string(&file).unwrap_or_default();
    if processed.is_empty() {
        log::debug!("Skipping user-data validation. No user-data found.");
        return;
    }
    let raw = host
        .read(paths.instance_file("user-data.txt"))
        .unwrap_or_default();
    let findings = boot_problems(&text_to_check(&raw, &processed));
    if findings.is_empty() {
        return;
    }
    let deprecations: Vec<String> = findings
        .iter()
        .filter(|f| f.kind == FindingKind::Deprecation)
        .map(|f| format!("{}: {}", f.path, f.message))
        .collect();
    if !deprecations.is_empty() {
        log::warn!(
            target: "DEPRECATED:schema.py",
            "Deprecated cloud-config provided: {}",
            deprecations.join(", ")
        );
    }
    if findings.iter().any(|f| f.kind == FindingKind::Error) {
        log::warn!("cloud-config failed schema validation! You may run 'sudo cloud-init schema --system' to check the details.");
    }
    console("cloud-init: user-data schema findings:", &findings);
    write_findings(host, paths, &findings);
}

/// Record findings that strict mode acted on (the rejected text never
/// reaches `cloud-config.txt`, so [`validate_user_data`] cannot).
pub(crate) fn record_rejected(host: &Host, paths: &Paths, text: &str) {
    write_findings(host, paths, &boot_problems(text));
}

/// `/run/cloud-init/schema-findings.json`, read by `cloud-init status`.
fn write_findings(host: &Host, paths: &Paths, findings: &[Finding]) {
    let list: Vec<Value> = findings.iter().map(finding_json).collect();
    let body = serde_json::to_string_pretty(&Value::Array(list)).unwrap_or_default() + "\n";
    if let Err(e) = host.write_atomic(
        paths.run_file(SCHEMA_FINDINGS_FILE),
        body.as_bytes(),
        &WriteOpts::mode(0o644),
    ) {
        log::warn!("Failed to write {SCHEMA_FINDINGS_FILE}: {e}");
    }
}

fn finding_json(f: &Finding) -> Value {
    json!({
        "kind": f.kind.as_str(),
        "path": f.path,
        "line": f.line,
        "column": f.column,
        "message": f.message,
    })
}

/// Stderr of the stage goes to the console (journal+console) under systemd.
fn console(heading: &str, findings: &[Finding]) {
    let mut lines = Vec::new();
    lines.push(heading.chars().take(CONSOLE_WIDTH).collect::<String>());
    lines.extend(format_console(findings, CONSOLE_WIDTH));
    eprintln!("{}", lines.join("\n"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_settings() {
        assert_eq!(Strict::from_config(&json!({})), Strict::default());
        let s = Strict::from_config(&json!({"cloud_init_rs": {"strict_schema": true}}));
        assert!(s.errors && !s.deprecations);
        let s = Strict::from_config(
            &json!({"cloud_init_rs": {"strict_schema": "yes", "strict_deprecations": true}}),
        );
        assert!(s.errors && s.deprecations);
        // Deprecations alone do not turn strict mode on.
        let s = Strict::from_config(&json!({"cloud_init_rs": {"strict_deprecations": true}}));
        assert_eq!(s, Strict::default());
    }

    #[test]
    fn positions_come_from_the_users_own_document() {
        let raw = b"#cloud-config\nbogus: 1\n";
        assert_eq!(
            text_to_check(raw, "#cloud-config\n# merged\n\nbogus: 1\n"),
            "#cloud-config\nbogus: 1\n"
        );
        let mime = b"Content-Type: multipart/mixed; boundary=x\n\n--x--\n";
        assert_eq!(text_to_check(mime, "merged"), "merged");
        let jinja = b"## template: jinja\n#cloud-config\na: {{ v }}\n";
        assert_eq!(text_to_check(jinja, "rendered"), "rendered");
    }

    #[test]
    fn verdicts() {
        let off = Strict::default();
        assert_eq!(strict_verdict(off, "#cloud-config\nhostname: [1]\n"), None);
        let on = Strict {
            errors: true,
            deprecations: false,
        };
        assert_eq!(strict_verdict(on, "#cloud-config\nhostname: web\n"), None);
        let r = strict_verdict(on, "#cloud-config\nhostname: [1]\nbogus_key: 1\n").unwrap();
        assert!(r.contains("2 problem(s)"), "{r}");
        assert!(
            strict_verdict(on, "#cloud-config\nusers: [ {name: a\n").is_some(),
            "bad YAML"
        );
        // A deprecated key passes unless deprecations are strict too.
        let dep = "#cloud-config\nusers:\n  - name: a\n    lock-passwd: true\n";
        assert_eq!(strict_verdict(on, dep), None);
        let both = Strict {
            errors: true,
            deprecations: true,
        };
        assert!(strict_verdict(both, dep).is_some());
    }
}

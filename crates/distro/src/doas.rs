//! `/etc/doas.conf` rules, accepted only when they name the user as
//! upstream's rule pattern does.

use crate::accounts::{AccountError, Stamp};
use crate::Distro;
use ci_host::{Host, WriteOpts};
use ci_pyval::binary::is_binary;
use log::{debug, error};
use serde_json::Value;

const OPTION_WORDS: &[&str] = &["nolog", "nopass", "persist", "keepenv"];

fn skip_ws(s: &str) -> (&str, bool) {
    let t = s.trim_start();
    (t, t.len() != s.len())
}

/// One run of concatenated options (`nopass`, `persist`, `setenv { A=1 }`).
fn option_group(s: &str) -> Option<&str> {
    let mut rest = s;
    let mut n = 0;
    loop {
        if let Some(w) = OPTION_WORDS.iter().find(|w| rest.starts_with(**w)) {
            rest = &rest[w.len()..];
        } else if let Some(r) = rest.strip_prefix("setenv {") {
            let close = r.find('}')?;
            if close == 0 {
                return None;
            }
            rest = &r[close + 1..];
        } else {
            break;
        }
        n += 1;
    }
    (n > 0).then_some(rest)
}

fn ident(s: &str) -> Option<(&str, &str)> {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    (end > 0).then(|| s.split_at(end))
}

/// After the identity: `as X`..., `cmd C [args ...]`..., then the end.
fn tail_ok(rest: &str) -> bool {
    if !(rest.is_empty() || rest.starts_with(char::is_whitespace)) {
        return false;
    }
    let toks: Vec<&str> = rest.split_whitespace().collect();
    let mut i = 0;
    while toks.get(i) == Some(&"as") {
        match toks.get(i + 1).and_then(|t| ident(t)) {
            Some((_, "")) => i += 2,
            _ => return false,
        }
    }
    while toks.get(i) == Some(&"cmd") {
        if toks.get(i + 1).is_none() {
            return false;
        }
        i += 2;
        if toks.get(i) == Some(&"args") {
            return toks.get(i + 1).is_some();
        }
    }
    i == toks.len()
}

/// The identity a rule names, if it is a well-formed rule.
fn rule_identity(rule: &str) -> Option<String> {
    let rest = rule
        .strip_prefix("permit")
        .or_else(|| rule.strip_prefix("deny"))?;
    // Every place the option groups may stop, longest first (the pattern backtracks).
    let mut stops = vec![rest];
    let mut cur = rest;
    loop {
        let (after_ws, had_ws) = skip_ws(cur);
        match option_group(after_ws).filter(|_| had_ws) {
            Some(next) => {
                stops.push(next);
                cur = next;
            }
            None => break,
        }
    }
    for stop in stops.iter().rev() {
        let (after_ws, had_ws) = skip_ws(stop);
        if !had_ws {
            continue;
        }
        if let Some((id, tail)) = ident(after_ws) {
            if tail_ok(tail) {
                return Some(id.to_string());
            }
        }
    }
    None
}

/// Upstream's `is_doas_rule_valid`: well formed and naming `user`.
pub fn is_doas_rule_valid(user: &str, rule: &str) -> bool {
    debug!("Checking if user '{user}' is referenced in doas rule {rule:?}");
    match rule_identity(rule) {
        Some(id) => {
            debug!("User '{id}' referenced in doas rule");
            if id == user {
                debug!("Correct user is referenced in doas rule");
                true
            } else {
                debug!("Incorrect user '{id}' is referenced in doas rule");
                false
            }
        }
        None => {
            debug!("doas rule does not appear to reference any user");
            false
        }
    }
}

impl Distro {
    /// Add `user`'s doas rules; any invalid rule drops them all (logged as an error).
    pub fn write_doas_rules(
        &self,
        host: &Host,
        user: &str,
        rules: &Value,
        stamp: &Stamp,
    ) -> Result<(), AccountError> {
        // Upstream matches each rule against a text pattern, which fails
        // on bytes (and on the numbers iterating bytes gives).
        if let Some(bad) = match rules {
            Value::Array(a) => a.iter().find(|r| is_binary(r)),
            r if is_binary(r) => Some(r),
            _ => None,
        } {
            return Err(AccountError::Msg(format!(
                "Invalid doas rule {} for user '{user}': a rule must be a string, not bytes",
                ci_pyval::py_repr(bad)
            )));
        }
        let rules: Vec<String> = match rules {
            Value::Array(a) => a.iter().map(ci_pyval::py_str).collect(),
            Value::String(s) => s.chars().map(String::from).collect(),
            _ => Vec::new(),
        };
        for rule in &rules {
            if !is_doas_rule_valid(user, rule) {
                error!("Invalid doas rule {rule:?} for user '{user}', not writing any doas rules for user!");
                return Ok(());
            }
        }
        let mut lines = vec![String::new(), format!("# cloud-init User rules for {user}")];
        lines.extend(rules.iter().cloned());
        let content = lines.join("\n") + "\n";
        let path = self.doas_fn();
        match host.read_optional(path)? {
            None => {
                let text = format!("{}\n{content}", stamp.header("created"));
                host.write_atomic(path, text.as_bytes(), &WriteOpts::mode(0o440))?;
            }
            Some(old) if !String::from_utf8_lossy(&old).contains(&content) => {
                host.append(path, content.as_bytes(), &WriteOpts::mode(0o440))?;
            }
            Some(_) => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_as_upstream_pattern() {
        assert!(is_doas_rule_valid("alpine", "permit nopass alpine"));
        assert!(is_doas_rule_valid(
            "bob",
            "permit persist keepenv bob as root cmd /bin/ls args -l /"
        ));
        assert!(is_doas_rule_valid("bob", "deny setenv { A=1 B=2 } bob"));
        assert!(is_doas_rule_valid("nopass", "permit nopass"));
        assert!(!is_doas_rule_valid("bob", "permit nopass al"));
        assert!(!is_doas_rule_valid("bob", "permit :wheel"));
        assert!(!is_doas_rule_valid("bob", "allow bob"));
        assert!(!is_doas_rule_valid("bob", "permit bob cmd"));
    }

    #[test]
    fn bytes_rules_are_an_error_and_write_nothing() {
        let d = tempfile::tempdir().unwrap();
        let h = Host::new(d.path());
        let distro = Distro::from_config(&serde_json::json!({"system_info": {"distro": "alpine"}}));
        let stamp = Stamp {
            version: "25.1.4".into(),
            date: "Sun, 01 Jun 2025 10:00:01 +0000".into(),
        };
        // "permit bob", as bytes and as a bytes list entry.
        for yaml in [
            "!!binary cGVybWl0IGJvYg==",
            "[permit bob, !!binary cGVybWl0IGJvYg==]",
        ] {
            let rules = ci_yaml::load(yaml).unwrap();
            let err = distro
                .write_doas_rules(&h, "bob", &rules, &stamp)
                .unwrap_err()
                .to_string();
            assert_eq!(
                err,
                "Invalid doas rule b'permit bob' for user 'bob': a rule must be a string, not bytes"
            );
            assert!(!h.exists(distro.doas_fn()));
        }
        let rules = ci_yaml::load("[permit bob]").unwrap();
        distro.write_doas_rules(&h, "bob", &rules, &stamp).unwrap();
        assert!(h
            .read_to_string(distro.doas_fn())
            .unwrap()
            .ends_with("\npermit bob\n"));
    }
}

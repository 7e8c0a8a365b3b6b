//! `/etc/sudoers.d/90-cloud-init-users` and the `#includedir` check on
//! `/etc/sudoers`, as upstream writes them.

use crate::accounts::{AccountError, Stamp};
use crate::Distro;
use ci_host::{Host, WriteOpts};
use ci_pyval::binary::text;
use ci_pyval::{abspath, py_str, py_type};
use log::{debug, info, warn};
use serde_json::Value;
use std::path::Path;

/// Upstream's DEPRECATED-level notice (`lifecycle.deprecate`); the
/// `DEPRECATED:` target prefix is how the agent's logger recognises it.
pub(crate) fn deprecate(what: &str, since: &str, extra: &str) {
    let removal = since
        .split_once('.')
        .and_then(|(y, m)| y.parse::<u32>().ok().map(|y| format!("{}.{m}", y + 5)))
        .unwrap_or_else(|| "a future version".into());
    let msg = format!(
        "{what} is deprecated in {since} and scheduled to be removed in {removal}. {extra}"
    );
    log::warn!(target: "DEPRECATED:lifecycle.py", "{}", msg.trim_end());
}

fn includes_dir(contents: &str, dir: &str) -> bool {
    contents.lines().any(|line| {
        let line = line.trim();
        let rest = line
            .strip_prefix("#includedir")
            .or_else(|| line.strip_prefix("@includedir"))
            .or_else(|| line.strip_prefix("|includedir"));
        match rest {
            Some(r) if r.starts_with(char::is_whitespace) => {
                let d = r.trim();
                !d.is_empty() && abspath(d) == dir
            }
            _ => false,
        }
    })
}

impl Distro {
    /// Make sure `sudo_base` includes `path` and that `path` is a 0750 directory.
    pub fn ensure_sudo_dir(
        &self,
        host: &Host,
        path: &str,
        sudo_base: &str,
        stamp: &Stamp,
    ) -> Result<(), AccountError> {
        let system_sudo_base = "/usr/etc/sudoers";
        let (contents, base_exists) = if host.exists(sudo_base) {
            (host.read_to_string(sudo_base)?, true)
        } else if host.exists(system_sudo_base) {
            (host.read_to_string(system_sudo_base)?, false)
        } else {
            (String::new(), false)
        };
        if !includes_dir(&contents, path) {
            let res = if !base_exists {
                if !contents.is_empty() {
                    info!("Using content from '{system_sudo_base}'");
                }
                let text = format!(
                    "{contents}# See sudoers(5) for more information on \"#include\" directives:\n\n{}\n#includedir {path}\n",
                    stamp.header("added")
                );
                host.write_atomic(sudo_base, text.as_bytes(), &WriteOpts::mode(0o440))
            } else {
                let text = format!("\n{}\n#includedir {path}\n", stamp.header("added"));
                host.append(sudo_base, text.as_bytes(), &WriteOpts::mode(0o644))
            };
            if let Err(e) = res {
                warn!("Failed to write {sudo_base}");
                return Err(e.into());
            }
            debug!("Added '#includedir {path}' to {sudo_base}");
        }
        host.create_dir_all(path, 0o750)?;
        host.set_mode(path, 0o750)?;
        Ok(())
    }

    /// Add `user`'s sudo rules (a string or a list) to the cloud-init sudoers file.
    pub fn write_sudo_rules(
        &self,
        host: &Host,
        user: &str,
        rules: &Value,
        stamp: &Stamp,
    ) -> Result<(), AccountError> {
        let sudo_file = self.ci_sudoers_fn();
        let mut lines = vec![String::new(), format!("# User rules for {user}")];
        match rules {
            Value::Array(a) => lines.extend(a.iter().map(|r| format!("{user} {}", py_str(r)))),
            // Only text counts: bytes get the type error upstream raises.
            v if text(v).is_some() => lines.push(format!("{user} {}", py_str(v))),
            other => {
                return Err(AccountError::Msg(format!(
                    "Can not create sudoers rule addition with type '{}'",
                    py_type(other)
                )))
            }
        }
        let content = lines.join("\n") + "\n";
        let dir = Path::new(sudo_file)
            .parent()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|| "/".into());
        self.ensure_sudo_dir(host, &dir, "/etc/sudoers", stamp)?;
        let res = match host.read_optional(sudo_file)? {
            None => {
                let text = format!("{}\n{content}", stamp.header("created"));
                host.write_atomic(sudo_file, text.as_bytes(), &WriteOpts::mode(0o440))
            }
            Some(old) if !String::from_utf8_lossy(&old).contains(&content) => {
                host.append(sudo_file, content.as_bytes(), &WriteOpts::mode(0o440))
            }
            Some(_) => Ok(()),
        };
        res.map_err(|e| {
            warn!("Failed to write sudoers file {sudo_file}");
            e.into()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stamp() -> Stamp {
        Stamp {
            version: "25.1.4".into(),
            date: "Sun, 01 Jun 2025 10:00:01 +0000".into(),
        }
    }

    #[test]
    fn include_detection() {
        assert!(includes_dir(
            "#includedir /etc/sudoers.d\n",
            "/etc/sudoers.d"
        ));
        assert!(includes_dir(
            "  @includedir   /etc/../etc/sudoers.d/ \n",
            "/etc/sudoers.d"
        ));
        assert!(!includes_dir(
            "#includedirx /etc/sudoers.d\n",
            "/etc/sudoers.d"
        ));
        assert!(!includes_dir(
            "# includedir /etc/sudoers.d\n",
            "/etc/sudoers.d"
        ));
    }

    #[test]
    fn writes_sudoers_and_include() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let h = Host::new(d.path());
        h.write_atomic(
            "/etc/sudoers",
            b"root ALL=(ALL) ALL\n",
            &WriteOpts::mode(0o440),
        )
        .unwrap();
        let distro = Distro::from_config(&json!({"system_info": {"distro": "debian"}}));
        distro
            .write_sudo_rules(&h, "bob", &json!(["ALL=(ALL) NOPASSWD:ALL"]), &stamp())
            .unwrap();
        distro
            .write_sudo_rules(&h, "bob", &json!(["ALL=(ALL) NOPASSWD:ALL"]), &stamp())
            .unwrap();
        distro
            .write_sudo_rules(&h, "al", &json!("ALL=(ALL) ALL"), &stamp())
            .unwrap();
        assert_eq!(
            h.read_to_string("/etc/sudoers.d/90-cloud-init-users").unwrap(),
            "# Created by cloud-init v. 25.1.4 on Sun, 01 Jun 2025 10:00:01 +0000\n\n# User rules for bob\nbob ALL=(ALL) NOPASSWD:ALL\n\n# User rules for al\nal ALL=(ALL) ALL\n"
        );
        assert_eq!(
            h.read_to_string("/etc/sudoers").unwrap(),
            "root ALL=(ALL) ALL\n\n# Added by cloud-init v. 25.1.4 on Sun, 01 Jun 2025 10:00:01 +0000\n#includedir /etc/sudoers.d\n"
        );
        let mode = |p: &str| std::fs::metadata(h.path(p)).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode("/etc/sudoers.d/90-cloud-init-users"), 0o440);
        assert_eq!(mode("/etc/sudoers.d"), 0o750);
        let err = distro
            .write_sudo_rules(&h, "x", &json!({"a": 1}), &stamp())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Can not create sudoers rule addition with type 'dict'"
        );
    }

    #[test]
    fn bytes_rules_are_a_type_error_and_bytes_entries_show_as_bytes() {
        let d = tempfile::tempdir().unwrap();
        let h = Host::new(d.path());
        let distro = Distro::from_config(&json!({"system_info": {"distro": "debian"}}));
        let rules = ci_yaml::load("!!binary QUxMPShBTEwpIEFMTA==").unwrap();
        let err = distro
            .write_sudo_rules(&h, "bob", &rules, &stamp())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Can not create sudoers rule addition with type 'bytes'"
        );
        assert!(!h.exists("/etc/sudoers.d/90-cloud-init-users"));
        // In a list, upstream formats each entry with str(): b'...'.
        let rules = ci_yaml::load("[!!binary QUxMPShBTEwpIEFMTA==]").unwrap();
        distro
            .write_sudo_rules(&h, "bob", &rules, &stamp())
            .unwrap();
        let text = h
            .read_to_string("/etc/sudoers.d/90-cloud-init-users")
            .unwrap();
        assert!(
            text.ends_with("# User rules for bob\nbob b'ALL=(ALL) ALL'\n"),
            "{text}"
        );
        assert!(!text.contains('\u{FDD0}'));
    }

    #[test]
    fn creates_missing_sudoers_base() {
        let d = tempfile::tempdir().unwrap();
        let h = Host::new(d.path());
        let distro = Distro::from_config(&json!({}));
        distro
            .ensure_sudo_dir(&h, "/etc/sudoers.d", "/etc/sudoers", &stamp())
            .unwrap();
        assert_eq!(
            h.read_to_string("/etc/sudoers").unwrap(),
            "# See sudoers(5) for more information on \"#include\" directives:\n\n# Added by cloud-init v. 25.1.4 on Sun, 01 Jun 2025 10:00:01 +0000\n#includedir /etc/sudoers.d\n"
        );
    }
}

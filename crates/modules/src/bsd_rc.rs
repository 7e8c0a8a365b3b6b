//! `/etc/rc.conf` of the BSDs as upstream's `bsd_utils` reads and writes it:
//! a naive `key=value` list (NetBSD's has shell `if` blocks, which a real
//! parser would reject), values quoted as `shlex.quote` quotes them.

use crate::{pyerr, ModResult};
use ci_host::{Host, WriteOpts};

pub(crate) const RC_CONF: &str = "/etc/rc.conf";

fn unquote(v: &str) -> &str {
    let b = v.as_bytes();
    if b.len() >= 2 && b[0] == b[b.len() - 1] && (b[0] == b'"' || b[0] == b'\'') {
        &v[1..v.len() - 1]
    } else {
        v
    }
}

/// Python's `shlex.quote`.
pub(crate) fn shlex_quote(s: &str) -> String {
    if s.is_empty() {
        return "''".into();
    }
    let safe = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c);
    if s.chars().all(safe) {
        return s.into();
    }
    format!("'{}'", s.replace('\'', "'\"'\"'"))
}

/// The value of the first line starting `key=`; `Err` is the `OSError`
/// upstream raises when the file cannot be read.
pub(crate) fn get(host: &Host, key: &str) -> Result<Option<String>, crate::ModuleError> {
    let text = host
        .read_to_string(RC_CONF)
        .map_err(|e| pyerr::os_error(&e, RC_CONF))?;
    let prefix = format!("{key}=");
    Ok(ci_pyval::splitlines(&text).into_iter().find_map(|l| {
        l.strip_prefix(prefix.as_str())
            .map(|v| unquote(v).to_string())
    }))
}

/// Set `key` (every line naming it, else a new last line); the file is
/// rewritten only when that changes it.
pub(crate) fn set(host: &Host, key: &str, value: &str) -> ModResult {
    let old = host
        .read_to_string(RC_CONF)
        .map_err(|e| pyerr::os_error(&e, RC_CONF))?;
    let value = shlex_quote(value);
    let mut done = false;
    let mut lines: Vec<String> = Vec::new();
    for line in ci_pyval::splitlines(&old) {
        match line.split_once('=') {
            Some((k, _)) if k == key => {
                lines.push(format!("{k}={value}"));
                done = true;
            }
            _ => lines.push(line.to_string()),
        }
    }
    if !done {
        lines.push(format!("{key}={value}"));
    }
    let new = lines.join("\n") + "\n";
    if new != old {
        host.write_atomic(RC_CONF, new.as_bytes(), &WriteOpts::mode(0o644))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_shlex() {
        assert_eq!(shlex_quote("host.example"), "host.example");
        assert_eq!(shlex_quote(""), "''");
        assert_eq!(shlex_quote("a b"), "'a b'");
        assert_eq!(shlex_quote("it's"), "'it'\"'\"'s'");
    }

    #[test]
    fn reads_sets_and_keeps_the_rest() {
        let d = tempfile::tempdir().unwrap();
        let h = Host::new(d.path());
        assert!(get(&h, "hostname").is_err());
        std::fs::create_dir_all(d.path().join("etc")).unwrap();
        std::fs::write(
            d.path().join("etc/rc.conf"),
            "if [ -r /etc/defaults/rc.conf ]; then\nfi\nhostname=\"old\"\nsshd_enable=YES\n",
        )
        .unwrap();
        assert_eq!(get(&h, "hostname").unwrap().as_deref(), Some("old"));
        set(&h, "hostname", "new host").unwrap();
        assert_eq!(
            std::fs::read_to_string(d.path().join("etc/rc.conf")).unwrap(),
            "if [ -r /etc/defaults/rc.conf ]; then\nfi\nhostname='new host'\nsshd_enable=YES\n"
        );
        set(&h, "ifconfig_vtnet0", "DHCP").unwrap();
        assert!(std::fs::read_to_string(d.path().join("etc/rc.conf"))
            .unwrap()
            .ends_with("sshd_enable=YES\nifconfig_vtnet0=DHCP\n"));
    }
}

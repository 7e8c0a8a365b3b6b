//! `KEY=value` files of RHEL and SUSE (`/etc/sysconfig/*`,
//! `/etc/locale.conf`), read and updated as upstream's `rhel_util` does.

use ci_host::{Host, WriteOpts};
use std::io;

/// The value of `key`, quotes removed; the last assignment wins.
pub(crate) fn read_key(host: &Host, path: &str, key: &str) -> Option<String> {
    let text = host.read_to_string(path).ok()?;
    text.lines().rev().find_map(|l| {
        let (k, v) = l.trim().split_once('=')?;
        (k.trim() == key).then(|| unquote(v.trim()))
    })
}

fn unquote(v: &str) -> String {
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner.to_string();
        }
    }
    v.to_string()
}

/// Set `key=value` (other lines kept; a new file starts with upstream's
/// `# Created by cloud-init v. ...` header). Values with blanks or shell
/// specials are double-quoted.
pub(crate) fn update(
    host: &Host,
    path: &str,
    key: &str,
    value: &str,
    version: &str,
) -> io::Result<()> {
    if value.is_empty() {
        return Ok(());
    }
    let old = match host.read_to_string(path) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let shown = if value
        .chars()
        .any(|c| c.is_whitespace() || "\"'$`\\#;&|<>()".contains(c))
    {
        format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        value.to_string()
    };
    let new_line = format!("{key}={shown}");
    let mut lines: Vec<String> = old
        .as_deref()
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    let mut found = false;
    for l in lines.iter_mut() {
        if l.trim_start()
            .split_once('=')
            .is_some_and(|(k, _)| k.trim() == key)
        {
            *l = new_line.clone();
            found = true;
        }
    }
    if !found {
        lines.push(new_line);
    }
    if old.is_none() {
        lines.insert(
            0,
            format!(
                "# Created by cloud-init v. {version} on {}",
                ci_state::timefmt::rfc2822(ci_state::timefmt::now_epoch())
            ),
        );
    }
    let mut text = lines.join("\n");
    text.push('\n');
    host.write_atomic(path, text.as_bytes(), &WriteOpts::mode(0o644))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_in_place_and_creates_with_header() {
        let d = tempfile::tempdir().unwrap();
        let h = Host::new(d.path());
        update(&h, "/etc/sysconfig/clock", "ZONE", "Europe/Paris", "1.0").unwrap();
        let t = h.read_to_string("/etc/sysconfig/clock").unwrap();
        assert!(t.starts_with("# Created by cloud-init v. 1.0 on "), "{t}");
        assert!(t.ends_with("\nZONE=Europe/Paris\n"), "{t}");
        h.write_atomic(
            "/etc/locale.conf",
            b"# x\nLANG=\"C\"\nLC_X=y\n",
            &WriteOpts::default(),
        )
        .unwrap();
        update(&h, "/etc/locale.conf", "LANG", "de_DE.UTF-8", "1.0").unwrap();
        assert_eq!(
            h.read_to_string("/etc/locale.conf").unwrap(),
            "# x\nLANG=de_DE.UTF-8\nLC_X=y\n"
        );
        assert_eq!(
            read_key(&h, "/etc/locale.conf", "LANG").as_deref(),
            Some("de_DE.UTF-8")
        );
    }
}

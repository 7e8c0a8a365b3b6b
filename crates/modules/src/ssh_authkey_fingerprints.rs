//! `ssh_authkey_fingerprints`: print a table of each user's authorized
//! keys with their fingerprints (`authkey_hash`, sha256 by default).

use crate::sshutil::{self, AuthKeyLine, VALID_KEY_TYPES};
use crate::ugutil;
use crate::{Ctx, ModResult, ModuleError};
use base64::Engine;
use ci_pyval::digest;
use ci_pyval::{is_true, py_quote, py_str, truthy};
use log::debug;
use std::io::Write;

/// Python `str.center(width)`.
pub fn py_center(s: &str, width: usize) -> String {
    let len = s.chars().count();
    if width <= len {
        return s.to_string();
    }
    let marg = width - len;
    let left = marg / 2 + (marg & width & 1);
    format!("{}{s}{}", " ".repeat(left), " ".repeat(marg - left))
}

/// Python `format(s, fill + "^" + width)`.
pub fn fmt_center(s: &str, fill: char, width: usize) -> String {
    let len = s.chars().count();
    if width <= len {
        return s.to_string();
    }
    let marg = width - len;
    let left = marg / 2;
    let f = fill.to_string();
    format!("{}{s}{}", f.repeat(left), f.repeat(marg - left))
}

/// Upstream's `SimpleTable` rendering.
pub fn simple_table(fields: &[String], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = fields.iter().map(|f| f.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let hdiv = format!(
        "+{}+",
        widths
            .iter()
            .map(|w| "-".repeat(w + 2))
            .collect::<Vec<_>>()
            .join("+")
    );
    let row = |r: &[String]| {
        format!(
            "|{}|",
            r.iter()
                .zip(&widths)
                .map(|(c, w)| py_center(c, w + 2))
                .collect::<Vec<_>>()
                .join("|")
        )
    };
    let mut lines = vec![hdiv.clone(), row(fields), hdiv.clone()];
    lines.extend(rows.iter().map(|r| row(r)));
    lines.push(hdiv);
    lines.join("\n")
}

/// Colon-separated hex digest of the key blob; `?` when it cannot be computed.
pub fn gen_fingerprint(b64: &str, hash: &str) -> String {
    if b64.is_empty() {
        return String::new();
    }
    let Ok(blob) = base64::engine::general_purpose::STANDARD.decode(b64) else {
        return "?".into();
    };
    let hex = match hash {
        "sha256" => digest::hex(&digest::sha256(&blob)),
        "md5" => digest::hex(&digest::md5(&blob)),
        _ => return "?".into(),
    };
    hex.as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(":")
}

fn printable(e: &AuthKeyLine) -> bool {
    e.keytype
        .as_deref()
        .is_some_and(|t| VALID_KEY_TYPES.contains(&t.trim().to_lowercase().as_str()))
}

/// The console lines upstream prints for one user.
pub fn render_entries(user: &str, key_fn: &str, entries: &[AuthKeyLine], hash: &str) -> String {
    let prefix = "ci-info: ";
    if entries.is_empty() {
        return format!("{prefix}no authorized SSH keys fingerprints found for user {user}.\n");
    }
    let fields = vec![
        "Keytype".to_string(),
        format!("Fingerprint ({hash})"),
        "Options".to_string(),
        "Comment".to_string(),
    ];
    let dash = |s: &Option<String>| {
        s.clone()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "-".into())
    };
    let rows: Vec<Vec<String>> = entries
        .iter()
        .filter(|e| printable(e))
        .map(|e| {
            let fp = gen_fingerprint(e.base64.as_deref().unwrap_or(""), hash);
            vec![
                dash(&e.keytype),
                if fp.is_empty() { "-".into() } else { fp },
                dash(&e.options),
                dash(&e.comment),
            ]
        })
        .collect();
    let table = simple_table(&fields, &rows);
    let max_len = table.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    let mut out = format!(
        "{prefix}{}\n",
        fmt_center(
            &format!("Authorized keys from {key_fn} for user {user}"),
            '+',
            max_len
        )
    );
    for l in table.lines() {
        out.push_str(&format!("{prefix}{l}\n"));
    }
    out
}

/// The failure upstream's password-database lookup gives for `name`: a
/// `KeyError` for an unknown user (which ends the module, so users listed
/// after it are not printed), a `RuntimeError` for one without a home.
fn check_user(ctx: &Ctx, name: &str) -> ModResult {
    match ctx.host.user(name) {
        None => Err(ModuleError::with_class(
            "KeyError",
            format!("getpwnam(): name not found: {}", py_quote(name)),
        )),
        Some(u) if u.home.is_empty() => Err(ModuleError::new(format!(
            "Unable to get SSH info for user {}",
            py_quote(name)
        ))),
        Some(_) => Ok(()),
    }
}

pub fn handle(ctx: &Ctx) -> ModResult {
    if ctx.get("no_ssh_fingerprints").is_some_and(is_true) {
        debug!(
            "Skipping module named {}, logging of SSH fingerprints disabled",
            ctx.name
        );
        return Ok(());
    }
    let hash = ctx
        .get("authkey_hash")
        .map(py_str)
        .unwrap_or_else(|| "sha256".into());
    let (users, _) = ugutil::normalize_users_groups(ctx.cfg, ctx.distro)?;
    let mut err = std::io::stderr();
    for (name, cfg) in &users {
        if cfg.get("no_create_home").is_some_and(truthy) || cfg.get("system").is_some_and(truthy) {
            debug!("Skipping printing of ssh fingerprints for user '{name}' because no home directory is created");
            continue;
        }
        check_user(ctx, name)?;
        let (key_fn, entries) =
            sshutil::extract_authorized_keys(ctx.host, name).map_err(ModuleError::new)?;
        let text = render_entries(name, &key_fn, &entries, &hash);
        for line in text.lines() {
            debug!("{line}");
        }
        let _ = err.write_all(text.as_bytes());
    }
    let _ = err.flush();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{logcap, TestEnv};

    #[test]
    fn centers_like_python() {
        assert_eq!(py_center("ab", 5), "  ab ");
        assert_eq!(py_center("ab", 6), "  ab  ");
        assert_eq!(py_center("abc", 6), " abc  ");
        assert_eq!(fmt_center("ab", '+', 5), "+ab++");
    }

    fn env_with_users(users: serde_json::Value) -> TestEnv {
        let env = TestEnv::new(serde_json::json!({ "users": users }));
        env.write(
            "/etc/passwd",
            "alice:x:1000:1000::/home/alice:/bin/sh\n\
             carol:x:1002:1002::/home/carol:/bin/sh\n\
             nohome:x:1003:1003:::/bin/sh\n",
        );
        env
    }

    // Upstream's `pwd.getpwnam` raises for the unknown user and the module
    // stops there: alice (before) is printed, carol (after) is not.
    #[test]
    fn unknown_user_is_a_key_error_and_stops_the_module() {
        logcap::init();
        let env = env_with_users(serde_json::json!(["alice", "bob", "carol"]));
        let err = handle(&env.ctx("ssh_authkey_fingerprints")).unwrap_err();
        assert_eq!(
            err.py_repr(),
            "KeyError(\"getpwnam(): name not found: 'bob'\")"
        );
        let logged = logcap::all();
        assert!(logged.iter().any(|m| m.ends_with("found for user alice.")));
        assert!(!logged.iter().any(|m| m.contains("carol")), "{logged:?}");
    }

    #[test]
    fn quotes_in_the_name_are_rendered_as_python_repr() {
        let env = env_with_users(serde_json::json!(["o'neil"]));
        let err = handle(&env.ctx("ssh_authkey_fingerprints")).unwrap_err();
        assert_eq!(
            err.py_repr(),
            "KeyError('getpwnam(): name not found: \"o\\'neil\"')"
        );
    }

    #[test]
    fn user_without_home_is_a_runtime_error() {
        let env = env_with_users(serde_json::json!(["nohome"]));
        let err = handle(&env.ctx("ssh_authkey_fingerprints")).unwrap_err();
        assert_eq!(err.py_class(), "RuntimeError");
        assert_eq!(err.to_string(), "Unable to get SSH info for user 'nohome'");
    }

    // Expected text printed by the oracle's `_pprint_key_entries` for the same entries.
    #[test]
    fn table_matches_upstream() {
        let e: Vec<AuthKeyLine> = [
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl bob@laptop",
            "no-pty ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC",
            "# comment",
        ]
        .iter()
        .map(|l| sshutil::parse_key_line(l, None))
        .collect();
        let got = render_entries("bob", "/home/bob/.ssh/authorized_keys", &e, "md5")
            + &render_entries("al", "/x", &[], "sha256");
        assert_eq!(got, "ci-info: ++++++++++++Authorized keys from /home/bob/.ssh/authorized_keys for user bob++++++++++++\nci-info: +-------------+-------------------------------------------------+---------+------------+\nci-info: |   Keytype   |                Fingerprint (md5)                | Options |  Comment   |\nci-info: +-------------+-------------------------------------------------+---------+------------+\nci-info: | ssh-ed25519 | 65:96:2d:fc:e8:d5:a9:11:64:0c:0f:ea:00:6e:5b:bd |    -    | bob@laptop |\nci-info: |   ssh-rsa   |                        ?                        |  no-pty |     -      |\nci-info: +-------------+-------------------------------------------------+---------+------------+\nci-info: no authorized SSH keys fingerprints found for user al.\n");
    }
}

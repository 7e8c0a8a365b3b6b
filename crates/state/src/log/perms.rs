//! `syslog_fix_perms`: the log's owner and group. The init stages give the
//! open log file the first `user:group` of the list whose names exist on
//! the target (`root:adm` on Debian, where there is no `syslog` user), so
//! the `adm` group can read it while the mode stays at most 0640.

use ci_host::Host;
use serde_json::Value;
use std::fs::File;
use std::os::unix::fs::MetadataExt;

/// The entries of `syslog_fix_perms`: a list, or one value taken as a
/// one-item list. Unset or empty (Python falsy) is upstream's `[{}]`: one
/// entry naming no user and no group, which changes nothing and succeeds.
pub fn entries(v: Option<&Value>) -> Vec<String> {
    match v {
        None => vec![String::new()],
        Some(v) if !ci_pyval::truthy(v) => vec![String::new()],
        Some(Value::Array(items)) => items.iter().map(ci_pyval::py_str).collect(),
        Some(other) => vec![ci_pyval::py_str(other)],
    }
}

/// Split `user:group`; an empty name, `-1` or `none` leaves that id as is.
pub fn split_owner(entry: &str) -> (Option<&str>, Option<&str>) {
    let (u, g) = match entry.split_once(':') {
        Some((u, g)) => (u.trim(), Some(g.trim())),
        None => (entry.trim(), None),
    };
    let keep = |s: &&str| !(s.is_empty() || *s == "-1" || s.eq_ignore_ascii_case("none"));
    (Some(u).filter(keep), g.filter(keep))
}

/// Names to ids on the target (its `/etc/passwd` and `/etc/group`, never
/// this machine's). `root` is 0 even in a bare sandbox without those files.
fn ids(
    host: &Host,
    user: Option<&str>,
    group: Option<&str>,
) -> Result<(Option<u32>, Option<u32>), String> {
    let uid = match user {
        None => None,
        Some(u) => Some(match host.user(u) {
            Some(e) => e.uid,
            None if u == "root" => 0,
            None => {
                return Err(format!(
                    "Unknown user or group: \"getpwnam(): name not found: '{u}'\""
                ))
            }
        }),
    };
    let gid = match group {
        None => None,
        Some(g) => Some(match host.group(g) {
            Some(e) => e.gid,
            None if g == "root" => 0,
            None => {
                return Err(format!(
                    "Unknown user or group: \"getgrnam(): name not found: '{g}'\""
                ))
            }
        }),
    };
    Ok((uid, gid))
}

/// Python's text for a failed system call: `[Errno 1] Operation not permitted: '<path>'`.
fn os_error_text(e: &std::io::Error, shown: &str) -> String {
    let text = e.to_string();
    match e.raw_os_error() {
        Some(n) => {
            let desc = text
                .strip_suffix(&format!(" (os error {n})"))
                .unwrap_or(&text);
            format!("[Errno {n}] {desc}: '{shown}'")
        }
        None => text,
    }
}

/// Give `file` (the open log, named `shown` in messages as the config
/// names it) the owner of the first entry that works. Going through the
/// open file rather than the path means a symlink put in the log's place
/// cannot redirect the change. `Err` is upstream's warning text, naming the
/// entries tried and the last failure.
pub fn apply(host: &Host, file: &File, shown: &str, entries: &[String]) -> Result<(), String> {
    let mut last_error = "None".to_string();
    for entry in entries {
        let (user, group) = split_owner(entry);
        let (uid, gid) = match ids(host, user, group) {
            Ok(ids) => ids,
            Err(e) => {
                last_error = e;
                continue;
            }
        };
        if uid.is_none() && gid.is_none() {
            return Ok(());
        }
        let id_text = |id: Option<u32>| id.map_or_else(|| "-1".to_string(), |n| n.to_string());
        log::debug!(
            target: "util.py",
            "Changing the ownership of {shown} to {}:{}",
            id_text(uid),
            id_text(gid)
        );
        if already_owned(file, uid, gid) {
            return Ok(());
        }
        match std::os::unix::fs::fchown(file, uid, gid) {
            Ok(()) => return Ok(()),
            Err(e) => last_error = os_error_text(&e, shown),
        }
    }
    Err(format!(
        "Failed changing perms on '{shown}'. tried: {}. {last_error}",
        entries.join(",")
    ))
}

/// True when the file has the wanted ids already: nothing to change, which
/// also spares a run without privileges a needless failure.
fn already_owned(file: &File, uid: Option<u32>, gid: Option<u32>) -> bool {
    file.metadata()
        .is_ok_and(|m| uid.is_none_or(|u| u == m.uid()) && gid.is_none_or(|g| g == m.gid()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entries_follow_python_truthiness() {
        for falsy in [None, Some(json!(null)), Some(json!([])), Some(json!(""))] {
            assert_eq!(entries(falsy.as_ref()), [""], "{falsy:?}");
        }
        assert_eq!(entries(Some(&json!("root:adm"))), ["root:adm"]);
        assert_eq!(
            entries(Some(&json!(["syslog:adm", "root:adm"]))),
            ["syslog:adm", "root:adm"]
        );
    }

    #[test]
    fn owner_specs_split_like_upstream() {
        assert_eq!(split_owner("root:adm"), (Some("root"), Some("adm")));
        assert_eq!(split_owner(" syslog "), (Some("syslog"), None));
        assert_eq!(split_owner("-1:adm"), (None, Some("adm")));
        assert_eq!(split_owner("None:"), (None, None));
        assert_eq!(split_owner("a:b:c"), (Some("a"), Some("b:c")));
    }

    fn target(passwd: &str, group: &str) -> (tempfile::TempDir, Host, File) {
        let d = tempfile::tempdir().unwrap();
        let h = Host::new(d.path());
        let w = ci_host::WriteOpts::default();
        h.write_atomic("/etc/passwd", passwd.as_bytes(), &w)
            .unwrap();
        h.write_atomic("/etc/group", group.as_bytes(), &w).unwrap();
        h.write_atomic("/var/log/cloud-init.log", b"", &w).unwrap();
        let f = File::options()
            .append(true)
            .open(h.path("/var/log/cloud-init.log"))
            .unwrap();
        (d, h, f)
    }

    #[test]
    fn first_entry_whose_names_exist_on_the_target_wins() {
        if !Host::running_as_root() {
            eprintln!("note: skipped: chown needs root");
            return;
        }
        // Ids that this machine's own files do not give these names, so a
        // lookup on the wrong /etc would show.
        let (_d, h, f) = target(
            "root:x:0:0:root:/root:/bin/bash\n",
            "root:x:0:\nadm:x:4242:\n",
        );
        let list = entries(Some(&json!(["syslog:adm", "root:adm", "root:root"])));
        apply(&h, &f, "/var/log/cloud-init.log", &list).unwrap();
        let m = f.metadata().unwrap();
        assert_eq!((m.uid(), m.gid()), (0, 4242));
    }

    #[test]
    fn no_working_entry_names_the_tries_and_the_last_error() {
        let (_d, h, f) = target("root:x:0:0:root:/root:/bin/bash\n", "root:x:0:\n");
        let list = entries(Some(&json!(["syslog:adm", "root:wheel"])));
        assert_eq!(
            apply(&h, &f, "/var/log/cloud-init.log", &list).unwrap_err(),
            "Failed changing perms on '/var/log/cloud-init.log'. tried: syslog:adm,root:wheel. \
             Unknown user or group: \"getgrnam(): name not found: 'wheel'\""
        );
        assert_eq!(
            apply(&h, &f, "/var/log/cloud-init.log", &[]).unwrap_err(),
            "Failed changing perms on '/var/log/cloud-init.log'. tried: . None"
        );
        // `syslog_fix_perms: null` (RHEL's cloud.cfg) changes nothing, quietly.
        apply(
            &h,
            &f,
            "/var/log/cloud-init.log",
            &entries(Some(&json!(null))),
        )
        .unwrap();
    }
}

//! Bytes (`!!binary`) values in users_groups, against what upstream
//! 25.1.4 does with the same YAML (run with the oracle).

use super::*;
use crate::testutil::{logcap, TestEnv};
use ci_host::WriteOpts;

/// U+FDD0 as UTF-8: the start of the bytes marker.
const MARKER_UTF8: &[u8] = "\u{FDD0}".as_bytes();

fn has_marker(b: &[u8]) -> bool {
    b.windows(MARKER_UTF8.len()).any(|w| w == MARKER_UTF8)
}

fn files_under(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() && !p.is_symlink() {
            files_under(&p, out);
        } else if p.is_file() {
            out.push(p);
        }
    }
}

/// The bytes marker reached no command (argv, stdin, logged form), no
/// log record of this thread and no file under the root.
pub(crate) fn assert_no_marker(env: &TestEnv) {
    for c in env.rec.calls() {
        let mut parts: Vec<&[u8]> = c.argv.iter().map(|a| a.as_bytes()).collect();
        parts.extend(c.stdin.as_deref());
        parts.extend(c.redacted.as_deref().map(str::as_bytes));
        assert!(!parts.iter().any(|p| has_marker(p)), "marker in {c:?}");
    }
    for m in logcap::all() {
        assert!(!has_marker(m.as_bytes()), "marker in log: {m:?}");
    }
    let mut files = Vec::new();
    files_under(env.host.root(), &mut files);
    for f in files {
        let data = std::fs::read(&f).unwrap();
        assert!(!has_marker(&data), "marker in {}", f.display());
    }
}

/// An env for `yaml` (loaded with ci_yaml, so `!!binary` is real bytes),
/// Debian with no default user, and the given users already present.
fn setup(yaml: &str, existing: &[&str]) -> TestEnv {
    logcap::init();
    let mut cfg = ci_yaml::load(yaml).unwrap();
    cfg["system_info"] = serde_json::json!({"distro": "debian", "default_user": null});
    let env = TestEnv::new(cfg);
    let mut passwd = String::from("root:x:0:0:root:/root:/bin/bash\n");
    for (i, u) in existing.iter().enumerate() {
        passwd.push_str(&format!(
            "{u}:x:{}:{}::/home/{u}:/bin/sh\n",
            500 + i,
            500 + i
        ));
        env.host
            .create_dir_all(format!("/home/{u}"), 0o755)
            .unwrap();
    }
    env.host
        .write_atomic("/etc/passwd", passwd.as_bytes(), &WriteOpts::default())
        .unwrap();
    env.host
        .write_atomic("/etc/group", b"root:x:0:\n", &WriteOpts::default())
        .unwrap();
    env
}

/// The module's result, a failure as `Class: message`.
fn run(env: &TestEnv) -> Result<(), String> {
    handle(&env.ctx("users_groups")).map_err(|e| format!("{}: {e}", e.py_class()))
}

fn progs(env: &TestEnv) -> Vec<String> {
    env.rec
        .calls()
        .iter()
        .filter_map(|c| c.argv.first().cloned())
        .collect()
}

#[test]
fn bytes_user_name_fails_at_the_user_lookup() {
    // Upstream keeps the bytes name and fails in add_user's getpwnam().
    let env = setup("users: [{name: !!binary Ym9i}]", &[]);
    assert_eq!(
        run(&env).unwrap_err(),
        "TypeError: getpwnam() argument must be str, not bytes"
    );
    assert!(env.rec.calls().is_empty());
    assert_no_marker(&env);

    // A bytes name inside a nested list is kept as bytes the same way.
    let env = env_nested();
    assert_eq!(
        run(&env).unwrap_err(),
        "TypeError: getpwnam() argument must be str, not bytes"
    );
    assert_no_marker(&env);

    // Messages that name the user show it as Python does.
    let env = setup(
        "users: [{name: !!binary Ym9i, system: true, ssh_authorized_keys: [k]}]",
        &[],
    );
    assert_eq!(
        run(&env).unwrap_err(),
        "RuntimeError: Not creating user b'bob'. Key(s) ssh_authorized_keys cannot be provided with system"
    );
    assert_no_marker(&env);
}

fn env_nested() -> TestEnv {
    setup("users: [[!!binary Ym9i]]", &[])
}

#[test]
fn bytes_sudo_is_refused_after_the_user_is_made() {
    let env = setup(
        "users: [{name: a, sudo: !!binary QUxMPShBTEwpIEFMTA==}]",
        &[],
    );
    assert_eq!(
        run(&env).unwrap_err(),
        "TypeError: Can not create sudoers rule addition with type 'bytes'"
    );
    let progs = progs(&env);
    assert!(progs.contains(&"useradd".to_string()), "{progs:?}");
    assert!(progs.contains(&"passwd".to_string()), "{progs:?}");
    assert!(!env.host.exists("/etc/sudoers.d/90-cloud-init-users"));
    assert_no_marker(&env);

    // Bytes inside a rules list are written with str(), as upstream.
    let env = setup(
        "users: [{name: a, sudo: [!!binary QUxMPShBTEwpIEFMTA==]}]",
        &[],
    );
    run(&env).unwrap();
    let rules = env.read("/etc/sudoers.d/90-cloud-init-users");
    assert!(rules.contains("\na b'ALL=(ALL) ALL'\n"), "{rules}");
    assert_no_marker(&env);
}

#[test]
fn bytes_doas_is_refused() {
    let env = setup("users: [{name: a, doas: !!binary cGVybWl0IGE=}]", &[]);
    assert_eq!(
        run(&env).unwrap_err(),
        "TypeError: expected string or bytes-like object, got 'int'"
    );
    assert!(!env.host.exists("/etc/doas.conf"));
    assert_no_marker(&env);
}

#[test]
fn bytes_passwords_are_set_as_their_str_text() {
    // plain_text_passwd / hashed_passwd go through "%s:%s", i.e. str(bytes).
    let env = setup(
        "users: [{name: a, plain_text_passwd: !!binary cHc=, lock_passwd: false}, {name: h, hashed_passwd: !!binary JDYkeCR5}]",
        &[],
    );
    run(&env).unwrap();
    let stdins: Vec<String> = env
        .rec
        .calls()
        .iter()
        .filter(|c| c.argv[0] == "chpasswd")
        .filter_map(|c| {
            c.stdin
                .as_deref()
                .map(|s| String::from_utf8_lossy(s).into_owned())
        })
        .collect();
    assert!(
        stdins.iter().any(|s| s.trim_end() == "a:b'pw'"),
        "{stdins:?}"
    );
    assert!(
        stdins.iter().any(|s| s.trim_end() == "h:b'$6$x$y'"),
        "{stdins:?}"
    );
    assert_no_marker(&env);
}

#[test]
fn bytes_useradd_options_are_left_out_and_bytes_groups_fail() {
    // add_user passes only str values to useradd; a bytes `passwd` still
    // counts as given, so `lock_passwd: false` unlocks.
    let env = setup(
        "users: [{name: a, passwd: !!binary JDYkeCR5, gecos: !!binary R2Vj, shell: /bin/sh, lock_passwd: false}]",
        &[],
    );
    run(&env).unwrap();
    let lines = env.rec.lines();
    let useradd = lines.iter().find(|l| l.starts_with("useradd")).unwrap();
    assert!(
        !useradd.contains("--password") && !useradd.contains("--comment"),
        "{useradd}"
    );
    assert!(useradd.contains("--shell /bin/sh"), "{useradd}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("passwd") && l.contains("-u")),
        "{lines:?}"
    );
    assert_no_marker(&env);

    let env = setup("users: [{name: a, groups: !!binary Zw==}]", &[]);
    assert_eq!(
        run(&env).unwrap_err(),
        "AttributeError: 'int' object has no attribute 'strip'"
    );
    assert!(env.rec.calls().is_empty());
    assert_no_marker(&env);
    let env = setup("users: [{name: a, groups: [x, !!binary Zw==]}]", &[]);
    assert_eq!(
        run(&env).unwrap_err(),
        "TypeError: sequence item 1: expected str instance, bytes found"
    );
    assert_no_marker(&env);
    // An existing user is not created, so its groups are not looked at.
    let env = setup("users: [{name: a, groups: !!binary Zw==}]", &["a"]);
    run(&env).unwrap();
    assert_no_marker(&env);
}

#[test]
fn bytes_ssh_authorized_keys_are_skipped_with_upstreams_warning() {
    let env = setup(
        "users: [{name: a, ssh_authorized_keys: !!binary c3NoLXJzYSBBQUFBQjNOemEgeA==}]",
        &["a"],
    );
    run(&env).unwrap();
    assert!(logcap::warnings().contains(
        &"Invalid type '<class 'bytes'>' detected for 'ssh_authorized_keys', expected list, string, dict, or set."
            .to_string()
    ));
    let keys = env
        .host
        .read_to_string("/home/a/.ssh/authorized_keys")
        .unwrap_or_default();
    assert!(!keys.contains("ssh-rsa"), "{keys}");
    assert_no_marker(&env);

    // In a list, upstream parses str(bytes), `b'ssh-rsa ...'`: not a key.
    let env = setup(
        "users: [{name: a, ssh_authorized_keys: [!!binary c3NoLXJzYSBBQUFBQjNOemEgeA==, ssh-ed25519 AAAAC3Nz ok]}]",
        &["a"],
    );
    run(&env).unwrap();
    let keys = env.read("/home/a/.ssh/authorized_keys");
    assert_eq!(keys, "ssh-ed25519 AAAAC3Nz ok\n");
    assert_no_marker(&env);
}

#[test]
fn bytes_snapuser_goes_on_the_command_line_as_is() {
    let env = setup("users: [{name: a, snapuser: !!binary bWVAeC5jb20=}]", &[]);
    run(&env).unwrap();
    assert_eq!(
        env.rec.lines(),
        ["snap create-user --sudoer --json me@x.com"]
    );
    assert_no_marker(&env);
}

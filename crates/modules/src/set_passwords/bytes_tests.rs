//! Bytes (`!!binary`) values in set_passwords, against what upstream
//! 25.1.4 does with the same YAML (oracle runs with mocked commands).

use super::*;
use crate::testutil::{logcap, TestEnv};
use crate::users_groups::tests::assert_no_marker;

fn setup(yaml: &str) -> TestEnv {
    logcap::init();
    let mut cfg = ci_yaml::load(yaml).unwrap();
    cfg["system_info"] =
        serde_json::json!({"distro": "debian", "default_user": {"name": "debian"}});
    TestEnv::new(cfg)
}

fn run(env: &TestEnv) -> Result<(), String> {
    handle(&env.ctx("set_passwords")).map_err(|e| format!("{}: {e}", e.py_class()))
}

fn ran(env: &TestEnv, prog: &str) -> bool {
    env.rec
        .calls()
        .iter()
        .any(|c| c.argv.iter().any(|a| a == prog))
}

fn warned(prefix: &str) -> bool {
    logcap::warnings().iter().any(|w| w.starts_with(prefix))
}

#[test]
fn bytes_chpasswd_passwords_fail_the_join() {
    // Upstream's `":".join([name, password])` refuses bytes; the module
    // goes on, then re-raises that error. No password is set.
    let env =
        setup("chpasswd: {expire: false, users: [{name: a, password: !!binary cHc=, type: text}]}");
    assert_eq!(
        run(&env).unwrap_err(),
        "TypeError: sequence item 1: expected str instance, bytes found"
    );
    assert!(warned("Failed to set passwords with chpasswd for"));
    assert!(!ran(&env, "chpasswd"));
    assert_no_marker(&env);

    let env = setup("chpasswd: {expire: false, users: [{name: a, password: !!binary JDYkeCR5}]}");
    assert_eq!(
        run(&env).unwrap_err(),
        "TypeError: sequence item 1: expected str instance, bytes found"
    );
    assert!(warned("Failed to set hashed passwords with chpasswd for"));
    assert!(!ran(&env, "chpasswd"));
    assert_no_marker(&env);
}

#[test]
fn bytes_chpasswd_names_fail_the_join_and_expire_as_is() {
    let env = setup(
        "chpasswd: {users: [{name: !!binary YQ==, password: pw, type: text}, {name: r, type: RANDOM}]}",
    );
    assert_eq!(
        run(&env).unwrap_err(),
        "TypeError: sequence item 0: expected str instance, bytes found"
    );
    assert!(!ran(&env, "chpasswd"));
    // `passwd --expire` gets the bytes themselves, as upstream's subp.
    let expire: Vec<Vec<String>> = env
        .rec
        .calls()
        .into_iter()
        .filter(|c| c.argv.iter().any(|a| a == "--expire"))
        .map(|c| c.argv)
        .collect();
    assert_eq!(expire.len(), 2, "{expire:?}");
    assert_eq!(expire[0].last().map(String::as_str), Some("a"));
    assert_eq!(expire[1].last().map(String::as_str), Some("r"));
    assert_no_marker(&env);
}

#[test]
fn bytes_type_matches_no_type_and_bytes_list_lines_fail() {
    let env = setup(
        "chpasswd: {expire: false, users: [{name: a, password: pw, type: !!binary dGV4dA==}]}",
    );
    run(&env).unwrap();
    assert!(env.rec.calls().is_empty());
    assert_no_marker(&env);

    // `line.split(":", 1)` on bytes.
    let env = setup("chpasswd: {expire: false, list: [!!binary YTpwdw==]}");
    assert_eq!(
        run(&env).unwrap_err(),
        "TypeError: a bytes-like object is required, not 'str'"
    );
    assert!(env.rec.calls().is_empty());
    assert_no_marker(&env);

    // `password` is read with str(): the default user's password is `b'pw'`.
    let env = setup("password: !!binary cHc=\nusers: [default]\nchpasswd: {expire: false}");
    run(&env).unwrap();
    let set: Vec<String> = env
        .rec
        .calls()
        .iter()
        .filter(|c| c.argv.iter().any(|a| a == "chpasswd"))
        .filter_map(|c| {
            c.stdin
                .as_deref()
                .map(|s| String::from_utf8_lossy(s).into_owned())
        })
        .collect();
    assert_eq!(set.len(), 1);
    assert_eq!(set[0].trim_end(), "debian:b'pw'");
    assert_no_marker(&env);
}

#[test]
fn bytes_ssh_pwauth_is_an_unrecognized_value() {
    let env = setup("ssh_pwauth: !!binary dW5jaGFuZ2Vk");
    run(&env).unwrap();
    assert!(logcap::warnings().contains(
        &"Leaving SSH config 'PasswordAuthentication' unchanged. Unrecognized value: ssh_pwauth=b'unchanged'"
            .to_string()
    ));
    assert!(!env.host.exists("/etc/ssh/sshd_config"));
    assert_no_marker(&env);
}

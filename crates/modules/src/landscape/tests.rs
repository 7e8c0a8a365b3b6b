use super::*;
use crate::testutil::{logcap, TestEnv};
use serde_json::json;

fn env(cfg: Value, registered: bool) -> TestEnv {
    let env = TestEnv::new(cfg);
    for t in ["apt-get", "apt-cache", "landscape-config"] {
        env.write_mode(&format!("/usr/bin/{t}"), "", 0o755);
    }
    env.rec.answer("apt-cache", 0, b"landscape-client\n");
    env.rec
        .answer("landscape-config", if registered { 0 } else { 5 }, b"");
    env
}

#[test]
fn absent_or_empty_does_nothing_and_non_mapping_fails() {
    let e = TestEnv::new(json!({"landscape": {}}));
    handle(&e.ctx("landscape")).unwrap();
    assert!(e.rec.lines().is_empty());
    let e = TestEnv::new(json!({"landscape": null}));
    let err = handle(&e.ctx("landscape")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "'landscape' key existed in config, but not a dictionary type, is a NoneType instead"
    );
}

#[test]
fn registers_with_merged_flags_in_key_order() {
    let e = env(
        json!({"landscape": {"client": {"computer_title": "t", "account_name": "a", "log_level": "debug"}}}),
        false,
    );
    e.write(
        "/etc/landscape/client.conf",
        "[client]\nurl = \"https://l.test/m\"\nextra_key = v # note\n[x]\ny = z\n",
    );
    // The recording runner answers 5 to both calls: the registration itself
    // then counts as failed, which shows it ran with the merged flags.
    let err = handle(&e.ctx("landscape")).unwrap_err();
    assert!(err.to_string().contains("Exit code: 5"));
    let lines = e.rec.lines();
    assert!(lines
        .iter()
        .any(|l| l.ends_with("install landscape-client")));
    let n = lines.len();
    assert_eq!(lines[n - 2], "landscape-config --silent --is-registered");
    assert_eq!(
        lines[n - 1],
        "landscape-config --silent --account-name a --computer-title t --data-path /var/lib/landscape/client --extra-key v --log-level debug --ping-url http://landscape.canonical.com/ping --url https://l.test/m"
    );
}

#[test]
fn already_registered_warns_and_stops() {
    logcap::init();
    let e = env(json!({"landscape": {"client": {"a": "b"}}}), true);
    handle(&e.ctx("landscape")).unwrap();
    assert_eq!(
        logcap::warnings(),
        ["Client already registered to Landscape"]
    );
    assert_eq!(
        e.rec.lines().last().unwrap(),
        "landscape-config --silent --is-registered"
    );
}

#[test]
fn non_text_value_is_an_attribute_error() {
    let e = env(
        json!({"landscape": {"client": {"ping_interval": 30}}}),
        false,
    );
    let err = handle(&e.ctx("landscape")).unwrap_err();
    assert_eq!(err.py_class(), "RuntimeError");
    let shown = "['landscape-config', '--silent', '--data-path', '/var/lib/landscape/client', '--log-level', 'info', '--ping-interval', 30, '--ping-url', 'http://landscape.canonical.com/ping', '--url', 'https://landscape.canonical.com/message-system']";
    assert_eq!(
        err.to_string(),
        format!("Failure registering client:\nUnexpected error while running command.\nCommand: {shown}\nExit code: -\nReason: Running invalid command: {shown}\nStdout: -\nStderr: -")
    );
    // Only the registration check ran.
    assert_eq!(
        e.rec.lines().last().unwrap(),
        "landscape-config --silent --is-registered"
    );
}

#[test]
fn other_exit_codes_fail_registration() {
    let e = TestEnv::new(json!({"landscape": {"client": {"a": "b"}}}));
    for t in ["apt-get", "apt-cache", "landscape-config"] {
        e.write_mode(&format!("/usr/bin/{t}"), "", 0o755);
    }
    e.rec.answer("apt-cache", 0, b"landscape-client\n");
    e.rec.answer("landscape-config", 1, b"");
    let err = handle(&e.ctx("landscape")).unwrap_err();
    assert!(err
        .to_string()
        .starts_with("Failure registering client:\nUnexpected error while running command."));
}

#[test]
fn configobj_values_are_unquoted() {
    let m = parse_client_section("[client]\na = 'x y'\nb=\"q\"\nc = plain\n");
    assert_eq!(m["a"], "x y");
    assert_eq!(m["b"], "q");
    assert_eq!(m["c"], "plain");
}

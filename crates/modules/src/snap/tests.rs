use super::*;
use crate::testutil::{logcap, TestEnv};
use serde_json::json;

fn env(cfg: serde_json::Value, snap: bool) -> TestEnv {
    let env = TestEnv::new(cfg);
    if snap {
        env.write_mode("/usr/bin/snap", "", 0o755);
    }
    env.write_mode("/bin/sh", "", 0o755);
    env
}

#[test]
fn no_snap_key_skips() {
    let env = env(json!({"snap": {}}), true);
    handle(&env.ctx("snap")).unwrap();
    assert!(env.rec.calls().is_empty());
}

#[test]
fn commands_get_snap_prepended_and_strings_run_in_a_shell() {
    logcap::init();
    let env = env(
        json!({"snap": {"commands": [["install", "vlc"], ["snap", "install", "vlc"],
            "snap install vlc", [null, "echo", "hi"]]}}),
        true,
    );
    env.write_mode("/usr/bin/echo", "", 0o755);
    handle(&env.ctx("snap")).unwrap();
    assert_eq!(
        env.rec.lines(),
        [
            "snap wait system seed.loaded",
            "snap install vlc",
            "snap install vlc",
            "/bin/sh -c snap install vlc",
            "echo hi",
        ]
    );
    assert!(logcap::warnings().is_empty());
    // Seeding is waited for once per machine.
    handle(&env.ctx("snap")).unwrap();
    assert_eq!(env.rec.lines().len(), 9);
}

#[test]
fn mapping_commands_run_in_key_order() {
    let env = env(
        json!({"snap": {"commands": {"10": "snap b", "9": "snap a", "0": ["c"]}}}),
        true,
    );
    handle(&env.ctx("snap")).unwrap();
    assert_eq!(
        env.rec.lines()[1..],
        ["snap c", "/bin/sh -c snap a", "/bin/sh -c snap b"]
    );
}

#[test]
fn assertions_are_joined_into_the_instance_file_and_acked() {
    let env = env(
        json!({"snap": {"assertions": {"00": "first\nline2\nline3\n", "02": "second"}}}),
        true,
    );
    handle(&env.ctx("snap")).unwrap();
    assert_eq!(
        env.read(
            &env.paths
                .instance_file("snapd.assertions")
                .display()
                .to_string()
        ),
        "first\nline2\nline3\n\nsecond"
    );
    assert_eq!(
        env.rec.lines()[1],
        "snap ack /var/lib/cloud/instance/snapd.assertions"
    );
}

#[test]
fn failures_are_collected_and_raised_together_with_a_warning_for_non_snap_lines() {
    logcap::init();
    let env = env(
        json!({"snap": {"commands": ["canonical-livepatch enable x", ["install", "a"]]}}),
        true,
    );
    env.rec.answer("/bin/sh", 127, b"");
    env.rec.answer("snap", 1, b"");
    let e = handle(&env.ctx("snap")).unwrap_err();
    // `snap wait` failed first: nothing else ran.
    assert_eq!(e.py_class(), "ProcessExecutionError");

    let env2 = self::env(
        json!({"snap": {"commands": ["canonical-livepatch enable x", ["install", "a"]]}}),
        false,
    );
    env2.write_mode("/usr/bin/canonical-livepatch", "", 0o755);
    env2.rec.answer("/bin/sh", 127, b"");
    let e = handle(&env2.ctx("snap")).unwrap_err();
    assert_eq!(e.py_class(), "RuntimeError");
    assert_eq!(
        e.to_string(),
        "Failures running snap commands:\n['Unexpected error while running command.\\nCommand: canonical-livepatch enable x\\nExit code: 127\\nReason: -\\nStdout: \\nStderr: ', \"Unexpected error while running command.\\nCommand: ['snap', 'install', 'a']\\nExit code: -\\nReason: [Errno 2] No such file or directory: b'snap'\\nStdout: -\\nStderr: -\"]"
    );
    let w = logcap::warnings();
    assert!(
        w.contains(&"Non-snap commands in snap config:\ncanonical-livepatch enable x".to_string())
    );
    assert!(w.contains(&e.to_string()));
}

#[test]
fn without_snap_the_ack_fails_and_bad_types_are_type_errors() {
    let env = env(json!({"snap": {"assertions": ["a"]}}), false);
    let e = handle(&env.ctx("snap")).unwrap_err();
    assert_eq!(e.py_class(), "ProcessExecutionError");
    assert!(e.to_string().contains("No such file or directory: b'snap'"));
    assert!(env.rec.calls().is_empty());

    let env = self::env(json!({"snap": {"commands": [5]}}), true);
    let e = handle(&env.ctx("snap")).unwrap_err();
    assert_eq!(e.py_class(), "TypeError");
    assert_eq!(
        e.to_string(),
        "Invalid snap config. These commands are not a string or list:\n5"
    );
    let env = self::env(json!({"snap": {"assertions": "x"}}), true);
    let e = handle(&env.ctx("snap")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "assertion parameter was not a list or dict: x"
    );
}

use super::*;
use crate::testutil::{logcap, TestEnv};
use serde_json::json;

#[test]
fn runs_the_script_with_sh_in_the_target() {
    let env = TestEnv::new(json!({"bootcmd": [["echo", "a b"], "mkdir -p /x"]}));
    handle(&env.ctx("bootcmd")).unwrap();
    let calls = env.rec.calls();
    assert_eq!(calls.len(), 1);
    let c = &calls[0];
    assert_eq!(c.place, ci_host::Where::Target);
    assert_eq!(c.argv[0], "/bin/sh");
    assert!(
        c.argv[1].starts_with("/run/cloud-init/tmp/tmp") && c.argv[1].ends_with(".sh"),
        "{:?}",
        c.argv
    );
    assert_eq!(
        c.env,
        vec![("INSTANCE_ID".to_string(), "i-test".to_string())]
    );
    // The temporary script is gone afterwards.
    assert!(!env.host.exists(&c.argv[1]));
    assert_eq!(env.mode("/run/cloud-init/tmp"), 0o1777);
}

#[test]
fn failing_script_is_a_module_error() {
    logcap::init();
    let env = TestEnv::new(json!({"bootcmd": ["false"]}));
    env.rec.answer("/bin/sh", 3, b"");
    let err = handle(&env.ctx("bootcmd")).unwrap_err().to_string();
    assert!(err.starts_with("Unexpected error while running command.\nCommand: ['/bin/sh', '/run/cloud-init/tmp/tmp"), "{err}");
    assert!(err.contains("\nExit code: 3\n"), "{err}");
    assert!(logcap::warnings().contains(&"Failed to run bootcmd module bootcmd".to_string()));
}

#[test]
fn bad_entries_fail_before_running() {
    logcap::init();
    let env = TestEnv::new(json!({"bootcmd": [1]}));
    let err = handle(&env.ctx("bootcmd")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Unable to shellify type 'int'. Expected list, string, tuple. Got: 1"
    );
    assert!(env.rec.lines().is_empty());
    assert!(logcap::warnings()
        .iter()
        .any(|w| w.starts_with("Failed to shellify bootcmd: ")));
}

/// With root rights and the host's /bin/sh plus its libraries copied into
/// a temp root, the script really runs through chroot there.
#[test]
fn really_runs_through_chroot_when_root() {
    let Some(root) = crate::testutil::chroot_root() else {
        eprintln!("note: not root or /bin/sh not copyable; chroot test skipped");
        return;
    };
    let host = ci_host::Host::new(root.path());
    let mut env = TestEnv::new(json!({"bootcmd": ["echo \"$INSTANCE_ID\" > /out"]}));
    env.host = host;
    handle(&env.ctx("bootcmd")).unwrap();
    assert_eq!(
        std::fs::read_to_string(root.path().join("out")).unwrap(),
        "i-test\n"
    );
}

// The oracle (cloud-init 25.1.4) on `bootcmd: [!!binary aGVsbG8=]` logs
//     Failed to shellify bootcmd: Unable to shellify type 'bytes'. Expected list, string, tuple. Got: b'hello'
// and raises that TypeError without running anything.
#[test]
fn binary_command_fails_before_running_like_upstream() {
    logcap::init();
    let cfg = ci_yaml::load("bootcmd: [!!binary aGVsbG8=]").unwrap();
    let env = TestEnv::new(cfg);
    let err = handle(&env.ctx("bootcmd")).unwrap_err();
    let want = "Unable to shellify type 'bytes'. Expected list, string, tuple. Got: b'hello'";
    assert_eq!(err.to_string(), want);
    assert!(env.rec.lines().is_empty());
    assert!(logcap::warnings().contains(&format!("Failed to shellify bootcmd: {want}")));
}

// `bootcmd: [[sh, -c, 'printf %s "$1" > /out', x, !!binary aGVsbG8=]]`:
// upstream's script line quotes `str(b'hello')`, so the shell sees the
// word `b'hello'` (oracle's shellify: `... 'x' 'b'\''hello'\'''`). With
// root rights the script really runs through chroot in a temp root.
#[test]
fn binary_word_reaches_the_shell_as_python_str_when_root() {
    let Some(root) = crate::testutil::chroot_root() else {
        eprintln!("note: not root or /bin/sh not copyable; chroot test skipped");
        return;
    };
    let cfg = ci_yaml::load("bootcmd: [[sh, -c, 'printf %s \"$1\" > /out', x, !!binary aGVsbG8=]]")
        .unwrap();
    let mut env = TestEnv::new(cfg);
    env.host = ci_host::Host::new(root.path());
    handle(&env.ctx("bootcmd")).unwrap();
    assert_eq!(
        std::fs::read_to_string(root.path().join("out")).unwrap(),
        "b'hello'"
    );
}

use super::*;
use crate::testutil::{logcap, TestEnv};
use serde_json::json;

#[test]
fn installer_snap_present_is_valid() {
    logcap::init();
    let env = TestEnv::new(json!({"autoinstall": {"version": 1}}));
    env.write_mode("/usr/bin/snap", "", 0o755);
    env.rec.answer("snap", 0, b"Name Version\nsubiquity 1 2\n");
    handle(&env.ctx("ubuntu_autoinstall")).unwrap();
    assert_eq!(
        env.rec.lines(),
        ["snap wait system seed.loaded", "snap list"]
    );
    assert!(logcap::warnings().is_empty());
    assert!(logcap::all()
        .contains(&"Valid autoinstall schema. Config will be processed by subiquity".to_string()));
}

#[test]
fn no_installer_snap_warns() {
    logcap::init();
    let env = TestEnv::new(json!({"autoinstall": {"version": 1}}));
    env.write_mode("/usr/bin/snap", "", 0o755);
    handle(&env.ctx("ubuntu_autoinstall")).unwrap();
    assert_eq!(
        logcap::warnings(),
        ["Skipping autoinstall module. Expected one of the Ubuntu installer snap packages to be present: subiquity, ubuntu-desktop-installer"]
    );
}

#[test]
fn no_snap_fails() {
    let env = TestEnv::new(json!({"autoinstall": {"version": 1}}));
    let e = handle(&env.ctx("ubuntu_autoinstall")).unwrap_err();
    assert_eq!(e.py_class(), "ProcessExecutionError");
    assert!(e.to_string().contains("Command: ['snap', 'list']"));
    assert!(env.rec.lines().is_empty());
}

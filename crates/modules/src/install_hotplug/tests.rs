use super::*;
use crate::testutil::{logcap, TestEnv};
use serde_json::json;
use std::os::unix::fs::PermissionsExt;

fn env(cfg: Value, supported: bool, enabled: bool) -> TestEnv {
    let mut env = TestEnv::new(cfg);
    env.instance.hotplug = HotplugFacts {
        supported,
        enabled,
        extra_udev_rules: None,
        event_warnings: Vec::new(),
    };
    env
}

fn udevadm(env: &TestEnv) {
    env.write("/usr/bin/udevadm", "#!/bin/sh\n");
    std::fs::set_permissions(
        env.host.path("/usr/bin/udevadm"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
}

const ASKED: &str = r#"{"updates": {"network": {"when": ["boot", "hotplug"]}}}"#;

#[test]
fn installs_the_rule_and_reloads_udev() {
    let env = env(serde_json::from_str(ASKED).unwrap(), true, true);
    udevadm(&env);
    handle(&env.ctx("install_hotplug")).unwrap();
    assert_eq!(
        env.read(RULE_PATH),
        "# Installed by cloud-init due to network hotplug userdata\n\
         ACTION!=\"add|remove\", GOTO=\"cloudinit_end\"\n\
         LABEL=\"cloudinit_hook\"\n\
         SUBSYSTEM==\"net\", RUN+=\"/usr/lib/cloud-init/hook-hotplug\"\n\
         LABEL=\"cloudinit_end\"\n"
    );
    assert_eq!(env.mode(RULE_PATH), 0o644);
    assert_eq!(env.rec.lines(), ["udevadm control --reload-rules"]);
}

#[test]
fn extra_rules_and_libexec_dir() {
    let mut env = env(json!({}), true, true);
    env.instance.hotplug.extra_udev_rules =
        Some("\nENV{ID_NET_DRIVER}==\"vif|ena|ixgbevf\", GOTO=\"cloudinit_hook\"\nGOTO=\"cloudinit_end\"\n".into());
    udevadm(&env);
    std::fs::create_dir_all(env.host.path("/usr/libexec/cloud-init")).unwrap();
    handle(&env.ctx("install_hotplug")).unwrap();
    assert_eq!(
        env.read(RULE_PATH),
        "# Installed by cloud-init due to network hotplug userdata\n\
         ACTION!=\"add|remove\", GOTO=\"cloudinit_end\"\n\
         \n\
         ENV{ID_NET_DRIVER}==\"vif|ena|ixgbevf\", GOTO=\"cloudinit_hook\"\n\
         GOTO=\"cloudinit_end\"\n\
         \n\
         LABEL=\"cloudinit_hook\"\n\
         SUBSYSTEM==\"net\", RUN+=\"/usr/libexec/cloud-init/hook-hotplug\"\n\
         LABEL=\"cloudinit_end\"\n"
    );
}

#[test]
fn not_enabled_removes_an_installed_rule() {
    let env = env(json!({}), true, false);
    udevadm(&env);
    env.write(RULE_PATH, "old\n");
    handle(&env.ctx("install_hotplug")).unwrap();
    assert!(!env.host.exists(RULE_PATH));
    assert_eq!(env.rec.lines(), ["udevadm control --reload-rules"]);
}

#[test]
fn removal_without_udevadm_fails_as_upstream() {
    let env = env(json!({}), false, false);
    env.write(RULE_PATH, "old\n");
    let e = handle(&env.ctx("install_hotplug")).unwrap_err();
    assert_eq!(e.py_class(), "ProcessExecutionError");
    assert!(
        e.to_string()
            .contains("No such file or directory: b'udevadm'"),
        "{e}"
    );
    assert!(!env.host.exists(RULE_PATH));
}

#[test]
fn asked_but_unsupported_warns() {
    logcap::init();
    let env = env(serde_json::from_str(ASKED).unwrap(), false, true);
    udevadm(&env);
    handle(&env.ctx("install_hotplug")).unwrap();
    assert_eq!(
        logcap::warnings(),
        ["Hotplug is unsupported by current datasource. Udev rules will NOT be installed."]
    );
    assert!(!env.host.exists(RULE_PATH));
    assert!(env.rec.lines().is_empty());
}

#[test]
fn not_asked_not_enabled_is_skipped_quietly() {
    logcap::init();
    let env = env(
        json!({"updates": {"network": {"when": ["boot"]}}}),
        true,
        false,
    );
    udevadm(&env);
    handle(&env.ctx("install_hotplug")).unwrap();
    assert!(logcap::warnings().is_empty());
    assert!(logcap::all()
        .iter()
        .any(|m| m == "Skipping hotplug install, not enabled"));
    assert!(env.rec.lines().is_empty());
}

#[test]
fn enabled_without_udevadm_is_skipped() {
    logcap::init();
    let env = env(serde_json::from_str(ASKED).unwrap(), true, true);
    handle(&env.ctx("install_hotplug")).unwrap();
    assert!(!env.host.exists(RULE_PATH));
    assert!(logcap::all()
        .iter()
        .any(|m| m == "Skipping hotplug install, udevadm not found"));
    assert!(logcap::warnings().is_empty());
}

#[test]
fn reload_failure_is_a_process_error() {
    let env = env(json!({}), true, true);
    udevadm(&env);
    env.rec.answer("udevadm", 1, b"");
    let e = handle(&env.ctx("install_hotplug")).unwrap_err();
    assert_eq!(e.py_class(), "ProcessExecutionError");
    assert!(e.to_string().contains("Exit code: 1"), "{e}");
}

#[test]
fn bad_updates_are_warned_about_when_the_module_runs() {
    logcap::init();
    let mut env = env(
        json!({"updates": {"storage": {"when": ["boot"]}}}),
        true,
        false,
    );
    env.instance.hotplug.event_warnings = vec![
        "'storage' is not a valid EventScope! Update data will be ignored for 'storage' scope"
            .into(),
    ];
    handle(&env.ctx("install_hotplug")).unwrap();
    assert_eq!(
        logcap::warnings(),
        ["'storage' is not a valid EventScope! Update data will be ignored for 'storage' scope"]
    );
}

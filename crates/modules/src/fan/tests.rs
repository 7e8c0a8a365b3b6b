use super::*;
use crate::testutil::{logcap, TestEnv};
use serde_json::json;

#[test]
fn no_config_disables() {
    for cfg in [
        json!({}),
        json!({"fan": {"config_path": "/x"}}),
        json!({"fan": {"config": ""}}),
    ] {
        let env = TestEnv::new(cfg);
        handle(&env.ctx("fan")).unwrap();
        assert!(env.rec.lines().is_empty());
    }
}

#[test]
fn writes_config_and_cycles_the_service() {
    let env = TestEnv::new(json!({"fan": {"config": "10.0.0.0/8 eth0/16 dhcp"}}));
    env.write_mode("/usr/sbin/fanctl", "", 0o755);
    env.write_mode("/usr/bin/systemctl", "", 0o755);
    env.host
        .create_dir_all("/run/systemd/system", 0o755)
        .unwrap();
    handle(&env.ctx("fan")).unwrap();
    assert_eq!(env.read("/etc/network/fan"), "10.0.0.0/8 eth0/16 dhcp\n");
    assert_eq!(env.mode("/etc/network/fan"), 0o644);
    assert_eq!(
        env.rec.lines(),
        [
            "systemctl stop ubuntu-fan",
            "systemctl start ubuntu-fan",
            "systemctl enable ubuntu-fan"
        ]
    );
}

#[test]
fn failed_stop_is_warned_and_recovery_reported() {
    logcap::init();
    let env = TestEnv::new(json!({"fan": {"config": "x\n", "config_path": "/etc/f"}}));
    env.write_mode("/usr/sbin/fanctl", "", 0o755);
    env.write_mode("/usr/bin/systemctl", "", 0o755);
    env.host
        .create_dir_all("/run/systemd/system", 0o755)
        .unwrap();
    env.rec.answer("systemctl", 5, b"");
    let e = handle(&env.ctx("fan")).unwrap_err();
    // stop and start warned; enable raises.
    assert_eq!(e.py_class(), "ProcessExecutionError");
    let w = logcap::warnings();
    assert!(w[0].starts_with("failed to stop ubuntu-fan: Unexpected error while running command."));
    assert!(w[1].starts_with("failed to start ubuntu-fan: "));
    assert_eq!(env.read("/etc/f"), "x\n");
}

#[test]
fn missing_fanctl_installs_ubuntu_fan() {
    let env = TestEnv::new(json!({"fan": {"config": "x"}}));
    env.write_mode("/usr/bin/apt-get", "", 0o755);
    env.write_mode("/usr/bin/apt-cache", "", 0o755);
    env.write_mode("/usr/bin/systemctl", "", 0o755);
    env.host
        .create_dir_all("/run/systemd/system", 0o755)
        .unwrap();
    env.rec.answer("apt-cache", 0, b"ubuntu-fan\n");
    handle(&env.ctx("fan")).unwrap();
    assert!(env
        .rec
        .lines()
        .iter()
        .any(|l| l.ends_with("install ubuntu-fan")));
}

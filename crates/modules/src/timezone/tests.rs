use super::*;
use crate::testutil::TestEnv;
use serde_json::json;

fn zoneinfo(env: &TestEnv) {
    env.write("/usr/share/zoneinfo/Europe/Berlin", "TZif-berlin");
    env.write("/usr/share/zoneinfo/UTC", "TZif-utc");
}

#[test]
fn debian_writes_etc_timezone_and_links_localtime() {
    let env = TestEnv::new(json!({"timezone": "Europe/Berlin"}));
    zoneinfo(&env);
    handle(&env.ctx("timezone")).unwrap();
    assert_eq!(env.read("/etc/timezone"), "Europe/Berlin\n");
    assert_eq!(
        env.host.read_link("/etc/localtime").unwrap(),
        std::path::PathBuf::from("/usr/share/zoneinfo/Europe/Berlin")
    );
    assert!(
        env.rec.lines().is_empty(),
        "no timedatectl: {:?}",
        env.rec.lines()
    );
}

#[test]
fn existing_regular_localtime_is_overwritten_with_a_copy() {
    let env = TestEnv::new(json!({"timezone": "UTC"}));
    zoneinfo(&env);
    env.write("/etc/localtime", "old data");
    handle(&env.ctx("timezone")).unwrap();
    assert!(!std::fs::symlink_metadata(env.host.path("/etc/localtime"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(env.read("/etc/localtime"), "TZif-utc");
}

#[test]
fn missing_zoneinfo_is_upstreams_error() {
    let env = TestEnv::new(json!({"timezone": "Mars/Olympus"}));
    zoneinfo(&env);
    let err = handle(&env.ctx("timezone")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Invalid timezone Mars/Olympus, no file found at /usr/share/zoneinfo/Mars/Olympus"
    );
    assert!(!env.host.exists("/etc/timezone"));
}

#[test]
fn args_win_and_rhel_without_systemd_uses_sysconfig_clock() {
    let mut env = TestEnv::new(json!({"timezone": "UTC", "system_info": {"distro": "rhel"}}));
    env.args = vec!["Europe/Berlin".into()];
    zoneinfo(&env);
    handle(&env.ctx("timezone")).unwrap();
    assert!(env
        .read("/etc/sysconfig/clock")
        .ends_with("\nZONE=Europe/Berlin\n"));
    assert_eq!(env.read("/etc/localtime"), "TZif-berlin");
    // Installed is not running: upstream asks /run/systemd/system.
    let env = TestEnv::new(json!({"timezone": "UTC", "system_info": {"distro": "rhel"}}));
    zoneinfo(&env);
    env.write_mode("/usr/lib/systemd/systemd", "", 0o755);
    handle(&env.ctx("timezone")).unwrap();
    assert!(env.host.exists("/etc/sysconfig/clock"));
    // With systemd running in the target: a link, no clock file needed.
    let env = TestEnv::new(json!({"timezone": "UTC", "system_info": {"distro": "rhel"}}));
    zoneinfo(&env);
    env.write("/run/systemd/system/.running", "");
    env.write("/etc/localtime", "old");
    handle(&env.ctx("timezone")).unwrap();
    assert_eq!(
        env.host.read_link("/etc/localtime").unwrap(),
        std::path::PathBuf::from("/usr/share/zoneinfo/UTC")
    );
    assert!(!env.host.exists("/etc/sysconfig/clock"));
}

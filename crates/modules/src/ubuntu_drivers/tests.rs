use super::*;
use crate::testutil::{logcap, TestEnv};
use serde_json::json;

const MOUNTINFO: &str = "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n";

fn env(cfg: Value) -> TestEnv {
    let env = TestEnv::new(cfg);
    env.write(DEBCONF_BINDINGS[0], "");
    env.write("/proc/self/mountinfo", MOUNTINFO);
    for t in ["ubuntu-drivers", "debconf-communicate"] {
        env.write_mode(&format!("/usr/bin/{t}"), "", 0o755);
    }
    env.rec.answer("debconf-communicate", 0, b"0 \n");
    env
}

#[test]
fn no_debconf_binding_skips_with_a_warning() {
    logcap::init();
    let e = TestEnv::new(json!({"drivers": {"nvidia": {"license-accepted": true}}}));
    handle(&e.ctx("ubuntu_drivers")).unwrap();
    assert_eq!(
        logcap::warnings(),
        ["Skipping module named ubuntu_drivers, 'python3-debconf' is not installed"]
    );
    assert!(e.rec.lines().is_empty());
}

#[test]
fn license_must_be_accepted() {
    for v in [json!(false), json!("nah"), json!(null)] {
        let e = env(json!({"drivers": {"nvidia": {"license-accepted": v}}}));
        handle(&e.ctx("ubuntu_drivers")).unwrap();
        assert!(e.rec.lines().is_empty());
    }
    let e = env(json!({"drivers": ["x"]}));
    let err = handle(&e.ctx("ubuntu_drivers")).unwrap_err();
    assert_eq!(err.py_class(), "TypeError");
    assert_eq!(
        err.to_string(),
        "'drivers' config expected dict, found 'list': ['x']"
    );
}

#[test]
fn template_registered_then_drivers_installed() {
    let e = env(json!({"drivers": {"nvidia": {"license-accepted": "yes", "version": 535}}}));
    handle(&e.ctx("ubuntu_drivers")).unwrap();
    let calls = e.rec.calls();
    assert_eq!(
        calls[0].argv,
        ["debconf-communicate", "-fnoninteractive", "cloud-init"]
    );
    let stdin = String::from_utf8(calls[0].stdin.clone().unwrap()).unwrap();
    assert!(stdin.starts_with("X_LOADTEMPLATEFILE /var/tmp/cloud-init/tmp"));
    assert!(stdin.ends_with("/nvidia.template\n"));
    assert_eq!(
        calls[1].argv.join(" "),
        "ubuntu-drivers install --gpgpu nvidia:535"
    );
    // The private directory is gone, the sticky parent stays.
    assert!(e.host.list_dir(TMP_EXEC_DIR).is_empty());
    assert_eq!(e.mode(TMP_EXEC_DIR), 0o1777);
}

#[test]
fn debconf_refusal_fails_before_installing() {
    let e = env(json!({"drivers": {"nvidia": {"license-accepted": true}}}));
    e.rec.answer("debconf-communicate", 0, b"20 bad\n");
    // The first answer for a program wins: build a fresh env instead.
    let e2 = TestEnv::new(json!({"drivers": {"nvidia": {"license-accepted": true}}}));
    e2.write(DEBCONF_BINDINGS[0], "");
    e2.write("/proc/self/mountinfo", MOUNTINFO);
    for t in ["ubuntu-drivers", "debconf-communicate"] {
        e2.write_mode(&format!("/usr/bin/{t}"), "", 0o755);
    }
    e2.rec.answer("debconf-communicate", 0, b"20 bad\n");
    let err = handle(&e2.ctx("ubuntu_drivers")).unwrap_err();
    assert_eq!(err.py_class(), "DebconfError");
    assert_eq!(e2.rec.lines().len(), 1);
    drop(e);
}

#[test]
fn no_drivers_found_is_warned_and_raised() {
    logcap::init();
    let e = env(json!({"drivers": {"nvidia": {"license-accepted": true}}}));
    e.rec
        .answer("ubuntu-drivers", 1, b"No drivers found for installation.\n");
    let err = handle(&e.ctx("ubuntu_drivers")).unwrap_err();
    assert_eq!(err.py_class(), "ProcessExecutionError");
    assert_eq!(
        logcap::warnings(),
        ["ubuntu-drivers found no drivers for installation"]
    );
}

#[test]
fn missing_tool_installs_the_common_package() {
    let e = TestEnv::new(json!({"drivers": {"nvidia": {"license-accepted": true}}}));
    e.write(DEBCONF_BINDINGS[0], "");
    e.write("/proc/self/mountinfo", MOUNTINFO);
    for t in ["apt-get", "apt-cache", "debconf-communicate"] {
        e.write_mode(&format!("/usr/bin/{t}"), "", 0o755);
    }
    e.rec.answer("apt-cache", 0, b"ubuntu-drivers-common\n");
    e.rec.answer("debconf-communicate", 0, b"0 ok\n");
    let err = handle(&e.ctx("ubuntu_drivers")).unwrap_err();
    assert!(e
        .rec
        .lines()
        .iter()
        .any(|l| l.ends_with("install ubuntu-drivers-common")));
    assert!(err
        .to_string()
        .contains("No such file or directory: b'ubuntu-drivers'"));
}

#[test]
fn no_mount_table_fails_before_the_template() {
    let e = TestEnv::new(json!({"drivers": {"nvidia": {"license-accepted": true}}}));
    e.write(DEBCONF_BINDINGS[0], "");
    e.write_mode("/usr/bin/ubuntu-drivers", "", 0o755);
    let err = handle(&e.ctx("ubuntu_drivers")).unwrap_err();
    assert_eq!(err.py_class(), "TypeError");
    assert_eq!(
        err.to_string(),
        "cannot unpack non-iterable NoneType object"
    );
    assert!(e.rec.lines().is_empty());
    assert!(!e.host.exists(TMP_EXEC_DIR));
}

#[test]
fn noexec_tmp_uses_the_lib_exec_dir() {
    let e = env(json!({"drivers": {"nvidia": {"license-accepted": true}}}));
    e.write(
        "/proc/self/mountinfo",
        "22 1 8:1 / / rw shared:1 - ext4 /dev/sda1 rw\n23 22 0:5 / /var/tmp rw,noexec - tmpfs tmpfs rw\n",
    );
    handle(&e.ctx("ubuntu_drivers")).unwrap();
    let stdin = String::from_utf8(e.rec.calls()[0].stdin.clone().unwrap()).unwrap();
    assert!(stdin.starts_with("X_LOADTEMPLATEFILE /usr/lib/cloud-init/clouddir/tmp"));
}

#[test]
fn binding_found_where_the_interpreter_looks() {
    let cfg = json!({"drivers": {"nvidia": {"license-accepted": false}}});
    for path in [
        "/usr/local/lib/python3.13/dist-packages/debconf.py",
        "/usr/bin/debconf.py",
    ] {
        logcap::init();
        let e = TestEnv::new(cfg.clone());
        e.write(path, "");
        handle(&e.ctx("ubuntu_drivers")).unwrap();
        assert!(logcap::warnings().is_empty(), "{path}");
    }
}

use super::*;
use crate::testutil::{logcap, TestEnv};
use serde_json::json;

fn env(cfg: Value) -> TestEnv {
    let env = TestEnv::new(cfg);
    for p in [
        "/usr/bin/debconf-set-selections",
        "/usr/sbin/grub-probe",
        "/usr/bin/udevadm",
    ] {
        env.write_mode(p, "#!/bin/sh\n", 0o755);
    }
    env
}

fn selections(env: &TestEnv) -> String {
    let calls = env.rec.calls();
    let c = calls
        .iter()
        .find(|c| c.argv == ["debconf-set-selections"])
        .expect("debconf-set-selections ran");
    String::from_utf8(c.stdin.clone().unwrap()).unwrap()
}

#[test]
fn example1_bios_uses_the_configured_devices() {
    let env = env(json!({"grub_dpkg": {"enabled": true,
        "grub-pc/install_devices": "/dev/sda", "grub-pc/install_devices_empty": false,
        "grub-efi/install_devices": "/dev/sda"}}));
    handle(&env.ctx("grub_dpkg")).unwrap();
    assert_eq!(env.rec.lines(), ["debconf-set-selections"]);
    assert_eq!(
        selections(&env),
        "grub-pc grub-pc/install_devices string /dev/sda\ngrub-pc grub-pc/install_devices_empty boolean false\n"
    );
}

#[test]
fn efi_is_read_from_the_target_sys() {
    let env = env(json!({"grub-dpkg": {"enabled": true, "grub-efi/install_devices": "/dev/vda1"}}));
    env.host.create_dir_all("/sys/firmware/efi", 0o755).unwrap();
    handle(&env.ctx("grub_dpkg")).unwrap();
    assert_eq!(
        selections(&env),
        "grub-pc grub-efi/install_devices string /dev/vda1\n"
    );
}

#[test]
fn disabled_by_default_and_by_false_values() {
    for cfg in [
        json!({"grub_dpkg": {}}),
        json!({"grub_dpkg": {"enabled": "off"}}),
        json!({}),
    ] {
        let env = env(cfg);
        handle(&env.ctx("grub_dpkg")).unwrap();
        assert!(env.rec.lines().is_empty());
    }
}

#[test]
fn probed_disk_prefers_the_first_by_id_link() {
    let env = env(json!({"grub_dpkg": {"enabled": true}}));
    env.write("/dev/sda", "");
    env.rec.answer("grub-probe", 0, b"/dev/sda\n");
    env.rec.answer(
        "udevadm",
        0,
        b"/dev/disk/by-path/pci-0 /dev/disk/by-id/wwn-2 /dev/disk/by-id/ata-1\n",
    );
    handle(&env.ctx("grub_dpkg")).unwrap();
    assert_eq!(
        env.rec.lines(),
        [
            "grub-probe -t disk /boot",
            "udevadm info --root --query=symlink /dev/sda",
            "debconf-set-selections"
        ]
    );
    assert_eq!(
        selections(&env),
        "grub-pc grub-pc/install_devices string /dev/disk/by-id/ata-1\ngrub-pc grub-pc/install_devices_empty boolean false\n"
    );
}

#[test]
fn nothing_probed_means_empty_devices() {
    // The probed disk does not exist in the target.
    let env1 = env(json!({"grub_dpkg": {"enabled": true}}));
    env1.rec.answer("grub-probe", 0, b"/dev/sda\n");
    handle(&env1.ctx("grub_dpkg")).unwrap();
    assert_eq!(
        selections(&env1),
        "grub-pc grub-pc/install_devices string \ngrub-pc grub-pc/install_devices_empty boolean true\n"
    );
    // No grub-probe at all; EFI probes the partition of /boot/efi.
    let env2 = TestEnv::new(json!({"grub_dpkg": {"enabled": true}}));
    env2.write_mode("/usr/bin/debconf-set-selections", "", 0o755);
    env2.host
        .create_dir_all("/sys/firmware/efi", 0o755)
        .unwrap();
    handle(&env2.ctx("grub_dpkg")).unwrap();
    assert_eq!(env2.rec.lines(), ["debconf-set-selections"]);
    assert_eq!(
        selections(&env2),
        "grub-pc grub-efi/install_devices string \n"
    );
}

#[test]
fn grub_probe_failure_other_than_canonical_path_fails_the_module() {
    let env = env(json!({"grub_dpkg": {"enabled": true}}));
    env.rec.answer("grub-probe", 1, b"");
    let e = handle(&env.ctx("grub_dpkg")).unwrap_err();
    assert_eq!(e.py_class(), "ProcessExecutionError");
    assert!(e
        .to_string()
        .contains("Command: ['grub-probe', '-t', 'disk', '/boot']"));
}

#[test]
fn install_devices_empty_is_translated_and_failures_warn() {
    logcap::init();
    let env = TestEnv::new(json!({"grub_dpkg": {"enabled": true,
        "grub-pc/install_devices": "", "grub-pc/install_devices_empty": "yes"}}));
    handle(&env.ctx("grub_dpkg")).unwrap();
    assert!(env.rec.lines().is_empty());
    assert_eq!(
        logcap::warnings(),
        ["Failed to run debconf-set-selections for grub_dpkg: Unexpected error while running command.\nCommand: ['debconf-set-selections']\nExit code: -\nReason: [Errno 2] No such file or directory: b'debconf-set-selections'\nStdout: -\nStderr: -"]
    );
    let m = json!({"grub-pc/install_devices": "", "grub-pc/install_devices_empty": "yes"});
    let sel = get_debconf_config(&env.host, m.as_object().unwrap()).unwrap();
    assert!(sel.ends_with("install_devices_empty boolean true\n"));
}

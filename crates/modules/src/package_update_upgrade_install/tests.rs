use super::*;
use crate::testutil::{logcap, TestEnv};
use serde_json::json;
use std::cell::Cell;

const APT: &str = "apt-get --option=Dpkg::Options::=--force-confold --option=Dpkg::options::=--force-unsafe-io --assume-yes --quiet";

fn env(cfg: serde_json::Value, tools: &[&str]) -> TestEnv {
    let env = TestEnv::new(cfg);
    for t in tools {
        env.write_mode(&format!("/usr/bin/{t}"), "", 0o755);
    }
    env
}

fn run(env: &TestEnv) -> (ModResult, u64) {
    let slept = Cell::new(0);
    let r = handle_with(&env.ctx("package_update_upgrade_install"), &|d| {
        slept.set(slept.get() + d.as_secs())
    });
    (r, slept.get())
}

#[test]
fn nothing_configured_runs_nothing() {
    let env = env(
        json!({"package_update": false, "packages": []}),
        &["apt-get"],
    );
    run(&env).0.unwrap();
    assert!(env.rec.calls().is_empty());
}

#[test]
fn update_upgrade_and_install_on_debian_in_upstreams_order() {
    let env = env(
        json!({"package_update": true, "package_upgrade": true,
               "packages": ["pwgen", ["libpython3.8", "3.8.10-0ubuntu1~20.04.2"]]}),
        &["apt-get", "apt-cache"],
    );
    env.rec.answer("apt-cache", 0, b"pwgen\nlibpython3.8\n");
    run(&env).0.unwrap();
    assert_eq!(
        env.rec.lines(),
        [
            format!("{APT} update"),
            format!("{APT} dist-upgrade"),
            "apt-cache pkgnames".into(),
            format!("{APT} install pwgen libpython3.8=3.8.10-0ubuntu1~20.04.2"),
        ]
    );
}

#[test]
fn deprecated_apt_keys_and_true_strings_count() {
    let env = env(
        json!({"apt_update": "yes", "apt_upgrade": "on"}),
        &["apt-get"],
    );
    run(&env).0.unwrap();
    assert_eq!(
        env.rec.lines(),
        [format!("{APT} update"), format!("{APT} dist-upgrade")]
    );
    // A string `packages` is one package.
    let env = self::env(json!({"packages": "mg"}), &["apt-get", "apt-cache"]);
    env.rec.answer("apt-cache", 0, b"mg\n");
    run(&env).0.unwrap();
    assert_eq!(env.rec.lines()[2], format!("{APT} install mg"));
}

#[test]
fn reboot_required_marker_runs_reboot_then_fails_when_still_running() {
    logcap::init();
    let env = env(
        json!({"packages": ["mg"], "package_reboot_if_required": true}),
        &["apt-get", "apt-cache"],
    );
    env.rec.answer("apt-cache", 0, b"mg\n");
    env.write_mode("/sbin/reboot", "", 0o755);
    env.write("/var/run/reboot-required", "");
    let (r, slept) = run(&env);
    let e = r.unwrap_err();
    assert_eq!(e.py_class(), "RuntimeError");
    assert_eq!(e.to_string(), "Reboot did not happen after 63 seconds!");
    assert_eq!(slept, 63);
    assert_eq!(env.rec.lines().last().unwrap(), "/sbin/reboot");
    assert!(logcap::all().contains(
        &"***WARNING*** Rebooting after upgrade or install per /var/run/reboot-required"
            .to_string()
    ));
    assert_eq!(
        logcap::warnings(),
        [
            "Requested reboot did not happen!",
            "1 failed with exceptions, re-raising the last one"
        ]
    );
}

#[test]
fn reboot_needs_an_upgrade_or_install_and_a_missing_reboot_is_an_error() {
    let env = env(
        json!({"package_update": true, "apt_reboot_if_required": true}),
        &["apt-get"],
    );
    env.write("/run/reboot-needed", "");
    run(&env).0.unwrap();
    assert_eq!(env.rec.lines(), [format!("{APT} update")]);

    let env = self::env(
        json!({"package_upgrade": true, "package_reboot_if_required": true}),
        &["apt-get"],
    );
    env.write("/run/reboot-needed", "");
    let (r, slept) = run(&env);
    let e = r.unwrap_err();
    assert_eq!(e.py_class(), "ProcessExecutionError");
    assert!(e
        .to_string()
        .contains("Reason: [Errno 2] No such file or directory: b'/sbin/reboot'"));
    assert_eq!(slept, 0);
}

#[test]
fn every_failure_is_logged_and_the_last_is_raised() {
    logcap::init();
    let env = env(
        json!({"package_upgrade": true, "packages": ["nope"]}),
        &["apt-get", "apt-cache"],
    );
    env.rec.answer("apt-get", 100, b"");
    let e = run(&env).0.unwrap_err();
    assert_eq!(e.py_class(), "PackageInstallerError");
    assert_eq!(
        logcap::warnings(),
        [
            // The update's failure is Debian's error log, not raised.
            "Failed to update package using apt: Unexpected error while running command.\nCommand: ['apt-get', '--option=Dpkg::Options::=--force-confold', '--option=Dpkg::options::=--force-unsafe-io', '--assume-yes', '--quiet', 'update']\nExit code: 100\nReason: -\nStdout: -\nStderr: -".to_string(),
            "Package upgrade failed".to_string(),
            "Failure when attempting to install packages: ['nope']".to_string(),
            "2 failed with exceptions, re-raising the last one".to_string(),
        ]
    );
}

#[test]
fn rhel_family_uses_dnf() {
    let env = env(
        json!({"system_info": {"distro": "rhel"}, "package_update": true,
               "package_upgrade": true, "packages": [["httpd", "2.4.57"], "vim"]}),
        &["dnf"],
    );
    run(&env).0.unwrap();
    assert_eq!(
        env.rec.lines(),
        [
            "dnf -y makecache",
            "dnf -y upgrade",
            "dnf -y install httpd-2.4.57 vim"
        ]
    );
}

#[test]
fn rhel_update_failure_is_raised_after_the_rest_ran() {
    logcap::init();
    let env = env(
        json!({"system_info": {"distro": "almalinux"}, "package_update": true}),
        &[],
    );
    let e = run(&env).0.unwrap_err();
    assert!(e
        .to_string()
        .contains("Command: ['yum', '-t', '-y', 'makecache']"));
    assert_eq!(
        logcap::warnings(),
        [
            "Package update failed",
            "1 failed with exceptions, re-raising the last one"
        ]
    );
}

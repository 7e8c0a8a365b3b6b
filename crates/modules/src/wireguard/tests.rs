use super::*;
use crate::testutil::{logcap, TestEnv};
use serde_json::json;

fn env_with(wg: Value) -> TestEnv {
    let env = TestEnv::new(json!({"wireguard": wg}));
    // The tools are there unless a test removes them.
    env.write_mode("/usr/bin/wg", "", 0o755);
    env.write_mode("/bin/sh", "", 0o755);
    for tool in ["systemctl", "service", "rc-update", "rc-service"] {
        env.write_mode(&format!("/usr/sbin/{tool}"), "", 0o755);
    }
    env
}

fn iface(name: &str) -> Value {
    json!({"name": name, "config_path": format!("/etc/wireguard/{name}.conf"), "content": format!("[Interface]\n# {name}\n")})
}

#[test]
fn writes_configs_0600_and_enables_each_interface() {
    let env = env_with(json!({"interfaces": [iface("wg0"), iface("wg1")]}));
    env.rec.answer("/bin/sh", 0, b"wireguard 118784 0\n");
    env.host
        .create_dir_all("/run/systemd/system", 0o755)
        .unwrap();
    handle(&env.ctx("wireguard")).unwrap();
    assert_eq!(env.read("/etc/wireguard/wg0.conf"), "[Interface]\n# wg0\n");
    assert_eq!(env.mode("/etc/wireguard/wg0.conf"), 0o600);
    assert_eq!(env.mode("/etc/wireguard/wg1.conf"), 0o600);
    assert_eq!(
        env.rec.lines(),
        [
            "/bin/sh -c lsmod",
            "systemctl enable wg-quick@wg0",
            "systemctl restart wg-quick@wg0",
            "systemctl enable wg-quick@wg1",
            "systemctl restart wg-quick@wg1",
        ]
    );
}

#[test]
fn module_not_listed_is_loaded_and_probes_run_in_order() {
    let env = env_with(
        json!({"interfaces": [iface("wg0")], "readinessprobe": ["ping -c1 10.0.0.1", "true"]}),
    );
    handle(&env.ctx("wireguard")).unwrap();
    // Without systemd, the distro's `service` command.
    assert_eq!(
        env.rec.lines(),
        [
            "/bin/sh -c lsmod",
            "/bin/sh -c modprobe wireguard",
            "service wg-quick@wg0 start",
            "service wg-quick@wg0 restart",
            "/bin/sh -c ping -c1 10.0.0.1",
            "/bin/sh -c true",
        ]
    );
}

#[test]
fn alpine_uses_openrc() {
    let mut env = env_with(json!({"interfaces": [iface("wg0")]}));
    env.distro = ci_distro::Distro::from_config(&json!({"system_info": {"distro": "alpine"}}));
    handle(&env.ctx("wireguard")).unwrap();
    assert_eq!(
        env.rec.lines()[2..],
        [
            "rc-update add wg-quick@wg0",
            "rc-service --nocolor wg-quick@wg0 restart"
        ]
    );
}

#[test]
fn failed_probes_are_collected_into_one_error() {
    let env = env_with(json!({"interfaces": [], "readinessprobe": ["a", "b"]}));
    env.rec.answer("/bin/sh", 1, b"");
    // lsmod fails first: upstream warns and fails the module.
    logcap::init();
    let e = handle(&env.ctx("wireguard")).unwrap_err();
    assert_eq!(e.py_class(), "ProcessExecutionError");
    assert_eq!(
        e.to_string(),
        "Unexpected error while running command.\nCommand: lsmod\nExit code: 1\nReason: -\nStdout: \nStderr: "
    );
    assert_eq!(
        logcap::warnings(),
        [format!("Could not load wireguard module:\n{e}")]
    );

    let e = run_probes(&env.host, &["a".into(), "b".into()]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Failed running readinessprobe command:\n\
         a: Unexpected error while running command.\nCommand: a\nExit code: 1\nReason: -\nStdout: \nStderr: \n\
         b: Unexpected error while running command.\nCommand: b\nExit code: 1\nReason: -\nStdout: \nStderr: "
    );
}

#[test]
fn interface_validation_messages() {
    let env = env_with(json!({"interfaces": [{"name": 5, "content": "x"}]}));
    env.rec.answer("/bin/sh", 0, b"wireguard\n");
    let e = handle(&env.ctx("wireguard")).unwrap_err();
    assert_eq!(e.py_class(), "ValueError");
    assert_eq!(
        e.to_string(),
        "Invalid wireguard interface configuration:\nMissing required wg:interfaces keys: config_path\nExpected a string for wg:interfaces:name. Found 5"
    );
}

#[test]
fn probe_validation_counts_only_bad_entries() {
    let e = probe_list(&json!(["ok", 1, "ok", true])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Invalid readinessProbe commands:\nExpected a string for readinessprobe at 0. Found 1\nExpected a string for readinessprobe at 1. Found True"
    );
}

#[test]
fn missing_wg_installs_wireguard_tools_with_apt() {
    let env = env_with(json!({"interfaces": []}));
    std::fs::remove_file(env.host.path("/usr/bin/wg")).unwrap();
    env.write_mode("/usr/bin/apt-get", "", 0o755);
    env.write_mode("/usr/bin/apt-cache", "", 0o755);
    env.rec.answer("apt-cache", 0, b"foo\nwireguard-tools\n");
    env.rec.answer("/bin/sh", 0, b"wireguard\n");
    handle(&env.ctx("wireguard")).unwrap();
    let lines = env.rec.lines();
    assert!(lines[0].starts_with("apt-get --option=Dpkg::Options::=--force-confold"));
    assert!(lines[0].ends_with(" update"), "{lines:?}");
    assert_eq!(lines[1], "apt-cache pkgnames");
    assert!(lines[2].ends_with(" install wireguard-tools"), "{lines:?}");
    assert_eq!(lines[3], "/bin/sh -c lsmod");
}

#[test]
fn failed_update_is_an_error_log_and_unknown_package_fails_the_module() {
    logcap::init();
    let env = env_with(json!({"interfaces": []}));
    std::fs::remove_file(env.host.path("/usr/bin/wg")).unwrap();
    env.write_mode("/usr/bin/apt-get", "", 0o755);
    env.write_mode("/usr/bin/apt-cache", "", 0o755);
    env.rec.answer("apt-get", 100, b"");
    let e = handle(&env.ctx("wireguard")).unwrap_err();
    assert_eq!(e.py_class(), "PackageInstallerError");
    assert_eq!(
        e.to_string(),
        "Failed to install the following packages: {'wireguard-tools'}. See associated package manager logs for more details."
    );
    let w = logcap::warnings();
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w[0].starts_with("Failed to update package using apt: Unexpected error while running command.\nCommand: ['apt-get', "), "{w:?}");
    assert!(
        w[0].ends_with("'update']\nExit code: 100\nReason: -\nStdout: -\nStderr: -"),
        "{w:?}"
    );
    assert_eq!(w[1], "Failed to install wireguard-tools");
    // The update ran once: the install's own update is the semaphore's.
    let lines = env.rec.lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[1], "apt-cache pkgnames");
}

#[test]
fn unwritable_config_is_a_runtime_error() {
    let env = env_with(json!({"interfaces": [iface("wg0")]}));
    env.rec.answer("/bin/sh", 0, b"wireguard\n");
    env.host
        .create_dir_all("/etc/wireguard/wg0.conf", 0o755)
        .unwrap();
    let e = handle(&env.ctx("wireguard")).unwrap_err();
    assert_eq!(e.py_class(), "RuntimeError");
    assert!(
        e.to_string()
            .starts_with("Failure writing Wireguard configuration file /etc/wireguard/wg0.conf:\n"),
        "{e}"
    );
}

#[test]
fn missing_service_manager_fails_like_upstreams_exec() {
    let env = env_with(json!({"interfaces": [iface("wg0")]}));
    env.rec.answer("/bin/sh", 0, b"wireguard\n");
    std::fs::remove_file(env.host.path("/usr/sbin/service")).unwrap();
    let e = handle(&env.ctx("wireguard")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Failed enabling/starting Wireguard interface(s):\nUnexpected error while running command.\nCommand: ['service', 'wg-quick@wg0', 'start']\nExit code: -\nReason: [Errno 2] No such file or directory: b'service'\nStdout: -\nStderr: -"
    );
}

#[test]
fn other_families_install_through_their_package_manager() {
    for (distro, tool, expected) in [
        (
            "rhel",
            "dnf",
            ["dnf -y makecache", "dnf -y install wireguard-tools"],
        ),
        (
            "alpine",
            "apk",
            ["apk --quiet update", "apk --quiet add wireguard-tools"],
        ),
    ] {
        let env = TestEnv::new(json!({"wireguard": {"interfaces": []},
            "system_info": {"distro": distro}}));
        env.write_mode("/bin/sh", "", 0o755);
        env.write_mode(&format!("/usr/bin/{tool}"), "", 0o755);
        env.rec.answer("/bin/sh", 0, b"wireguard\n");
        handle(&env.ctx("wireguard")).unwrap();
        let lines = env.rec.lines();
        // Kernels before 5.6 add the DKMS package.
        assert!(lines[1].starts_with(expected[1]), "{lines:?}");
        assert_eq!(lines[0], expected[0]);
        assert_eq!(lines[2], "/bin/sh -c lsmod");
    }
}

#[test]
fn a_failed_update_outside_debian_fails_the_module() {
    logcap::init();
    let env = TestEnv::new(json!({"wireguard": {"interfaces": []},
        "system_info": {"distro": "rhel"}}));
    env.write_mode("/usr/bin/dnf", "", 0o755);
    env.rec.answer("dnf", 1, b"");
    let e = handle(&env.ctx("wireguard")).unwrap_err();
    assert_eq!(e.py_class(), "ProcessExecutionError");
    assert_eq!(logcap::warnings(), ["Package update failed"]);
    assert_eq!(env.rec.lines(), ["dnf -y makecache"]);
}

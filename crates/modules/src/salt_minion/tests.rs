use super::*;
use crate::testutil::TestEnv;
use serde_json::json;

/// A target with apt (knowing `salt-minion`), the service tools and
/// salt-call present.
fn env_with(cfg: Value) -> TestEnv {
    let env = bare_env(cfg);
    env.rec
        .answer("apt-cache", 0, b"salt-minion\nsalt-common\nsalt\n");
    env
}

/// [`env_with`] without apt's answer (the first answer given wins).
fn bare_env(cfg: Value) -> TestEnv {
    let env = TestEnv::new(cfg);
    for tool in [
        "/usr/bin/apt-get",
        "/usr/bin/apt-cache",
        "/usr/bin/dnf",
        "/usr/sbin/service",
        "/usr/bin/systemctl",
        "/usr/bin/salt-call",
    ] {
        env.write_mode(tool, "", 0o755);
    }
    env
}

const APT: &str = "apt-get --option=Dpkg::Options::=--force-confold --option=Dpkg::options::=--force-unsafe-io --assume-yes --quiet";

#[test]
fn absent_key_does_nothing() {
    let env = env_with(json!({}));
    handle(&env.ctx("salt_minion")).unwrap();
    assert!(env.rec.lines().is_empty());
}

#[test]
fn installs_configures_and_restarts_the_service() {
    let env = env_with(json!({"salt_minion": {
        "conf": {"master": "salt.example.org", "id": "web-1"},
        "grains": {"role": ["web", "db"], "dc": "ams"},
    }}));
    handle(&env.ctx("salt_minion")).unwrap();
    assert_eq!(
        env.read("/etc/salt/minion"),
        "---\nid: web-1\nmaster: salt.example.org\n...\n"
    );
    assert_eq!(
        env.read("/etc/salt/grains"),
        "---\ndc: ams\nrole:\n- web\n- db\n...\n"
    );
    assert_eq!(env.mode("/etc/salt/minion"), 0o644);
    assert_eq!(
        env.rec.lines(),
        [
            format!("{APT} update"),
            "apt-cache pkgnames".to_string(),
            format!("{APT} install salt-minion"),
            "service salt-minion start".to_string(),
            "service salt-minion restart".to_string(),
        ]
    );
    let install = &env.rec.calls()[2];
    assert!(install
        .env
        .contains(&("DEBIAN_FRONTEND".into(), "noninteractive".into())));
    // No key pair given: no pki directory.
    assert!(!env.host.exists("/etc/salt/pki"));
}

#[test]
fn systemd_enables_then_restarts() {
    let env = env_with(json!({"salt_minion": {"service_name": "salt-minion.service"}}));
    env.host
        .create_dir_all("/run/systemd/system", 0o755)
        .unwrap();
    handle(&env.ctx("salt_minion")).unwrap();
    let lines = env.rec.lines();
    assert_eq!(
        lines[lines.len() - 2..],
        [
            "systemctl enable salt-minion.service",
            "systemctl restart salt-minion.service"
        ]
    );
    assert!(env.host.is_dir("/etc/salt"));
}

#[test]
fn masterless_minion_stops_the_service_and_applies_states() {
    let env = env_with(json!({"salt_minion": {"conf": {"file_client": "local"}}}));
    handle(&env.ctx("salt_minion")).unwrap();
    let lines = env.rec.lines();
    assert_eq!(
        lines[3..],
        [
            "service salt-minion stop",
            "service salt-minion stop",
            "salt-call --local state.apply",
        ]
    );
}

#[test]
fn keys_go_to_pki_or_pki_minion_with_upstream_modes() {
    let keys = json!({"public_key": "PUB\n", "private_key": "PEM\n"});
    let env = env_with(json!({"salt_minion": keys.clone()}));
    handle(&env.ctx("salt_minion")).unwrap();
    assert_eq!(env.read("/etc/salt/pki/minion.pub"), "PUB\n");
    assert_eq!(env.read("/etc/salt/pki/minion.pem"), "PEM\n");
    assert_eq!(env.mode("/etc/salt/pki"), 0o700);
    assert_eq!(env.mode("/etc/salt/pki/minion.pem"), 0o644);

    // An existing pki/minion directory is preferred, and keeps its mode.
    let env = env_with(json!({"salt_minion": keys}));
    env.host
        .create_dir_all("/etc/salt/pki/minion", 0o755)
        .unwrap();
    handle(&env.ctx("salt_minion")).unwrap();
    assert_eq!(env.read("/etc/salt/pki/minion/minion.pub"), "PUB\n");
    assert_eq!(env.mode("/etc/salt/pki/minion"), 0o755);

    // Only one of the two: nothing written.
    let env = env_with(json!({"salt_minion": {"public_key": "PUB\n"}}));
    handle(&env.ctx("salt_minion")).unwrap();
    assert!(!env.host.exists("/etc/salt/pki"));
}

#[test]
fn custom_names_and_pki_dir() {
    let env = env_with(json!({"salt_minion": {
        "pkg_name": "salt",
        "service_name": "salt-agent",
        "config_dir": "/opt/salt/etc",
        "pki_dir": "/opt/salt/keys",
        "public_key": "PUB",
        "private_key": "PEM",
        "conf": {"master": "m"},
    }}));
    handle(&env.ctx("salt_minion")).unwrap();
    assert_eq!(env.read("/opt/salt/etc/minion"), "---\nmaster: m\n...\n");
    assert_eq!(env.read("/opt/salt/keys/minion.pem"), "PEM");
    assert_eq!(env.mode("/opt/salt/keys"), 0o700);
    let lines = env.rec.lines();
    assert_eq!(lines[2], format!("{APT} install salt"));
    assert_eq!(
        lines[3..],
        ["service salt-agent start", "service salt-agent restart"]
    );
}

#[test]
fn rhel_installs_with_dnf() {
    let env = env_with(json!({
        "system_info": {"distro": "rhel"},
        "salt_minion": {"conf": {"master": "m"}},
    }));
    handle(&env.ctx("salt_minion")).unwrap();
    assert_eq!(
        env.rec.lines(),
        [
            "dnf -y install salt-minion",
            "service salt-minion start",
            "service salt-minion restart"
        ]
    );
}

#[test]
fn freebsd_names() {
    let names = SaltNames::new(&Map::new(), true);
    assert_eq!(
        names,
        SaltNames {
            pkg_name: "py-salt".into(),
            srv_name: "salt_minion".into(),
            conf_dir: "/usr/local/etc/salt".into()
        }
    );
    let cfg = json!({"pkg_name": 3, "service_name": null});
    let names = SaltNames::new(cfg.as_object().unwrap(), false);
    assert_eq!(names.pkg_name, "3");
    assert_eq!(names.srv_name, "None");
    assert_eq!(names.conf_dir, "/etc/salt");
}

#[test]
fn failures_as_upstream() {
    // The package is unknown to apt: nothing else happens.
    let env = bare_env(json!({"salt_minion": {"conf": {"master": "m"}}}));
    env.rec.answer("apt-cache", 0, b"other\n");
    let e = handle(&env.ctx("salt_minion")).unwrap_err();
    assert_eq!(e.py_class(), "PackageInstallerError");
    assert!(!env.host.exists("/etc/salt/minion"));

    // A failing service command is upstream's ProcessExecutionError.
    let env = env_with(json!({"salt_minion": {}}));
    env.rec.answer("service", 1, b"no such service\n");
    let e = handle(&env.ctx("salt_minion")).unwrap_err();
    assert_eq!(e.py_class(), "ProcessExecutionError");
    assert!(
        e.to_string()
            .contains("['service', 'salt-minion', 'start']"),
        "{e}"
    );

    let env = env_with(json!({"salt_minion": null}));
    let e = handle(&env.ctx("salt_minion")).unwrap_err();
    assert_eq!(
        e.py_repr(),
        "TypeError(\"argument of type 'NoneType' is not iterable\")"
    );

    let env = env_with(json!({"salt_minion": {"conf": ["x"]}}));
    let e = handle(&env.ctx("salt_minion")).unwrap_err();
    assert_eq!(
        e.py_repr(),
        "AttributeError(\"'list' object has no attribute 'get'\")"
    );
}

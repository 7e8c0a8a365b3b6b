use super::*;
use crate::testutil::TestEnv;
use serde_json::json;

fn rhel(spacewalk: Value, tools: &[&str]) -> TestEnv {
    let mut env = TestEnv::new(json!({"system_info": {"distro": "rhel"}, "spacewalk": spacewalk}));
    env.instance.local_hostname = Some("sw.example.com".into());
    for t in tools {
        env.write_mode(&format!("/usr/bin/{t}"), "#!/bin/sh\n", 0o755);
    }
    env
}

#[test]
fn installs_rhn_setup_and_registers_when_not_registered() {
    let env = rhel(
        json!({"server": "spacewalk.example.org", "proxy": "proxy.example.org:3128", "activation_key": "1-abc"}),
        &["dnf", "rhn-profile-sync", "rhnreg_ks"],
    );
    env.rec.answer("rhn-profile-sync", 1, b"");
    handle(&env.ctx("spacewalk")).unwrap();
    assert_eq!(
        env.rec.lines(),
        [
            "dnf -y install rhn-setup",
            "rhn-profile-sync --verbose",
            "rhnreg_ks --serverUrl https://spacewalk.example.org/XMLRPC --profilename sw.example.com --proxy proxy.example.org:3128 --sslCACert /usr/share/rhn/RHN-ORG-TRUSTED-SSL-CERT --activationkey 1-abc",
        ]
    );
}

#[test]
fn registered_system_is_left_alone() {
    let env = rhel(
        json!({"server": "s"}),
        &["dnf", "rhn-profile-sync", "rhnreg_ks"],
    );
    handle(&env.ctx("spacewalk")).unwrap();
    assert_eq!(
        env.rec.lines(),
        ["dnf -y install rhn-setup", "rhn-profile-sync --verbose"]
    );
}

#[test]
fn profile_name_ignores_the_configs_hostname() {
    let mut env = rhel(
        json!({"server": "s"}),
        &["dnf", "rhn-profile-sync", "rhnreg_ks"],
    );
    env.cfg["hostname"] = json!("other");
    env.instance.local_hostname = Some("plain".into());
    env.rec.answer("rhn-profile-sync", 1, b"");
    handle(&env.ctx("spacewalk")).unwrap();
    assert_eq!(
        env.rec.lines()[2],
        "rhnreg_ks --serverUrl https://s/XMLRPC --profilename plain --sslCACert /usr/share/rhn/RHN-ORG-TRUSTED-SSL-CERT"
    );
}

#[test]
fn unexpected_sync_failure_or_missing_tool_fails_the_module() {
    let env = rhel(json!({"server": "s"}), &["dnf", "rhn-profile-sync"]);
    env.rec.answer("rhn-profile-sync", 2, b"");
    let e = handle(&env.ctx("spacewalk")).unwrap_err();
    assert_eq!(e.py_class(), "ProcessExecutionError");
    assert!(e.to_string().contains("Exit code: 2"), "{e}");

    let env = rhel(json!({"server": "s"}), &["dnf"]);
    let e = handle(&env.ctx("spacewalk")).unwrap_err();
    assert!(
        e.to_string()
            .contains("Reason: [Errno 2] No such file or directory: b'rhn-profile-sync'"),
        "{e}"
    );
}

#[test]
fn no_server_installs_nothing() {
    let env = rhel(json!({"proxy": "p"}), &["dnf"]);
    handle(&env.ctx("spacewalk")).unwrap();
    assert!(env.rec.lines().is_empty());
}

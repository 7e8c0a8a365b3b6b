use super::*;
use crate::testutil::{logcap, TestEnv};
use serde_json::json;

const DEBIAN_OUT: &str = include_str!("../../tests/fixtures/hosts.debian.out");
const LOCAL_IN: &str = include_str!("../../tests/fixtures/hosts_localhost_in.txt");
const LOCAL_OUT: &str = include_str!("../../tests/fixtures/hosts_localhost_out.txt");
const ORACLE_TPL: &str = "/var/tmp/cloud-init-oracle/root/etc/cloud/templates/hosts.debian.tmpl";

#[test]
fn builtin_debian_layout_is_byte_identical_to_upstream() {
    assert_eq!(
        builtin_hosts("debian", "myhost", "myhost.example.com"),
        DEBIAN_OUT
    );
    let env = TestEnv::new(json!({"manage_etc_hosts": true, "fqdn": "myhost.example.com"}));
    handle(&env.ctx("update_etc_hosts")).unwrap();
    assert_eq!(env.read("/etc/hosts"), DEBIAN_OUT);
    assert_eq!(env.mode("/etc/hosts"), 0o644);
}

#[test]
fn target_template_is_rendered_like_upstream() {
    let Ok(tpl) = std::fs::read_to_string(ORACLE_TPL) else {
        eprintln!(
            "note: {ORACLE_TPL} not present; template rendering checked with a local template only"
        );
        return;
    };
    let env = TestEnv::new(json!({"manage_etc_hosts": "True", "hostname": "myhost.example.com"}));
    env.write("/etc/cloud/templates/hosts.debian.tmpl", &tpl);
    handle(&env.ctx("update_etc_hosts")).unwrap();
    assert_eq!(env.read("/etc/hosts"), DEBIAN_OUT);
}

#[test]
fn local_template_wins_over_builtin() {
    let mut env = TestEnv::new(json!({"manage_etc_hosts": "template"}));
    env.instance.local_hostname = Some("web1.corp.example".into());
    env.write(
        "/etc/cloud/templates/hosts.debian.tmpl",
        "## template:jinja\n{{fqdn}} {{hostname}} {{nope}}\n",
    );
    logcap::init();
    handle(&env.ctx("update_etc_hosts")).unwrap();
    assert_eq!(
        env.read("/etc/hosts"),
        "web1.corp.example web1 CI_MISSING_JINJA_VAR/nope\n"
    );
    assert!(logcap::warnings().iter().any(|w| w
        == "Value 'template' for key 'manage_etc_hosts' is deprecated in 22.2 and scheduled to be removed in 27.2. Use 'true' instead."));
}

#[test]
fn localhost_mode_matches_upstream_edit() {
    let env = TestEnv::new(json!({"manage_etc_hosts": "localhost", "fqdn": "myhost.example.com"}));
    env.write("/etc/hosts", LOCAL_IN);
    handle(&env.ctx("update_etc_hosts")).unwrap();
    assert_eq!(env.read("/etc/hosts"), LOCAL_OUT);
    // Already present: left alone.
    handle(&env.ctx("update_etc_hosts")).unwrap();
    assert_eq!(env.read("/etc/hosts"), LOCAL_OUT);
}

#[test]
fn localhost_mode_creates_file_with_header() {
    let env =
        TestEnv::new(json!({"manage_etc_hosts": "localhost", "hostname": "h", "fqdn": "h.d"}));
    handle(&env.ctx("update_etc_hosts")).unwrap();
    let t = env.read("/etc/hosts");
    let (first, rest) = t.split_once('\n').unwrap();
    assert!(
        first.starts_with("# Added by cloud-init v. 25.1.4 on "),
        "{t}"
    );
    assert!(first.ends_with(" +0000"), "{t}");
    assert_eq!(rest, "127.0.1.1\th.d\th\n\n");
}

#[test]
fn false_does_nothing_and_other_families_need_a_template() {
    let env = TestEnv::new(json!({"manage_etc_hosts": false, "hostname": "h"}));
    handle(&env.ctx("update_etc_hosts")).unwrap();
    assert!(!env.host.exists("/etc/hosts"));

    let env = TestEnv::new(json!({"manage_etc_hosts": true, "hostname": "h",
        "system_info": {"distro": "rhel"}}));
    let err = handle(&env.ctx("update_etc_hosts")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "No hosts template could be found for distro redhat"
    );
    env.write(
        "/etc/cloud/templates/hosts.redhat.tmpl",
        "## template:jinja\n127.0.0.1 {{fqdn}} {{hostname}}\n",
    );
    handle(&env.ctx("update_etc_hosts")).unwrap();
    // No fqdn configured: upstream takes it from the machine (`localhost`).
    assert_eq!(env.read("/etc/hosts"), "127.0.0.1 localhost h\n");
}

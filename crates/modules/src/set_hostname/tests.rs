use super::*;
use crate::testutil::{logcap, TestEnv};
use serde_json::json;

#[test]
fn sets_hostname_file_and_remembers_it() {
    logcap::init();
    let env = TestEnv::new(json!({"hostname": "web", "fqdn": "web.example.com"}));
    env.write("/etc/hostname", "# image default\nlocalhost\n");
    handle(&env.ctx("set_hostname")).unwrap();
    assert_eq!(env.read("/etc/hostname"), "# image default\nweb\n");
    assert_eq!(env.mode("/etc/hostname"), 0o644);
    assert_eq!(
        env.read("/var/lib/cloud/data/set-hostname"),
        "{\n \"fqdn\": \"web.example.com\",\n \"hostname\": \"web\"\n}\n"
    );
    // The kernel hostname is not touched under --root.
    assert!(env.rec.lines().is_empty(), "{:?}", env.rec.lines());
    assert!(logcap::all()
        .iter()
        .any(|m| m.contains("skipped for --root")));
    // Same names again: nothing is rewritten.
    env.write("/etc/hostname", "changed-by-user\n");
    handle(&env.ctx("set_hostname")).unwrap();
    assert_eq!(env.read("/etc/hostname"), "changed-by-user\n");
}

#[test]
fn preserve_and_default_localhost_do_nothing() {
    let env = TestEnv::new(json!({"hostname": "web", "preserve_hostname": true}));
    handle(&env.ctx("set_hostname")).unwrap();
    handle_update(&env.ctx("update_hostname")).unwrap();
    assert!(!env.host.exists("/etc/hostname"));
    // No config, no metadata: the machine's own `localhost` is left to others.
    let env = TestEnv::new(json!({}));
    handle(&env.ctx("set_hostname")).unwrap();
    assert!(!env.host.exists("/etc/hostname"));
    assert!(!env.host.exists("/var/lib/cloud/data/set-hostname"));
}

#[test]
fn metadata_names_and_fqdn_preference() {
    let mut env = TestEnv::new(json!({"prefer_fqdn_over_hostname": true}));
    env.instance.local_hostname = Some("node7.dc1.example".into());
    handle(&env.ctx("set_hostname")).unwrap();
    assert_eq!(env.read("/etc/hostname"), "node7.dc1.example\n");
    let saved: Value = serde_json::from_str(&env.read("/var/lib/cloud/data/set-hostname")).unwrap();
    assert_eq!(
        saved,
        json!({"fqdn": "node7.dc1.example", "hostname": "node7"})
    );

    let mut env = TestEnv::new(json!({}));
    env.instance.local_hostname = Some("10.1.2.3".into());
    handle(&env.ctx("set_hostname")).unwrap();
    assert_eq!(env.read("/etc/hostname"), "ip-10-1-2-3\n");
}

#[test]
fn hostname_with_dot_splits_and_fqdn_key_wins() {
    let env = TestEnv::new(json!({"hostname": "a.b.c"}));
    let hf = crate::hostname_util::get_hostname_fqdn(&env.ctx("x"));
    assert_eq!((hf.hostname.as_str(), hf.fqdn.as_str()), ("a", "a.b.c"));
    let env = TestEnv::new(json!({"fqdn": "x.y.z", "hostname": "other"}));
    let hf = crate::hostname_util::get_hostname_fqdn(&env.ctx("x"));
    assert_eq!((hf.hostname.as_str(), hf.fqdn.as_str()), ("other", "x.y.z"));
    // No config and no metadata: the target's names, completed from /etc/hosts.
    let env = TestEnv::new(json!({}));
    env.write("/etc/hostname", "box\n");
    env.write("/etc/hosts", "127.0.1.1 box.lan box\n");
    let hf = crate::hostname_util::get_hostname_fqdn(&env.ctx("x"));
    assert_eq!(
        (hf.hostname.as_str(), hf.fqdn.as_str(), hf.is_default),
        ("box", "box.lan", false)
    );
}

#[test]
fn create_hostname_file_false_leaves_no_file() {
    let env = TestEnv::new(json!({"hostname": "h", "create_hostname_file": false}));
    handle(&env.ctx("set_hostname")).unwrap();
    assert!(!env.host.exists("/etc/hostname"));
    assert!(env.host.exists("/var/lib/cloud/data/set-hostname"));
}

#[test]
fn rhel_without_systemd_uses_sysconfig_and_prefers_fqdn() {
    let env = TestEnv::new(json!({"hostname": "h", "fqdn": "h.example.com",
        "system_info": {"distro": "rhel"}}));
    env.write("/etc/sysconfig/network", "NETWORKING=yes\nHOSTNAME=old\n");
    handle(&env.ctx("set_hostname")).unwrap();
    assert_eq!(
        env.read("/etc/sysconfig/network"),
        "NETWORKING=yes\nHOSTNAME=h.example.com\n"
    );
}

#[test]
fn bsd_keeps_the_name_in_rc_conf() {
    let env = TestEnv::new(
        json!({"hostname": "h2", "fqdn": "h2.example.test", "system_info": {"distro": "freebsd"}}),
    );
    // No rc.conf: upstream's OSError, named in the SetHostnameError. FreeBSD
    // keeps the fqdn (prefer_fqdn_over_hostname).
    let err = handle(&env.ctx("set_hostname")).unwrap_err();
    assert_eq!(err.py_class(), "SetHostnameError");
    assert!(
        err.to_string()
            .ends_with(": [Errno 2] No such file or directory: '/etc/rc.conf'"),
        "{err}"
    );
    let env = TestEnv::new(
        json!({"hostname": "h2", "fqdn": "h2.example.test", "system_info": {"distro": "freebsd"}}),
    );
    env.write("/etc/rc.conf", "hostname=\"old\"\nsshd_enable=\"YES\"\n");
    handle(&env.ctx("set_hostname")).unwrap();
    assert_eq!(
        env.read("/etc/rc.conf"),
        "hostname=h2.example.test\nsshd_enable=\"YES\"\n"
    );
}

#[test]
fn update_hostname_respects_a_user_change() {
    logcap::init();
    let env = TestEnv::new(json!({"hostname": "first"}));
    handle_update(&env.ctx("update_hostname")).unwrap();
    assert_eq!(env.read("/etc/hostname"), "first\n");
    assert_eq!(env.read("/var/lib/cloud/data/previous-hostname"), "first\n");

    // Config changes and the system still has our old name: both follow.
    let mut env2 = env;
    env2.cfg = json!({"hostname": "second"});
    handle_update(&env2.ctx("update_hostname")).unwrap();
    assert_eq!(env2.read("/etc/hostname"), "second\n");
    assert_eq!(
        env2.read("/var/lib/cloud/data/previous-hostname"),
        "second\n"
    );

    // Someone renamed the machine: we leave it alone.
    env2.write("/etc/hostname", "users-choice\n");
    env2.cfg = json!({"hostname": "third"});
    handle_update(&env2.ctx("update_hostname")).unwrap();
    assert_eq!(env2.read("/etc/hostname"), "users-choice\n");
    assert!(logcap::all().iter().any(|m| m
        == "/var/lib/cloud/data/previous-hostname differs from /etc/hostname, assuming user maintained hostname."));
    assert!(logcap::warnings().is_empty(), "{:?}", logcap::warnings());
}

#[test]
fn hostname_fqdn_rules_match_upstream() {
    let fx: Value =
        serde_json::from_str(include_str!("../../tests/fixtures/hostname_fqdn.json")).unwrap();
    for case in fx.as_array().unwrap() {
        let mut env = TestEnv::new(case["cfg"].clone());
        env.instance.local_hostname = case["local_hostname"].as_str().map(str::to_string);
        let hf = crate::hostname_util::get_hostname_fqdn(&env.ctx("x"));
        assert_eq!(
            json!({"hostname": hf.hostname, "fqdn": hf.fqdn, "is_default": hf.is_default}),
            json!({"hostname": case["hostname"], "fqdn": case["fqdn"], "is_default": case["is_default"]}),
            "case {case}"
        );
    }
}

// Upstream: `SetHostnameError("Failed to set the hostname to web.example.com
// (web): [Errno 21] Is a directory: '/etc/hostname'")`, the path as the
// target sees it.
#[test]
fn unwritable_hostname_file_is_a_set_hostname_error_with_the_oserror_text() {
    logcap::init();
    let env = TestEnv::new(json!({"hostname": "web", "fqdn": "web.example.com"}));
    std::fs::create_dir_all(env.host.path("/etc/hostname/sub")).unwrap();
    let err = handle(&env.ctx("set_hostname")).unwrap_err();
    assert_eq!(err.py_class(), "SetHostnameError");
    assert_eq!(
        err.py_repr(),
        "SetHostnameError(\"Failed to set the hostname to web.example.com (web): \
         [Errno 21] Is a directory: '/etc/hostname'\")"
    );
    assert!(!env.host.exists("/var/lib/cloud/data/set-hostname"));
    assert!(logcap::warnings()
        .iter()
        .any(|m| m == "Failed to set the hostname to web.example.com (web)"));
}

#[test]
fn hostname_file_error_with_create_off_is_skipped() {
    let env = TestEnv::new(json!({"hostname": "h", "create_hostname_file": false}));
    std::fs::create_dir_all(env.host.path("/etc/hostname")).unwrap();
    handle(&env.ctx("set_hostname")).unwrap();
    assert!(env.host.is_dir("/etc/hostname"));
}

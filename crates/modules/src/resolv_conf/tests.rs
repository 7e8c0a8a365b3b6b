use super::*;
use crate::testutil::{logcap, TestEnv};
use serde_json::json;

fn example1() -> Value {
    json!({
        "domain": "example.com",
        "nameservers": ["8.8.8.8", "8.8.4.4"],
        "options": {"rotate": true, "timeout": 1},
        "searchdomains": ["foo.example.com", "bar.example.com"],
        "sortlist": ["10.0.0.1/255", "10.0.0.2"]
    })
}

fn env_for(distro: &str, rc: Value) -> TestEnv {
    TestEnv::new(json!({
        "manage_resolv_conf": true,
        "resolv_conf": rc,
        "system_info": {"distro": distro}
    }))
}

// Expected texts below are what upstream 25.1.4's templates render for the
// same parameters (taken from the oracle).
#[test]
fn example1_renders_resolv_conf_as_upstream() {
    let env = env_for("rhel", example1());
    env.write_mode("/etc/resolv.conf", "old\n", 0o755);
    handle(&env.ctx("resolv_conf")).unwrap();
    assert_eq!(
        env.read("/etc/resolv.conf"),
        format!(
            "{HEADER}nameserver 8.8.8.8\nnameserver 8.8.4.4\n\nsearch foo.example.com bar.example.com \n\
             domain example.com\n\nsortlist 10.0.0.1/255 10.0.0.2 \noptions rotate timeout:1\n"
        )
    );
    assert_eq!(env.mode("/etc/resolv.conf"), 0o644);
}

#[test]
fn sections_render_alone_as_upstream() {
    let cases = [
        (json!({}), "\n"),
        (
            json!({"nameservers": ["1.1.1.1"]}),
            "nameserver 1.1.1.1\n\n\n",
        ),
        (json!({"domain": "x.org"}), "domain x.org\n\n"),
        (json!({"sortlist": ["a"]}), "\nsortlist a \n"),
        (
            json!({"options": {"rotate": true, "debug": false, "ndots": 2, "attempts": 3}}),
            "\noptions rotate attempts:3 ndots:2\n",
        ),
        (json!({"options": {"a": false}}), "\n"),
        (json!({"searchdomains": ["s"]}), "search s \n\n"),
    ];
    for (params, body) in cases {
        let p = ResolvParams::from_value(&params).unwrap();
        assert_eq!(render_resolv(&p), format!("{HEADER}{body}"), "{params}");
    }
}

#[test]
fn photon_family_writes_systemd_resolved_conf() {
    for distro in ["photon", "mariner", "azurelinux"] {
        let env = env_for(distro, example1());
        handle(&env.ctx("resolv_conf")).unwrap();
        assert_eq!(
            env.read("/etc/systemd/resolved.conf"),
            format!(
                "{HEADER}[Resolve]\nLLMNR=false\nDNS=8.8.8.8 8.8.4.4 \nDomains=foo.example.com bar.example.com \n"
            )
        );
        assert!(!env.host.exists("/etc/resolv.conf"), "{distro}");
    }
    let p = ResolvParams::from_value(&json!({"searchdomains": ["s"]})).unwrap();
    assert_eq!(
        render_resolved(&p),
        format!("{HEADER}[Resolve]\nLLMNR=false\n\nDomains=s \n")
    );
}

#[test]
fn an_existing_link_is_written_through() {
    let env = env_for("sles", json!({"nameservers": ["9.9.9.9"]}));
    env.write("/run/resolvconf/resolv.conf", "stub\n");
    env.host
        .symlink("/run/resolvconf/resolv.conf", "/etc/resolv.conf")
        .unwrap();
    handle(&env.ctx("resolv_conf")).unwrap();
    assert!(env.host.read_link("/etc/resolv.conf").is_ok());
    assert!(env
        .read("/run/resolvconf/resolv.conf")
        .contains("nameserver 9.9.9.9\n"));
}

#[test]
fn disabled_or_missing_parameters_write_nothing() {
    logcap::init();
    let env = TestEnv::new(json!({"manage_resolv_conf": false, "resolv_conf": {"domain": "a"}}));
    handle(&env.ctx("resolv_conf")).unwrap();
    assert!(!env.host.exists("/etc/resolv.conf"));
    assert!(logcap::warnings().is_empty());
    let env = TestEnv::new(json!({"manage_resolv_conf": true}));
    handle(&env.ctx("resolv_conf")).unwrap();
    assert!(!env.host.exists("/etc/resolv.conf"));
    assert_eq!(
        logcap::warnings(),
        ["manage_resolv_conf True but no parameters provided!"]
    );
}

#[test]
fn bad_shapes_fail_with_upstreams_error_classes() {
    let env = env_for("alpine", json!(["8.8.8.8"]));
    let e = handle(&env.ctx("resolv_conf")).unwrap_err();
    assert_eq!(e.py_class(), "AttributeError");
    let env = env_for("alpine", json!({"options": null}));
    let e = handle(&env.ctx("resolv_conf")).unwrap_err();
    assert_eq!(e.to_string(), "'NoneType' object has no attribute 'items'");
    let env = env_for("alpine", json!({"nameservers": 5}));
    let e = handle(&env.ctx("resolv_conf")).unwrap_err();
    assert_eq!(e.to_string(), "'int' object is not iterable");
}

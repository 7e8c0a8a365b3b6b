use super::*;
use crate::testutil::{logcap, TestEnv};
use serde_json::json;

const CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

fn env_with(cfg: serde_json::Value) -> TestEnv {
    let env = TestEnv::new(cfg);
    for t in [
        "update-ca-certificates",
        "update-ca-trust",
        "debconf-set-selections",
        "rehash_ca_certificates.sh",
    ] {
        env.write_mode(&format!("/usr/sbin/{t}"), "#!/bin/sh\n", 0o755);
    }
    env
}

#[test]
fn debian_writes_numbered_certs_and_updates() {
    let env = env_with(json!({"ca_certs": {"trusted": [CERT, "single_line"]}}));
    handle(&env.ctx("ca_certs")).unwrap();
    let dir = "/usr/local/share/ca-certificates";
    assert_eq!(env.read(&format!("{dir}/cloud-init-ca-cert-1.crt")), CERT);
    assert_eq!(
        env.read(&format!("{dir}/cloud-init-ca-cert-2.crt")),
        "single_line"
    );
    assert_eq!(env.mode(&format!("{dir}/cloud-init-ca-cert-1.crt")), 0o644);
    assert_eq!(env.rec.lines(), ["update-ca-certificates"]);
}

#[test]
fn debian_remove_defaults_deselects_the_list_and_tells_debconf() {
    let env = env_with(json!({"ca_certs": {"remove_defaults": true}}));
    env.write(
        "/etc/ca-certificates.conf",
        "# comment\nmozilla/A.crt\n!mozilla/B.crt\n\nmozilla/C.crt\n",
    );
    handle(&env.ctx("ca_certs")).unwrap();
    assert_eq!(
        env.read("/etc/ca-certificates.conf"),
        "# comment\n# Modified by cloud-init to deselect certs due to user-data\n!mozilla/A.crt\n!mozilla/B.crt\n\n!mozilla/C.crt\n"
    );
    let calls = env.rec.calls();
    assert_eq!(
        env.rec.lines(),
        ["debconf-set-selections -", "update-ca-certificates"]
    );
    assert_eq!(
        calls[0].stdin.as_deref(),
        Some(&b"ca-certificates ca-certificates/trust_new_crts select no"[..])
    );
    // A second run keeps the single header.
    handle(&env.ctx("ca_certs")).unwrap();
    assert_eq!(
        env.read("/etc/ca-certificates.conf")
            .matches("# Modified by cloud-init")
            .count(),
        1
    );
}

#[test]
fn rhel_remove_defaults_empties_both_stores() {
    let env = env_with(
        json!({"system_info": {"distro": "rhel"}, "ca_certs": {"remove_defaults": true, "trusted": CERT}}),
    );
    env.write("/etc/pki/ca-trust/extracted/pem/bundle.pem", "x");
    env.write("/etc/pki/ca-trust/README", "x");
    env.write("/usr/share/pki/ca-trust-source/old.crt", "x");
    handle(&env.ctx("ca_certs")).unwrap();
    assert!(env.host.list_dir("/etc/pki/ca-trust").is_empty());
    assert_eq!(
        env.host.list_dir("/usr/share/pki/ca-trust-source"),
        ["anchors"]
    );
    assert_eq!(
        env.read("/usr/share/pki/ca-trust-source/anchors/cloud-init-ca-cert-1.crt"),
        CERT
    );
    assert_eq!(env.rec.lines(), ["update-ca-trust"]);
}

#[test]
fn rhel_remove_defaults_without_the_store_is_upstreams_error() {
    let env =
        env_with(json!({"system_info": {"distro": "rhel"}, "ca_certs": {"remove_defaults": true}}));
    let err = handle(&env.ctx("ca_certs")).unwrap_err();
    assert_eq!(err.py_class(), "FileNotFoundError");
    assert_eq!(
        err.to_string(),
        "[Errno 2] No such file or directory: '/etc/pki/ca-trust/'"
    );
}

#[test]
fn suse_photon_alpine_and_fedora_paths() {
    let env = env_with(
        json!({"system_info": {"distro": "sles"}, "ca_certs": {"trusted": [CERT], "remove_defaults": true}}),
    );
    handle(&env.ctx("ca_certs")).unwrap();
    assert!(env
        .host
        .exists("/usr/share/pki/trust/anchors/cloud-init-ca-cert-1.crt"));
    assert_eq!(env.rec.lines(), ["update-ca-certificates"]);

    let env =
        env_with(json!({"system_info": {"distro": "photon"}, "ca_certs": {"trusted": [CERT]}}));
    handle(&env.ctx("ca_certs")).unwrap();
    assert!(env.host.exists("/etc/ssl/certs/cloud-init-ca-cert-1.pem"));
    assert_eq!(env.rec.lines(), ["rehash_ca_certificates.sh"]);

    let env = env_with(
        json!({"system_info": {"distro": "alpine"}, "ca_certs": {"remove_defaults": true}}),
    );
    env.write("/etc/ca-certificates.conf", "a.crt\n");
    handle(&env.ctx("ca_certs")).unwrap();
    assert!(env
        .read("/etc/ca-certificates.conf")
        .ends_with("\n!a.crt\n"));
    // No debconf on Alpine.
    assert_eq!(env.rec.lines(), ["update-ca-certificates"]);

    // Fedora has no removal step in upstream's table of distros.
    let env = env_with(
        json!({"system_info": {"distro": "fedora"}, "ca_certs": {"remove_defaults": true}}),
    );
    handle(&env.ctx("ca_certs")).unwrap();
    assert_eq!(env.rec.lines(), ["update-ca-trust"]);
}

#[test]
fn dashed_keys_are_deprecated_and_lose_to_ca_certs() {
    logcap::init();
    let env = env_with(json!({
        "ca-certs": {"remove-defaults": true},
        "ca_certs": {"trusted": [CERT]}
    }));
    env.write("/etc/ca-certificates.conf", "a.crt\n");
    handle(&env.ctx("ca_certs")).unwrap();
    assert_eq!(env.read("/etc/ca-certificates.conf"), "a.crt\n");
    let warnings = logcap::warnings();
    assert!(warnings
        .iter()
        .any(|w| w
            == "Found both ca-certs (deprecated) and ca_certs config keys. Ignoring ca-certs."));
    assert!(warnings
        .iter()
        .any(|w| w.starts_with("Key 'ca-certs' is deprecated in 22.1")));

    let env = env_with(json!({"ca-certs": {"remove-defaults": true}}));
    env.write("/etc/ca-certificates.conf", "a.crt\n");
    handle(&env.ctx("ca_certs")).unwrap();
    assert_eq!(
        env.read("/etc/ca-certificates.conf"),
        "# Modified by cloud-init to deselect certs due to user-data\n!a.crt\n"
    );
}

#[test]
fn absent_key_skips_and_bad_values_fail_like_python() {
    let env = env_with(json!({}));
    handle(&env.ctx("ca_certs")).unwrap();
    assert!(env.rec.lines().is_empty());
    let env = env_with(json!({"ca_certs": null}));
    let err = handle(&env.ctx("ca_certs")).unwrap_err();
    assert_eq!(
        err.py_repr(),
        "TypeError(\"argument of type 'NoneType' is not iterable\")"
    );
}

#[test]
fn a_failing_update_is_a_process_execution_error() {
    let env = env_with(json!({"ca_certs": {"trusted": []}}));
    env.rec.answer("update-ca-certificates", 3, b"");
    let err = handle(&env.ctx("ca_certs")).unwrap_err();
    assert_eq!(err.py_class(), "ProcessExecutionError");
    assert!(err.to_string().contains("Exit code: 3"));
    assert!(!env.host.exists("/usr/local/share/ca-certificates"));
}

#[test]
fn a_missing_tool_fails_as_upstreams_exec_error() {
    let env = TestEnv::new(json!({"ca_certs": {"remove_defaults": true}}));
    env.write("/etc/ca-certificates.conf", "a.crt\n");
    let err = handle(&env.ctx("ca_certs")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Unexpected error while running command.\nCommand: ('debconf-set-selections', '-')\nExit code: -\nReason: [Errno 2] No such file or directory: b'debconf-set-selections'\nStdout: -\nStderr: -"
    );
    env.write_mode("/usr/bin/debconf-set-selections", "", 0o755);
    let err = handle(&env.ctx("ca_certs")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Unexpected error while running command.\nCommand: ['update-ca-certificates']\nExit code: -\nReason: [Errno 2] No such file or directory: b'update-ca-certificates'\nStdout: -\nStderr: -"
    );
    assert!(env.rec.lines() == ["debconf-set-selections -"]);
}

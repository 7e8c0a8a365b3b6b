//! Bytes (`!!binary`) values in the ssh module, against what upstream
//! 25.1.4 does with the same YAML.

use super::*;
use crate::testutil::{logcap, TestEnv};
use crate::users_groups::tests::assert_no_marker;
use ci_host::WriteOpts;

const META_KEY: &str = "ssh-ed25519 AAAAC3Nz meta";

/// Debian with default user `ubuntu` (present in the root) and one
/// instance key; `yaml` is loaded with ci_yaml so `!!binary` is real bytes.
fn setup(yaml: &str) -> TestEnv {
    logcap::init();
    let mut cfg = ci_yaml::load(yaml).unwrap();
    cfg["system_info"] =
        serde_json::json!({"distro": "debian", "default_user": {"name": "ubuntu"}});
    cfg["users"] = serde_json::json!(["default"]);
    let mut env = TestEnv::new(cfg);
    env.instance.public_keys = vec![META_KEY.to_string()];
    env.host
        .write_atomic(
            "/etc/passwd",
            b"root:x:0:0:root:/root:/bin/bash\nubuntu:x:500:500::/home/ubuntu:/bin/sh\n",
            &WriteOpts::default(),
        )
        .unwrap();
    env.host
        .write_atomic(
            "/etc/group",
            b"root:x:0:\nubuntu:x:500:\n",
            &WriteOpts::default(),
        )
        .unwrap();
    env.host.create_dir_all("/home/ubuntu", 0o755).unwrap();
    env.host.create_dir_all("/root", 0o700).unwrap();
    env
}

#[test]
fn bytes_ssh_keys_values_are_written_as_they_are() {
    // util.write_file writes a bytes value unchanged.
    let env =
        setup("ssh_keys: {ed25519_private: !!binary UFJJVgo=, ed25519_public: !!binary UFVCCg==}");
    handle(&env.ctx("ssh")).unwrap();
    assert_eq!(env.read("/etc/ssh/ssh_host_ed25519_key"), "PRIV\n");
    assert_eq!(env.read("/etc/ssh/ssh_host_ed25519_key.pub"), "PUB\n");
    assert_eq!(env.mode("/etc/ssh/ssh_host_ed25519_key"), 0o600);
    assert_no_marker(&env);
}

#[test]
fn bytes_ssh_authorized_keys_install_nothing() {
    // Upstream `extend`s the key list with the bytes, i.e. with ints, none
    // of which parses as a key.
    let env = setup("ssh_keys: {}\nssh_authorized_keys: !!binary c3NoLXJzYSBBQUFBQjNOemEgeA==");
    handle(&env.ctx("ssh")).unwrap();
    assert_eq!(
        env.read("/home/ubuntu/.ssh/authorized_keys"),
        format!("{META_KEY}\n")
    );
    let root = env.read("/root/.ssh/authorized_keys");
    assert!(
        root.ends_with(&format!(" {META_KEY}\n")) && !root.contains("ssh-rsa"),
        "{root}"
    );
    assert_no_marker(&env);

    // In a list, each bytes key is parsed as its str(), `b'ssh-rsa ...'`.
    let env = setup("ssh_keys: {}\nssh_authorized_keys: [!!binary c3NoLXJzYSBBQUFBQjNOemEgeA==]");
    handle(&env.ctx("ssh")).unwrap();
    assert_eq!(
        env.read("/home/ubuntu/.ssh/authorized_keys"),
        format!("{META_KEY}\n")
    );
    assert_no_marker(&env);
}

#[test]
fn bytes_disable_root_opts_fail_the_credentials_step() {
    // Upstream: the default user's keys go in, then `.replace` on the
    // bytes raises and the step logs its failure; root gets nothing.
    let env = setup("ssh_keys: {}\ndisable_root_opts: !!binary bm8tcHR5");
    handle(&env.ctx("ssh")).unwrap();
    assert_eq!(
        env.read("/home/ubuntu/.ssh/authorized_keys"),
        format!("{META_KEY}\n")
    );
    assert!(!env.host.exists("/root/.ssh/authorized_keys"));
    assert!(logcap::warnings().contains(&"Applying SSH credentials failed!".to_string()));
    assert!(logcap::all().contains(&"a bytes-like object is required, not 'str'".to_string()));
    assert_no_marker(&env);

    // Without disable_root the options are never used.
    let env = setup("ssh_keys: {}\ndisable_root: false\ndisable_root_opts: !!binary bm8tcHR5");
    handle(&env.ctx("ssh")).unwrap();
    assert_eq!(
        env.read("/root/.ssh/authorized_keys"),
        format!("{META_KEY}\n")
    );
    assert_no_marker(&env);
}

#[test]
fn bytes_ssh_deletekeys_is_tested_for_truth() {
    // `cfg.get("ssh_deletekeys", True)`: non-empty bytes are true.
    let env = setup("ssh_keys: {}\nssh_deletekeys: !!binary bm8=");
    env.write("/etc/ssh/ssh_host_rsa_key", "old");
    handle(&env.ctx("ssh")).unwrap();
    assert!(!env.host.exists("/etc/ssh/ssh_host_rsa_key"));
    let env = setup("ssh_keys: {}\nssh_deletekeys: !!binary \"\"");
    env.write("/etc/ssh/ssh_host_rsa_key", "old");
    handle(&env.ctx("ssh")).unwrap();
    assert!(env.host.exists("/etc/ssh/ssh_host_rsa_key"));
    assert_no_marker(&env);
}

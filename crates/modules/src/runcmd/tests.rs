use super::*;
use crate::testutil::TestEnv;
use serde_json::json;

const TRICKY_YAML: &str = include_str!("../../tests/fixtures/runcmd_tricky.yaml");
const TRICKY_SH: &str = include_str!("../../tests/fixtures/runcmd_tricky.sh");
const SCRIPT: &str = "/var/lib/cloud/instances/i-test/scripts/runcmd";

#[test]
fn script_text_matches_upstream_shellify() {
    let cfg = ci_yaml::load(TRICKY_YAML).unwrap();
    let env = TestEnv::new(cfg);
    handle(&env.ctx("runcmd")).unwrap();
    assert_eq!(env.read(SCRIPT), TRICKY_SH);
    assert_eq!(env.mode(SCRIPT), 0o700);
    assert!(env.rec.lines().is_empty());
}

#[test]
fn no_key_writes_nothing_and_empty_list_writes_a_bare_script() {
    let env = TestEnv::new(json!({}));
    handle(&env.ctx("runcmd")).unwrap();
    assert!(!env.host.exists(SCRIPT));
    let env = TestEnv::new(json!({"runcmd": []}));
    handle(&env.ctx("runcmd")).unwrap();
    assert_eq!(env.read(SCRIPT), "#!/bin/sh\n");
}

#[test]
fn unshellifiable_entries_fail_with_upstreams_message() {
    let env = TestEnv::new(json!({"runcmd": ["ok", {"a": 1}]}));
    let err = handle(&env.ctx("runcmd")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Failed to shellify ['ok', {'a': 1}] into file /var/lib/cloud/instances/i-test/scripts/runcmd"
    );
    assert!(!env.host.exists(SCRIPT));
}

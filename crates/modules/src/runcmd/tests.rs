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

// The oracle (cloud-init 25.1.4) on `runcmd: [[echo, !!binary aGVsbG8=]]`
// writes the script
//     #!/bin/sh
//     'echo' 'b'\''hello'\'''
// and on `runcmd: [[echo, !!binary aGVsbG8=], !!binary aGVsbG8=]` raises
//     TypeError: Failed to shellify [['echo', b'hello'], b'hello'] into file .../scripts/runcmd
// so bytes are shown as Python shows them and the marker never lands in
// the script or the message.
#[test]
fn binary_words_and_commands_like_upstream() {
    let cfg = ci_yaml::load("runcmd: [[echo, !!binary aGVsbG8=]]").unwrap();
    let env = TestEnv::new(cfg);
    handle(&env.ctx("runcmd")).unwrap();
    assert_eq!(
        env.read(SCRIPT),
        r"#!/bin/sh
'echo' 'b'\''hello'\'''
"
    );

    let cfg = ci_yaml::load("runcmd: [[echo, !!binary aGVsbG8=], !!binary aGVsbG8=]").unwrap();
    let env = TestEnv::new(cfg);
    let err = handle(&env.ctx("runcmd")).unwrap_err().to_string();
    assert_eq!(
        err,
        "Failed to shellify [['echo', b'hello'], b'hello'] into file /var/lib/cloud/instances/i-test/scripts/runcmd"
    );
    assert!(!env.host.exists(SCRIPT));
}

// `runcmd: !!binary aGVsbG8=`: the oracle raises
//     TypeError: Failed to shellify b'hello' into file .../scripts/runcmd
#[test]
fn binary_instead_of_a_list_like_upstream() {
    let cfg = ci_yaml::load("runcmd: !!binary aGVsbG8=").unwrap();
    let env = TestEnv::new(cfg);
    let err = handle(&env.ctx("runcmd")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Failed to shellify b'hello' into file /var/lib/cloud/instances/i-test/scripts/runcmd"
    );
    assert!(!env.host.exists(SCRIPT));
}

// The oracle (cloud-init 25.1.4, `cc_runcmd.handle`) on `runcmd: "ls -l"`
// raises `TypeError: Failed to shellify ls -l into file .../runcmd`: the
// value is shown with `str()`, so a string is not quoted.
#[test]
fn string_instead_of_a_list_is_shown_bare() {
    let env = TestEnv::new(json!({"runcmd": "ls -l"}));
    let err = handle(&env.ctx("runcmd")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Failed to shellify ls -l into file /var/lib/cloud/instances/i-test/scripts/runcmd"
    );
}

use super::*;
use crate::testutil::{logcap, TestEnv};
use serde_json::json;

#[test]
fn appends_config_and_metadata_seed() {
    let mut env = TestEnv::new(json!({"random_seed": {"data": "c2VlZA==", "encoding": "b64"}}));
    env.instance.metadata = json!({"random_seed": "-md"});
    env.write("/dev/urandom", "pre-");
    handle(&env.ctx("seed_random")).unwrap();
    assert_eq!(env.read("/dev/urandom"), "pre-seed-md");
    assert!(env.rec.lines().is_empty());
}

#[test]
fn custom_file_raw_and_gzip() {
    let env = TestEnv::new(json!({"random_seed": {"file": "/var/seed", "data": "raw!"}}));
    handle(&env.ctx("seed_random")).unwrap();
    assert_eq!(env.read("/var/seed"), "raw!");
    let env = TestEnv::new(json!({"random_seed": {"data": "x", "encoding": "gzip"}}));
    assert_eq!(
        handle(&env.ctx("seed_random")).unwrap_err().to_string(),
        "Not a gzipped file (b'x')"
    );
    let env = TestEnv::new(json!({"random_seed": {"data": "x", "encoding": "rot13"}}));
    assert_eq!(
        handle(&env.ctx("seed_random")).unwrap_err().to_string(),
        "Unknown random_seed encoding: rot13"
    );
}

#[test]
fn command_runs_in_target_with_seed_file_env() {
    let env = TestEnv::new(json!({"random_seed": {"command": ["pollinate", "-q"]}}));
    env.write_mode("/usr/bin/pollinate", "", 0o755);
    handle(&env.ctx("seed_random")).unwrap();
    let calls = env.rec.calls();
    assert_eq!(env.rec.lines(), vec!["pollinate -q"]);
    assert_eq!(
        calls[0].env,
        vec![("RANDOM_SEED_FILE".to_string(), "/dev/urandom".to_string())]
    );
    assert_eq!(calls[0].place, ci_host::Where::Target);
}

#[test]
fn required_command_missing_warns_and_fails() {
    logcap::init();
    let env =
        TestEnv::new(json!({"random_seed": {"command": ["pollinate"], "command_required": true}}));
    let err = handle(&env.ctx("seed_random")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "command 'pollinate' not found but required=true"
    );
    assert!(logcap::warnings().contains(
        &"handling random command [['pollinate']] failed: command 'pollinate' not found but required=true".to_string()
    ));
    let env = TestEnv::new(json!({"random_seed": {"command_required": true}}));
    assert_eq!(
        handle(&env.ctx("seed_random")).unwrap_err().to_string(),
        "no command found but required=true"
    );
    // Not required: a missing command is fine.
    let env = TestEnv::new(json!({"random_seed": {"command": ["pollinate"]}}));
    handle(&env.ctx("seed_random")).unwrap();
}

#[test]
fn binary_metadata_seeds_are_decoded() {
    assert_eq!(super::metadata_seed(&json!("text seed")), b"text seed");
    assert_eq!(super::metadata_seed(&json!("ci-b64:/wA=")), [0xff, 0x00]);
    // Not base64 after the prefix: taken as text, as it came.
    assert_eq!(super::metadata_seed(&json!("ci-b64:!!")), b"ci-b64:!!");
}

use super::*;
use crate::testutil::{logcap, TestEnv};
use serde_json::json;

fn rsct_env() -> TestEnv {
    let env = TestEnv::new(json!({}));
    env.write_mode("/opt/rsct/install/bin/rmcctrl", "", 0o755);
    env.write_mode("/opt/rsct/install/bin/recfgct", "", 0o755);
    env.write("/etc/ct_node_id", "0x1111\nrest\n");
    env
}

#[test]
fn absent_rsct_or_the_none_datasource_do_nothing() {
    let env = TestEnv::new(json!({}));
    handle(&env.ctx("reset_rmc")).unwrap();
    assert!(env.rec.lines().is_empty());
    let mut env = rsct_env();
    env.instance.datasource_name = "None".into();
    handle(&env.ctx("reset_rmc")).unwrap();
    assert!(env.rec.lines().is_empty());
}

#[test]
fn same_node_id_is_upstreams_runtime_error() {
    logcap::init();
    let env = rsct_env();
    let e = handle(&env.ctx("reset_rmc")).unwrap_err();
    assert_eq!(
        e.py_repr(),
        "RuntimeError('New node ID did not get generated.')"
    );
    assert_eq!(env.rec.lines(), ["rmcctrl -z", "recfgct"]);
    let calls = env.rec.calls();
    let path = calls[0]
        .env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.clone());
    assert!(path.unwrap().starts_with("/opt/rsct/install/bin"));
    assert_eq!(logcap::warnings(), ["New node ID did not get generated."]);
}

#[test]
fn missing_node_id_file_and_failing_tools() {
    logcap::init();
    let env = rsct_env();
    env.host.remove_file("/etc/ct_node_id").unwrap();
    let e = handle(&env.ctx("reset_rmc")).unwrap_err();
    assert_eq!(
        e.py_repr(),
        "FileNotFoundError(2, 'No such file or directory')"
    );
    assert!(env.rec.lines().is_empty());
    let env = rsct_env();
    env.rec.answer("rmcctrl", 1, b"");
    let e = handle(&env.ctx("reset_rmc")).unwrap_err();
    assert_eq!(e.py_class(), "ProcessExecutionError");
    assert!(logcap::warnings().contains(&"Failed to stop the RMC subsystem.".to_string()));
    assert_eq!(env.rec.lines(), ["rmcctrl -z"]);
}

#[test]
fn a_tool_found_only_on_the_normal_path_is_used() {
    let env = TestEnv::new(json!({}));
    env.host
        .create_dir_all("/opt/rsct/install/bin", 0o755)
        .unwrap();
    env.write_mode("/usr/sbin/rmcctrl", "", 0o755);
    env.write("/etc/ct_node_id", "a\n");
    // recfgct is missing everywhere: not started.
    let e = handle(&env.ctx("reset_rmc")).unwrap_err();
    assert!(e
        .to_string()
        .contains("No such file or directory: b'recfgct'"));
    assert_eq!(env.rec.lines(), ["rmcctrl -z"]);
}

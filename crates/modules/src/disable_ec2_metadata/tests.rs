use super::*;
use crate::testutil::{logcap, TestEnv};
use serde_json::json;

#[test]
fn ip_is_preferred() {
    let env = TestEnv::new(json!({"disable_ec2_metadata": true}));
    env.write_mode("/usr/sbin/ifconfig", "", 0o755);
    env.write_mode("/usr/sbin/ip", "", 0o755);
    handle(&env.ctx("disable_ec2_metadata")).unwrap();
    assert_eq!(env.rec.lines(), ["ip route add prohibit 169.254.169.254"]);
    assert!(env.rec.calls()[0].place == ci_host::Where::Target);
}

#[test]
fn ifconfig_means_route() {
    let env = TestEnv::new(json!({"disable_ec2_metadata": "yes"}));
    env.write_mode("/sbin/ifconfig", "", 0o755);
    handle(&env.ctx("disable_ec2_metadata")).unwrap();
    assert_eq!(env.rec.lines(), ["route add -host 169.254.169.254 reject"]);
}

#[test]
fn neither_tool_logs_an_error_and_runs_nothing() {
    logcap::init();
    let env = TestEnv::new(json!({"disable_ec2_metadata": true}));
    // `route` alone is not enough: upstream looks for ifconfig.
    env.write_mode("/sbin/route", "", 0o755);
    handle(&env.ctx("disable_ec2_metadata")).unwrap();
    assert!(env.rec.lines().is_empty());
    assert_eq!(
        logcap::warnings(),
        ["Neither \"route\" nor \"ip\" command found, unable to manipulate routing table"]
    );
}

#[test]
fn false_skips_and_a_failing_command_fails() {
    let env1 = TestEnv::new(json!({"disable_ec2_metadata": false}));
    env1.write_mode("/usr/sbin/ip", "", 0o755);
    handle(&env1.ctx("disable_ec2_metadata")).unwrap();
    assert!(env1.rec.lines().is_empty());
    let env2 = TestEnv::new(json!({"disable_ec2_metadata": true}));
    env2.write_mode("/usr/sbin/ip", "", 0o755);
    env2.rec.answer("ip", 2, b"");
    let e = handle(&env2.ctx("disable_ec2_metadata")).unwrap_err();
    assert_eq!(e.py_class(), "ProcessExecutionError");
    assert!(e.to_string().starts_with(
        "Unexpected error while running command.\nCommand: ['ip', 'route', 'add', 'prohibit', '169.254.169.254']\nExit code: 2"
    ));
}

use crate::testutil::{logcap, TestEnv};
use serde_json::json;

const SNIPPET: &str = "/etc/apt/apt.conf.d/90cloud-init-pipelining";

fn run(v: serde_json::Value) -> TestEnv {
    let env = TestEnv::new(json!({ "apt_pipelining": v }));
    super::handle(&env.ctx("apt_pipelining")).unwrap();
    env
}

#[test]
fn false_writes_depth_zero() {
    let env = run(json!(false));
    assert_eq!(
        env.read(SNIPPET),
        "//Written by cloud-init per 'apt_pipelining'\nAcquire::http::Pipeline-Depth \"0\";\n"
    );
    assert_eq!(env.mode(SNIPPET), 0o644);
}

#[test]
fn numbers_are_written_as_given_and_os_leaves_apt_alone() {
    let env = run(json!(3));
    assert!(env.read(SNIPPET).contains("Pipeline-Depth \"3\";"));
    let env = run(json!(" OS "));
    assert!(!env.host.exists(SNIPPET));
    let env = run(json!("unchanged"));
    assert!(!env.host.exists(SNIPPET));
}

#[test]
fn out_of_range_warns_and_writes_nothing() {
    logcap::init();
    let env = run(json!(6));
    assert!(!env.host.exists(SNIPPET));
    assert!(logcap::warnings()
        .iter()
        .any(|w| w == "Invalid option for apt_pipelining: 6"));
    let env = run(json!(true));
    assert!(!env.host.exists(SNIPPET));
    assert!(logcap::warnings()
        .iter()
        .any(|w| w == "Invalid option for apt_pipelining: True"));
}

use super::*;
use crate::testutil::{logcap, TestEnv};
use serde_json::json;

const TOKEN: &str = "C1fakeToken";

fn env_with_pro(cfg: Value) -> TestEnv {
    let env = TestEnv::new(cfg);
    env.write_mode("/usr/bin/pro", "#!/bin/sh\n", 0o755);
    env
}

#[test]
fn no_section_skips() {
    let env = env_with_pro(json!({"ubuntu_pro": null}));
    handle(&env.ctx("ubuntu_pro")).unwrap();
    assert!(env.rec.lines().is_empty());
}

#[test]
fn bad_shapes_fail_with_upstreams_messages() {
    let env = env_with_pro(json!({"ubuntu_pro": "x"}));
    let e = handle(&env.ctx("ubuntu_pro")).unwrap_err();
    assert_eq!(e.to_string(), "'ubuntu_pro' should be a dict, not a str");
    let env = env_with_pro(json!({"ubuntu_pro": {"commands": []}}));
    let e = handle(&env.ctx("ubuntu_pro")).unwrap_err();
    assert!(e
        .to_string()
        .starts_with("Deprecated configuration \"ubuntu-advantage: commands\""));
    let env = env_with_pro(json!({"ubuntu-advantage": {}, "ubuntu_advantage": {}}));
    let e = handle(&env.ctx("ubuntu_pro")).unwrap_err();
    assert!(e
        .to_string()
        .starts_with("Unable to configure Ubuntu Pro. Multiple deprecated config keys provided: "));
    let env = env_with_pro(json!({"ubuntu_pro": {"features": {"disable_auto_attach": "yes"}}}));
    let e = handle(&env.ctx("ubuntu_pro")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "'ubuntu_pro.features.disable_auto_attach' should be a bool, not a str"
    );
}

#[test]
fn attach_with_services_never_shows_the_token() {
    logcap::init();
    let env = env_with_pro(json!({"ubuntu_advantage": {
        "token": TOKEN, "enable": ["esm-infra", "fips"],
        "features": {"disable_auto_attach": true}}}));
    env.rec.answer(
        "pro",
        0,
        br#"{"errors": [{"message": "on", "message_code": "service-already-enabled", "service": "esm-infra", "type": "service"}, {"message": "nope", "message_code": "x", "service": "fips", "type": "service"}]}"#,
    );
    let e = handle(&env.ctx("ubuntu_pro")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Failure enabling Ubuntu Pro service(s): fips"
    );
    let calls = env.rec.calls();
    assert_eq!(calls[0].argv, ["pro", "attach", "--no-auto-enable", TOKEN]);
    assert_eq!(calls[0].display(), "pro attach --no-auto-enable REDACTED");
    assert_eq!(
        calls[1].argv.join(" "),
        "pro enable --assume-yes --format json esm-infra fips"
    );
    let warnings = logcap::warnings();
    assert!(warnings[0].starts_with("Deprecated configuration key(s) provided: ubuntu_advantage."));
    assert!(warnings.contains(&"Failure enabling `fips`: nope".to_string()));
    assert!(logcap::all().iter().all(|m| !m.contains(TOKEN)));
}

#[test]
fn failed_attach_redacts_the_token_in_the_error() {
    let env = env_with_pro(
        json!({"ubuntu_pro": {"token": TOKEN, "features": {"disable_auto_attach": true}}}),
    );
    env.rec
        .answer("pro", 1, format!("bad token {TOKEN}\n").as_bytes());
    let e = handle(&env.ctx("ubuntu_pro")).unwrap_err();
    assert!(e.to_string().starts_with("Failure attaching Ubuntu Pro:\n"));
    assert!(!e.to_string().contains(TOKEN));
    assert!(e.to_string().contains("bad token REDACTED"));
    // Exit 2 (already attached) is fine.
    let env = env_with_pro(
        json!({"ubuntu_pro": {"token": TOKEN, "features": {"disable_auto_attach": true}}}),
    );
    env.rec.answer("pro", 2, b"");
    handle(&env.ctx("ubuntu_pro")).unwrap();
    assert_eq!(env.rec.calls()[0].argv, ["pro", "attach", TOKEN]);
}

#[test]
fn enable_output_must_be_json() {
    let env = env_with_pro(
        json!({"ubuntu_pro": {"token": TOKEN, "enable": "esm", "features": {"disable_auto_attach": true}}}),
    );
    let e = handle(&env.ctx("ubuntu_pro")).unwrap_err();
    assert_eq!(e.to_string(), "Pro response was not json: ");
}

#[test]
fn config_is_validated_then_set_in_key_order() {
    let env = env_with_pro(
        json!({"ubuntu_pro": {"features": {"disable_auto_attach": true}, "config": {
        "https_proxy": "https://p.test:3128", "http_proxy": null, "zz": "a b"}}}),
    );
    // Keys besides `features` mean an attach, which needs a token.
    let e = handle(&env.ctx("ubuntu_pro")).unwrap_err();
    assert!(e.to_string().starts_with("`ubuntu_pro.token` required"));
    let calls = env.rec.calls();
    let lines: Vec<String> = calls.iter().map(|c| c.argv.join(" ")).collect();
    assert_eq!(
        lines,
        [
            "pro config unset http_proxy",
            "pro config set https_proxy=https://p.test:3128",
            "pro config set zz=a\\ b",
        ]
    );
    assert_eq!(calls[1].display(), "pro config set https_proxy=REDACTED");

    let env = env_with_pro(json!({"ubuntu_pro": {"config": {
        "http_proxy": "ftp://x", "https_proxy": 3, "ua_apt_http_proxy": "HTTP://ok"}}}));
    let e = handle(&env.ctx("ubuntu_pro")).unwrap_err();
    assert_eq!(e.py_class(), "ValueError");
    assert_eq!(
        e.to_string(),
        "Invalid ubuntu_pro configuration:\nExpected URL scheme http/https for ua:config:http_proxy\nExpected a URL for ua:config:https_proxy"
    );
    assert!(env.rec.lines().is_empty());
}

#[test]
fn failed_config_set_hides_the_value() {
    logcap::init();
    let env = env_with_pro(json!({"ubuntu_pro": {"config": {"http_proxy": "http://u:secret@p"}}}));
    env.rec.answer("pro", 1, b"cannot use http://u:secret@p\n");
    let e = handle(&env.ctx("ubuntu_pro")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Failure enabling/disabling Ubuntu Pro config(s): \"http_proxy\""
    );
    assert!(logcap::all().iter().all(|m| !m.contains("secret")));
}

#[test]
fn auto_attach_check_needs_the_clients_python_package() {
    let env = env_with_pro(json!({"ubuntu_pro": {"enable": ["esm"]}}));
    let e = handle(&env.ctx("ubuntu_pro")).unwrap_err();
    assert_eq!(e.py_class(), "ModuleNotFoundError");
    assert_eq!(e.to_string(), "No module named 'uaclient'");

    // With it, a Pro instance is auto-attached through the client's API.
    let env = env_with_pro(json!({"ubuntu_pro": {"enable": ["esm"]}}));
    env.write("/usr/lib/python3/dist-packages/uaclient/__init__.py", "");
    env.rec.answer(
        "pro",
        0,
        br#"{"result": "success", "data": {"attributes": {"should_auto_attach": true}}}"#,
    );
    handle(&env.ctx("ubuntu_pro")).unwrap();
    let calls = env.rec.calls();
    assert_eq!(
        calls[1].argv[..3],
        ["pro", "api", "u.pro.attach.auto.full_auto_attach.v1"]
    );
    assert_eq!(calls[1].argv[4], r#"{"enable":["esm"],"enable_beta":null}"#);
}

#[test]
fn missing_token_on_non_pro_instance() {
    let env = env_with_pro(
        json!({"ubuntu_pro": {"enable": ["esm"], "features": {"disable_auto_attach": true}}}),
    );
    let e = handle(&env.ctx("ubuntu_pro")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "`ubuntu_pro.token` required in non-Pro Ubuntu instances."
    );
}

#[test]
fn helpers_match_python() {
    assert_eq!(url_scheme("HTTP://x"), "http");
    assert_eq!(url_scheme("proxy.test:8080"), "proxy.test");
    assert_eq!(url_scheme("10.0.0.1:80"), "");
    assert_eq!(re_escape("a b-c.d"), "a\\ b\\-c\\.d");
}

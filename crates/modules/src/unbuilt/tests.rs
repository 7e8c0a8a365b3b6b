use super::*;
use crate::lookup;
use crate::testutil::TestEnv;
use serde_json::json;

fn verdict(env: &TestEnv, module: &str, args: &[String]) -> Verdict {
    let stage = StageEnv {
        host: &env.host,
        cfg: &env.cfg,
        distro: &env.distro,
        paths: &env.paths,
        instance: &env.instance,
        version: "x",
        uptime: 0.0,
        event_prefix: "modules-config",
    };
    judge(lookup(module).unwrap(), &stage, args)
}

fn idle(v: &Verdict) -> bool {
    matches!(v, Verdict::Idle(_))
}

fn works(v: &Verdict) -> bool {
    matches!(v, Verdict::WouldWork(_))
}

#[test]
fn apt_configure_is_idle_only_when_preserving_sources_with_nothing_to_remove() {
    let env = TestEnv::new(json!({"apt": {"preserve_sources_list": true}}));
    assert!(idle(&verdict(&env, "apt_configure", &[])));
    env.write(APT_PROXY_FILE, "Acquire::http::Proxy \"http://old\";\n");
    assert!(works(&verdict(&env, "apt_configure", &[])));

    for cfg in [
        json!({"apt": {"preserve_sources_list": true, "proxy": "http://p"}}),
        json!({"apt": {"preserve_sources_list": false}}),
        json!({"apt": {"debconf_selections": {"a": "b"}}}),
        json!({"apt": "x"}),
        json!({"apt": {"preserve_sources_list": true}, "apt_proxy": "http://p"}),
    ] {
        let env = TestEnv::new(cfg.clone());
        assert_eq!(verdict(&env, "apt_configure", &[]), Verdict::Asked, "{cfg}");
    }
    // Empty legacy keys are dropped by upstream before anything happens.
    let env = TestEnv::new(json!({"apt": {"preserve_sources_list": true}, "apt_proxy": ""}));
    assert!(idle(&verdict(&env, "apt_configure", &[])));

    // No apt config: upstream writes sources.list when apt is installed.
    let env = TestEnv::new(json!({}));
    assert!(idle(&verdict(&env, "apt_configure", &[])));
    env.write_mode("/usr/bin/apt-get", "#!/bin/sh\n", 0o755);
    assert!(works(&verdict(&env, "apt_configure", &[])));
}

#[test]
fn modules_with_activate_keys_are_asked_when_reached() {
    let env = TestEnv::new(json!({"puppet": {"install": false}}));
    assert_eq!(verdict(&env, "puppet", &[]), Verdict::Asked);
    // Reached without them only under `single`.
    let env = TestEnv::new(json!({}));
    assert!(idle(&verdict(&env, "puppet", &[])));
}

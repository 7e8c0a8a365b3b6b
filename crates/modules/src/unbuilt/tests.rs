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
fn mounts_depends_on_config_and_device_naming_datasources() {
    let mut env = TestEnv::new(json!({}));
    env.instance.datasource_name = "NoCloud".into();
    assert!(idle(&verdict(&env, "mounts", &[])));
    for ds in ["Ec2", "Azure", "OpenStack", "ConfigDrive"] {
        env.instance.datasource_name = ds.into();
        assert!(works(&verdict(&env, "mounts", &[])), "{ds}");
    }
    for cfg in [
        json!({"mounts": []}),
        json!({"swap": {"size": "1G"}}),
        json!({"device_aliases": {"ephemeral0": "/dev/vdb"}}),
    ] {
        let env = TestEnv::new(cfg.clone());
        assert_eq!(verdict(&env, "mounts", &[]), Verdict::Asked, "{cfg}");
    }
}

#[test]
fn byobu_needs_a_value_to_work() {
    let env = TestEnv::new(json!({}));
    assert!(idle(&verdict(&env, "byobu", &[])));
    assert_eq!(verdict(&env, "byobu", &["enable".into()]), Verdict::Asked);
    let env = TestEnv::new(json!({"byobu_by_default": ""}));
    assert!(idle(&verdict(&env, "byobu", &[])));
    // Upstream reads `str(None)`, which is not empty.
    let env = TestEnv::new(json!({"byobu_by_default": null}));
    assert_eq!(verdict(&env, "byobu", &[]), Verdict::Asked);
}

#[test]
fn reset_rmc_works_only_with_rsct_installed_on_a_real_platform() {
    let mut env = TestEnv::new(json!({}));
    env.instance.datasource_name = "NoCloud".into();
    assert!(idle(&verdict(&env, "reset_rmc", &[])));
    env.host.create_dir_all(RSCT_PATH, 0o755).unwrap();
    assert!(works(&verdict(&env, "reset_rmc", &[])));
    env.instance.datasource_name = "None".into();
    assert!(idle(&verdict(&env, "reset_rmc", &[])));
}

#[test]
fn install_hotplug_is_idle_unless_hotplug_is_enabled_or_installed() {
    let mut env = TestEnv::new(json!({}));
    env.instance.datasource_name = "NoCloud".into();
    assert!(idle(&verdict(&env, "install_hotplug", &[])));
    env.instance.datasource_name = "Ec2".into();
    assert!(works(&verdict(&env, "install_hotplug", &[])));
    env.instance.datasource_name = "NoCloud".into();
    env.write(HOTPLUG_RULE, "x");
    assert!(works(&verdict(&env, "install_hotplug", &[])));

    let env = TestEnv::new(json!({}));
    env.write(
        "/var/lib/cloud/hotplug.enabled",
        "{\"scopes\": [\"network\"]}",
    );
    assert!(works(&verdict(&env, "install_hotplug", &[])));

    let env = TestEnv::new(json!({"updates": {"network": {"when": ["boot", "hotplug"]}}}));
    assert_eq!(verdict(&env, "install_hotplug", &[]), Verdict::Asked);
}

#[test]
fn growpart_and_resizefs_work_by_default_and_are_idle_when_disabled() {
    let env = TestEnv::new(json!({}));
    assert!(works(&verdict(&env, "growpart", &[])));
    assert!(works(&verdict(&env, "resizefs", &[])));
    assert!(idle(&verdict(&env, "resizefs", &["false".into()])));
    env.write("/etc/growroot-disabled", "");
    assert!(idle(&verdict(&env, "growpart", &[])));

    let env = TestEnv::new(json!({"growpart": {"mode": "off"}, "resize_rootfs": false}));
    assert!(idle(&verdict(&env, "growpart", &[])));
    assert!(idle(&verdict(&env, "resizefs", &[])));
    let env = TestEnv::new(json!({"growpart": {"devices": []}, "resize_rootfs": "noblock"}));
    assert!(idle(&verdict(&env, "growpart", &[])));
    assert_eq!(verdict(&env, "resizefs", &[]), Verdict::Asked);
    let env = TestEnv::new(json!({"growpart": {"mode": "auto"}}));
    assert_eq!(verdict(&env, "growpart", &[]), Verdict::Asked);
}

#[test]
fn modules_with_activate_keys_are_asked_when_reached() {
    let env = TestEnv::new(json!({"ntp": {"enabled": true}}));
    assert_eq!(verdict(&env, "ntp", &[]), Verdict::Asked);
    // Reached without them only under `single`.
    let env = TestEnv::new(json!({}));
    assert!(idle(&verdict(&env, "ntp", &[])));
}

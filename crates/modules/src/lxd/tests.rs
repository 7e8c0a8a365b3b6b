use super::*;
use crate::testutil::TestEnv;
use serde_json::json;

fn env_with_tools(cfg: Value, tools: &[&str]) -> TestEnv {
    let env = TestEnv::new(cfg);
    for t in tools {
        env.write_mode(&format!("/usr/bin/{t}"), "#!/bin/sh\n", 0o755);
    }
    env
}

#[test]
fn absent_or_empty_config_does_nothing() {
    for cfg in [json!({}), json!({"lxd": {}}), json!({"lxd": null})] {
        let env = env_with_tools(cfg, &["lxd", "snap"]);
        handle(&env.ctx("lxd")).unwrap();
        assert!(env.rec.lines().is_empty());
    }
}

#[test]
fn non_mapping_config_is_a_value_error() {
    let env = TestEnv::new(json!({"lxd": [1]}));
    let e = handle(&env.ctx("lxd")).unwrap_err();
    assert_eq!(e.py_class(), "ValueError");
    assert_eq!(
        e.to_string(),
        "lxd config must be a dictionary. found a 'list'"
    );
}

#[test]
fn init_flags_in_upstream_order_after_seed_wait_and_waitready() {
    let env = env_with_tools(
        json!({"lxd": {"init": {
            "storage_pool": "datapool", "network_port": 8443,
            "network_address": "0.0.0.0", "storage_backend": "dir",
            "storage_create_loop": 10, "trust_password": ""}}}),
        &["lxd", "snap"],
    );
    handle(&env.ctx("lxd")).unwrap();
    assert_eq!(
        env.rec.lines(),
        [
            "snap wait system seed.loaded",
            "lxd waitready --timeout=300",
            "lxd init --auto --network-address=0.0.0.0 --network-port=8443 --storage-backend=dir --storage-create-loop=10 --storage-pool=datapool",
        ]
    );
    // The seed wait is once per machine.
    env.rec.calls();
    handle(&env.ctx("lxd")).unwrap();
    assert_eq!(
        env.rec
            .lines()
            .iter()
            .filter(|l| l.starts_with("snap"))
            .count(),
        1
    );
}

#[test]
fn missing_lxd_comes_from_the_snap_and_missing_snap_fails() {
    let env = env_with_tools(
        json!({"lxd": {"init": {"storage_backend": "dir"}}}),
        &["snap"],
    );
    // lxd is not there even after "installing": the waitready call fails.
    let e = handle(&env.ctx("lxd")).unwrap_err();
    assert_eq!(env.rec.lines()[1], "snap install lxd");
    assert_eq!(e.py_class(), "ProcessExecutionError");
    assert!(e
        .to_string()
        .contains("Command: ['lxd', 'waitready', '--timeout=300']"));

    let env = TestEnv::new(json!({"lxd": {"init": {"storage_backend": "dir"}}}));
    let e = handle(&env.ctx("lxd")).unwrap_err();
    assert_eq!(e.py_class(), "RuntimeError");
    assert!(e
        .to_string()
        .starts_with("Failed to install lxd from snap: Unexpected error while running command.\nCommand: ['snap', 'install', 'lxd']"));
}

#[test]
fn preseed_goes_on_stdin_and_excludes_init() {
    let preseed = "storage_pools:\n- name: default\n  driver: btrfs\n";
    let env = env_with_tools(
        json!({"lxd": {"preseed": preseed}}),
        &["lxd", "apt-get", "apt-cache"],
    );
    env.rec.answer("apt-cache", 0, b"btrfs-progs\n");
    handle(&env.ctx("lxd")).unwrap();
    let calls = env.rec.calls();
    let last = calls.last().unwrap();
    assert_eq!(last.argv, ["lxd", "init", "--preseed"]);
    assert_eq!(last.stdin.as_deref(), Some(preseed.as_bytes()));
    assert!(env
        .rec
        .lines()
        .iter()
        .any(|l| l.ends_with("install btrfs-progs")));

    let env = TestEnv::new(
        json!({"lxd": {"preseed": "x", "init": {"a": 1}, "bridge": {"mode": "none"}, }}),
    );
    let e = handle(&env.ctx("lxd")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Unable to configure LXD. lxd.preseed config can not be provided with key(s): lxd.init, lxd.bridge"
    );
    let env = TestEnv::new(json!({"lxd": {"preseed": 3, "init": [], "bridge": "x"}}));
    let e = handle(&env.ctx("lxd")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "lxd.init config must be a dictionary. found a 'list'. lxd.bridge config must be a dictionary. found a 'str'. lxd.preseed config must be a string. found a 'int'. Unable to configure LXD. lxd.preseed config can not be provided with key(s): lxd.bridge"
    );
}

#[test]
fn storage_packages_only_for_missing_tools() {
    let env = env_with_tools(json!({}), &["lvcreate"]);
    let ctx = env.ctx("lxd");
    let empty = json!("");
    assert_eq!(
        required_packages(&ctx, &json!({"storage_backend": "zfs"}), &empty),
        ["zfsutils-linux"]
    );
    assert!(required_packages(&ctx, &json!({"storage_backend": "lvm"}), &empty).is_empty());
    let preseed = json!("storage_pools:\n- {driver: btrfs}\n- {driver: zfs}\n");
    assert_eq!(
        required_packages(&ctx, &json!({}), &preseed),
        ["zfsutils-linux", "btrfs-progs"]
    );
}

#[test]
fn bridge_commands_follow_upstreams_translation() {
    let (create, attach) = bridge_to_cmd(&json!({
        "mode": "new", "mtu": 1500, "name": "lxdbr0",
        "ipv4_address": "10.0.8.1", "ipv4_netmask": 24,
        "ipv4_dhcp_first": "10.0.8.2", "ipv4_dhcp_last": "10.0.8.3",
        "ipv4_nat": true, "ipv6_address": "fd98:9e0:3744::1",
        "ipv6_netmask": 64, "ipv6_nat": "true", "domain": "lxd"}))
    .unwrap();
    // A YAML boolean `true` is not the string "true": no ipv4.nat.
    assert_eq!(
        create.unwrap().join(" "),
        "network create lxdbr0 ipv4.address=10.0.8.1/24 ipv4.dhcp.ranges=10.0.8.2-10.0.8.3 ipv6.address=fd98:9e0:3744::1/64 ipv6.nat=true dns.domain=lxd bridge.mtu=1500"
    );
    assert_eq!(
        attach.unwrap().join(" "),
        "network attach-profile lxdbr0 default eth0"
    );
    let (create, _) = bridge_to_cmd(&json!({"mode": "new", "mtu": -1})).unwrap();
    assert_eq!(
        create.unwrap().join(" "),
        "network create lxdbr0 ipv4.address=none ipv6.address=none"
    );
    let (create, _) =
        bridge_to_cmd(&json!({"mode": "new", "ipv4_address": "10.1.1.1", "ipv4_netmask": 16}))
            .unwrap();
    assert!(create.unwrap().contains(&"ipv4.nat=true".to_string()));
    assert_eq!(
        bridge_to_cmd(&json!({"mode": "none"})).unwrap(),
        (None, None)
    );
    let (c, a) = bridge_to_cmd(&json!({"mode": "existing", "name": "br9"})).unwrap();
    assert!(c.is_none());
    assert_eq!(a.unwrap()[2], "br9");
    let e = bridge_to_cmd(&json!({"mode": "bogus"})).unwrap_err();
    assert_eq!(e.to_string(), "invalid bridge mode \"bogus\"");
}

#[test]
fn bridge_after_init_removes_lxds_default_network_first() {
    let env = env_with_tools(
        json!({"lxd": {"init": {"storage_backend": "dir"}, "bridge": {"mode": "new"}}}),
        &["lxd", "lxc"],
    );
    handle(&env.ctx("lxd")).unwrap();
    assert_eq!(
        env.rec.lines()[2..],
        [
            "lxc network detach-profile lxdbr0 default --force-local",
            "lxc network delete lxdbr0 --force-local",
            "lxc profile device remove default eth0 --force-local",
            "lxc network create lxdbr0 ipv4.address=none ipv6.address=none --force-local",
            "lxc network attach-profile lxdbr0 default eth0 --force-local",
        ]
    );
    let lxc = env
        .rec
        .calls()
        .into_iter()
        .find(|c| c.argv[0] == "lxc")
        .unwrap();
    assert!(lxc.env.contains(&("LC_ALL".into(), "C".into())));
}

#[test]
fn detach_exit_1_means_nothing_to_remove() {
    let env = env_with_tools(
        json!({"lxd": {"init": {"storage_backend": "dir"}, "bridge": {"mode": "existing"}}}),
        &["lxd", "lxc"],
    );
    env.rec.answer("lxc", 1, b"");
    let e = handle(&env.ctx("lxd")).unwrap_err();
    // The removal's exit 1 is tolerated; the attach's is not.
    assert!(e.to_string().contains("'attach-profile'"));
    assert_eq!(
        env.rec.lines()[2..],
        [
            "lxc profile device remove default eth0 --force-local",
            "lxc network attach-profile lxdbr0 default eth0 --force-local",
        ]
    );
}

#[test]
fn packaged_bridge_uses_debconf() {
    let env = env_with_tools(
        json!({"lxd": {"bridge": {"mode": "new", "name": "br0", "ipv4_address": "10.0.0.1", "ipv4_netmask": 24}}}),
        &["lxd", "debconf-communicate", "dpkg-reconfigure"],
    );
    env.write(BRIDGE_DEFAULTS_FILE, "x\n");
    handle(&env.ctx("lxd")).unwrap();
    let calls = env.rec.calls();
    let dc = calls
        .iter()
        .find(|c| c.argv[0] == DEBCONF_COMMUNICATE)
        .unwrap();
    assert_eq!(
        String::from_utf8(dc.stdin.clone().unwrap()).unwrap(),
        "set lxd/setup-bridge true\nset lxd/bridge-name br0\nset lxd/bridge-ipv4 true\nset lxd/bridge-ipv4-address 10.0.0.1\nset lxd/bridge-ipv4-netmask 24\nset lxd/bridge-ipv4-dhcp-first None\nset lxd/bridge-ipv4-dhcp-last None\nset lxd/bridge-ipv4-dhcp-leases None\nset lxd/bridge-ipv4-nat true\n"
    );
    assert!(!env.host.exists(BRIDGE_DEFAULTS_FILE));
    assert_eq!(
        env.rec.lines().last().unwrap(),
        "dpkg-reconfigure lxd --frontend=noninteractive"
    );
}

#[test]
fn lvm_init_failure_retries_without_thinpool() {
    let env = env_with_tools(
        json!({"lxd": {"init": {"storage_backend": "lvm", "storage_pool": "p"}}}),
        &["lxd", "lxc", "lvcreate"],
    );
    // Every lxd call fails: waitready first, so answer per program is too coarse;
    // drive init_lxd directly.
    env.rec.answer("lxd", 1, b"");
    let ctx = env.ctx("lxd");
    let e = init_lxd(
        &ctx,
        &json!({"storage_backend": "lvm", "storage_pool": "p"}),
    )
    .unwrap_err();
    assert_eq!(e.py_class(), "ProcessExecutionError");
    assert_eq!(
        env.rec.lines(),
        [
            "lxd init --auto --storage-backend=lvm --storage-pool=p",
            "lxc storage create default lvm lvm.use_thinpool=false",
            "lxd init --auto --storage-pool=p",
        ]
    );
    let e = init_lxd(&ctx, &json!({"storage_backend": "zfs"})).unwrap_err();
    assert!(e.to_string().contains("--storage-backend=zfs"));
    let e = init_lxd(&ctx, &json!({"storage_pool": "p"})).unwrap_err();
    assert_eq!(e.py_class(), "KeyError");
}

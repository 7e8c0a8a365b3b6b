//! Parsing, errors, fallback NIC choice and writing under a root.

use ci_host::Host;
use ci_net::{
    fallback_config, find_fallback_nic, parse, render, write_files, NetError, RenderOptions,
    Renderer,
};
use serde_json::{json, Value};
use std::fs;
use std::path::Path;

fn load(text: &str) -> Value {
    ci_yaml::load(text).unwrap_or(Value::Null)
}

fn invalid_path(doc: Value) -> String {
    match parse(&doc) {
        Err(NetError::Invalid { path, .. }) => path,
        other => format!("no error: {other:?}"),
    }
}

#[test]
fn disabled_config_is_none_with_or_without_wrapper() {
    assert!(matches!(parse(&json!({"config": "disabled"})), Ok(None)));
    assert!(matches!(
        parse(&json!({"network": {"config": "disabled"}})),
        Ok(None)
    ));
}

#[test]
fn wrapped_and_bare_documents_parse_alike() -> Result<(), NetError> {
    let bare = load("version: 2\nethernets:\n  eth0:\n    dhcp4: true\n");
    let wrapped = load("network:\n  version: 2\n  ethernets:\n    eth0:\n      dhcp4: true\n");
    let (Some(a), Some(b)) = (parse(&bare)?, parse(&wrapped)?) else {
        unreachable!("both configs are enabled")
    };
    assert_eq!(a.config, b.config);
    assert_eq!(b.base, "network");
    Ok(())
}

#[test]
fn errors_name_the_key_path() {
    assert_eq!(invalid_path(json!({"version": 3})), "version");
    assert_eq!(invalid_path(json!({"network": {"version": 1}})), "network");
    assert_eq!(
        invalid_path(
            json!({"version": 1, "config": [{"type": "physical", "name": "eth0",
            "subnets": [{"type": "static", "address": "300.1.1.1/24"}]}]})
        ),
        "config.0.subnets.0.address"
    );
    assert_eq!(
        invalid_path(json!({"network": {"version": 2, "ethernets": {"eth0": {
            "addresses": ["10.0.0.1/24", "bogus"]}}}})),
        "network.ethernets.eth0.addresses.1"
    );
    assert_eq!(
        invalid_path(json!({"version": 2, "ethernets": {"eth0": {
            "routes": [{"to": "nowhere", "via": "10.0.0.1"}], "dhcp4": true}}})),
        "ethernets.eth0.routes.0.to"
    );
    assert_eq!(
        invalid_path(json!({"version": 1, "config": [{"type": "wormhole"}]})),
        "config.0.type"
    );
    assert_eq!(
        invalid_path(json!({"version": 2, "tunnels": {}})),
        "tunnels"
    );
}

#[test]
fn malformed_input_never_panics() {
    let docs = [
        json!(null),
        json!([]),
        json!("text"),
        json!({"version": 1, "config": "x"}),
        json!({"version": 1, "config": [1, "a", null]}),
        json!({"version": 1, "config": [{"type": "physical", "name": ["x"]}]}),
        json!({"version": 1, "config": [{"type": "physical", "name": "e", "subnets": "dhcp"}]}),
        json!({"version": 1, "config": [{"type": "physical", "name": "e", "subnets": [{"type": 4}]}]}),
        json!({"version": 1, "config": [{"type": "physical", "name": "e",
            "subnets": [{"type": "static", "address": "10.0.0.1", "netmask": "255.0.255.0"}]}]}),
        json!({"version": 1, "config": [{"type": "physical", "name": "e",
            "subnets": [{"type": "static", "address": "10.0.0.1", "prefix": "x"}]}]}),
        json!({"version": 1, "config": [{"type": "route", "destination": "10.0.0.0/8", "metric": "fast"}]}),
        json!({"version": 1, "config": [{"type": "bridge", "name": "br0", "bridge_interfaces": ["e"],
            "params": {"bridge_stp": "maybe"}}]}),
        json!({"version": 2, "ethernets": null}),
        json!({"version": 2, "ethernets": {"e": 5}}),
        json!({"version": 2, "ethernets": {"e": {"addresses": "10.0.0.1/8"}}}),
        json!({"version": 2, "ethernets": {"e": {"routes": [7]}}}),
        json!({"version": 2, "bonds": {"b": {"interfaces": "e", "parameters": {"mode": 1}}}}),
    ];
    for d in docs {
        assert!(!matches!(parse(&d), Ok(Some(_))), "accepted {d}");
    }
    // Upstream skips commands missing required keys (with a warning) and
    // renders the rest; every renderer must cope with what is left.
    let tolerated = [
        json!({"version": 1, "config": [{"type": "physical"}]}),
        json!({"version": 1, "config": [{"type": "vlan", "name": "v"}]}),
        json!({"version": 1, "config": [{"type": "bridge", "name": "br0", "bridge_interfaces": ["ghost"]}]}),
        json!({"version": 1, "config": [{"type": "bond", "name": "b", "bond_interfaces": ["x"], "params": {}}]}),
        json!({"version": 2, "ethernets": {"e": {"nameservers": {"search": ["x"]}}}}),
        json!({"version": 2, "wifis": {"w": {"dhcp4": true}}}),
    ];
    for d in tolerated {
        let Ok(Some(cfg)) = parse(&d) else {
            unreachable!("rejected {d}")
        };
        for r in [
            "netplan",
            "eni",
            "networkd",
            "network-manager",
            "sysconfig",
            "freebsd",
            "netbsd",
            "openbsd",
        ] {
            let Some(r) = Renderer::from_name(r) else {
                continue;
            };
            let distro = if r == Renderer::Sysconfig {
                "rhel"
            } else {
                "debian"
            };
            let _ = render(&cfg, r, &RenderOptions::new(distro));
        }
    }
}

#[test]
fn invalid_commands_are_skipped_like_upstream() -> Result<(), NetError> {
    // a bond without params fails upstream's required-keys check: skipped
    let doc = json!({"version": 1, "config": [
        {"type": "physical", "name": "eth0", "subnets": [{"type": "dhcp"}]},
        {"type": "bond", "name": "bond0", "bond_interfaces": ["eth0"]}]});
    let Some(cfg) = parse(&doc)? else {
        unreachable!("enabled")
    };
    let ns = cfg.state(&Default::default())?;
    assert!(ns.interfaces.contains_key("eth0"));
    assert!(!ns.interfaces.contains_key("bond0"));
    Ok(())
}

#[test]
fn sysconfig_is_refused_where_upstream_has_no_layout() -> Result<(), NetError> {
    let Some(cfg) = parse(&json!({"version": 2, "ethernets": {"eth0": {"dhcp4": true}}}))? else {
        unreachable!("enabled")
    };
    let err = render(&cfg, Renderer::Sysconfig, &RenderOptions::new("debian"));
    assert!(matches!(err, Err(NetError::Unsupported { .. })));
    Ok(())
}

/// A fake `/sys/class/net` entry.
fn nic(root: &Path, name: &str, files: &[(&str, &str)]) {
    let dir = root.join("sys/class/net").join(name);
    let _ = fs::create_dir_all(&dir);
    for (rel, content) in files {
        let p = dir.join(rel);
        if let Some(parent) = p.parent() {
            let _ = fs::create_dir_all(parent);
        }
        let _ = fs::write(p, content);
    }
}

#[test]
fn fallback_prefers_connected_then_eth0_then_natural_order() -> Result<(), std::io::Error> {
    let tmp = tempfile::tempdir()?;
    let root = tmp.path();
    nic(
        root,
        "lo",
        &[("address", "00:00:00:00:00:00"), ("carrier", "1")],
    );
    nic(
        root,
        "veth12",
        &[("address", "aa:00:00:00:00:01"), ("carrier", "1")],
    );
    nic(
        root,
        "br0",
        &[
            ("address", "aa:00:00:00:00:02"),
            ("carrier", "1"),
            ("bridge/x", ""),
        ],
    );
    nic(
        root,
        "bond0",
        &[
            ("address", "aa:00:00:00:00:03"),
            ("carrier", "1"),
            ("bonding/x", ""),
        ],
    );
    nic(
        root,
        "ens10",
        &[("address", "AA:00:00:00:00:10"), ("carrier", "1")],
    );
    nic(
        root,
        "ens9",
        &[("address", "aa:00:00:00:00:09"), ("carrier", "1")],
    );
    nic(
        root,
        "eth0",
        &[
            ("address", "aa:00:00:00:00:e0"),
            ("carrier", "0"),
            ("operstate", "down"),
        ],
    );
    nic(
        root,
        "eth1",
        &[
            ("address", "aa:00:00:00:00:e1"),
            ("carrier", "0"),
            ("operstate", "up"),
        ],
    );
    let host = Host::new(root);
    assert_eq!(
        ci_net::fallback::find_candidate_nics(&host),
        ["ens9", "ens10", "eth0"],
        "connected first (natural order), then possibly connected; eth1 is up without carrier"
    );
    assert_eq!(find_fallback_nic(&host).as_deref(), Some("ens9"));
    assert_eq!(
        fallback_config(&host),
        Some(
            json!({"ethernets": {"ens9": {"dhcp4": true, "dhcp6": true, "set-name": "ens9",
            "match": {"macaddress": "aa:00:00:00:00:09"}}}, "version": 2})
        )
    );
    // eth0 jumps ahead of its group once it is connected
    nic(root, "eth0", &[("carrier", "1")]);
    assert_eq!(find_fallback_nic(&host).as_deref(), Some("eth0"));
    Ok(())
}

#[test]
fn fallback_none_without_nics_and_photon_opt_out() -> Result<(), std::io::Error> {
    let tmp = tempfile::tempdir()?;
    let host = Host::new(tmp.path());
    assert_eq!(fallback_config(&host), None);
    nic(
        tmp.path(),
        "eth0",
        &[("address", "aa:00:00:00:00:01"), ("carrier", "1")],
    );
    assert!(fallback_config(&host).is_some());
    use ci_net::fallback::distro_fallback_config;
    assert_eq!(distro_fallback_config(&host, "photon", &json!({})), None);
    assert!(
        distro_fallback_config(&host, "photon", &json!({"disable_fallback_netcfg": false}))
            .is_some()
    );
    assert!(distro_fallback_config(&host, "debian", &json!({})).is_some());
    Ok(())
}

#[test]
fn fallback_config_renders() -> Result<(), Box<dyn std::error::Error>> {
    let tmp = tempfile::tempdir()?;
    nic(
        tmp.path(),
        "ens3",
        &[("address", "52:54:00:ab:cd:ef"), ("carrier", "1")],
    );
    let host = Host::new(tmp.path());
    let doc = fallback_config(&host).ok_or("no fallback")?;
    let cfg = parse(&doc)?.ok_or("disabled")?;
    let files = render(&cfg, Renderer::Networkd, &RenderOptions::new("debian"))?;
    let net = &files.0["/etc/systemd/network/10-cloud-init-ens3.network"];
    let text = String::from_utf8_lossy(&net.content);
    assert!(text.contains("MACAddress=52:54:00:ab:cd:ef"), "{text}");
    assert!(text.contains("DHCP=yes"), "{text}");
    Ok(())
}

#[test]
fn write_files_writes_modes_and_merges_edited_files() -> Result<(), Box<dyn std::error::Error>> {
    let tmp = tempfile::tempdir()?;
    let root = tmp.path();
    fs::create_dir_all(root.join("etc"))?;
    fs::write(
        root.join("etc/resolv.conf"),
        "nameserver 10.0.0.9\noptions rotate\n",
    )?;
    fs::write(
        root.join("etc/rc.conf"),
        "hostname=\"bsd\"\nifconfig_vtnet0=DHCP\n",
    )?;
    fs::create_dir_all(root.join("etc/sysconfig"))?;
    fs::write(
        root.join("etc/sysconfig/network"),
        "NETWORKING=no\nHOSTNAME=keep\n",
    )?;
    let host = Host::new(root);
    let doc = load(
        "version: 1\nconfig:\n- type: physical\n  name: vtnet0\n  subnets:\n  - type: static\n    \
         address: 10.1.0.5/24\n    gateway: 10.1.0.1\n    dns_nameservers: [10.1.0.2]\n",
    );
    let cfg = parse(&doc)?.ok_or("disabled")?;

    write_files(
        &host,
        &render(&cfg, Renderer::Sysconfig, &RenderOptions::new("rhel"))?,
    )?;
    let resolv = fs::read_to_string(root.join("etc/resolv.conf"))?;
    assert_eq!(
        resolv,
        "; Created by cloud-init automatically, do not edit.\n;\n\
         options rotate\nnameserver 10.0.0.9\nnameserver 10.1.0.2\n"
    );
    let network = fs::read_to_string(root.join("etc/sysconfig/network"))?;
    assert_eq!(
        network,
        "# Created by cloud-init automatically, do not edit.\n#\nNETWORKING=yes\nHOSTNAME=keep\n"
    );
    use std::os::unix::fs::PermissionsExt;
    let ifcfg = root.join("etc/sysconfig/network-scripts/ifcfg-vtnet0");
    assert_eq!(fs::metadata(&ifcfg)?.permissions().mode() & 0o777, 0o644);

    write_files(
        &host,
        &render(&cfg, Renderer::Freebsd, &RenderOptions::new("freebsd"))?,
    )?;
    assert_eq!(
        fs::read_to_string(root.join("etc/rc.conf"))?,
        "hostname=\"bsd\"\nifconfig_vtnet0='inet 10.1.0.5 netmask 255.255.255.0'\ndefaultrouter=10.1.0.1\n"
    );

    let v2 =
        parse(&json!({"version": 2, "ethernets": {"eth0": {"dhcp4": true}}}))?.ok_or("disabled")?;
    write_files(
        &host,
        &render(&v2, Renderer::Netplan, &RenderOptions::new("ubuntu"))?,
    )?;
    let np = root.join("etc/netplan/50-cloud-init.yaml");
    assert_eq!(fs::metadata(&np)?.permissions().mode() & 0o777, 0o600);
    Ok(())
}

#[test]
fn networkd_files_need_their_owner_on_the_target() -> Result<(), Box<dyn std::error::Error>> {
    let tmp = tempfile::tempdir()?;
    let host = Host::new(tmp.path());
    let cfg =
        parse(&json!({"version": 2, "ethernets": {"eth0": {"dhcp4": true}}}))?.ok_or("disabled")?;
    let files = render(&cfg, Renderer::Networkd, &RenderOptions::new("debian"))?;
    // no systemd-network user in an empty root: upstream's chown fails too
    assert!(matches!(
        write_files(&host, &files),
        Err(NetError::Io { .. })
    ));
    Ok(())
}

#[test]
fn initramfs_klibc_config_needs_ip_or_iscsi() -> Result<(), Box<dyn std::error::Error>> {
    let tmp = tempfile::tempdir()?;
    let root = tmp.path();
    fs::create_dir_all(root.join("run"))?;
    fs::write(
        root.join("run/net-ens3.conf"),
        "DEVICE='ens3'\nPROTO='dhcp'\nIPV4ADDR='10.0.2.15'\nIPV4NETMASK='255.255.255.0'\n",
    )?;
    fs::write(
        root.join("run/net6-ens3.conf"),
        "DEVICE6='ens3'\nIPV6PROTO='dhcp6'\nIPV6ADDR='fd00::5'\n",
    )?;
    nic(root, "ens3", &[("address", "52:54:00:12:34:56")]);
    let host = Host::new(root);
    if std::env::var_os("DEBUG_PROC_CMDLINE").is_none() {
        // no ip= on the (empty) command line and no open-iscsi: not applicable
        assert_eq!(ci_net::cmdline::read_initramfs_config(&host)?, None);
    }
    fs::create_dir_all(root.join("run/initramfs"))?;
    fs::write(root.join("run/initramfs/open-iscsi.interface"), "ens3\n")?;
    assert_eq!(
        ci_net::cmdline::read_initramfs_config(&host)?,
        Some(json!({"config": [{"type": "physical", "name": "ens3",
            "mac_address": "52:54:00:12:34:56",
            "subnets": [
                {"type": "dhcp", "control": "manual", "netmask": "255.255.255.0"},
                {"type": "dhcp6", "control": "manual"}]}],
            "version": 1}))
    );
    Ok(())
}

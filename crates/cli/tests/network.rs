//! The local stage finds the network config (seed `network-config` here),
//! keeps it as `network-config.json` and renders it with the distro's first
//! available renderer into the root.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use std::os::unix::fs::PermissionsExt;

#[test]
fn seed_network_config_is_rendered_with_the_available_renderer() {
    let Some(base) = debian_root() else { return };
    let net = b"version: 2\nethernets:\n  eth0:\n    dhcp4: true\n  eth1:\n    addresses: [192.0.2.10/24]\n    routes:\n      - to: default\n        via: 192.0.2.1\n";
    let sb = Sandbox::new(
        &base,
        &[
            ("meta-data", b"instance-id: iid-net-1\n"),
            ("user-data", b"#cloud-config\n{}\n"),
            ("network-config", net),
        ],
    );
    // Make ENI "available" as upstream checks it: ifupdown's tools and its file.
    for tool in ["ifquery", "ifup", "ifdown"] {
        sb.write(&format!("/usr/sbin/{tool}"), b"#!/bin/sh\nexit 0\n");
        std::fs::set_permissions(
            sb.path(&format!("/usr/sbin/{tool}")),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
    }
    sb.write(
        "/etc/network/interfaces",
        b"source /etc/network/interfaces.d/*\n",
    );
    assert_eq!(sb.boot(), vec![0, 0, 0, 0], "log:\n{}", sb.log());
    let eni = sb.read("/etc/network/interfaces.d/50-cloud-init");
    assert!(eni.contains("iface eth0 inet dhcp"), "{eni}");
    assert!(eni.contains("address 192.0.2.10/24"), "{eni}");
    // `to: default` crashes upstream's ENI renderer; we render the default route.
    assert!(
        eni.contains("0.0.0.0/0") || eni.contains("default"),
        "{eni}"
    );
    let saved = sb.read("/var/lib/cloud/instances/iid-net-1/network-config.json");
    let v: serde_json::Value = serde_json::from_str(&saved).unwrap();
    assert_eq!(v["ethernets"]["eth1"]["addresses"][0], "192.0.2.10/24");
    let (st, code) = sb.status_json();
    assert_eq!(code, 0, "{st}");
}

#[test]
fn no_available_renderer_is_an_error_record_and_the_boot_goes_on() {
    let Some(base) = debian_root() else { return };
    let sb = Sandbox::new(
        &base,
        &[
            (
                "meta-data",
                b"instance-id: iid-net-2\nlocal-hostname: nethost\n",
            ),
            ("user-data", b"#cloud-config\n{}\n"),
            (
                "network-config",
                b"version: 2\nethernets:\n  eth0:\n    dhcp4: true\n",
            ),
        ],
    );
    assert_eq!(sb.boot(), vec![0, 0, 0, 0]);
    let (st, code) = sb.status_json();
    // As upstream on a root without ifupdown, netplan, NetworkManager or iproute2.
    assert_eq!(code, 2, "{st}");
    assert!(
        st["recoverable_errors"]["ERROR"]
            .to_string()
            .contains("Unable to render networking"),
        "{st}"
    );
    assert_eq!(sb.read("/etc/hostname"), "nethost\n");
}

#[test]
fn invalid_network_config_falls_back_to_dhcp_on_the_best_nic_and_is_degraded() {
    let Some(base) = debian_root() else { return };
    let sb = Sandbox::new(
        &base,
        &[
            ("meta-data", b"instance-id: iid-net-3\n"),
            ("user-data", b"#cloud-config\n{}\n"),
            (
                "network-config",
                b"version: 2\nethernets:\n  eth0:\n    addresses: [1]\n",
            ),
        ],
    );
    for tool in ["ifquery", "ifup", "ifdown"] {
        sb.write(&format!("/usr/sbin/{tool}"), b"#!/bin/sh\nexit 0\n");
        std::fs::set_permissions(
            sb.path(&format!("/usr/sbin/{tool}")),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
    }
    sb.write(
        "/etc/network/interfaces",
        b"source /etc/network/interfaces.d/*\n",
    );
    sb.write("/sys/class/net/ens3/address", b"52:54:00:12:34:56\n");
    sb.write("/sys/class/net/ens3/carrier", b"1\n");
    assert_eq!(sb.boot(), vec![0, 0, 0, 0], "log:\n{}", sb.log());
    let eni = sb.read("/etc/network/interfaces.d/50-cloud-init");
    assert!(
        eni.contains("iface ens3 inet dhcp"),
        "{eni}\nlog:\n{}",
        sb.log()
    );
    let (st, code) = sb.status_json();
    assert_eq!(code, 2, "{st}");
    let warnings = st["recoverable_errors"]["WARNING"].to_string();
    // The key path and message as `cloud-init schema -t network-config`
    // (and upstream's) print them.
    assert!(
        warnings.contains("ethernets.eth0.addresses.0: 1 is not of type 'string'"),
        "{warnings}"
    );
}

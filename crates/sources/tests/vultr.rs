//! The Vultr datasource against the ci-imds Vultr emulator on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "common/gce.rs"]
mod kit;

use ci_host::Host;
use ci_imds::Faults;
use ci_sources::ephemeral::RecordingNet;
use ci_sources::vultr::Vultr;
use ci_sources::{from_cache, Datasource, SourceContext, SourceError, SourceOptions, Stage};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const IID: &str = "3c3f1f4e-5a8c-4a0b-9d3e-0123456789ab";
const META: &str = r#"
instance-id: 3c3f1f4e-5a8c-4a0b-9d3e-0123456789ab
local-hostname: vultr-1
region: ewr
country: us
public-keys: [ssh-ed25519 AAAAC3VU vu@host]
interfaces:
  - mac: "56:00:03:1b:4e:ca"
    network-type: public
    mtu: 1450
    ipv4:
      address: 149.28.1.2
      netmask: 255.255.254.0
      gateway: 149.28.0.1
      additional:
        - {address: 149.28.9.9, netmask: 255.255.255.255, routes: [{network: 0.0.0.0, netmask: 0.0.0.0, gateway: 149.28.0.1}]}
    ipv6:
      network: "2001:19f0:5:1::"
      prefix: "64"
      additional:
        - {network: "2001:19f0:5:2::", prefix: "64"}
  - mac: "5a:00:03:1b:4e:ca"
    network-type: private
    mtu: 1450
    accept-ra: 0
    ipv4: {address: 10.1.96.3, netmask: 255.255.240.0, additional: []}
    ipv6: {additional: []}
  - mac: "5a:00:03:1b:4e:cb"
    unconfigured: true
"#;
const UD: &[u8] = b"#cloud-config\nruncmd: [echo vu]\n";
const VD: &[u8] = b"#cloud-config\npackages: [tmux]\n";

fn vu_root() -> (tempfile::TempDir, Host) {
    kit::root(
        &[
            ("sys_vendor", "Vultr"),
            ("product_serial", "12345678"),
            ("product_uuid", "12345678"),
        ],
        &[
            ("enp1s0", "56:00:03:1b:4e:ca"),
            ("enp6s0", "5a:00:03:1b:4e:ca"),
            ("dummy0", "5a:00:03:1b:4e:ff"),
        ],
    )
}

fn cfg(extra: Value) -> Value {
    let mut d = json!({"retries": 0, "timeout": 1, "wait": 0});
    if let (Value::Object(a), Value::Object(b)) = (&mut d, extra) {
        a.extend(b);
    }
    json!({"datasource": {"Vultr": d}})
}

fn crawl(
    url: &str,
    host: &Host,
    cfg: &Value,
    net: &RecordingNet,
) -> (Vultr, Result<bool, SourceError>) {
    let mut ds = Vultr::new(Stage::Local, SourceOptions::default()).with_url(url);
    let ctx = SourceContext::new(host, cfg, Stage::Local)
        .with_cmdline("")
        .with_net(net);
    let r = ds.crawl(&ctx);
    (ds, r)
}

#[test]
fn success_and_network_config() {
    common::capture();
    let seed = kit::seed_dir(&[
        ("meta-data", META.as_bytes()),
        ("user-data", UD),
        ("vendor-data", VD),
    ]);
    let srv = kit::serve("vultr", &seed, Faults::default());
    let (_d, host) = vu_root();
    let net = RecordingNet::new();
    let ctx = SourceContext::new(&host, &Value::Null, Stage::Local).with_cmdline("");
    let (ds, r) = crawl(&srv.url(), &host, &cfg(json!({})), &net);
    assert!(ds.ds_detect(&ctx));
    assert!(r.unwrap());
    assert_eq!(
        net.events(),
        ["up Dhcp4 { iface: Some(\"enp1s0\") }", "down enp1s0"]
    );
    assert_eq!(ds.instance_id(), IID);
    assert_eq!(ds.local_hostname(&host).as_deref(), Some("vultr-1"));
    assert_eq!(ds.region().as_deref(), Some("us"));
    assert_eq!(ds.public_ssh_keys(), ["ssh-ed25519 AAAAC3VU vu@host"]);
    assert_eq!(ds.userdata_raw(), Some(UD));
    assert_eq!(ds.vendordata_raw(), Some(VD));
    assert_eq!(ds.cloud_name(), "vultr");
    assert_eq!(ds.platform_type(), "vultr");
    assert_eq!(ds.launch_index(), None);
    assert_eq!(ds.metadata()["instanceid"], "33145840930123456789");
    let expected = json!({"version": 1, "config": [
        {"type": "nameserver", "address": ["108.61.10.10", "2001:19f0:300:1704::6"]},
        {"name": "enp1s0", "type": "physical", "mac_address": "56:00:03:1b:4e:ca", "accept-ra": 1,
         "subnets": [
            {"type": "dhcp", "control": "auto"},
            {"type": "ipv6_slaac", "control": "auto"},
            {"type": "static", "control": "auto", "address": "149.28.9.9", "netmask": "255.255.255.255",
             "routes": [{"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": "149.28.0.1"}]},
            {"type": "static6", "control": "auto", "address": "2001:19f0:5:2::/64"}
         ], "mtu": 1450},
        {"name": "enp6s0", "type": "physical", "mac_address": "5a:00:03:1b:4e:ca",
         "subnets": [{"type": "static", "control": "auto", "address": "10.1.96.3", "netmask": "255.255.240.0"}],
         "mtu": 1450, "accept-ra": 0}
    ]});
    let got = ds.network_config().unwrap();
    assert_eq!(
        serde_json::to_string(&got).unwrap(),
        serde_json::to_string(&expected).unwrap()
    );
    assert!(common::warnings().is_empty(), "{:?}", common::warnings());
    // Upstream compares the serial with the system UUID.
    assert!(ds.check_instance_id(&ctx));
    let back = from_cache(&ds.to_cache(), &SourceOptions::default()).unwrap();
    assert_eq!(back.class_name(), "DataSourceVultr");
    assert_eq!(back.network_config(), Some(got));
}

#[test]
fn cloud_interfaces_empty_user_data_and_hostname() {
    common::capture();
    let meta = r#"
instance-id: abc
local-hostname: ""
vultr:
  cloud_interfaces:
    version: 1
    config:
      - {type: physical, mac_address: "5a:00:03:1b:4e:ca"}
      - {type: nameserver, address: [1.1.1.1]}
"#;
    let seed = kit::seed_dir(&[("meta-data", meta.as_bytes())]);
    let srv = kit::serve("vultr", &seed, Faults::default());
    let (_d, host) = vu_root();
    let (ds, r) = crawl(&srv.url(), &host, &cfg(json!({})), &RecordingNet::new());
    assert!(r.unwrap());
    assert_eq!(ds.local_hostname(&host).as_deref(), Some("guest"));
    assert_eq!(ds.userdata_raw(), None);
    assert_eq!(ds.vendordata_raw(), Some(&b""[..]));
    assert_eq!(
        ds.network_config().unwrap()["config"][0],
        json!({"type": "physical", "mac_address": "5a:00:03:1b:4e:ca", "name": "enp6s0"})
    );
}

#[test]
fn detection() {
    let (_d, host) = kit::root(&[("sys_vendor", "QEMU")], &[("eth0", "52:54:00:00:00:01")]);
    let ds = Vultr::new(Stage::Local, SourceOptions::default());
    let ctx = SourceContext::new(&host, &Value::Null, Stage::Local);
    assert!(!ds.ds_detect(&ctx.clone().with_cmdline("root=/dev/vda1")));
    assert!(ds.ds_detect(&ctx.clone().with_cmdline("root=/dev/vda1 vultr")));
    // Not a Vultr VM (bare metal by upstream's test): never the same instance.
    assert!(!ds.check_instance_id(&ctx.with_cmdline("vultr")));
}

#[test]
fn every_nic_fails() {
    common::capture();
    let seed = kit::seed_dir(&[("meta-data", META.as_bytes())]);
    let srv = kit::serve("vultr", &seed, kit::not_found("v1.json"));
    let (_d, host) = vu_root();
    let net = RecordingNet::new();
    let t = Instant::now();
    let (_ds, r) = crawl(&srv.url(), &host, &cfg(json!({"retries": 1})), &net);
    assert!(r.is_err());
    assert!(t.elapsed() < Duration::from_secs(3));
    // Each candidate NIC (not dummy0) tried in turn, each read retried once.
    assert_eq!(
        net.events(),
        [
            "up Dhcp4 { iface: Some(\"enp1s0\") }",
            "down enp1s0",
            "up Dhcp4 { iface: Some(\"enp6s0\") }",
            "down enp6s0"
        ]
    );
    // Per NIC: the connectivity check (404 here), then two reads.
    assert_eq!(srv.requests().len(), 6);
    let errors: Vec<String> = common::records()
        .into_iter()
        .filter(|(l, _, _)| *l == log::Level::Error)
        .map(|(_, _, m)| m)
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors.iter().all(|e| e.starts_with("DHCP Exception: ")));
}

#[test]
fn slow_hung_truncated_and_retried() {
    let seed = kit::seed_dir(&[("meta-data", META.as_bytes())]);
    for (faults, budget) in [
        // Per NIC (two): the connectivity check waits (up to 5 s), the read
        // is cut at 1 s.
        (kit::delay(1500), Duration::from_secs(7)),
        (kit::hang("v1.json"), Duration::from_secs(4)),
        (kit::truncate("v1.json"), Duration::from_secs(3)),
    ] {
        let srv = kit::serve("vultr", &seed, faults);
        let (_d, host) = vu_root();
        let t = Instant::now();
        let (_ds, r) = crawl(&srv.url(), &host, &cfg(json!({})), &RecordingNet::new());
        assert!(r.is_err());
        assert!(t.elapsed() < budget, "took {:?}", t.elapsed());
    }
    let srv = kit::serve("vultr", &seed, kit::fail_first(2, 503));
    let (_d, host) = vu_root();
    let (ds, r) = crawl(
        &srv.url(),
        &host,
        &cfg(json!({"retries": 2})),
        &RecordingNet::new(),
    );
    assert!(r.unwrap());
    assert_eq!(ds.instance_id(), IID);
}

#[test]
fn crawl_matches_upstream() {
    common::capture();
    let srv = kit::serve_fixture("vultr", "vultr-seed");
    let (_d, host) = vu_root();
    let (ds, r) = crawl(&srv.url(), &host, &cfg(json!({})), &RecordingNet::new());
    assert!(r.unwrap());
    kit::assert_matches_oracle(&ds, &host, "vultr-oracle.json", &srv.url());
}

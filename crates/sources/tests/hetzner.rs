//! The Hetzner datasource against the ci-imds Hetzner emulator on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "common/gce.rs"]
mod kit;

use ci_host::Host;
use ci_imds::Faults;
use ci_sources::ephemeral::RecordingNet;
use ci_sources::hetzner::Hetzner;
use ci_sources::{from_cache, Datasource, SourceContext, SourceError, SourceOptions, Stage};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const META: &str = r#"
instance-id: 1234567
local-hostname: hcloud-1
region: eu-central
availability-zone: fsn1-dc14
public-keys:
  - ssh-ed25519 AAAAC3HZ hz@host
"#;
const NETCFG: &str = r#"version: 1
config:
  - type: physical
    name: eth0
    mac_address: "96:00:00:11:22:33"
    subnets:
      - {type: dhcp, ipv4: true}
      - {type: static, address: "2a01:4f8::1/64", gateway: "fe80::1", ipv6: true}
"#;
/// `#cloud-config\nruncmd: [echo hz]\n`, base64-encoded as Hetzner may serve it.
const UD_B64: &[u8] = b"I2Nsb3VkLWNvbmZpZwpydW5jbWQ6IFtlY2hvIGh6XQo=";
const UD: &[u8] = b"#cloud-config\nruncmd: [echo hz]\n";
const VD: &[u8] = b"#cloud-config\npackages: [jq]\n";

fn hz_root(serial: Option<&str>) -> (tempfile::TempDir, Host) {
    let mut dmi = vec![("sys_vendor", "Hetzner")];
    if let Some(s) = serial {
        dmi.push(("product_serial", s));
    }
    kit::root(&dmi, &[("eth0", "96:00:00:11:22:33")])
}

fn cfg(extra: Value) -> Value {
    let mut d = json!({"retries": 0, "timeout": 1, "wait_retry": 0});
    if let (Value::Object(a), Value::Object(b)) = (&mut d, extra) {
        a.extend(b);
    }
    json!({"datasource": {"Hetzner": d}})
}

fn crawl(
    url: &str,
    host: &Host,
    cfg: &Value,
    net: &RecordingNet,
) -> (Hetzner, Result<bool, SourceError>) {
    let mut ds = Hetzner::new(Stage::Local, SourceOptions::default())
        .with_base_url(format!("{url}/hetzner/v1"));
    let ctx = SourceContext::new(host, cfg, Stage::Local)
        .with_cmdline("")
        .with_net(net);
    let r = ds.crawl(&ctx);
    (ds, r)
}

fn full_seed() -> tempfile::TempDir {
    kit::seed_dir(&[
        ("meta-data", META.as_bytes()),
        ("network-config", NETCFG.as_bytes()),
        ("user-data", UD_B64),
        ("vendor-data", VD),
    ])
}

#[test]
fn success_over_dhcp() {
    common::capture();
    let seed = full_seed();
    // The connectivity check fails, so DHCP is needed.
    let srv = kit::serve("hetzner", &seed, kit::not_found("metadata/instance-id"));
    let (_d, host) = hz_root(Some("1234567"));
    let net = RecordingNet::new();
    let (ds, r) = crawl(&srv.url(), &host, &cfg(json!({})), &net);
    assert!(r.unwrap());
    assert_eq!(
        net.events(),
        ["up Dhcp4 { iface: Some(\"eth0\") }", "down eth0"]
    );
    assert_eq!(ds.instance_id(), "1234567");
    assert_eq!(ds.local_hostname(&host).as_deref(), Some("hcloud-1"));
    assert_eq!(ds.public_ssh_keys(), ["ssh-ed25519 AAAAC3HZ hz@host"]);
    assert_eq!(ds.userdata_raw(), Some(UD));
    assert_eq!(ds.vendordata_raw(), Some(VD));
    assert_eq!(ds.network_config(), Some(ci_yaml::load(NETCFG).unwrap()));
    assert_eq!(ds.cloud_name(), "hetzner");
    assert_eq!(ds.platform_type(), "hetzner");
    assert_eq!(
        ds.subplatform(),
        format!("metadata ({}/hetzner/v1/metadata)", srv.url())
    );
    assert_eq!(ds.metadata_full()["availability-zone"], "fsn1-dc14");
    assert_eq!(
        ds.metadata()
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        [
            "instance-id",
            "local-hostname",
            "network-config",
            "public-keys"
        ]
    );
    assert_eq!(srv.requests().len(), 3);
    assert!(common::warnings().is_empty(), "{:?}", common::warnings());
    let ctx = SourceContext::new(&host, &Value::Null, Stage::Local).with_cmdline("");
    assert!(ds.check_instance_id(&ctx));
    let back = from_cache(&ds.to_cache(), &SourceOptions::default()).unwrap();
    assert_eq!(back.class_name(), "DataSourceHetzner");
    assert_eq!(back.network_config(), ds.network_config());
    assert_eq!(back.userdata_raw(), Some(UD));
}

#[test]
fn plain_user_data_and_default_network() {
    common::capture();
    let seed = kit::seed_dir(&[("meta-data", b"instance-id: 42\n")]);
    let srv = kit::serve("hetzner", &seed, Faults::default());
    let (_d, host) = hz_root(Some("42"));
    let (ds, r) = crawl(&srv.url(), &host, &cfg(json!({})), &RecordingNet::new());
    assert!(r.unwrap());
    // No user-data: Hetzner answers an empty body.
    assert_eq!(ds.userdata_raw(), Some(&b""[..]));
    assert_eq!(ds.vendordata_raw(), None);
    assert_eq!(ds.network_config().unwrap()["config"][0]["name"], "eth0");
}

#[test]
fn network_already_up_skips_dhcp() {
    common::capture();
    let seed = full_seed();
    let srv = kit::serve("hetzner", &seed, Faults::default());
    let (_d, host) = hz_root(Some("1234567"));
    let net = RecordingNet::new();
    let (ds, r) = crawl(&srv.url(), &host, &cfg(json!({})), &net);
    assert!(r.unwrap());
    assert!(net.events().is_empty());
    assert_eq!(ds.instance_id(), "1234567");
    assert_eq!(srv.count("GET", "/hetzner/v1/metadata/instance-id"), 1);
}

#[test]
fn identity_checks() {
    common::capture();
    let seed = full_seed();
    let srv = kit::serve("hetzner", &seed, Faults::default());
    let (_d, host) = hz_root(Some("7654321"));
    let (_ds, r) = crawl(&srv.url(), &host, &cfg(json!({})), &RecordingNet::new());
    assert_eq!(
        r.unwrap_err().to_string(),
        "Hetzner: SMBIOS serial does not match instance ID from metadata"
    );
    let (_d, host) = hz_root(None);
    let (_ds, r) = crawl(&srv.url(), &host, &cfg(json!({})), &RecordingNet::new());
    assert_eq!(
        r.unwrap_err().to_string(),
        "Hetzner: Hetzner Cloud detected, but no serial found"
    );
    let n = srv.requests().len();
    let (_d, host) = kit::root(&[("sys_vendor", "QEMU")], &[("eth0", "96:00:00:11:22:33")]);
    let net = RecordingNet::new();
    let (_ds, r) = crawl(&srv.url(), &host, &cfg(json!({})), &net);
    assert!(!r.unwrap());
    assert!(net.events().is_empty());
    assert_eq!(srv.requests().len(), n);
}

#[test]
fn dhcp_failure_bails() {
    common::capture();
    let seed = full_seed();
    let srv = kit::serve("hetzner", &seed, kit::not_found("metadata/instance-id"));
    let (_d, host) = hz_root(Some("1234567"));
    let (_ds, r) = crawl(&srv.url(), &host, &cfg(json!({})), &RecordingNet::failing());
    assert!(r.is_err());
    assert!(common::records()
        .iter()
        .any(|(l, _, m)| *l == log::Level::Error && m.starts_with("Bailing, DHCP Exception: ")));
    // Only the connectivity check was asked.
    assert_eq!(srv.requests().len(), 1);
}

fn expect_error(faults: Faults, extra: Value, budget: Duration) -> usize {
    common::capture();
    let seed = full_seed();
    let srv = kit::serve("hetzner", &seed, faults);
    let (_d, host) = hz_root(Some("1234567"));
    let net = RecordingNet::new();
    let t = Instant::now();
    let (_ds, r) = crawl(&srv.url(), &host, &cfg(extra), &net);
    assert!(r.is_err(), "{r:?}");
    assert!(t.elapsed() < budget, "took {:?}", t.elapsed());
    // A lease taken is always given back.
    assert_eq!(net.events().len() % 2, 0, "{:?}", net.events());
    srv.requests().len()
}

#[test]
fn faults_are_bounded() {
    // 404 on user-data: the connectivity check, metadata once, user-data
    // 1 + 2 retries.
    assert_eq!(
        expect_error(
            kit::not_found("userdata"),
            json!({"retries": 2}),
            Duration::from_secs(3)
        ),
        5
    );
    // The check fails too (DHCP then), metadata 1 + 1 retry.
    assert_eq!(
        expect_error(
            kit::fail_first(9, 502),
            json!({"retries": 1}),
            Duration::from_secs(3)
        ),
        3
    );
    // The check waits (up to 5 s); each metadata attempt is cut at 1 s.
    expect_error(
        kit::delay(1500),
        json!({"retries": 1}),
        Duration::from_secs(5),
    );
    expect_error(kit::hang("metadata"), json!({}), Duration::from_secs(3));
    expect_error(kit::truncate("metadata"), json!({}), Duration::from_secs(3));
    // Retried past transient failures: found.
    common::capture();
    let seed = full_seed();
    let srv = kit::serve("hetzner", &seed, kit::fail_first(2, 500));
    let (_d, host) = hz_root(Some("1234567"));
    let (ds, r) = crawl(
        &srv.url(),
        &host,
        &cfg(json!({"retries": 3})),
        &RecordingNet::new(),
    );
    assert!(r.unwrap());
    assert_eq!(ds.instance_id(), "1234567");
}

#[test]
fn crawl_matches_upstream() {
    common::capture();
    let srv = kit::serve_fixture("hetzner", "hetzner-seed");
    let (_d, host) = hz_root(Some("1234567"));
    let (ds, r) = crawl(&srv.url(), &host, &cfg(json!({})), &RecordingNet::new());
    assert!(r.unwrap());
    kit::assert_matches_oracle(&ds, &host, "hetzner-oracle.json", &srv.url());
}

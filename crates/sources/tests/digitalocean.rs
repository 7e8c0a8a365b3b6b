//! The DigitalOcean datasource against the ci-imds DigitalOcean emulator
//! on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "common/gce.rs"]
mod kit;

use ci_host::Host;
use ci_imds::Faults;
use ci_sources::digitalocean::DigitalOcean;
use ci_sources::ephemeral::RecordingNet;
use ci_sources::{from_cache, Datasource, SourceContext, SourceError, SourceOptions, Stage};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const PUB_MAC: &str = "04:01:58:27:7f:01";
const PRIV_MAC: &str = "04:01:58:27:7f:02";

const META: &str = r#"
instance-id: 2756294
local-hostname: droplet-1
region: nyc3
public-keys:
  - ssh-ed25519 AAAAC3DO do@host
interfaces:
  public:
    - mac: "04:01:58:27:7f:01"
      type: public
      ipv4: {ip_address: 45.55.50.93, netmask: 255.255.224.0, gateway: 45.55.32.1}
      ipv6: {ip_address: "2604:a880:800:10::d6:1001", cidr: 64, gateway: "2604:a880:800:10::1"}
      anchor_ipv4: {ip_address: 10.17.0.9, netmask: 255.255.0.0, gateway: 10.17.0.1}
  private:
    - mac: "04:01:58:27:7f:02"
      type: private
      ipv4: {ip_address: 10.132.75.35, netmask: 255.255.0.0, gateway: 10.132.0.1}
dns-nameservers: [2001:4860:4860::8844, 8.8.8.8]
"#;
const UD: &[u8] = b"#cloud-config\nruncmd: [echo do]\n";
const VD: &[u8] = b"#cloud-config\npackages: [htop]\n";
const DEPRECATION: &str = "DataSourceDigitalOcean is deprecated in 23.2 and scheduled to be removed in 28.2. Deprecated in favour of DataSourceConfigDrive.";

fn do_root(serial: &str) -> (tempfile::TempDir, Host) {
    kit::root(
        &[("sys_vendor", "DigitalOcean"), ("product_serial", serial)],
        &[("ens3", PUB_MAC), ("ens4", PRIV_MAC)],
    )
}

fn cfg(extra: Value) -> Value {
    let mut d = json!({"retries": 0, "timeout": 1, "wait_retry": 0});
    if let (Value::Object(a), Value::Object(b)) = (&mut d, extra) {
        a.extend(b);
    }
    json!({"datasource": {"DigitalOcean": d}})
}

fn crawl(
    srv_url: &str,
    host: &Host,
    cfg: &Value,
    net: &RecordingNet,
) -> (DigitalOcean, Result<bool, SourceError>) {
    let mut ds = DigitalOcean::new(Stage::Local, SourceOptions::default())
        .with_metadata_url(format!("{srv_url}/metadata/v1.json"));
    let ctx = SourceContext::new(host, cfg, Stage::Local)
        .with_cmdline("")
        .with_net(net);
    let r = ds.crawl(&ctx);
    (ds, r)
}

/// Warnings other than the once-per-process deprecation notice.
fn warnings() -> Vec<String> {
    common::warnings()
        .into_iter()
        .filter(|w| w != DEPRECATION)
        .collect()
}

#[test]
fn success_with_link_local() {
    common::capture();
    let seed = kit::seed_dir(&[
        ("meta-data", META.as_bytes()),
        ("user-data", UD),
        ("vendor-data", VD),
    ]);
    let srv = kit::serve("digitalocean", &seed, Faults::default());
    let (_d, host) = do_root("2756294");
    let net = RecordingNet::new();
    let (ds, r) = crawl(&srv.url(), &host, &cfg(json!({})), &net);
    assert!(r.unwrap());
    // The physical NIC with the lowest ifindex carried the link-local address.
    assert_eq!(
        net.events(),
        ["up LinkLocal4 { iface: Some(\"ens3\") }", "down ens3"]
    );
    assert_eq!(ds.instance_id(), "2756294");
    assert_eq!(ds.local_hostname(&host).as_deref(), Some("droplet-1"));
    assert_eq!(ds.availability_zone().as_deref(), Some("nyc3"));
    assert_eq!(ds.region(), None);
    assert_eq!(ds.public_ssh_keys(), ["ssh-ed25519 AAAAC3DO do@host"]);
    assert_eq!(ds.userdata_raw(), Some(UD));
    assert_eq!(ds.vendordata_raw(), Some(VD));
    assert_eq!(ds.cloud_name(), "digitalocean");
    assert_eq!(ds.platform_type(), "digitalocean");
    assert_eq!(
        ds.subplatform(),
        format!("metadata ({}/metadata/v1.json)", srv.url())
    );
    assert_eq!(
        ds.metadata_full()["features"],
        json!({"dhcp_enabled": false})
    );
    assert_eq!(
        ds.metadata()
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        [
            "instance-id",
            "local-hostname",
            "interfaces",
            "public-keys",
            "availability_zone"
        ]
    );
    let expected = json!({"version": 1, "config": [
        {"type": "physical", "mac_address": PUB_MAC, "name": "eth0", "subnets": [
            {"type": "static", "control": "auto", "address": "45.55.50.93",
             "gateway": "45.55.32.1", "netmask": "255.255.224.0"},
            {"type": "static", "control": "auto", "address": "2604:a880:800:10::d6:1001/64",
             "gateway": "2604:a880:800:10::1"},
            {"type": "static", "control": "auto", "address": "10.17.0.9", "netmask": "255.255.0.0"}
        ]},
        {"type": "physical", "mac_address": PRIV_MAC, "name": "eth1", "subnets": [
            {"type": "static", "control": "auto", "address": "10.132.75.35", "netmask": "255.255.0.0"}
        ]},
        {"type": "nameserver", "address": ["2001:4860:4860::8844", "8.8.8.8"]}
    ]});
    let got = ds.network_config().unwrap();
    assert_eq!(
        serde_json::to_string(&got).unwrap(),
        serde_json::to_string(&expected).unwrap()
    );
    assert!(warnings().is_empty(), "{:?}", warnings());
    // The droplet id in the DMI serial confirms the cached instance.
    let ctx = SourceContext::new(&host, &Value::Null, Stage::Local).with_cmdline("");
    assert!(ds.check_instance_id(&ctx));
    let (_d2, other) = do_root("999");
    assert!(!ds.check_instance_id(&SourceContext::new(&other, &Value::Null, Stage::Local)));

    let back = from_cache(&ds.to_cache(), &SourceOptions::default()).unwrap();
    assert_eq!(back.class_name(), "DataSourceDigitalOcean");
    assert_eq!(back.network_config(), Some(got));
    assert_eq!(back.vendordata_raw(), Some(VD));
}

#[test]
fn without_link_local_and_unknown_nic() {
    common::capture();
    let seed = kit::seed_dir(&[("meta-data", b"instance-id: 77\nmac: 04:01:00:00:00:99\n")]);
    let srv = kit::serve("digitalocean", &seed, Faults::default());
    let (_d, host) = do_root("77");
    let net = RecordingNet::new();
    let (ds, r) = crawl(&srv.url(), &host, &cfg(json!({"use_ip4LL": false})), &net);
    assert!(r.unwrap());
    assert!(net.events().is_empty());
    assert_eq!(ds.userdata_raw(), None);
    assert_eq!(ds.vendordata_raw(), None);
    // The public NIC's MAC is not on this machine: no network config.
    assert_eq!(ds.network_config(), None);
    assert!(common::records().iter().any(|(l, _, m)| *l == log::Level::Error
        && m.starts_with("DigitalOcean network config: Did not find network interface on system with mac '04:01:00:00:00:99'")));
}

#[test]
fn not_digitalocean_or_no_serial() {
    common::capture();
    let seed = kit::seed_dir(&[("meta-data", META.as_bytes())]);
    let srv = kit::serve("digitalocean", &seed, Faults::default());
    let (_d, host) = kit::root(&[("sys_vendor", "QEMU")], &[("ens3", PUB_MAC)]);
    let net = RecordingNet::new();
    let (_ds, r) = crawl(&srv.url(), &host, &cfg(json!({})), &net);
    assert!(!r.unwrap());
    let (_d, host) = kit::root(&[("sys_vendor", "DigitalOcean")], &[("ens3", PUB_MAC)]);
    let (_ds, r) = crawl(&srv.url(), &host, &cfg(json!({})), &net);
    assert!(r.unwrap_err().to_string().contains("did not provide an ID"));
    assert!(net.events().is_empty());
    assert!(srv.requests().is_empty());
}

#[test]
fn link_local_failure_is_an_error() {
    common::capture();
    let seed = kit::seed_dir(&[("meta-data", META.as_bytes())]);
    let srv = kit::serve("digitalocean", &seed, Faults::default());
    let (_d, host) = do_root("2756294");
    let (_ds, r) = crawl(&srv.url(), &host, &cfg(json!({})), &RecordingNet::failing());
    assert!(r.is_err());
    assert_eq!(
        warnings(),
        ["ip4LL address assignment of '169.254.0.0/16' to 'ens3' failed. Droplet networking will be broken"]
    );
    assert!(srv.requests().is_empty());
}

fn expect_error(faults: Faults, extra: Value, budget: Duration) -> usize {
    common::capture();
    let seed = kit::seed_dir(&[("meta-data", META.as_bytes())]);
    let srv = kit::serve("digitalocean", &seed, faults);
    let (_d, host) = do_root("2756294");
    let net = RecordingNet::new();
    let t = Instant::now();
    let (_ds, r) = crawl(&srv.url(), &host, &cfg(extra), &net);
    assert!(r.is_err(), "{r:?}");
    assert!(t.elapsed() < budget, "took {:?}", t.elapsed());
    // The link-local address is removed on failure too.
    assert_eq!(net.events().last().map(String::as_str), Some("down ens3"));
    srv.requests().len()
}

#[test]
fn not_found_and_server_errors() {
    assert_eq!(
        expect_error(
            kit::not_found("v1.json"),
            json!({"retries": 2}),
            Duration::from_secs(3)
        ),
        3
    );
    assert_eq!(
        expect_error(
            kit::fail_first(5, 500),
            json!({"retries": 1}),
            Duration::from_secs(3)
        ),
        2
    );
    // Retried past the failures: found.
    common::capture();
    let seed = kit::seed_dir(&[("meta-data", META.as_bytes())]);
    let srv = kit::serve("digitalocean", &seed, kit::fail_first(2, 500));
    let (_d, host) = do_root("2756294");
    let (ds, r) = crawl(
        &srv.url(),
        &host,
        &cfg(json!({"retries": 2})),
        &RecordingNet::new(),
    );
    assert!(r.unwrap());
    assert_eq!(ds.instance_id(), "2756294");
    assert_eq!(srv.requests().len(), 3);
}

#[test]
fn slow_hung_and_truncated() {
    expect_error(
        kit::delay(3000),
        json!({"retries": 1}),
        Duration::from_secs(4),
    );
    expect_error(kit::hang("v1.json"), json!({}), Duration::from_secs(3));
    expect_error(kit::truncate("v1.json"), json!({}), Duration::from_secs(3));
}

#[test]
fn crawl_matches_upstream() {
    common::capture();
    let srv = kit::serve_fixture("digitalocean", "digitalocean-seed");
    let (_d, host) = do_root("2756294");
    let (ds, r) = crawl(
        &srv.url(),
        &host,
        &cfg(json!({"use_ip4LL": false})),
        &RecordingNet::new(),
    );
    assert!(r.unwrap());
    kit::assert_matches_oracle(&ds, &host, "digitalocean-oracle.json", &srv.url());
}

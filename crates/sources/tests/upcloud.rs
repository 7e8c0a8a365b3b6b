//! The UpCloud datasource against the ci-imds UpCloud emulator on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "common/scaleway.rs"]
mod helpers;

use ci_host::Host;
use ci_imds::Faults;
use ci_sources::ephemeral::RecordingNet;
use ci_sources::upcloud::UpCloud;
use ci_sources::{by_name, from_cache, Datasource, SourceContext, SourceOptions, Stage};
use helpers::{dead_url, seed, serve, within};
use serde_json::{json, Value};
use std::time::Duration;

const UUID: &str = "00b4ff0c-6e0a-4b1e-9c4e-2a6f0f1e0a01";
const META: &str = r#"
instance-id: 00b4ff0c-6e0a-4b1e-9c4e-2a6f0f1e0a01
local-hostname: up-web-1.example.com
region: de-fra1
public-keys: [ssh-ed25519 AAAAC3 me@x]
network:
  interfaces:
    - index: 1
      mac: "32:d5:ba:4a:36:e7"
      type: public
      ip_addresses:
        - {address: 94.237.105.53, dhcp: true, dns: [94.237.127.9], family: IPv4,
           gateway: 94.237.104.1, network: 94.237.104.0/22}
        - {address: "2a04:3545:1000:720::2", dhcp: false, dns: [], family: IPv6,
           gateway: "2a04:3545:1000:720::1", network: "2a04:3545:1000:720::/64"}
    - index: 2
      mac: "32:d5:ba:4a:84:cc"
      type: utility
      ip_addresses:
        - {address: 10.6.3.27, dhcp: true, dns: [], family: IPv4, gateway: 10.6.0.1, network: 10.6.0.0/22}
  dns: [94.237.127.9, 94.237.40.9]
"#;
const USER: &str = "#cloud-config\nruncmd: [echo up]\n";
const VENDOR: &str = "#cloud-config\nntp: {enabled: true}\n";

fn root(upcloud: bool, uuid: Option<&str>) -> (tempfile::TempDir, Host) {
    let d = tempfile::tempdir().unwrap();
    let h = Host::new(d.path());
    if upcloud {
        common::write(&h, "/sys/class/dmi/id/sys_vendor", "UpCloud\n");
    }
    if let Some(u) = uuid {
        common::write(&h, "/sys/class/dmi/id/product_uuid", &format!("{u}\n"));
    }
    common::write(&h, "/sys/class/net/eth0/address", "32:d5:ba:4a:36:e7\n");
    common::write(&h, "/sys/class/net/eth1/address", "32:d5:ba:4a:84:cc\n");
    common::write(&h, "/sys/class/net/lo/address", "00:00:00:00:00:00\n");
    (d, h)
}

fn cfg(retries: u32) -> Value {
    json!({"datasource": {"UpCloud": {"retries": retries, "timeout": 1, "wait_retry": 0.05}}})
}

fn ds(stage: Stage, url: &str) -> UpCloud {
    UpCloud::new(stage, SourceOptions::default())
        .with_metadata_url(format!("{url}/metadata/v1.json"))
}

#[test]
fn local_stage_crawls_with_dhcp() {
    common::capture();
    let s = seed(META, Some(USER), Some(VENDOR));
    let srv = serve("upcloud", s.path(), Faults::default());
    let (_d, host) = root(true, Some(UUID));
    let config = cfg(0);
    let net = RecordingNet::new();
    let ctx = SourceContext::new(&host, &config, Stage::Local).with_net(&net);
    let mut ds = ds(Stage::Local, &srv.url());
    assert!(ds.crawl(&ctx).unwrap());
    assert_eq!(net.events(), ["up Dhcp4 { iface: None }", "down eth0"]);
    assert_eq!(ds.class_name(), "DataSourceUpCloudLocal");
    assert_eq!(ds.instance_id(), UUID);
    assert_eq!(ds.metadata()["availability_zone"], "de-fra1");
    assert_eq!(ds.availability_zone().as_deref(), Some("de-fra1"));
    assert_eq!(ds.region(), None);
    assert_eq!(ds.local_hostname(&host).as_deref(), Some("up-web-1"));
    assert_eq!(
        ds.get_hostname(&host, true, false).hostname.as_deref(),
        Some("up-web-1.example.com")
    );
    assert_eq!(ds.public_ssh_keys(), vec!["ssh-ed25519 AAAAC3 me@x"]);
    assert_eq!(ds.userdata_raw(), Some(USER.as_bytes()));
    assert_eq!(ds.vendordata_raw(), Some(VENDOR.as_bytes()));
    assert_eq!(ds.platform_type(), "upcloud");
    assert_eq!(ds.cloud_name(), "upcloud");
    assert_eq!(
        ds.subplatform(),
        format!("metadata ({}/metadata/v1.json)", srv.url())
    );
    assert_eq!(ds.metadata_full()["hostname"], "up-web-1.example.com");
    assert_eq!(
        ds.network_config().unwrap(),
        json!({"version": 1, "config": [
            {"type": "physical", "name": "eth0", "mac_address": "32:d5:ba:4a:36:e7", "subnets": [
                {"type": "dhcp"},
                {"type": "static6", "control": "auto", "address": "2a04:3545:1000:720::2",
                 "gateway": "2a04:3545:1000:720::1", "netmask": "64"}]},
            {"type": "physical", "name": "eth1", "mac_address": "32:d5:ba:4a:84:cc",
             "subnets": [{"type": "dhcp"}]},
            {"type": "nameserver", "address": ["94.237.127.9", "94.237.40.9"]}]})
    );
    assert!(ds.check_instance_id(&ctx));
    let (_d2, other) = root(true, Some("00000000-0000-0000-0000-000000000000"));
    let ctx2 = SourceContext::new(&other, &config, Stage::Local);
    assert!(!ds.check_instance_id(&ctx2));
    assert!(common::warnings().is_empty(), "{:?}", common::warnings());

    let back = from_cache(&ds.to_cache(), &SourceOptions::default()).unwrap();
    assert_eq!(back.class_name(), "DataSourceUpCloudLocal");
    assert_eq!(back.network_config(), ds.network_config());
    assert_eq!(back.vendordata_raw(), ds.vendordata_raw());
}

#[test]
fn network_stage_needs_no_ephemeral_network() {
    common::capture();
    let s = seed("local-hostname: h\n", None, None);
    let srv = serve("upcloud", s.path(), Faults::default());
    let (_d, host) = root(true, Some(UUID));
    // The config's URL wins over the constructor's.
    let config = json!({"datasource": {"UpCloud": {
        "retries": 0, "timeout": 1, "metadata_url": format!("{}/metadata/v1.json", srv.url())}}});
    let net = RecordingNet::new();
    let ctx = SourceContext::new(&host, &config, Stage::Network).with_net(&net);
    let mut ds = ds(Stage::Network, &dead_url());
    assert!(ds.crawl(&ctx).unwrap());
    assert!(net.events().is_empty());
    assert_eq!(ds.class_name(), "DataSourceUpCloud");
    // The emulator's default instance_id wins over the DMI UUID.
    assert_eq!(ds.instance_id(), "00000000-0000-4000-8000-000000000001");
    assert_eq!(ds.userdata_raw(), None);
    assert_eq!(ds.vendordata_raw(), None);
}

#[test]
fn not_upcloud_asks_nothing() {
    common::capture();
    let s = seed(META, None, None);
    let srv = serve("upcloud", s.path(), Faults::default());
    let (_d, host) = root(false, Some(UUID));
    let config = cfg(0);
    let ctx = SourceContext::new(&host, &config, Stage::Network);
    assert!(!ds(Stage::Network, &srv.url()).crawl(&ctx).unwrap());
    assert!(srv.requests().is_empty());
}

#[test]
fn upcloud_without_uuid_is_an_error() {
    common::capture();
    let (_d, host) = root(true, None);
    let config = cfg(0);
    let ctx = SourceContext::new(&host, &config, Stage::Network);
    let err = ds(Stage::Network, &dead_url()).crawl(&ctx).unwrap_err();
    assert!(err.to_string().contains("did not provide an ID"), "{err}");
}

#[test]
fn retries_then_succeeds_and_failures_are_bounded() {
    common::capture();
    let s = seed(META, Some(USER), None);
    let (_d, host) = root(true, Some(UUID));
    let net = RecordingNet::new();
    let ok = |faults: Faults, retries: u32| {
        let srv = serve("upcloud", s.path(), faults);
        let config = cfg(retries);
        let ctx = SourceContext::new(&host, &config, Stage::Local).with_net(&net);
        let r = within(Duration::from_secs(5), || {
            ds(Stage::Local, &srv.url()).crawl(&ctx)
        });
        (r, srv.count("GET", "/metadata/v1.json"))
    };
    // 5xx once, retried.
    let (r, n) = ok(
        Faults {
            fail_first: 1,
            fail_status: 503,
            ..Faults::default()
        },
        2,
    );
    assert!(r.unwrap());
    assert_eq!(n, 2);
    // 404 on every try: an error after retries.
    let (r, n) = ok(
        Faults {
            not_found: vec!["v1.json".into()],
            ..Faults::default()
        },
        2,
    );
    assert!(r.unwrap_err().to_string().contains("404"));
    assert_eq!(n, 3);
    // Hung, truncated and slow answers: errors within timeout x tries.
    for f in [
        Faults {
            hang: vec!["v1.json".into()],
            ..Faults::default()
        },
        Faults {
            truncate: vec!["v1.json".into()],
            ..Faults::default()
        },
        Faults {
            delay: Duration::from_millis(1500),
            ..Faults::default()
        },
    ] {
        let (r, _) = ok(f, 1);
        assert!(r.is_err());
    }
    // Unreachable.
    let config = cfg(1);
    let ctx = SourceContext::new(&host, &config, Stage::Local).with_net(&net);
    assert!(
        within(Duration::from_secs(3), || ds(Stage::Local, &dead_url())
            .crawl(&ctx))
        .is_err()
    );
}

#[test]
fn dhcp_failure_is_not_found() {
    common::capture();
    let (_d, host) = root(true, Some(UUID));
    let config = cfg(0);
    let net = RecordingNet::failing();
    let ctx = SourceContext::new(&host, &config, Stage::Local).with_net(&net);
    assert!(!ds(Stage::Local, &dead_url()).crawl(&ctx).unwrap());
    assert_eq!(common::warnings().len(), 1);
}

#[test]
fn registry_and_missing_nic() {
    let o = SourceOptions::default();
    assert_eq!(
        by_name("UpCloud", Stage::Local, &o).unwrap().class_name(),
        "DataSourceUpCloudLocal"
    );
    assert_eq!(
        by_name("upcloud", Stage::Network, &o).unwrap().class_name(),
        "DataSourceUpCloud"
    );
    common::capture();
    let s = seed(META, None, None);
    let srv = serve("upcloud", s.path(), Faults::default());
    let d = tempfile::tempdir().unwrap();
    let host = Host::new(d.path());
    common::write(&host, "/sys/class/dmi/id/sys_vendor", "UpCloud\n");
    common::write(&host, "/sys/class/dmi/id/product_uuid", UUID);
    let config = cfg(0);
    let ctx = SourceContext::new(&host, &config, Stage::Network);
    let mut ds = ds(Stage::Network, &srv.url());
    assert!(ds.crawl(&ctx).unwrap());
    // No NIC with the document's MACs: no network config (upstream raises).
    assert_eq!(ds.network_config(), None);
}

/// Differential: upstream's DataSourceUpCloud crawled the same emulated
/// API (see `regen-upcloud.py`).
#[test]
fn matches_upstream() {
    common::capture();
    let o = helpers::oracle("upcloud");
    let srv = helpers::serve_fixture("upcloud");
    let (_d, host) = root(true, Some(UUID));
    common::write(&host, "/sys/class/net/eth2/address", "32:d5:ba:4a:63:e7\n");
    let config = cfg(2);
    let ctx = SourceContext::new(&host, &config, Stage::Network);
    let mut ds = ds(Stage::Network, &srv.url());
    assert!(ds.crawl(&ctx).unwrap());
    helpers::assert_same_as_oracle(&ds, &host, &o);
}

//! Oracle (OCI) datasource against the ci-imds Oracle emulator on
//! 127.0.0.1: IMDS v2 with its header, v1 fallback, VNIC network config,
//! local stage, detection and bounded failures.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use ci_host::Host;
use ci_imds::{api_for, Faults, Server};
use ci_sources::ephemeral::RecordingNet;
use ci_sources::oracle::Oracle;
use ci_sources::{from_cache, Datasource, SourceContext, SourceOptions, Stage};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const IID: &str = "ocid1.instance.oc1.iad.anuwcljtexampleexampleexample";

fn seed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/oracle-seed")
}

fn start(faults: Faults) -> Server {
    Server::start_api(
        api_for("oracle", &seed_dir()).unwrap(),
        faults,
        "127.0.0.1:0",
    )
    .unwrap()
}

fn root() -> (tempfile::TempDir, Host) {
    let d = tempfile::tempdir().unwrap();
    let h = Host::new(d.path());
    common::write(
        &h,
        "/sys/class/dmi/id/chassis_asset_tag",
        "OracleCloud.com\n",
    );
    common::write(
        &h,
        "/sys/class/dmi/id/product_uuid",
        "A1B2C3D4-0000-1111-2222-333344445555\n",
    );
    common::write(&h, "/sys/class/net/ens3/address", "02:00:17:00:aa:01\n");
    common::write(&h, "/sys/class/net/ens4/address", "02:00:17:00:aa:02\n");
    (d, h)
}

fn config(extra: Value) -> Value {
    let mut o = json!({"max_wait": 3, "timeout": 1});
    if let (Value::Object(a), Value::Object(x)) = (&mut o, extra) {
        a.extend(x);
    }
    json!({"datasource": {"Oracle": o}})
}

fn ds(stage: Stage, url: &str) -> Oracle {
    Oracle::new(stage, SourceOptions::default()).with_metadata_urls([url])
}

fn crawl(ds: &mut Oracle, host: &Host, cfg: &Value) -> Result<bool, ci_sources::SourceError> {
    let ctx = SourceContext::new(host, cfg, ds.stage()).with_cmdline("");
    ds.crawl(&ctx)
}

#[test]
fn network_stage_v2_success() {
    common::capture();
    let srv = start(Faults::default());
    let (_d, host) = root();
    let cfg = config(json!({}));
    let mut ds = ds(Stage::Network, &srv.url());
    assert!(crawl(&mut ds, &host, &cfg).unwrap());
    assert_eq!(ds.class_name(), "DataSourceOracleNet");
    assert_eq!(ds.instance_id(), IID);
    assert_eq!(
        ds.metadata(),
        &json!({
            "availability-zone": "iad-ad-1",
            "instance-id": IID,
            "launch-index": 0,
            "local-hostname": "oci-test-1",
            "name": "OCI Test One",
            "public_keys": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOracleKey1 a@b\nssh-rsa AAAAB3NzaC1yc2EAAAADAQABOracleKey2 c@d"
        })
    );
    assert_eq!(ds.public_ssh_keys().len(), 2);
    assert_eq!(
        ds.userdata_raw().unwrap(),
        b"#cloud-config\nruncmd: [echo oracle]\n"
    );
    assert_eq!(ds.availability_zone().as_deref(), Some("iad-ad-1"));
    assert_eq!(ds.region(), None);
    assert_eq!(ds.cloud_name(), "oracle");
    assert_eq!(ds.platform_type(), "oracle");
    assert_eq!(
        ds.subplatform(),
        format!("metadata ({}/opc/v2/)", srv.url())
    );
    assert_eq!(ds.local_hostname(&host).as_deref(), Some("oci-test-1"));
    // Falling back to IMDS for the primary NIC configures every VNIC, as
    // upstream does, whatever configure_secondary_nics says.
    assert_eq!(
        ds.network_config().unwrap(),
        json!({"version": 1, "config": [
            {"name": "ens3", "type": "physical", "mac_address": "02:00:17:00:aa:01", "mtu": 9000,
             "subnets": [{"type": "dhcp"}]},
            {"name": "ens4", "type": "physical", "mac_address": "02:00:17:00:aa:02", "mtu": 9000,
             "subnets": [{"type": "static", "address": "10.0.1.20/24"},
                         {"type": "static", "address": "2603:c020:0:1::20/24"}]}]})
    );
    // Upstream warns on every non-iSCSI instance.
    assert_eq!(
        common::warnings(),
        ["Could not obtain network configuration from initramfs. Falling back to IMDS."]
    );
    // Every request carried the v2 header (the emulator rejects it otherwise).
    assert!(srv
        .requests()
        .iter()
        .all(|r| r.path.starts_with("/opc/v2/") && r.status == 200));
    let ctx = SourceContext::new(&host, &cfg, Stage::Network).with_cmdline("");
    assert!(ds.check_instance_id(&ctx));
    common::write(
        &host,
        "/sys/class/dmi/id/product_uuid",
        "ffffffff-0000-1111-2222-333344445555\n",
    );
    assert!(!ds.check_instance_id(&ctx));

    let back = from_cache(&ds.to_cache(), &SourceOptions::default()).unwrap();
    assert_eq!(back.class_name(), "DataSourceOracleNet");
    assert_eq!(back.network_config(), ds.network_config());
    assert_eq!(back.userdata_raw(), ds.userdata_raw());
}

/// On an iSCSI root the initramfs config is used for the primary NIC;
/// `configure_secondary_nics` adds the others from IMDS.
#[test]
fn secondary_vnics_when_configured() {
    let srv = start(Faults::default());
    let (_d, host) = root();
    common::write(
        &host,
        "/run/net-ens3.conf",
        "DEVICE='ens3'\nPROTO='dhcp'\nIPV4ADDR='10.0.0.10'\nIPV4NETMASK='255.255.255.0'\n",
    );
    common::write(&host, "/run/initramfs/open-iscsi.interface", "ens3\n");
    let cfg = config(json!({"configure_secondary_nics": true}));
    let mut ds = ds(Stage::Network, &srv.url());
    assert!(crawl(&mut ds, &host, &cfg).unwrap());
    let net = ds.network_config().unwrap();
    assert_eq!(net["config"][0]["name"], "ens3");
    assert_eq!(net["config"][0]["subnets"][0]["type"], "dhcp");
    assert_eq!(net["config"].as_array().unwrap().len(), 2);
    // The primary VNIC is not fetched for the network config on iSCSI.
    assert_eq!(
        net["config"][1],
        json!({"name": "ens4", "type": "physical", "mac_address": "02:00:17:00:aa:02", "mtu": 9000,
               "subnets": [{"type": "static", "address": "10.0.1.20/24"},
                           {"type": "static", "address": "2603:c020:0:1::20/24"}]})
    );
}

#[test]
fn v1_fallback_when_v2_is_missing() {
    let srv = start(Faults {
        not_found: vec!["/opc/v2/instance/".into()],
        ..Faults::default()
    });
    let (_d, host) = root();
    let mut ds = ds(Stage::Network, &srv.url());
    assert!(crawl(&mut ds, &host, &config(json!({}))).unwrap());
    assert_eq!(
        ds.subplatform(),
        format!("metadata ({}/opc/v1/)", srv.url())
    );
    assert_eq!(srv.count("GET", "/opc/v1/vnics/"), 1);
    assert_eq!(ds.instance_id(), IID);
}

#[test]
fn local_stage_uses_ephemeral_dhcp() {
    let srv = start(Faults::default());
    let (_d, host) = root();
    let cfg = config(json!({}));
    let net = RecordingNet::new();
    let mut ds = ds(Stage::Local, &srv.url());
    let ctx = SourceContext::new(&host, &cfg, Stage::Local)
        .with_cmdline("")
        .with_net(&net);
    assert!(ds.crawl(&ctx).unwrap());
    assert_eq!(ds.class_name(), "DataSourceOracle");
    assert_eq!(net.events().len(), 2);
    assert!(net.events()[0].starts_with("up Dhcp4"));
    assert!(net.events()[1].starts_with("down "));
}

#[test]
fn detection_by_chassis_asset_tag() {
    let (_d, host) = root();
    let cfg = json!({});
    let ds = Oracle::new(Stage::Local, SourceOptions::default());
    let ctx = SourceContext::new(&host, &cfg, Stage::Local).with_cmdline("");
    assert!(ds.ds_detect(&ctx));
    common::write(&host, "/sys/class/dmi/id/chassis_asset_tag", "Other\n");
    assert!(!ds.ds_detect(&ctx));
}

#[test]
fn unreachable_gives_up_after_max_wait() {
    common::capture();
    let srv = start(Faults {
        fail_first: 100_000,
        fail_status: 500,
        ..Faults::default()
    });
    let (_d, host) = root();
    let mut ds = ds(Stage::Network, &srv.url());
    let t = Instant::now();
    assert!(!crawl(&mut ds, &host, &config(json!({"max_wait": 2}))).unwrap());
    assert!(t.elapsed() >= Duration::from_secs(1), "{:?}", t.elapsed());
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
    let w = common::warnings();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].starts_with("Failed to fetch IMDS metadata from any of: http://127.0.0.1:"),
        "{w:?}"
    );
}

#[test]
fn slow_and_hung_services_are_bounded() {
    for faults in [
        Faults {
            delay: Duration::from_secs(5),
            ..Faults::default()
        },
        Faults {
            hang: vec!["*".into()],
            ..Faults::default()
        },
    ] {
        let srv = start(faults);
        let (_d, host) = root();
        let mut ds = ds(Stage::Network, &srv.url());
        let t = Instant::now();
        assert!(!crawl(
            &mut ds,
            &host,
            &config(json!({"max_wait": 2, "timeout": 1}))
        )
        .unwrap());
        assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
    }
}

#[test]
fn truncated_instance_document_is_retried_then_fails() {
    let srv = start(Faults {
        truncate: vec!["instance/".into()],
        ..Faults::default()
    });
    let (_d, host) = root();
    let mut ds = ds(Stage::Network, &srv.url());
    let t = Instant::now();
    assert!(!crawl(
        &mut ds,
        &host,
        &config(json!({"max_wait": 2, "timeout": 1}))
    )
    .unwrap());
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
}

#[test]
fn vnics_failure_keeps_metadata() {
    common::capture();
    let srv = start(Faults {
        not_found: vec!["vnics/".into()],
        ..Faults::default()
    });
    let (_d, host) = root();
    let mut ds = ds(Stage::Network, &srv.url());
    assert!(crawl(&mut ds, &host, &config(json!({"max_wait": 1}))).unwrap());
    assert_eq!(ds.instance_id(), IID);
    assert!(ds.vnics_data().is_none());
    let w = common::warnings();
    assert!(
        w.contains(&"Failed to fetch IMDS network configuration!".to_string()),
        "{w:?}"
    );
    assert!(
        w.contains(&"NIC data is UNSET but should not be".to_string()),
        "{w:?}"
    );
    assert_eq!(
        ds.network_config().unwrap(),
        json!({"config": [], "version": 1})
    );
}

#[test]
fn netfailover_master_is_not_matched_by_mac() {
    let srv = start(Faults::default());
    let (_d, host) = root();
    let mut features = "0".repeat(64);
    features.replace_range(62..63, "1");
    common::write(
        &host,
        "/sys/class/net/ens3/device/features",
        &format!("{features}\n"),
    );
    common::write(&host, "/sys/bus/virtio/drivers/virtio_net/.keep", "");
    host.symlink(
        "../../../../bus/virtio/drivers/virtio_net",
        "/sys/class/net/ens3/device/driver",
    )
    .unwrap();
    let mut ds = ds(Stage::Network, &srv.url());
    assert!(crawl(&mut ds, &host, &config(json!({}))).unwrap());
    let net = ds.network_config().unwrap();
    assert_eq!(net["config"][0]["name"], "ens3");
    assert!(net["config"][0].get("mac_address").is_none(), "{net}");
    assert_eq!(net["config"][1]["mac_address"], "02:00:17:00:aa:02");
}

//! OpenStack datasource against the ci-imds OpenStack emulator on
//! 127.0.0.1: success, version selection, local stage, detection, and
//! bounded failures (404, 5xx, slow, hung, truncated).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use ci_host::Host;
use ci_imds::{api_for, Faults, Server};
use ci_sources::ephemeral::RecordingNet;
use ci_sources::openstack::OpenStack;
use ci_sources::{from_cache, Datasource, SourceContext, SourceOptions, Stage};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const MAC: &str = "fa:16:3e:9c:bf:3d";
const IID: &str = "b0fa911b-69d4-4476-bbe2-1c92bff6535c";

fn seed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/openstack-seed")
}

fn start_from(dir: &Path, faults: Faults) -> Server {
    Server::start_api(api_for("openstack", dir).unwrap(), faults, "127.0.0.1:0").unwrap()
}

fn start(faults: Faults) -> Server {
    start_from(&seed_dir(), faults)
}

/// A root that looks like a Nova instance with one NIC.
fn root(nova: bool) -> (tempfile::TempDir, Host) {
    let d = tempfile::tempdir().unwrap();
    let h = Host::new(d.path());
    if nova {
        common::write(&h, "/sys/class/dmi/id/product_name", "OpenStack Nova\n");
    }
    common::write(
        &h,
        "/sys/class/dmi/id/product_uuid",
        &format!("{}\n", IID.to_uppercase()),
    );
    common::write(&h, "/sys/class/net/ens3/address", &format!("{MAC}\n"));
    (d, h)
}

fn config(url: &str, extra: Value) -> Value {
    let mut os = json!({"metadata_urls": [url], "max_wait": 2, "timeout": 1, "retries": 1, "sec_between_retries": 0});
    if let (Value::Object(o), Value::Object(x)) = (&mut os, extra) {
        o.extend(x);
    }
    json!({"datasource": {"OpenStack": os}})
}

fn crawl(ds: &mut OpenStack, host: &Host, cfg: &Value) -> Result<bool, ci_sources::SourceError> {
    let ctx = SourceContext::new(host, cfg, ds.stage()).with_cmdline("");
    ds.crawl(&ctx)
}

#[test]
fn network_stage_success() {
    common::capture();
    let srv = start(Faults::default());
    let (_d, host) = root(true);
    let cfg = config(&srv.url(), json!({}));
    let mut ds = OpenStack::new(Stage::Network, SourceOptions::default());
    assert!(crawl(&mut ds, &host, &cfg).unwrap());
    assert_eq!(ds.class_name(), "DataSourceOpenStack");
    assert_eq!(ds.instance_id(), IID);
    assert_eq!(ds.metadata()["uuid"], IID);
    assert_eq!(ds.metadata()["meta"]["role"], "webserver");
    assert_eq!(ds.metadata()["random_seed"], "ci-b64:3q2+7w==");
    assert_eq!(ds.local_hostname(&host).as_deref(), Some("os-test-1"));
    assert_eq!(
        ds.get_hostname(&host, true, false).hostname.as_deref(),
        Some("os-test-1.novalocal")
    );
    assert_eq!(ds.public_ssh_keys().len(), 2);
    assert!(ds.public_ssh_keys()[0].contains("OpenStackKey1"));
    assert_eq!(
        ds.userdata_raw().unwrap(),
        b"#cloud-config\nhostname: from-userdata\n"
    );
    assert_eq!(
        ds.vendordata_raw().unwrap(),
        b"#cloud-config\nruncmd: [echo vendor]\n"
    );
    assert_eq!(ds.vendordata2_raw(), None);
    assert_eq!(ds.availability_zone().as_deref(), Some("nova-az1"));
    assert_eq!(ds.region(), None);
    assert_eq!(ds.cloud_name(), "openstack");
    assert_eq!(ds.platform_type(), "openstack");
    assert_eq!(ds.subplatform(), format!("metadata ({})", srv.url()));
    assert_eq!(ds.display(), "DataSourceOpenStack [net,ver=2]");
    assert_eq!(ds.ec2_metadata()["instance-id"], IID);
    assert_eq!(
        ds.network_config().unwrap(),
        json!({"version": 1, "config": [
            {"mtu": 1450, "type": "physical", "mac_address": MAC, "name": "ens3", "subnets": [
                {"type": "static", "netmask": "255.255.255.0", "address": "10.0.0.5", "ipv4": true,
                 "routes": [{"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": "10.0.0.1"}]},
                {"type": "ipv6_slaac"}]},
            {"type": "nameserver", "address": "8.8.8.8"}]})
    );
    // The newest dated version is used.
    assert!(srv.count("GET", "/openstack/2018-08-27/meta_data.json") == 1);
    assert!(common::warnings().is_empty(), "{:?}", common::warnings());
    // DMI system-uuid matches the instance id (case-insensitively).
    let ctx = SourceContext::new(&host, &cfg, Stage::Network).with_cmdline("");
    assert!(ds.check_instance_id(&ctx));

    let back = from_cache(&ds.to_cache(), &SourceOptions::default()).unwrap();
    assert_eq!(back.class_name(), "DataSourceOpenStack");
    assert_eq!(back.instance_id(), IID);
    assert_eq!(back.network_config(), ds.network_config());
    assert_eq!(back.vendordata_raw(), ds.vendordata_raw());
    assert_eq!(back.public_ssh_keys(), ds.public_ssh_keys());
}

#[test]
fn apply_network_config_false_gives_none() {
    let srv = start(Faults::default());
    let (_d, host) = root(true);
    let cfg = config(&srv.url(), json!({"apply_network_config": false}));
    let mut ds = OpenStack::new(Stage::Network, SourceOptions::default());
    assert!(crawl(&mut ds, &host, &cfg).unwrap());
    assert_eq!(ds.network_config(), None);
}

#[test]
fn picks_newest_known_version_offered() {
    let d = tempfile::tempdir().unwrap();
    for f in ["user-data", "vendor-data", "network-config"] {
        std::fs::copy(seed_dir().join(f), d.path().join(f)).unwrap();
    }
    let md = std::fs::read_to_string(seed_dir().join("meta-data")).unwrap();
    std::fs::write(
        d.path().join("meta-data"),
        format!("{md}openstack-versions: [2012-08-10, 2013-10-17, 2099-01-01]\n"),
    )
    .unwrap();
    let srv = start_from(d.path(), Faults::default());
    let (_r, host) = root(true);
    let cfg = config(&srv.url(), json!({}));
    let mut ds = OpenStack::new(Stage::Network, SourceOptions::default());
    assert!(crawl(&mut ds, &host, &cfg).unwrap());
    assert_eq!(srv.count("GET", "/openstack/2013-10-17/meta_data.json"), 1);
    // 2013-10-17 has no network_data.json: no network config.
    assert_eq!(ds.network_config(), None);
    assert!(ds.vendordata_raw().is_some());
}

#[test]
fn local_stage_brings_up_dhcp_and_tears_it_down() {
    let srv = start(Faults::default());
    let (_d, host) = root(true);
    let cfg = config(&srv.url(), json!({}));
    let net = RecordingNet::new();
    let mut ds = OpenStack::new(Stage::Local, SourceOptions::default());
    let ctx = SourceContext::new(&host, &cfg, Stage::Local)
        .with_cmdline("")
        .with_net(&net);
    assert!(ds.crawl(&ctx).unwrap());
    assert_eq!(ds.class_name(), "DataSourceOpenStackLocal");
    assert_eq!(net.events(), ["up Dhcp4 { iface: None }", "down eth0"]);
    assert_eq!(ds.instance_id(), IID);

    // No DHCP lease: not found, with upstream's warning.
    common::capture();
    let failing = RecordingNet::failing();
    let mut ds = OpenStack::new(Stage::Local, SourceOptions::default());
    let ctx = SourceContext::new(&host, &cfg, Stage::Local)
        .with_cmdline("")
        .with_net(&failing);
    assert!(!ds.crawl(&ctx).unwrap());
    assert_eq!(common::warnings().len(), 1);
}

#[test]
fn detection() {
    let (_d, host) = root(false);
    let cfg = json!({});
    let ds = OpenStack::new(Stage::Network, SourceOptions::default());
    let ctx = SourceContext::new(&host, &cfg, Stage::Network).with_cmdline("");
    if std::env::consts::ARCH == "x86_64" {
        assert!(!ds.ds_detect(&ctx));
        common::write(
            &host,
            "/sys/class/dmi/id/chassis_asset_tag",
            "OpenTelekomCloud\n",
        );
        assert!(ds.ds_detect(&ctx));
        common::write(
            &host,
            "/sys/class/dmi/id/chassis_asset_tag",
            "OracleCloud.com\n",
        );
        assert!(!ds.ds_detect(&ctx));
        let with_oracle = json!({"datasource_list": ["OpenStack", "Oracle"]});
        let ctx2 = SourceContext::new(&host, &with_oracle, Stage::Network).with_cmdline("");
        assert!(ds.ds_detect(&ctx2));
        common::write(&host, "/sys/class/dmi/id/chassis_asset_tag", "\n");
        std::fs::create_dir_all(host.path("/proc/1")).unwrap();
        std::fs::write(
            host.path("/proc/1/environ"),
            b"A=1\0product_name=OpenStack Nova\0",
        )
        .unwrap();
        assert!(ds.ds_detect(&ctx));
    }
    // ds=openstack on the cmdline overrides detection.
    let ctx = ctx.with_cmdline("ds=openstack");
    assert!(ds.override_ds_detect(&ctx));
}

#[test]
fn all_404_is_not_found_quickly() {
    common::capture();
    let srv = start(Faults {
        not_found: vec!["*".into()],
        ..Faults::default()
    });
    let (_d, host) = root(true);
    let cfg = config(&srv.url(), json!({"max_wait": -1}));
    let mut ds = OpenStack::new(Stage::Network, SourceOptions::default());
    let t = Instant::now();
    assert!(!crawl(&mut ds, &host, &cfg).unwrap());
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert_eq!(common::warnings(), ["No active metadata service found"]);
}

#[test]
fn server_errors_then_success_within_max_wait() {
    let srv = start(Faults {
        fail_first: 2,
        fail_status: 500,
        ..Faults::default()
    });
    let (_d, host) = root(true);
    let cfg = config(&srv.url(), json!({"max_wait": 6}));
    let mut ds = OpenStack::new(Stage::Network, SourceOptions::default());
    let t = Instant::now();
    assert!(crawl(&mut ds, &host, &cfg).unwrap());
    // Two failed rounds with 1 s pauses, then the crawl.
    assert!(t.elapsed() >= Duration::from_secs(2), "{:?}", t.elapsed());
    assert!(t.elapsed() < Duration::from_secs(6), "{:?}", t.elapsed());
    assert_eq!(ds.instance_id(), IID);
}

#[test]
fn persistent_server_errors_give_up_after_max_wait() {
    let srv = start(Faults {
        fail_first: 10_000,
        fail_status: 503,
        ..Faults::default()
    });
    let (_d, host) = root(true);
    let cfg = config(&srv.url(), json!({"max_wait": 3}));
    let mut ds = OpenStack::new(Stage::Network, SourceOptions::default());
    let t = Instant::now();
    assert!(!crawl(&mut ds, &host, &cfg).unwrap());
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
}

#[test]
fn slow_service_beyond_timeout_is_bounded() {
    let srv = start(Faults {
        delay: Duration::from_secs(4),
        ..Faults::default()
    });
    let (_d, host) = root(true);
    let cfg = config(&srv.url(), json!({"max_wait": -1, "timeout": 1}));
    let mut ds = OpenStack::new(Stage::Network, SourceOptions::default());
    let t = Instant::now();
    assert!(!crawl(&mut ds, &host, &cfg).unwrap());
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
}

#[test]
fn hung_meta_data_is_missing_mandatory_path() {
    common::capture();
    let srv = start(Faults {
        hang: vec!["meta_data.json".into()],
        ..Faults::default()
    });
    let (_d, host) = root(true);
    let cfg = config(&srv.url(), json!({"timeout": 1, "retries": 1}));
    let mut ds = OpenStack::new(Stage::Network, SourceOptions::default());
    let t = Instant::now();
    assert!(!crawl(&mut ds, &host, &cfg).unwrap());
    // Two attempts of 1 s each, plus the version listing.
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
    let w = common::warnings();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].starts_with("Missing mandatory path: http://127.0.0.1:"),
        "{w:?}"
    );
    assert!(
        w[0].ends_with("/openstack/2018-08-27/meta_data.json"),
        "{w:?}"
    );
}

#[test]
fn truncated_optional_file_is_skipped() {
    common::capture();
    let srv = start(Faults {
        truncate: vec!["network_data.json".into()],
        ..Faults::default()
    });
    let (_d, host) = root(true);
    let cfg = config(&srv.url(), json!({"retries": 0}));
    let mut ds = OpenStack::new(Stage::Network, SourceOptions::default());
    let t = Instant::now();
    // A truncated optional file is a read failure: skipped, as upstream.
    assert!(crawl(&mut ds, &host, &cfg).unwrap());
    assert!(t.elapsed() < Duration::from_secs(3));
    assert_eq!(ds.network_config(), None);
}

#[test]
fn truncated_meta_data_is_not_found_with_warning() {
    common::capture();
    let srv = start(Faults {
        truncate: vec!["meta_data.json".into()],
        ..Faults::default()
    });
    let (_d, host) = root(true);
    let cfg = config(&srv.url(), json!({"retries": 2}));
    let mut ds = OpenStack::new(Stage::Network, SourceOptions::default());
    let t = Instant::now();
    assert!(!crawl(&mut ds, &host, &cfg).unwrap());
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    // Retried (a transport error), then given up.
    assert_eq!(srv.count("GET", "meta_data.json"), 3);
    let w = common::warnings();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].starts_with("Missing mandatory path: "), "{w:?}");
}

#[test]
fn bad_json_is_broken_metadata() {
    common::capture();
    let d = tempfile::tempdir().unwrap();
    std::fs::copy(seed_dir().join("meta-data"), d.path().join("meta-data")).unwrap();
    // vendor-data that is JSON but not an allowed root type (a number).
    std::fs::write(d.path().join("vendor-data"), "42").unwrap();
    let srv = start_from(d.path(), Faults::default());
    let (_r, host) = root(true);
    let cfg = config(&srv.url(), json!({}));
    let mut ds = OpenStack::new(Stage::Network, SourceOptions::default());
    assert!(!crawl(&mut ds, &host, &cfg).unwrap());
    assert_eq!(
        common::warnings(),
        [format!("Broken metadata address {}", srv.url())]
    );
}

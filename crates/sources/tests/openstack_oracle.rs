//! Differential tests: ours and upstream's DataSourceOpenStack /
//! DataSourceOracleNet crawling the same emulator seeds
//! (fixtures/openstack-oracle.json and oracle-oci-oracle.json, made by
//! regen-openstack.py against `cloud-init devel imds-serve`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use ci_host::Host;
use ci_imds::{api_for, Faults, Server};
use ci_sources::openstack::OpenStack;
use ci_sources::oracle::Oracle;
use ci_sources::{Datasource, SourceContext, SourceOptions, Stage};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn load(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixtures().join(name)).unwrap()).unwrap()
}

fn text(b: Option<&[u8]>) -> Value {
    b.map(|b| json!(String::from_utf8(b.to_vec()).unwrap()))
        .unwrap_or(Value::Null)
}

/// Fields every datasource reports, with the emulator URL as `URL`.
fn compare(ds: &dyn Datasource, host: &Host, url: &str, want: &Value) {
    let unurl =
        |v: Value| -> Value { serde_json::from_str(&v.to_string().replace(url, "URL")).unwrap() };
    assert_eq!(unurl(ds.metadata().clone()), want["metadata"]);
    assert_eq!(text(ds.userdata_raw()), want["userdata_raw"]);
    assert_eq!(text(ds.vendordata_raw()), want["vendordata_raw"]);
    assert_eq!(text(ds.vendordata2_raw()), want["vendordata2_raw"]);
    assert_eq!(json!(ds.network_config()), want["network_config"]);
    assert_eq!(json!(ds.instance_id()), want["instance_id"]);
    assert_eq!(json!(ds.local_hostname(host)), want["hostname"]);
    assert_eq!(
        json!(ds.get_hostname(host, true, false).hostname),
        want["fqdn"]
    );
    assert_eq!(json!(ds.public_ssh_keys()), want["public_keys"]);
    assert_eq!(json!(ds.platform_type()), want["platform_type"]);
    assert_eq!(unurl(json!(ds.subplatform())), want["subplatform"]);
    assert_eq!(json!(ds.cloud_name()), want["cloud_name"]);
    assert_eq!(json!(ds.region()), want["region"]);
    assert_eq!(json!(ds.availability_zone()), want["availability_zone"]);
}

#[test]
fn openstack_matches_upstream() {
    let want = load("openstack-oracle.json");
    let seed = fixtures().join("openstack-seed");
    let srv = Server::start_api(
        api_for("openstack", &seed).unwrap(),
        Faults::default(),
        "127.0.0.1:0",
    )
    .unwrap();
    let url = srv.url();
    let d = tempfile::tempdir().unwrap();
    let host = Host::new(d.path());
    common::write(&host, "/sys/class/net/ens3/address", "fa:16:3e:9c:bf:3d\n");
    let cfg = json!({"datasource": {"OpenStack": {"metadata_urls": [url], "max_wait": 5, "timeout": 2, "retries": 1}}});
    let ctx = SourceContext::new(&host, &cfg, Stage::Network).with_cmdline("");
    let mut ds = OpenStack::new(Stage::Network, SourceOptions::default());
    assert!(ds.crawl(&ctx).unwrap());
    compare(&ds, &host, &url, &want);
    assert_eq!(ds.ec2_metadata(), &want["ec2_metadata"]);
    assert_eq!(json!(ds.display()), want["str"]);
}

#[test]
fn oracle_matches_upstream() {
    let all = load("oracle-oci-oracle.json");
    let seed = fixtures().join("oracle-seed");
    for (name, want) in all.as_object().unwrap() {
        let srv = Server::start_api(
            api_for("oracle", &seed).unwrap(),
            Faults::default(),
            "127.0.0.1:0",
        )
        .unwrap();
        let url = srv.url();
        let d = tempfile::tempdir().unwrap();
        let host = Host::new(d.path());
        common::write(&host, "/sys/class/net/ens3/address", "02:00:17:00:aa:01\n");
        common::write(&host, "/sys/class/net/ens4/address", "02:00:17:00:aa:02\n");
        let cfg = json!({"datasource": {"Oracle": want["config"]}});
        let ctx = SourceContext::new(&host, &cfg, Stage::Network).with_cmdline("");
        let mut ds =
            Oracle::new(Stage::Network, SourceOptions::default()).with_metadata_urls([url.clone()]);
        assert!(ds.crawl(&ctx).unwrap(), "{name}");
        compare(&ds, &host, &url, want);
    }
}

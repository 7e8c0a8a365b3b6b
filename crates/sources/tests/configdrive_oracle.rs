//! Differential test: fixtures/configdrive-seed read by ours and by
//! upstream's DataSourceConfigDrive (fixtures/configdrive-oracle.json,
//! made by regen-configdrive.py).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use ci_host::Host;
use ci_sources::configdrive::ConfigDrive;
use ci_sources::{Datasource, SourceContext, SourceOptions, Stage};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const SEED: &str = "/var/lib/cloud/seed/config_drive";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

fn text(b: Option<&[u8]>) -> Value {
    b.map(|b| json!(String::from_utf8(b.to_vec()).unwrap()))
        .unwrap_or(Value::Null)
}

#[test]
fn matches_upstream() {
    common::capture();
    let want: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("configdrive-oracle.json")).unwrap(),
    )
    .unwrap();
    let d = tempfile::tempdir().unwrap();
    let host = Host::new(d.path());
    copy_tree(&fixtures().join("configdrive-seed"), &host.path(SEED));
    common::write(&host, "/sys/class/net/ens3/address", "fa:16:3e:aa:00:01\n");
    common::write(&host, "/sys/class/net/ens4/address", "fa:16:3e:aa:00:02\n");
    let cfg = json!({});
    let ctx = SourceContext::new(&host, &cfg, Stage::Local).with_cmdline("");
    let mut ds = ConfigDrive::new(Stage::Local, SourceOptions::default());
    assert!(ds.crawl(&ctx).unwrap());

    assert_eq!(ds.metadata(), &want["metadata"]);
    assert_eq!(text(ds.userdata_raw()), want["userdata_raw"]);
    assert_eq!(text(ds.vendordata_raw()), want["vendordata_raw"]);
    assert_eq!(text(ds.vendordata2_raw()), want["vendordata2_raw"]);
    assert_eq!(ds.network_config().unwrap(), want["network_config"]);
    assert_eq!(json!(ds.instance_id()), want["instance_id"]);
    assert_eq!(json!(ds.local_hostname(&host)), want["hostname"]);
    assert_eq!(
        json!(ds.get_hostname(&host, true, false).hostname),
        want["fqdn"]
    );
    assert_eq!(json!(ds.public_ssh_keys()), want["public_keys"]);
    assert_eq!(json!(ds.platform_type()), want["platform_type"]);
    assert_eq!(
        json!(ds.subplatform().replace(SEED, "SEED")),
        want["subplatform"]
    );
    assert_eq!(json!(ds.cloud_name()), want["cloud_name"]);
    assert_eq!(json!(ds.region()), want["region"]);
    assert_eq!(json!(ds.availability_zone()), want["availability_zone"]);
    assert_eq!(ds.ec2_metadata(), &want["ec2_metadata"]);
    assert_eq!(json!(ds.dsmode().as_str()), want["dsmode"]);
    for (path, content) in want["injected_files"].as_object().unwrap() {
        assert_eq!(
            json!(host.read_to_string(path).unwrap()),
            *content,
            "{path}"
        );
    }
    assert!(common::warnings().is_empty(), "{:?}", common::warnings());
}

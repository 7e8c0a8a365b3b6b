//! ConfigDrive: seed directory and mounted-disk layouts (v2 and legacy
//! v1), dsmode handling, file injection, network config, devices.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use ci_host::{Host, RecordingRunner};
use ci_sources::configdrive::ConfigDrive;
use ci_sources::{from_cache, Datasource, DeviceScan, SourceContext, SourceOptions, Stage};
use serde_json::{json, Value};
use std::sync::Arc;

const SEED: &str = "/var/lib/cloud/seed/config_drive";
const IID: &str = "3f3bd6b5-0ad4-4fa4-9a2d-1c1e0f0a0b0c";

fn meta_data() -> Value {
    json!({
        "uuid": IID,
        "hostname": "cd-test.example.com",
        "name": "cd-test",
        "availability_zone": "nova",
        "public_keys": {"k1": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIConfigDrive k1"},
        "launch_index": 0,
        "meta": {"dsmode": "local"},
        "files": [{"path": "/etc/injected.conf", "content_path": "/content/0000"}],
        "network_config": {"content_path": "/content/0001"}
    })
}

/// A v2 drive under `base` in the root.
fn v2_drive(host: &Host, base: &str, md: &Value) {
    let w = |p: &str, c: &str| common::write(host, &format!("{base}/{p}"), c);
    w("openstack/2015-10-15/meta_data.json", &md.to_string());
    w(
        "openstack/2015-10-15/user_data",
        "#cloud-config\nruncmd: [echo hi]\n",
    );
    w(
        "openstack/2015-10-15/vendor_data.json",
        r##"{"cloud-init": "#cloud-config\npackages: [htop]\n"}"##,
    );
    w(
        "openstack/2015-10-15/network_data.json",
        r#"{"links": [{"id": "tap0", "type": "phy", "ethernet_mac_address": "FA:16:3E:00:00:01"}],
            "networks": [{"id": "n0", "link": "tap0", "type": "ipv4_dhcp"}],
            "services": [{"type": "dns", "address": "10.0.0.2"}]}"#,
    );
    w("openstack/latest/meta_data.json", &md.to_string());
    w("openstack/content/0000", "injected=yes\n");
    w(
        "openstack/content/0001",
        "auto eth0\niface eth0 inet dhcp\n",
    );
    w(
        "ec2/latest/meta-data.json",
        r#"{"instance-id": "i-00000001", "block-device-mapping": {"ami": "vda"}}"#,
    );
}

fn root() -> (tempfile::TempDir, Host) {
    let d = tempfile::tempdir().unwrap();
    let h = Host::new(d.path());
    common::write(&h, "/sys/class/net/eth0/address", "fa:16:3e:00:00:01\n");
    (d, h)
}

fn crawl(ds: &mut ConfigDrive, host: &Host, cfg: &Value) -> Result<bool, ci_sources::SourceError> {
    let ctx = SourceContext::new(host, cfg, Stage::Local).with_cmdline("");
    ds.crawl(&ctx)
}

#[test]
fn seed_dir_v2() {
    common::capture();
    let (_d, host) = root();
    v2_drive(&host, SEED, &meta_data());
    let mut ds = ConfigDrive::new(Stage::Local, SourceOptions::default());
    assert!(crawl(&mut ds, &host, &json!({})).unwrap());
    assert_eq!(ds.instance_id(), IID);
    assert_eq!(ds.local_hostname(&host).as_deref(), Some("cd-test"));
    assert_eq!(
        ds.public_ssh_keys(),
        ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIConfigDrive k1"]
    );
    assert_eq!(
        ds.userdata_raw().unwrap(),
        b"#cloud-config\nruncmd: [echo hi]\n"
    );
    assert_eq!(
        ds.vendordata_raw().unwrap(),
        b"#cloud-config\npackages: [htop]\n"
    );
    assert_eq!(ds.dsmode().as_str(), "local");
    // Upstream's `platform` is "openstack" but `platform_type` stays the dsname.
    assert_eq!(ds.platform_type(), "configdrive");
    assert_eq!(ds.cloud_name(), "configdrive");
    assert_eq!(ds.subplatform(), format!("seed-dir ({SEED})"));
    assert_eq!(
        ds.display(),
        format!("DataSourceConfigDrive [local,ver=2][source={SEED}]")
    );
    assert_eq!(ds.availability_zone().as_deref(), Some("nova"));
    assert_eq!(ds.ec2_metadata()["instance-id"], "i-00000001");
    assert_eq!(
        ds.network_config().unwrap(),
        json!({"version": 1, "config": [
            {"type": "physical", "mac_address": "fa:16:3e:00:00:01", "name": "eth0", "subnets": [{"type": "dhcp4"}]},
            {"type": "nameserver", "address": "10.0.0.2"}]})
    );
    // network_data.json wins over the ENI file.
    assert_eq!(ds.legacy_eni(), None);
    // Injected file written on a new instance, mode 0660.
    assert_eq!(
        host.read_to_string("/etc/injected.conf").unwrap(),
        "injected=yes\n"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(host.path("/etc/injected.conf"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o660);
    assert!(common::warnings().is_empty(), "{:?}", common::warnings());

    let back = from_cache(&ds.to_cache(), &SourceOptions::default()).unwrap();
    assert_eq!(back.class_name(), "DataSourceConfigDrive");
    assert_eq!(back.subplatform(), ds.subplatform());
    assert_eq!(back.network_config(), ds.network_config());
}

#[test]
fn same_instance_does_not_reinject_and_eni_used_without_network_data() {
    let (_d, host) = root();
    v2_drive(&host, SEED, &meta_data());
    std::fs::remove_file(host.path(format!("{SEED}/openstack/2015-10-15/network_data.json")))
        .unwrap();
    common::write(
        &host,
        "/var/lib/cloud/data/instance-id",
        &format!("{IID}\n"),
    );
    let mut ds = ConfigDrive::new(Stage::Local, SourceOptions::default());
    assert!(crawl(&mut ds, &host, &json!({})).unwrap());
    assert!(!host.exists("/etc/injected.conf"));
    assert_eq!(ds.network_config(), None);
    assert_eq!(ds.legacy_eni(), Some("auto eth0\niface eth0 inet dhcp\n"));
}

#[test]
fn dsmode_disabled_and_pass() {
    let (_d, host) = root();
    let mut md = meta_data();
    md["meta"]["dsmode"] = json!("disabled");
    v2_drive(&host, SEED, &md);
    let mut ds = ConfigDrive::new(Stage::Local, SourceOptions::default());
    assert!(!crawl(&mut ds, &host, &json!({})).unwrap());

    // "pass" is not a valid dsmode: upstream warns and uses "net".
    common::capture();
    md["meta"]["dsmode"] = json!("pass");
    v2_drive(&host, SEED, &md);
    let mut ds = ConfigDrive::new(Stage::Local, SourceOptions::default());
    assert!(crawl(&mut ds, &host, &json!({})).unwrap());
    assert_eq!(ds.dsmode().as_str(), "net");
    assert_eq!(
        common::warnings(),
        ["invalid dsmode 'pass', using default=net"]
    );
}

#[test]
fn legacy_v1_drive() {
    common::capture();
    let (_d, host) = root();
    common::write(
        &host,
        "/config-drive/meta.js",
        r##"{"instance-id": "iid-v1", "user-data": "#!/bin/sh\necho v1\n", "public-keys": "ssh-rsa AAAA v1key\n# comment\n"}"##,
    );
    common::write(&host, "/config-drive/etc/network/interfaces", "auto lo\n");
    let mut ds = ConfigDrive::new(Stage::Local, SourceOptions::default());
    assert!(crawl(&mut ds, &host, &json!({})).unwrap());
    assert_eq!(ds.instance_id(), "iid-v1");
    assert_eq!(ds.userdata_raw().unwrap(), b"#!/bin/sh\necho v1\n");
    assert_eq!(ds.public_ssh_keys(), ["ssh-rsa AAAA v1key"]);
    assert_eq!(ds.subplatform(), "seed-dir (/config-drive)");
    // Upstream proposes "pass" for v1 drives, which it then rejects.
    assert_eq!(
        common::warnings(),
        ["invalid dsmode 'pass', using default=net"]
    );
}

#[test]
fn missing_uuid_is_broken() {
    let (_d, host) = root();
    let mut md = meta_data();
    md.as_object_mut().unwrap().remove("uuid");
    v2_drive(&host, SEED, &md);
    let mut ds = ConfigDrive::new(Stage::Local, SourceOptions::default());
    let e = crawl(&mut ds, &host, &json!({})).unwrap_err();
    assert!(e.to_string().contains("No 'uuid' entry in metadata"), "{e}");
}

#[test]
fn nothing_there_is_not_found() {
    let (_d, host) = root();
    let mut ds = ConfigDrive::new(Stage::Local, SourceOptions::default());
    assert!(!crawl(&mut ds, &host, &json!({})).unwrap());
}

#[test]
fn labelled_device_already_mounted() {
    let d = tempfile::tempdir().unwrap();
    let runner = Arc::new(RecordingRunner::new());
    runner.answer(
        "blkid",
        0,
        b"DEVNAME=/dev/vda1\nTYPE=ext4\n\nDEVNAME=/dev/sr0\nTYPE=iso9660\nLABEL=config-2\n",
    );
    let host = Host::with_runner(d.path(), runner.clone());
    common::write(&host, "/sys/class/net/eth0/address", "fa:16:3e:00:00:01\n");
    common::write(&host, "/proc/mounts", "/dev/sr0 /media/cd iso9660 ro 0 0\n");
    v2_drive(&host, "/media/cd", &meta_data());
    let opts = SourceOptions {
        devices: DeviceScan::Always,
        ..SourceOptions::default()
    };
    let mut ds = ConfigDrive::new(Stage::Local, opts);
    assert!(crawl(&mut ds, &host, &json!({})).unwrap());
    assert_eq!(ds.source(), Some("/dev/sr0"));
    assert_eq!(ds.subplatform(), "config-disk (/dev/sr0)");
    assert_eq!(ds.instance_id(), IID);
    assert!(
        runner.lines().iter().any(|l| l.starts_with("blkid")),
        "{:?}",
        runner.lines()
    );
}

//! The GCE datasource against the ci-imds GCE emulator on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "common/gce.rs"]
mod kit;

use ci_host::Host;
use ci_imds::Faults;
use ci_sources::ephemeral::RecordingNet;
use ci_sources::gce::Gce;
use ci_sources::{from_cache, Datasource, SourceContext, SourceOptions, Stage};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const EXPIRED: &str =
    r#"ssh-rsa OLD google-ssh {"userName":"ubuntu","expireOn":"2018-01-01T00:00:00+0000"}"#;
const FUTURE: &str =
    r#"ssh-rsa NEW google-ssh {"userName":"ubuntu","expireOn":"2999-01-01T00:00:00+0000"}"#;

fn meta(extra: &str) -> String {
    format!(
        r#"instance-id: "8123456789012345678"
local-hostname: vm-1.c.my-project.internal
availability-zone: europe-west4-a
public-keys:
  - ssh-ed25519 AAAAC3CI ci@host
  - 'ubuntu:{FUTURE}'
  - 'ubuntu:{EXPIRED}'
  - "root:ssh-rsa ROOT root@x"
gce-project-attributes:
  ssh-keys: "cloudinit:ssh-rsa PROJ p@x"
{extra}"#
    )
}

const UD: &[u8] = b"#cloud-config\nruncmd: [echo gce]\n";

fn gce_root() -> (tempfile::TempDir, Host) {
    kit::root(
        &[("product_name", "Google Compute Engine")],
        &[("eth0", "42:01:0a:00:00:02"), ("ens4", "42:01:0a:00:00:01")],
    )
}

fn config(ds: Value) -> Value {
    let mut gce = json!({"retries": 0, "sec_between_retries": 0, "timeout": 1});
    if let (Value::Object(g), Value::Object(x)) = (&mut gce, ds) {
        g.extend(x);
    }
    json!({
        "datasource": {"GCE": gce},
        "users": ["default"],
        "system_info": {"default_user": {"name": "ubuntu"}}
    })
}

fn crawl(ds: &mut Gce, host: &Host, cfg: &Value, stage: Stage, net: &RecordingNet) -> bool {
    let ctx = SourceContext::new(host, cfg, stage)
        .with_cmdline("")
        .with_net(net);
    ds.crawl(&ctx).unwrap()
}

fn gce(url: &str, stage: Stage) -> Gce {
    Gce::new(stage, SourceOptions::default())
        .with_metadata_url(format!("{url}/computeMetadata/v1/"))
}

#[test]
fn network_stage_success() {
    common::capture();
    let seed = kit::seed_dir(&[("meta-data", meta("").as_bytes()), ("user-data", UD)]);
    let srv = kit::serve("gce", &seed, Faults::default());
    let (_d, host) = gce_root();
    let mut ds = gce(&srv.url(), Stage::Network);
    let net = RecordingNet::new();
    assert!(crawl(
        &mut ds,
        &host,
        &config(json!({})),
        Stage::Network,
        &net
    ));

    assert_eq!(ds.instance_id(), "8123456789012345678");
    assert_eq!(ds.local_hostname(&host).as_deref(), Some("vm-1"));
    assert_eq!(
        ds.get_hostname(&host, true, false).hostname.as_deref(),
        Some("vm-1")
    );
    assert_eq!(ds.availability_zone().as_deref(), Some("europe-west4-a"));
    assert_eq!(ds.region().as_deref(), Some("europe-west4"));
    assert_eq!(ds.cloud_name(), "gce");
    assert_eq!(ds.platform_type(), "gce");
    assert_eq!(
        ds.subplatform(),
        format!("metadata ({}/computeMetadata/v1/)", srv.url())
    );
    assert_eq!(ds.display(), "DataSourceGCE");
    assert_eq!(ds.userdata_raw(), Some(UD));
    assert_eq!(ds.vendordata_raw(), None);
    assert_eq!(ds.network_config(), None);
    assert_eq!(ds.launch_index(), None);
    // cloudinit's and the default user's keys, unexpired; project keys too.
    assert_eq!(
        ds.public_ssh_keys(),
        vec![
            "ssh-ed25519 AAAAC3CI ci@host".to_string(),
            FUTURE.to_string(),
            "ssh-rsa PROJ p@x".to_string()
        ]
    );
    let md = ds.metadata();
    assert_eq!(
        md.as_object().unwrap().keys().collect::<Vec<_>>(),
        [
            "instance-id",
            "availability-zone",
            "local-hostname",
            "instance-data",
            "project-data",
            "public-keys-data"
        ]
    );
    assert_eq!(md["public-keys-data"].as_array().unwrap().len(), 5);
    assert!(net.events().is_empty(), "no DHCP in the network stage");
    // Every request carried the header the server insists on.
    let reqs = srv.requests();
    assert_eq!(reqs.len(), 5, "{reqs:?}");
    assert!(reqs.iter().all(|r| r.status == 200), "{reqs:?}");
    assert!(common::warnings().is_empty(), "{:?}", common::warnings());

    let back = from_cache(&ds.to_cache(), &SourceOptions::default()).unwrap();
    assert_eq!(back.class_name(), "DataSourceGCE");
    assert_eq!(back.instance_id(), ds.instance_id());
    assert_eq!(back.public_ssh_keys(), ds.public_ssh_keys());
    assert_eq!(back.region(), ds.region());
    assert_eq!(back.userdata_raw(), ds.userdata_raw());
}

#[test]
fn project_keys_blocked_or_replaced() {
    common::capture();
    for extra in [
        "gce-instance-attributes:\n  block-project-ssh-keys: \"TRUE\"\n",
        "gce-instance-attributes:\n  sshKeys: \"cloudinit:ssh-rsa LEGACY l@x\"\n",
    ] {
        let seed = kit::seed_dir(&[("meta-data", meta(extra).as_bytes())]);
        let srv = kit::serve("gce", &seed, Faults::default());
        let (_d, host) = gce_root();
        let mut ds = gce(&srv.url(), Stage::Network);
        assert!(crawl(
            &mut ds,
            &host,
            &config(json!({})),
            Stage::Network,
            &RecordingNet::new()
        ));
        let keys = ds.public_ssh_keys();
        assert!(!keys.contains(&"ssh-rsa PROJ p@x".to_string()), "{keys:?}");
        assert_eq!(ds.userdata_raw(), None);
    }
    // Without a default user in `users`, only cloudinit's keys count.
    let seed = kit::seed_dir(&[("meta-data", meta("").as_bytes())]);
    let srv = kit::serve("gce", &seed, Faults::default());
    let (_d, host) = gce_root();
    let mut ds = gce(&srv.url(), Stage::Network);
    let cfg = json!({"datasource": {"GCE": {"retries": 0, "timeout": 1}}});
    assert!(crawl(
        &mut ds,
        &host,
        &cfg,
        Stage::Network,
        &RecordingNet::new()
    ));
    assert_eq!(
        ds.public_ssh_keys(),
        vec!["ssh-ed25519 AAAAC3CI ci@host", "ssh-rsa PROJ p@x"]
    );
}

#[test]
fn user_data_encodings() {
    common::capture();
    // Binary user-data is served base64 with user-data-encoding: base64.
    let gz = [0x1f_u8, 0x8b, 0x08, 0x00, 0xff];
    let seed = kit::seed_dir(&[("meta-data", meta("").as_bytes()), ("user-data", &gz)]);
    let srv = kit::serve("gce", &seed, Faults::default());
    let (_d, host) = gce_root();
    let mut ds = gce(&srv.url(), Stage::Network);
    assert!(crawl(
        &mut ds,
        &host,
        &config(json!({})),
        Stage::Network,
        &RecordingNet::new()
    ));
    assert_eq!(ds.userdata_raw(), Some(&gz[..]));

    let seed = kit::seed_dir(&[
        (
            "meta-data",
            meta("gce-instance-attributes:\n  user-data-encoding: rot13\n").as_bytes(),
        ),
        ("user-data", UD),
    ]);
    let srv = kit::serve("gce", &seed, Faults::default());
    let mut ds = gce(&srv.url(), Stage::Network);
    assert!(crawl(
        &mut ds,
        &host,
        &config(json!({})),
        Stage::Network,
        &RecordingNet::new()
    ));
    assert_eq!(ds.userdata_raw(), Some(UD));
    assert_eq!(
        common::warnings(),
        ["unknown user-data-encoding: rot13, ignoring"]
    );
}

#[test]
fn not_gce_asks_nothing() {
    common::capture();
    let seed = kit::seed_dir(&[("meta-data", meta("").as_bytes())]);
    let srv = kit::serve("gce", &seed, Faults::default());
    let (_d, host) = kit::root(&[("product_name", "KVM")], &[("ens4", "42:01:0a:00:00:01")]);
    for stage in [Stage::Local, Stage::Network] {
        let net = RecordingNet::new();
        let mut ds = gce(&srv.url(), stage);
        assert!(!crawl(&mut ds, &host, &config(json!({})), stage, &net));
        assert!(net.events().is_empty());
    }
    assert!(srv.requests().is_empty());
    assert!(common::warnings().is_empty());
    // The serial alone identifies GCE when the product name is missing.
    let (_d, host) = kit::root(
        &[("product_serial", "GoogleCloud-ABCDEF")],
        &[("ens4", "42:01:0a:00:00:01")],
    );
    let mut ds = gce(&srv.url(), Stage::Network);
    assert!(crawl(
        &mut ds,
        &host,
        &config(json!({})),
        Stage::Network,
        &RecordingNet::new()
    ));
}

#[test]
fn default_address_is_not_queried_from_a_sandbox() {
    common::capture();
    let (_d, host) = gce_root();
    let mut ds = Gce::new(Stage::Network, SourceOptions::default());
    assert!(!crawl(
        &mut ds,
        &host,
        &config(json!({})),
        Stage::Network,
        &RecordingNet::new()
    ));
    assert_eq!(
        common::warnings(),
        ["address \"http://metadata.google.internal/computeMetadata/v1/\" is not resolvable"]
    );
}

#[test]
fn local_stage_dhcp_on_ens4_first() {
    common::capture();
    let seed = kit::seed_dir(&[("meta-data", meta("").as_bytes()), ("user-data", UD)]);
    let srv = kit::serve("gce", &seed, Faults::default());
    let (_d, host) = gce_root();
    let net = RecordingNet::new();
    let mut ds = gce(&srv.url(), Stage::Local);
    assert!(crawl(
        &mut ds,
        &host,
        &config(json!({})),
        Stage::Local,
        &net
    ));
    assert_eq!(ds.display(), "DataSourceGCELocal");
    assert_eq!(ds.primary_nic(), Some("ens4"));
    assert_eq!(
        net.events(),
        ["up Dhcp4 { iface: Some(\"ens4\") }", "down ens4"]
    );
    let back = from_cache(&ds.to_cache(), &SourceOptions::default()).unwrap();
    assert_eq!(back.class_name(), "DataSourceGCELocal");

    // No lease anywhere: every NIC tried, not found, quietly (as upstream).
    common::capture();
    let net = RecordingNet::failing();
    let mut ds = gce(&srv.url(), Stage::Local);
    assert!(!crawl(
        &mut ds,
        &host,
        &config(json!({})),
        Stage::Local,
        &net
    ));
    assert_eq!(
        net.events(),
        [
            "up Dhcp4 { iface: Some(\"ens4\") }",
            "up Dhcp4 { iface: Some(\"eth0\") }"
        ]
    );
    assert!(common::warnings().is_empty(), "{:?}", common::warnings());
}

fn expect_not_found(faults: Faults, cfg: Value, budget: Duration, warning: &str) -> usize {
    common::capture();
    let seed = kit::seed_dir(&[("meta-data", meta("").as_bytes())]);
    let srv = kit::serve("gce", &seed, faults);
    let (_d, host) = gce_root();
    let mut ds = gce(&srv.url(), Stage::Network);
    let t = Instant::now();
    assert!(!crawl(
        &mut ds,
        &host,
        &config(cfg),
        Stage::Network,
        &RecordingNet::new()
    ));
    assert!(t.elapsed() < budget, "took {:?}", t.elapsed());
    assert_eq!(common::warnings(), [warning]);
    srv.requests().len()
}

#[test]
fn missing_instance_id_is_not_gce() {
    let n = expect_not_found(
        kit::not_found("instance/id"),
        json!({"retries": 2}),
        Duration::from_secs(5),
        "required key instance-id returned nothing. not GCE",
    );
    // One attempt plus two retries, then nothing else is asked.
    assert_eq!(n, 3);
}

#[test]
fn server_errors_are_retried() {
    common::capture();
    let seed = kit::seed_dir(&[("meta-data", meta("").as_bytes())]);
    let srv = kit::serve("gce", &seed, kit::fail_first(2, 500));
    let (_d, host) = gce_root();
    let mut ds = gce(&srv.url(), Stage::Network);
    assert!(crawl(
        &mut ds,
        &host,
        &config(json!({"retries": 2})),
        Stage::Network,
        &RecordingNet::new()
    ));
    assert_eq!(ds.instance_id(), "8123456789012345678");
    assert_eq!(srv.requests().len(), 7);
    // Without retries the first failure ends it.
    expect_not_found(
        kit::fail_first(1, 500),
        json!({"retries": 0}),
        Duration::from_secs(5),
        "required key instance-id returned nothing. not GCE",
    );
    // A 503 also says so, as upstream's readurl does.
    common::capture();
    let srv = kit::serve("gce", &seed, kit::fail_first(1, 503));
    let mut ds = gce(&srv.url(), Stage::Network);
    assert!(!crawl(
        &mut ds,
        &host,
        &config(json!({})),
        Stage::Network,
        &RecordingNet::new()
    ));
    assert_eq!(
        common::warnings(),
        [
            "Endpoint returned a 503 error. HTTP endpoint is overloaded. Retrying.",
            "required key instance-id returned nothing. not GCE"
        ]
    );
}

#[test]
fn slow_and_hung_servers_are_bounded() {
    // Each attempt is cut at `timeout` (1 s): two attempts, ~2 s.
    expect_not_found(
        kit::delay(3000),
        json!({"retries": 1}),
        Duration::from_secs(4),
        "required key instance-id returned nothing. not GCE",
    );
    expect_not_found(
        kit::hang("instance/id"),
        json!({"retries": 0}),
        Duration::from_secs(3),
        "required key instance-id returned nothing. not GCE",
    );
}

#[test]
fn truncated_attributes_are_skipped() {
    common::capture();
    let seed = kit::seed_dir(&[("meta-data", meta("").as_bytes()), ("user-data", UD)]);
    let srv = kit::serve("gce", &seed, kit::truncate("instance/attributes/"));
    let (_d, host) = gce_root();
    let mut ds = gce(&srv.url(), Stage::Network);
    let t = Instant::now();
    assert!(crawl(
        &mut ds,
        &host,
        &config(json!({})),
        Stage::Network,
        &RecordingNet::new()
    ));
    assert!(t.elapsed() < Duration::from_secs(3));
    // Instance attributes are optional: no user-data, only project keys.
    assert_eq!(ds.metadata()["instance-data"], Value::Null);
    assert_eq!(ds.userdata_raw(), None);
    assert_eq!(ds.public_ssh_keys(), vec!["ssh-rsa PROJ p@x"]);
}

#[test]
fn crawl_matches_upstream() {
    common::capture();
    let srv = kit::serve_fixture("gce", "gce-seed");
    let (_d, host) = gce_root();
    let mut ds = gce(&srv.url(), Stage::Network);
    assert!(crawl(
        &mut ds,
        &host,
        &config(json!({})),
        Stage::Network,
        &RecordingNet::new()
    ));
    kit::assert_matches_oracle(&ds, &host, "gce-oracle.json", &srv.url());
}

#[test]
fn registered_for_upstream_stages() {
    let o = SourceOptions::default();
    let class = |n: &str, s: Stage| ci_sources::by_name(n, s, &o).map(|d| d.class_name());
    assert_eq!(class("GCE", Stage::Local), Some("DataSourceGCELocal"));
    assert_eq!(class("gce", Stage::Network), Some("DataSourceGCE"));
    assert_eq!(class("AliYun", Stage::Local), Some("DataSourceAliYunLocal"));
    assert_eq!(class("aliyun", Stage::Network), Some("DataSourceAliYun"));
    for n in ["DigitalOcean", "Hetzner", "Vultr"] {
        assert_eq!(
            class(n, Stage::Local),
            Some(format!("DataSource{n}")).as_deref()
        );
        assert_eq!(class(n, Stage::Network), None, "{n} is local-only upstream");
    }
}

#[test]
fn network_refreshed_every_boot_on_gce_and_aliyun() {
    let o = SourceOptions::default();
    for n in ["GCE", "AliYun"] {
        let ds = ci_sources::by_name(n, Stage::Network, &o).unwrap();
        assert_eq!(ds.default_update_events(), ["boot-new-instance", "boot"]);
    }
    let ds = ci_sources::by_name("Hetzner", Stage::Local, &o).unwrap();
    assert_eq!(ds.default_update_events(), ["boot-new-instance"]);
}

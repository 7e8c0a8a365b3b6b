//! The AliYun datasource against the ci-imds AliYun emulator on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "common/gce.rs"]
mod kit;

use ci_host::Host;
use ci_imds::Faults;
use ci_sources::aliyun::AliYun;
use ci_sources::ec2::CrawlPolicy;
use ci_sources::ephemeral::RecordingNet;
use ci_sources::{from_cache, Datasource, SourceContext, SourceOptions, Stage};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const META: &str = r#"
instance-id: i-bp1abcdef
local-hostname: iZbp1abcdefZ
region: cn-hangzhou
availability-zone: cn-hangzhou-h
image-id: ubuntu_24_04_x64_20G_alibase_20250101.vhd
public-keys:
  skp-bp1key: ssh-rsa AAAAALI ali@host
macs:
  "00:16:3e:00:00:01": {vpc-id: vpc-1, ipv6s: "[2408:4005::1]"}
  "00:16:3e:00:00:02": {vpc-id: vpc-1}
serial-number: 4acd2b47-b328-4762-852f-998
"#;
const UD: &[u8] = b"#cloud-config\nruncmd: [echo ali]\n";
const VD: &[u8] = b"#cloud-config\npackages: [vim]\n";
const SEED_FILES: &[(&str, &[u8])] = &[
    ("meta-data", META.as_bytes()),
    ("user-data", UD),
    ("vendor-data", VD),
];

fn ali_root() -> (tempfile::TempDir, Host) {
    kit::root(
        &[("product_name", "Alibaba Cloud ECS")],
        &[("eth0", "00:16:3e:00:00:01"), ("eth1", "00:16:3e:00:00:02")],
    )
}

fn cfg(extra: Value) -> Value {
    let mut d = json!({"max_wait": 2, "timeout": 1});
    if let (Value::Object(a), Value::Object(b)) = (&mut d, extra) {
        a.extend(b);
    }
    json!({"datasource": {"AliYun": d}})
}

fn ds(url: &str, stage: Stage) -> AliYun {
    AliYun::new(stage, SourceOptions::default())
        .with_metadata_urls([url])
        .with_crawl_policy(CrawlPolicy {
            timeout: Duration::from_secs(1),
            retries: 1,
            sec_between: Duration::ZERO,
        })
}

fn crawl(ds: &mut AliYun, host: &Host, cfg: &Value, stage: Stage, net: &RecordingNet) -> bool {
    let ctx = SourceContext::new(host, cfg, stage)
        .with_cmdline("")
        .with_net(net);
    ds.crawl(&ctx).unwrap()
}

fn expected_metadata() -> Value {
    json!({
        "instance-id": "i-bp1abcdef",
        "hostname": "iZbp1abcdefZ",
        "image-id": "ubuntu_24_04_x64_20G_alibase_20250101.vhd",
        "region-id": "cn-hangzhou",
        "zone-id": "cn-hangzhou-h",
        "public-keys": {"skp-bp1key": {"openssh-key": "ssh-rsa AAAAALI ali@host"}},
        "network": {"interfaces": {"macs": {
            "00:16:3e:00:00:01": {"vpc-id": "vpc-1", "ipv6s": "[2408:4005::1]"},
            "00:16:3e:00:00:02": {"vpc-id": "vpc-1"}
        }}},
        "serial-number": "4acd2b47-b328-4762-852f-998"
    })
}

#[test]
fn network_stage_success() {
    common::capture();
    let seed = kit::seed_dir(SEED_FILES);
    let srv = kit::serve("aliyun", &seed, Faults::default());
    let (_d, host) = ali_root();
    let mut ds = ds(&srv.url(), Stage::Network);
    assert!(crawl(
        &mut ds,
        &host,
        &cfg(json!({})),
        Stage::Network,
        &RecordingNet::new()
    ));
    assert_eq!(ds.metadata(), &expected_metadata());
    assert_eq!(ds.instance_id(), "i-bp1abcdef");
    assert_eq!(ds.local_hostname(&host).as_deref(), Some("iZbp1abcdefZ"));
    assert_eq!(ds.public_ssh_keys(), ["ssh-rsa AAAAALI ali@host"]);
    assert_eq!(ds.userdata_raw(), Some(UD));
    assert_eq!(ds.vendordata_raw(), Some(VD));
    assert_eq!(ds.cloud_name(), "aliyun");
    assert_eq!(ds.platform_type(), "aliyun");
    assert_eq!(ds.subplatform(), format!("metadata ({})", srv.url()));
    assert_eq!(ds.display(), "DataSourceAliYun");
    assert_eq!((ds.region(), ds.availability_zone()), (None, None));
    assert_eq!(
        ds.network_config(),
        Some(json!({"version": 2, "ethernets": {
            "eth0": {"dhcp4": true, "dhcp4-overrides": {"route-metric": 100}, "dhcp6": true,
                     "match": {"macaddress": "00:16:3e:00:00:01"}, "set-name": "eth0",
                     "dhcp6-overrides": {"route-metric": 100}},
            "eth1": {"dhcp4": true, "dhcp4-overrides": {"route-metric": 200}, "dhcp6": false,
                     "match": {"macaddress": "00:16:3e:00:00:02"}, "set-name": "eth1"}
        }}))
    );
    let paths: Vec<String> = srv
        .requests()
        .iter()
        .map(|r| format!("{} {} {}", r.method, r.path, r.status))
        .collect();
    assert_eq!(
        paths,
        [
            "PUT /latest/api/token 200",
            "GET /2016-01-01/user-data 200",
            "GET /2016-01-01/vendor-data 200",
            "GET /2016-01-01/meta-data/all 200"
        ]
    );
    assert!(common::warnings().is_empty(), "{:?}", common::warnings());
    let back = from_cache(&ds.to_cache(), &SourceOptions::default()).unwrap();
    assert_eq!(back.class_name(), "DataSourceAliYun");
    assert_eq!(back.cloud_name(), "aliyun");
    assert_eq!(back.network_config(), ds.network_config());
    assert_eq!(back.local_hostname(&host), ds.local_hostname(&host));
}

#[test]
fn missing_vendor_data_warns_as_upstream() {
    common::capture();
    let seed = kit::seed_dir(&[("meta-data", META.as_bytes())]);
    let srv = kit::serve("aliyun", &seed, Faults::default());
    let (_d, host) = ali_root();
    let mut ds = ds(&srv.url(), Stage::Network);
    assert!(crawl(
        &mut ds,
        &host,
        &cfg(json!({})),
        Stage::Network,
        &RecordingNet::new()
    ));
    assert_eq!(ds.userdata_raw(), Some(&b""[..]));
    assert_eq!(ds.vendordata_raw(), Some(&b""[..]));
    // A 404 is not retried.
    assert_eq!(srv.count("GET", "/user-data"), 1);
    assert_eq!(
        common::warnings(),
        [
            format!(
                "Failed fetching user-data from url {}/2016-01-01/user-data",
                srv.url()
            ),
            format!(
                "Failed fetching vendor-data from url {}/2016-01-01/vendor-data",
                srv.url()
            )
        ]
    );
}

#[test]
fn expired_token_is_refreshed() {
    common::capture();
    let meta = format!("{META}aliyun-token: required\n");
    let seed = kit::seed_dir(&[
        ("meta-data", meta.as_bytes()),
        ("user-data", UD),
        ("vendor-data", VD),
    ]);
    let faults = Faults {
        revoke_tokens_after: Some(2),
        ..Faults::default()
    };
    let srv = kit::serve("aliyun", &seed, faults);
    let (_d, host) = ali_root();
    let mut ds = ds(&srv.url(), Stage::Network);
    assert!(crawl(
        &mut ds,
        &host,
        &cfg(json!({})),
        Stage::Network,
        &RecordingNet::new()
    ));
    assert_eq!(ds.metadata(), &expected_metadata());
    assert_eq!(ds.vendordata_raw(), Some(VD));
    assert_eq!(srv.count("PUT", "/latest/api/token"), 2);
    assert!(srv.requests().iter().any(|r| r.status == 401));
}

#[test]
fn token_refused_means_not_found() {
    common::capture();
    let seed = kit::seed_dir(SEED_FILES);
    let srv = kit::serve("aliyun", &seed, kit::not_found("api/token"));
    let (_d, host) = ali_root();
    let mut ds = ds(&srv.url(), Stage::Network);
    let t = Instant::now();
    assert!(!crawl(
        &mut ds,
        &host,
        &cfg(json!({})),
        Stage::Network,
        &RecordingNet::new()
    ));
    assert!(t.elapsed() < Duration::from_secs(2));
    let w = common::warnings();
    assert_eq!(w.len(), 3, "{w:?}");
    assert!(w[0].starts_with(&format!(
        "Calling '{}/latest/api/token' failed [0/2s]",
        srv.url()
    )));
    assert_eq!(w[1], "Fatal error while requesting Ecs IMDSv2 API tokens");
    assert_eq!(w[2], "IMDS's HTTP endpoint is probably disabled");
    assert_eq!(srv.requests().len(), 1);
}

#[test]
fn meta_all_missing_falls_back_to_the_tree() {
    common::capture();
    let seed = kit::seed_dir(SEED_FILES);
    let srv = kit::serve("aliyun", &seed, kit::not_found("meta-data/all"));
    let (_d, host) = ali_root();
    let mut ds = ds(&srv.url(), Stage::Network);
    assert!(crawl(
        &mut ds,
        &host,
        &cfg(json!({})),
        Stage::Network,
        &RecordingNet::new()
    ));
    // Same content; directories come first, as upstream's materializer orders them.
    assert_eq!(ds.metadata(), &expected_metadata());
    assert_eq!(
        ds.metadata()
            .as_object()
            .unwrap()
            .keys()
            .next()
            .map(String::as_str),
        Some("public-keys")
    );
    assert_eq!(
        common::warnings(),
        [
            "whole meta_path is not found, skipping".to_string(),
            format!(
                "Faild read json meta-data from {} fall back directory tree style",
                srv.url()
            )
        ]
    );
}

#[test]
fn not_aliyun() {
    common::capture();
    let seed = kit::seed_dir(SEED_FILES);
    let srv = kit::serve("aliyun", &seed, Faults::default());
    let (_d, host) = kit::root(&[("product_name", "KVM")], &[("eth0", "00:16:3e:00:00:01")]);
    let net = RecordingNet::new();
    for stage in [Stage::Local, Stage::Network] {
        let mut ds = ds(&srv.url(), stage);
        assert!(!crawl(&mut ds, &host, &cfg(json!({})), stage, &net));
        assert_eq!(ds.cloud_name(), "no_aliyun_metadata");
    }
    assert!(net.events().is_empty());
    assert!(srv.requests().is_empty());
}

#[test]
fn local_stage_over_dhcp() {
    common::capture();
    let seed = kit::seed_dir(SEED_FILES);
    let srv = kit::serve("aliyun", &seed, Faults::default());
    let (_d, host) = ali_root();
    let net = RecordingNet::new();
    let mut ds = ds(&srv.url(), Stage::Local);
    assert!(crawl(&mut ds, &host, &cfg(json!({})), Stage::Local, &net));
    assert_eq!(ds.display(), "DataSourceAliYunLocal");
    assert_eq!(
        net.events(),
        ["up Dhcp4 { iface: Some(\"eth0\") }", "down eth0"]
    );
    let mut ds2 = self::ds(&srv.url(), Stage::Local);
    let failing = RecordingNet::failing();
    assert!(!crawl(
        &mut ds2,
        &host,
        &cfg(json!({})),
        Stage::Local,
        &failing
    ));
}

#[test]
fn slow_and_hung_token_service_is_bounded() {
    let seed = kit::seed_dir(SEED_FILES);
    for faults in [kit::delay(3000), kit::hang("api/token")] {
        common::capture();
        let srv = kit::serve("aliyun", &seed, faults);
        let (_d, host) = ali_root();
        let mut ds = ds(&srv.url(), Stage::Network);
        let t = Instant::now();
        assert!(!crawl(
            &mut ds,
            &host,
            &cfg(json!({})),
            Stage::Network,
            &RecordingNet::new()
        ));
        assert!(
            t.elapsed() < Duration::from_secs(4),
            "took {:?}",
            t.elapsed()
        );
        assert_eq!(
            common::warnings().last().map(String::as_str),
            Some("IMDS's HTTP endpoint is probably disabled")
        );
    }
}

#[test]
fn token_errors_and_truncation() {
    common::capture();
    let seed = kit::seed_dir(SEED_FILES);
    // Any 4xx/5xx answer to the token PUT ends the wait at once, as upstream.
    let srv = kit::serve("aliyun", &seed, kit::fail_first(1, 500));
    let (_d, host) = ali_root();
    let mut ds = ds(&srv.url(), Stage::Network);
    assert!(!crawl(
        &mut ds,
        &host,
        &cfg(json!({"max_wait": 5})),
        Stage::Network,
        &RecordingNet::new()
    ));
    assert_eq!(srv.requests().len(), 1);
    assert!(common::warnings()
        .contains(&"Fatal error while requesting Ecs IMDSv2 API tokens".to_string()));
    // A truncated meta-data/all is retried, then the tree is crawled.
    common::capture();
    let srv = kit::serve("aliyun", &seed, kit::truncate("meta-data/all"));
    let mut ds = self::ds(&srv.url(), Stage::Network);
    assert!(crawl(
        &mut ds,
        &host,
        &cfg(json!({})),
        Stage::Network,
        &RecordingNet::new()
    ));
    assert_eq!(ds.instance_id(), "i-bp1abcdef");
    assert_eq!(srv.count("GET", "/meta-data/all"), 2);
}

#[test]
fn crawl_matches_upstream() {
    common::capture();
    let srv = kit::serve_fixture("aliyun", "aliyun-seed");
    let (_d, host) = ali_root();
    let mut ds = ds(&srv.url(), Stage::Network);
    assert!(crawl(
        &mut ds,
        &host,
        &cfg(json!({})),
        Stage::Network,
        &RecordingNet::new()
    ));
    kit::assert_matches_oracle(&ds, &host, "aliyun-oracle.json", &srv.url());
}

//! Differential check: what upstream's DataSourceEc2 crawled from the
//! emulator serving `fixtures/ec2-seed` (see `regen-ec2.py`) equals what
//! the Rust datasource crawls from the same emulated tree, key order included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use ci_host::Host;
use ci_imds::{Faults, Server, TokenMode};
use ci_sources::ec2::CrawlPolicy;
use ci_sources::{Datasource, Ec2, SourceContext, SourceOptions, Stage};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[test]
fn crawl_matches_upstream() {
    common::capture();
    let oracle: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("ec2-oracle.json")).unwrap())
            .unwrap();
    let mut seed = ci_imds::load_seed(&fixture("ec2-seed")).unwrap();
    seed.token = TokenMode::Required;
    let srv = Server::start(seed, Faults::default(), "127.0.0.1:0").unwrap();

    let d = tempfile::tempdir().unwrap();
    let host = Host::new(d.path());
    common::write(
        &host,
        "/sys/class/dmi/id/product_uuid",
        "ec2e1916-9099-7caf-fd21-012345abcdef\n",
    );
    common::write(&host, "/sys/class/net/ens5/address", "06:00:00:00:00:01\n");
    common::write(&host, "/sys/class/net/ens6/address", "06:00:00:00:00:02\n");
    let cfg = json!({"datasource": {"Ec2": {"max_wait": 5, "timeout": 2}}});
    let ctx = SourceContext::new(&host, &cfg, Stage::Network).with_cmdline("");
    let mut ds = Ec2::new(Stage::Network, SourceOptions::default())
        .with_metadata_urls([srv.url()])
        .with_crawl_policy(CrawlPolicy {
            timeout: Duration::from_secs(2),
            retries: 1,
            sec_between: Duration::ZERO,
        });
    assert!(ds.crawl(&ctx).unwrap());

    let ordered = |v: &Value| serde_json::to_string_pretty(v).unwrap();
    assert_eq!(ordered(ds.metadata()), ordered(&oracle["metadata"]));
    assert_eq!(ordered(ds.identity()), ordered(&oracle["identity"]));
    assert_eq!(
        ordered(&ds.network_config().unwrap()),
        ordered(&oracle["network_config"])
    );
    assert_eq!(
        Some(json!(ds.api_version())),
        oracle.get("api_version").cloned()
    );
    assert_eq!(
        ds.userdata_raw()
            .map(|u| String::from_utf8_lossy(u).into_owned()),
        oracle["userdata"].as_str().map(String::from)
    );
    assert_eq!(json!(ds.instance_id()), oracle["instance_id"]);
    assert_eq!(json!(ds.region()), oracle["region"]);
    assert_eq!(json!(ds.availability_zone()), oracle["availability_zone"]);
    assert_eq!(json!(ds.cloud_name()), oracle["cloud_name"]);
    assert_eq!(json!(ds.platform_type()), oracle["platform_type"]);
    assert_eq!(ds.launch_index(), Some(oracle["launch_index"].clone()));
    assert_eq!(json!(ds.public_ssh_keys()), oracle["public_keys"]);
    assert_eq!(json!(ds.local_hostname(&host)), oracle["hostname"]);
    // Upstream warns about the missing singular `subnet-ipv6-cidr-block`.
    assert!(common::warnings().contains(
        &"Could not parse subnet-ipv6-cidr-block None for mac 06:00:00:00:00:01. ipv6 network config prefix defaults to /128".to_string()
    ));
}

//! Ec2Local: the Ec2 datasource in the local stage, inside temporary
//! networking (recorded, never real), against the emulator on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use ci_host::Host;
use ci_imds::{Faults, Seed, Server, TokenMode};
use ci_sources::ec2::CrawlPolicy;
use ci_sources::ephemeral::{EphemeralKind, EphemeralNet, Lease, LeaseInfo, RecordingNet};
use ci_sources::{by_name, from_cache, Datasource, Ec2, SourceContext, SourceError};
use ci_sources::{SourceOptions, Stage};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const MAC: &str = "0a:00:00:00:00:01";
const META: &str = r#"
instance-id: i-0local
local-hostname: ip-10-0-0-7.eu-west-1.compute.internal
region: eu-west-1
availability-zone: eu-west-1a
public-keys:
  k: ssh-ed25519 AAAAC3 me@host
macs:
  "0a:00:00:00:00:01":
    device-number: 0
    local-ipv4s: 10.0.0.7
    vpc-id: vpc-1
"#;
const USER_DATA: &str = "#cloud-config\n{}\n";

fn serve(token: TokenMode) -> Server {
    let Value::Object(md) = ci_yaml::load(META).unwrap() else {
        panic!("meta-data is a mapping")
    };
    let mut seed = Seed::from_meta_data(&md, Some(USER_DATA.as_bytes().to_vec()));
    seed.token = token;
    Server::start(seed, Faults::default(), "127.0.0.1:0").unwrap()
}

enum Cloud {
    Aws,
    Outscale,
    Unknown,
}

fn root(cloud: Cloud) -> (tempfile::TempDir, Host) {
    let d = tempfile::tempdir().unwrap();
    let h = Host::new(d.path());
    match cloud {
        Cloud::Aws => common::write(
            &h,
            "/sys/class/dmi/id/product_uuid",
            "ec2e1916-9099-7caf-fd21-012345abcdef\n",
        ),
        Cloud::Outscale => {
            common::write(&h, "/sys/class/dmi/id/product_name", "3DS Outscale VM\n");
            common::write(&h, "/sys/class/dmi/id/sys_vendor", "3DS Outscale\n");
        }
        Cloud::Unknown => {}
    }
    common::write(&h, "/sys/class/net/eth0/address", &format!("{MAC}\n"));
    common::write(&h, "/sys/class/net/eth0/carrier", "1\n");
    (d, h)
}

fn config(url: &str) -> Value {
    json!({"datasource": {"Ec2": {"max_wait": 2, "timeout": 1, "metadata_urls": [url]}}})
}

fn local_ds() -> Ec2 {
    Ec2::new(Stage::Local, SourceOptions::default()).with_crawl_policy(CrawlPolicy {
        timeout: Duration::from_secs(1),
        retries: 1,
        sec_between: Duration::from_millis(50),
    })
}

/// A recording network that also notes how many requests the emulator had
/// seen at each bring-up and tear-down, and can refuse DHCPv4 alone.
struct WatchedNet {
    inner: RecordingNet,
    srv: Arc<Server>,
    fail_dhcp4: bool,
    marks: Arc<Mutex<Vec<(String, usize)>>>,
}

struct WatchedLease {
    inner: Box<dyn Lease>,
    srv: Arc<Server>,
    marks: Arc<Mutex<Vec<(String, usize)>>>,
}

impl Lease for WatchedLease {
    fn info(&self) -> &LeaseInfo {
        self.inner.info()
    }
}

impl Drop for WatchedLease {
    fn drop(&mut self) {
        let n = self.srv.requests().len();
        self.marks.lock().unwrap().push(("down".into(), n));
    }
}

impl EphemeralNet for WatchedNet {
    fn bring_up(&self, kind: &EphemeralKind) -> Result<Box<dyn Lease>, SourceError> {
        let n = self.srv.requests().len();
        self.marks.lock().unwrap().push((format!("up {kind:?}"), n));
        if self.fail_dhcp4 && matches!(kind, EphemeralKind::Dhcp4 { .. }) {
            return Err(SourceError::Malformed {
                what: "ephemeral network".into(),
                message: "no DHCP lease (test)".into(),
            });
        }
        Ok(Box::new(WatchedLease {
            inner: self.inner.bring_up(kind)?,
            srv: Arc::clone(&self.srv),
            marks: Arc::clone(&self.marks),
        }))
    }
}

fn watched(srv: &Arc<Server>, fail_dhcp4: bool) -> WatchedNet {
    WatchedNet {
        inner: RecordingNet::new(),
        srv: Arc::clone(srv),
        fail_dhcp4,
        marks: Arc::new(Mutex::new(Vec::new())),
    }
}

#[test]
fn aws_crawls_inside_the_ephemeral_network() {
    common::capture();
    let srv = Arc::new(serve(TokenMode::Required));
    let (_d, host) = root(Cloud::Aws);
    let cfg = config(&srv.url());
    let net = watched(&srv, false);
    let ctx = SourceContext::new(&host, &cfg, Stage::Local)
        .with_cmdline("")
        .with_net(&net);
    let mut ds = local_ds();
    assert!(ds.needs_ephemeral_net());
    assert!(ds.crawl(&ctx).unwrap());

    // DHCPv4 and the IPv6 link come up before the first request and go
    // down (IPv6 first) right after the last one.
    assert_eq!(
        net.inner.events(),
        [
            "up Dhcp4 { iface: None }",
            "up LinkLocal6 { iface: None }",
            "down eth0",
            "down eth0"
        ]
    );
    // token, probe, user-data, identity document, meta-data tree (7
    // listings, 9 leaves besides the probe's instance-id); none twice.
    let reqs = srv.requests();
    let total = reqs.len();
    assert_eq!(total, 1 + 1 + 1 + 1 + 16, "{reqs:#?}");
    let mut paths: Vec<&str> = reqs.iter().map(|r| r.path.as_str()).collect();
    paths.sort();
    paths.dedup();
    assert_eq!(paths.len(), total);
    assert_eq!(
        *net.marks.lock().unwrap(),
        [
            ("up Dhcp4 { iface: None }".to_string(), 0),
            ("up LinkLocal6 { iface: None }".to_string(), 0),
            ("down".to_string(), total),
            ("down".to_string(), total)
        ]
    );
    assert!(
        common::messages().contains(&"Crawled metadata service using link-local ipv6".to_string())
    );
    assert!(common::warnings().is_empty(), "{:?}", common::warnings());

    assert_eq!(ds.dsname(), "Ec2");
    assert_eq!(ds.class_name(), "DataSourceEc2Local");
    assert_eq!(ds.display(), "DataSourceEc2Local");
    assert_eq!(ds.instance_id(), "i-0local");
    assert_eq!(ds.cloud_name(), "aws");
    assert_eq!(ds.platform_type(), "ec2");
    assert_eq!(ds.subplatform(), format!("metadata ({})", srv.url()));
    assert_eq!(ds.region().as_deref(), Some("eu-west-1"));
    assert_eq!(ds.availability_zone().as_deref(), Some("eu-west-1a"));
    assert_eq!(ds.public_ssh_keys(), ["ssh-ed25519 AAAAC3 me@host"]);
    assert_eq!(ds.userdata_raw(), Some(USER_DATA.as_bytes()));
    let net_cfg = json!({"version": 2, "ethernets": {"eth0": {
        "dhcp4": true, "dhcp6": false,
        "match": {"macaddress": MAC}, "set-name": "eth0"
    }}});
    assert_eq!(ds.network_config(), Some(net_cfg.clone()));

    // Restored from the cache as the local class, without the service.
    let cached = ds.to_cache();
    assert_eq!(cached["class"], "DataSourceEc2Local");
    assert_eq!(cached["dsname"], "Ec2");
    let back = from_cache(&cached, &SourceOptions::default()).unwrap();
    assert_eq!(back.class_name(), "DataSourceEc2Local");
    assert_eq!(back.stage(), Stage::Local);
    assert_eq!(back.instance_id(), "i-0local");
    assert_eq!(back.network_config(), Some(net_cfg));
    assert_eq!(back.userdata_raw(), Some(USER_DATA.as_bytes()));
}

#[test]
fn outscale_crawls_locally_without_token() {
    let srv = Arc::new(serve(TokenMode::Unsupported(405)));
    let (_d, host) = root(Cloud::Outscale);
    let cfg = config(&srv.url());
    let net = watched(&srv, false);
    let ctx = SourceContext::new(&host, &cfg, Stage::Local)
        .with_cmdline("")
        .with_net(&net);
    let mut ds = local_ds();
    assert!(ds.crawl(&ctx).unwrap());
    assert_eq!(ds.cloud_name(), "outscale");
    assert_eq!(ds.instance_id(), "i-0local");
    assert_eq!(srv.count("PUT", ""), 0);
    assert_eq!(net.inner.events().len(), 4);
}

#[test]
fn dhcp4_failure_falls_back_to_ipv6_link() {
    common::capture();
    let srv = Arc::new(serve(TokenMode::Required));
    let (_d, host) = root(Cloud::Aws);
    let cfg = config(&srv.url());
    let net = watched(&srv, true);
    let ctx = SourceContext::new(&host, &cfg, Stage::Local)
        .with_cmdline("")
        .with_net(&net);
    let mut ds = local_ds();
    assert!(ds.crawl(&ctx).unwrap());
    assert_eq!(ds.instance_id(), "i-0local");
    assert_eq!(
        net.inner.events(),
        ["up LinkLocal6 { iface: None }", "down eth0"]
    );
    let marks = net.marks.lock().unwrap().clone();
    assert_eq!(marks.len(), 3, "{marks:?}");
    assert_eq!(
        marks.last(),
        Some(&("down".to_string(), srv.requests().len()))
    );
    assert!(common::messages()
        .contains(&"Failed to bring up eth0 for ephemeral ipv4 networking.".to_string()));
    assert!(common::warnings().is_empty(), "{:?}", common::warnings());
}

#[test]
fn no_network_at_all_is_not_found_quickly() {
    common::capture();
    let srv = serve(TokenMode::Required);
    let (_d, host) = root(Cloud::Aws);
    let cfg = config(&srv.url());
    let net = RecordingNet::failing();
    let ctx = SourceContext::new(&host, &cfg, Stage::Local)
        .with_cmdline("")
        .with_net(&net);
    let mut ds = local_ds();
    let t = Instant::now();
    assert!(!ds.crawl(&ctx).unwrap());
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    assert_eq!(
        net.events(),
        ["up Dhcp4 { iface: None }", "up LinkLocal6 { iface: None }"]
    );
    assert!(srv.requests().is_empty());
    assert_eq!(ds.request_count(), 0);
    // Upstream logs this at ERROR level too.
    assert_eq!(
        common::warnings(),
        ["Failed to bring up EphemeralIPNetwork. Datasource setup cannot continue"]
    );
}

#[test]
fn other_platforms_are_not_crawled_locally() {
    common::capture();
    let srv = serve(TokenMode::Optional);
    let (_d, host) = root(Cloud::Unknown);
    let cfg = config(&srv.url());
    let net = RecordingNet::new();
    let ctx = SourceContext::new(&host, &cfg, Stage::Local)
        .with_cmdline("")
        .with_net(&net);
    let mut ds = local_ds();
    let t = Instant::now();
    assert!(!ds.crawl(&ctx).unwrap());
    assert!(t.elapsed() < Duration::from_millis(500));
    assert!(net.events().is_empty());
    assert!(srv.requests().is_empty());
    assert!(common::messages().contains(
        &"Local Ec2 mode only supported on ('aws', 'outscale'), not unknown".to_string()
    ));
    assert!(common::warnings().is_empty(), "{:?}", common::warnings());

    // The network stage still crawls it (IMDSv1, no token).
    let ctx = SourceContext::new(&host, &cfg, Stage::Network).with_cmdline("");
    let mut ds = Ec2::new(Stage::Network, SourceOptions::default());
    assert!(ds.crawl(&ctx).unwrap());
    assert_eq!(ds.instance_id(), "i-0local");
}

#[test]
fn registry_gives_the_local_class() {
    let o = SourceOptions::default();
    let ds = by_name("ec2", Stage::Local, &o).unwrap();
    assert_eq!(ds.class_name(), "DataSourceEc2Local");
    assert_eq!(ds.dsname(), "Ec2");
    assert!(ds.needs_ephemeral_net());
}

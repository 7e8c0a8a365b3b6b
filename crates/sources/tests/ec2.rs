//! The Ec2 datasource against the ci-imds emulator on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use ci_host::Host;
use ci_imds::{Faults, Seed, Server, TokenMode};
use ci_sources::ec2::CrawlPolicy;
use ci_sources::{from_cache, Datasource, Ec2, SourceContext, SourceOptions, Stage};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const MAC: &str = "0a:00:00:00:00:01";

const META: &str = r#"
instance-id: i-0abc
local-hostname: ip-10-0-0-5.us-east-2.compute.internal
ami-launch-index: 0
region: us-east-2
availability-zone: us-east-2b
public-keys:
  mykey: ssh-ed25519 AAAAC3 me@host
macs:
  "0a:00:00:00:00:01":
    device-number: 0
    local-ipv4s: [10.0.0.5, 10.0.0.6]
    subnet-ipv4-cidr-block: 10.0.0.0/20
    ipv6s: "2600:1f16::5"
    vpc-id: vpc-1
"#;

const USER_DATA: &str = "#cloud-config\nruncmd: [echo hi]\n";

fn seed(token: TokenMode, user_data: bool) -> Seed {
    let Value::Object(md) = ci_yaml::load(META).unwrap() else {
        panic!("meta-data is a mapping")
    };
    let mut s = Seed::from_meta_data(&md, user_data.then(|| USER_DATA.as_bytes().to_vec()));
    s.token = token;
    s
}

fn start(seed: Seed, faults: Faults) -> Server {
    Server::start(seed, faults, "127.0.0.1:0").unwrap()
}

/// A root that looks like an EC2 instance (or an unknown cloud) with one NIC.
fn root(aws: bool) -> (tempfile::TempDir, Host) {
    let d = tempfile::tempdir().unwrap();
    let h = Host::new(d.path());
    if aws {
        common::write(
            &h,
            "/sys/class/dmi/id/product_uuid",
            "EC2E1916-9099-7CAF-FD21-012345ABCDEF\n",
        );
    }
    common::write(&h, "/sys/class/net/eth0/address", &format!("{MAC}\n"));
    common::write(&h, "/sys/class/net/lo/address", "00:00:00:00:00:00\n");
    (d, h)
}

fn config(extra: Value) -> Value {
    let mut ec2 = json!({"max_wait": 2, "timeout": 1});
    if let (Value::Object(e), Value::Object(x)) = (&mut ec2, extra) {
        e.extend(x);
    }
    json!({"datasource": {"Ec2": ec2}})
}

fn ds(url: &str) -> Ec2 {
    Ec2::new(Stage::Network, SourceOptions::default())
        .with_metadata_urls([url])
        .with_crawl_policy(CrawlPolicy {
            timeout: Duration::from_secs(1),
            retries: 2,
            sec_between: Duration::from_millis(50),
        })
}

fn crawl(ds: &mut Ec2, host: &Host, cfg: &Value) -> Result<bool, ci_sources::SourceError> {
    let ctx = SourceContext::new(host, cfg, Stage::Network).with_cmdline("");
    ds.crawl(&ctx)
}

#[test]
fn aws_imdsv2_success() {
    common::capture();
    let srv = start(seed(TokenMode::Required, true), Faults::default());
    let (_d, host) = root(true);
    let mut ds = ds(&srv.url());
    assert!(crawl(&mut ds, &host, &config(json!({}))).unwrap());

    assert_eq!(ds.instance_id(), "i-0abc");
    assert_eq!(ds.local_hostname(&host).as_deref(), Some("ip-10-0-0-5"));
    assert_eq!(ds.public_ssh_keys(), vec!["ssh-ed25519 AAAAC3 me@host"]);
    assert_eq!(ds.userdata_raw(), Some(USER_DATA.as_bytes()));
    assert_eq!(ds.region().as_deref(), Some("us-east-2"));
    assert_eq!(ds.availability_zone().as_deref(), Some("us-east-2b"));
    assert_eq!(ds.cloud_name(), "aws");
    assert_eq!(ds.platform_type(), "ec2");
    assert_eq!(ds.subplatform(), format!("metadata ({})", srv.url()));
    assert_eq!(ds.display(), "DataSourceEc2");
    assert_eq!(ds.launch_index(), Some(json!("0")));
    assert_eq!(ds.api_version(), Some("2021-03-23"));
    assert_eq!(ds.identity()["instanceId"], "i-0abc");
    assert_eq!(
        ds.metadata(),
        &json!({
            "placement": {"availability-zone": "us-east-2b", "region": "us-east-2"},
            "public-keys": {"mykey": "ssh-ed25519 AAAAC3 me@host"},
            "network": {"interfaces": {"macs": {MAC: {
                "device-number": "0",
                "local-ipv4s": ["10.0.0.5", "10.0.0.6"],
                "subnet-ipv4-cidr-block": "10.0.0.0/20",
                "ipv6s": "2600:1f16::5",
                "vpc-id": "vpc-1"
            }}}},
            "instance-id": "i-0abc",
            "local-hostname": "ip-10-0-0-5.us-east-2.compute.internal",
            "ami-launch-index": "0",
            "hostname": "ip-10-0-0-5.us-east-2.compute.internal",
            "mac": MAC
        })
    );
    assert_eq!(
        ds.network_config(),
        Some(json!({"version": 2, "ethernets": {"eth0": {
            "dhcp4": true, "dhcp6": true,
            "match": {"macaddress": MAC}, "set-name": "eth0",
            "addresses": ["10.0.0.6/20"]
        }}}))
    );

    // One token for the whole crawl; every GET carries it; nothing retried.
    let reqs = srv.requests();
    assert_eq!(srv.count("PUT", "/latest/api/token"), 1);
    assert!(reqs.iter().all(|r| r.status == 200), "{reqs:?}");
    assert!(reqs.iter().filter(|r| r.method == "GET").all(|r| r.token));
    let mut paths: Vec<&str> = reqs.iter().map(|r| r.path.as_str()).collect();
    let n = paths.len();
    paths.sort();
    paths.dedup();
    // Nothing is read twice: the probe's meta-data/instance-id is reused.
    assert_eq!(paths.len(), n, "a path was fetched twice: {reqs:?}");
    assert_eq!(ds.request_count(), reqs.len());
    // token + probe + user-data + identity document + meta-data tree
    // (7 directory listings, 12 leaves besides instance-id); upstream
    // makes 25: it reads instance-id twice and lists dynamic/instance-identity.
    assert_eq!(srv.count("GET", "/dynamic/instance-identity/document"), 1);
    assert_eq!(srv.count("GET", "/dynamic/instance-identity"), 0);
    assert_eq!(reqs.len(), 1 + 1 + 1 + 1 + 19, "{reqs:#?}");
    assert!(common::warnings().is_empty(), "{:?}", common::warnings());

    // The cache gives back the same answers without the service.
    let back = from_cache(&ds.to_cache(), &SourceOptions::default()).unwrap();
    assert_eq!(back.instance_id(), "i-0abc");
    assert_eq!(back.region().as_deref(), Some("us-east-2"));
    assert_eq!(back.cloud_name(), "aws");
    assert_eq!(back.network_config(), ds.network_config());
    assert_eq!(back.userdata_raw(), ds.userdata_raw());
}

#[test]
fn imdsv2_required_without_token_gives_up() {
    common::capture();
    // Unknown platform: upstream sends no token, so an IMDSv2-only service answers 401.
    let srv = start(seed(TokenMode::Required, true), Faults::default());
    let (_d, host) = root(false);
    let mut ds = ds(&srv.url());
    let t = Instant::now();
    assert!(!crawl(&mut ds, &host, &config(json!({}))).unwrap());
    assert!(t.elapsed() < Duration::from_secs(5));
    let reqs = srv.requests();
    assert!(!reqs.is_empty());
    assert!(reqs
        .iter()
        .all(|r| r.status == 401 && r.path == "/2009-04-04/meta-data/instance-id"));
    let w = common::warnings();
    assert!(
        w.iter().any(|m| m.starts_with(&format!(
            "Calling '{}/2009-04-04/meta-data/instance-id' failed [0/2s]",
            srv.url()
        ))),
        "{w:?}"
    );
    assert!(
        w.iter().any(|m| m.starts_with("Giving up on md from")),
        "{w:?}"
    );
}

#[test]
fn non_aws_uses_imdsv1() {
    common::capture();
    let srv = start(seed(TokenMode::Unsupported(405), true), Faults::default());
    let (_d, host) = root(false);
    let mut ds = ds("http://127.0.0.1:9").with_metadata_urls([srv.url()]);
    // metadata_urls from the config win over the constructor's.
    let cfg = config(json!({"metadata_urls": [srv.url()]}));
    assert!(crawl(&mut ds, &host, &cfg).unwrap());
    assert_eq!(ds.cloud_name(), "unknown");
    assert_eq!(ds.instance_id(), "i-0abc");
    assert_eq!(ds.region().as_deref(), Some("us-east-2"));
    assert_eq!(ds.identity(), &json!({}));
    assert_eq!(srv.count("PUT", ""), 0);
    assert_eq!(srv.count("GET", "/dynamic/instance-identity"), 0);
    assert!(srv.requests().iter().all(|r| !r.token));
    assert_eq!(
        srv.requests().first().map(|r| r.path.clone()).as_deref(),
        Some("/2009-04-04/meta-data/instance-id")
    );
}

#[test]
fn strict_id_true_skips_unknown_platform() {
    let srv = start(seed(TokenMode::Optional, true), Faults::default());
    let (_d, host) = root(false);
    let mut ds = ds(&srv.url());
    let cfg = config(json!({"strict_id": true}));
    assert!(!crawl(&mut ds, &host, &cfg).unwrap());
    assert!(srv.requests().is_empty());
}

#[test]
fn aws_token_forbidden_aborts_without_v1_fallback() {
    common::capture();
    let srv = start(seed(TokenMode::Unsupported(403), true), Faults::default());
    let (_d, host) = root(true);
    let mut ds = ds(&srv.url());
    assert!(!crawl(&mut ds, &host, &config(json!({}))).unwrap());
    assert_eq!(srv.requests().len(), 1);
    let w = common::warnings();
    assert!(w.contains(
        &"Ec2 IMDS endpoint returned a 403 error. HTTP endpoint is disabled. Aborting.".to_string()
    ));
    assert!(w.contains(&"IMDS's HTTP endpoint is probably disabled".to_string()));
}

#[test]
fn missing_user_data_is_empty_and_not_retried() {
    let srv = start(seed(TokenMode::Optional, false), Faults::default());
    let (_d, host) = root(true);
    let mut ds = ds(&srv.url());
    assert!(crawl(&mut ds, &host, &config(json!({}))).unwrap());
    assert_eq!(ds.userdata_raw(), Some(&b""[..]));
    assert_eq!(srv.count("GET", "/user-data"), 1);
}

#[test]
fn overloaded_then_success() {
    common::capture();
    let faults = Faults {
        fail_first: 2,
        fail_status: 503,
        ..Faults::default()
    };
    let srv = start(seed(TokenMode::Required, true), faults);
    let (_d, host) = root(true);
    let mut ds = ds(&srv.url());
    let cfg = config(json!({"max_wait": 5}));
    assert!(crawl(&mut ds, &host, &cfg).unwrap());
    assert_eq!(ds.instance_id(), "i-0abc");
    assert_eq!(srv.count("PUT", "/latest/api/token"), 3);
    let statuses: Vec<u16> = srv.requests().iter().take(3).map(|r| r.status).collect();
    assert_eq!(statuses, vec![503, 503, 200]);
    let w = common::warnings();
    assert_eq!(
        w.iter()
            .filter(
                |m| *m == "Endpoint returned a 503 error. HTTP endpoint is overloaded. Retrying."
            )
            .count(),
        2,
        "{w:?}"
    );
}

#[test]
fn slow_service_beyond_timeout_is_bounded() {
    let faults = Faults {
        delay: Duration::from_millis(1500),
        ..Faults::default()
    };
    let srv = start(seed(TokenMode::Optional, true), faults);
    let (_d, host) = root(true);
    let mut ds = ds(&srv.url());
    let t = Instant::now();
    assert!(!crawl(&mut ds, &host, &config(json!({}))).unwrap());
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    drop(srv);
    assert!(t.elapsed() < Duration::from_secs(8));
}

#[test]
fn hung_metadata_tree_is_an_error() {
    let faults = Faults {
        hang: vec!["/meta-data/".into()],
        ..Faults::default()
    };
    let srv = start(seed(TokenMode::Optional, true), faults);
    let (_d, host) = root(true);
    let mut ds = ds(&srv.url());
    let t = Instant::now();
    let e = crawl(&mut ds, &host, &config(json!({}))).unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(6), "{:?}", t.elapsed());
    assert!(e.to_string().contains("/2021-03-23/meta-data/"), "{e}");
    assert_eq!(srv.count("GET", "/meta-data/"), 3);
}

#[test]
fn truncated_body_is_a_clear_error() {
    let faults = Faults {
        truncate: vec!["placement/availability-zone".into()],
        ..Faults::default()
    };
    let srv = start(seed(TokenMode::Optional, true), faults);
    let (_d, host) = root(true);
    let mut ds = ds(&srv.url());
    let e = crawl(&mut ds, &host, &config(json!({}))).unwrap_err();
    assert_eq!(e.reason(), "malformed-data");
    let msg = e.to_string();
    assert!(msg.contains("Ec2 metadata meta-data/"), "{msg}");
    assert!(msg.contains("placement/availability-zone"), "{msg}");
    assert_eq!(srv.count("GET", "placement/availability-zone"), 3);
}

#[test]
fn version_probe_falls_back_to_oldest() {
    let mut s = seed(TokenMode::Optional, true);
    s.versions = vec!["2009-04-04".into()];
    let srv = start(s, Faults::default());
    let (_d, host) = root(false);
    let mut ds = ds(&srv.url());
    assert!(crawl(&mut ds, &host, &config(json!({}))).unwrap());
    assert_eq!(ds.api_version(), Some("2009-04-04"));
    // The wait's read of the oldest version's instance-id serves the crawl too.
    for v in ["2021-03-23", "2018-09-24", "2016-09-02", "2009-04-04"] {
        assert_eq!(srv.count("GET", &format!("/{v}/meta-data/instance-id")), 1);
    }
    assert_eq!(ds.instance_id(), "i-0abc");
}

#[test]
fn registered_for_both_stages() {
    let o = SourceOptions::default();
    let local = ci_sources::by_name("Ec2", Stage::Local, &o).unwrap();
    assert_eq!(local.dsname(), "Ec2");
    assert_eq!(local.class_name(), "DataSourceEc2Local");
    assert!(local.needs_ephemeral_net());
    let ds = ci_sources::by_name("Ec2", Stage::Network, &o).unwrap();
    assert_eq!(ds.dsname(), "Ec2");
    assert_eq!(ds.class_name(), "DataSourceEc2");
    assert!(!ds.needs_ephemeral_net());
}

#[test]
fn sandbox_root_never_queries_link_local_defaults() {
    let (_d, host) = root(true);
    let mut ds = Ec2::new(Stage::Network, SourceOptions::default());
    let t = Instant::now();
    assert!(!crawl(&mut ds, &host, &config(json!({}))).unwrap());
    assert_eq!(ds.request_count(), 0);
    assert!(t.elapsed() < Duration::from_secs(1));
}

#[test]
fn expired_token_is_refreshed() {
    // After 4 requests (token, probe, user-data and one more) the service
    // forgets its tokens: the next GET gets 401 and the client PUTs again.
    let faults = Faults {
        revoke_tokens_after: Some(4),
        ..Faults::default()
    };
    let srv = start(seed(TokenMode::Required, true), faults);
    let (_d, host) = root(true);
    let mut ds = ds(&srv.url());
    assert!(crawl(&mut ds, &host, &config(json!({}))).unwrap());
    assert_eq!(ds.instance_id(), "i-0abc");
    // Requests in flight when the tokens vanish may all see 401, but they
    // share one new token.
    assert_eq!(srv.count("PUT", "/latest/api/token"), 2);
    assert!(srv.requests().iter().any(|r| r.status == 401));
    assert_eq!(ds.request_count(), srv.requests().len());
}

#[test]
fn persistent_503_on_token_is_bounded_by_max_wait() {
    let faults = Faults {
        fail_first: 1000,
        fail_status: 503,
        ..Faults::default()
    };
    let srv = start(seed(TokenMode::Required, true), faults);
    let (_d, host) = root(true);
    let mut ds = ds(&srv.url());
    let t = Instant::now();
    assert!(!crawl(&mut ds, &host, &config(json!({}))).unwrap());
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
    assert!(srv
        .requests()
        .iter()
        .all(|r| r.method == "PUT" && r.status == 503));
}

/// A loopback TCP relay in front of the emulator that counts the
/// connections clients open (the emulator counts requests).
struct Relay {
    url: String,
    conns: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

fn relay(target: std::net::SocketAddr) -> Relay {
    use std::net::{TcpListener, TcpStream};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let conns = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&conns);
    // Detached: the threads end with the test process.
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            counter.fetch_add(1, Ordering::SeqCst);
            let Ok(server) = TcpStream::connect(target) else {
                return;
            };
            let pipe = |mut from: TcpStream, mut to: TcpStream| {
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut to);
                    let _ = to.shutdown(std::net::Shutdown::Write);
                });
            };
            pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
            pipe(server, client);
        }
    });
    Relay { url, conns }
}

#[test]
fn crawl_overlaps_requests_on_few_connections() {
    const DELAY: Duration = Duration::from_millis(200);
    let faults = Faults {
        delay: DELAY,
        ..Faults::default()
    };
    let srv = start(seed(TokenMode::Required, true), faults);
    let relay = relay(srv.addr());
    let (_d, host) = root(true);
    let mut ds = ds(&relay.url);
    let t = Instant::now();
    assert!(crawl(&mut ds, &host, &config(json!({}))).unwrap());
    let elapsed = t.elapsed();
    assert_eq!(ds.instance_id(), "i-0abc");
    assert_eq!(ds.userdata_raw(), Some(USER_DATA.as_bytes()));
    assert_eq!(ds.identity()["region"], "us-east-2");

    let n = srv.requests().len();
    assert_eq!(n, 23, "{:#?}", srv.requests());
    assert_eq!(srv.count("PUT", "/latest/api/token"), 1);
    // Token and probe are sequential by nature; the rest overlaps four
    // ways, bounded below by the tree's depth (six levels).
    let sequential = DELAY * u32::try_from(n).unwrap();
    assert!(
        elapsed < sequential.mul_f64(0.6),
        "{elapsed:?} for {n} requests of {DELAY:?}"
    );
    // One agent, kept alive: at most one connection per worker (and the
    // token's, reused).
    let conns = relay.conns.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        (1..=5).contains(&conns),
        "{conns} connections for {n} requests"
    );
}

//! The Scaleway datasource against the ci-imds Scaleway emulator on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "common/scaleway.rs"]
mod helpers;

use ci_host::{Host, RecordingRunner};
use ci_imds::Faults;
use ci_sources::ephemeral::{LeaseInfo, RecordingNet};
use ci_sources::scaleway::Scaleway;
use ci_sources::{by_name, from_cache, Datasource, SourceContext, SourceOptions, Stage};
use helpers::{dead_url, seed, serve, within};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

const META: &str = r#"
instance-id: 5b2a1e34-8f1c-4c1e-9d5b-0123456789ab
local-hostname: scw-web-1
public-ipv4: 51.15.1.2
public-ipv6: "2001:bc8:1::1"
public-keys:
  - ssh-ed25519 AAAAC3Nza me@laptop
tags:
  - web
  - AUTHORIZED_KEY=ssh-rsa_AAAAB3Nza_ops@bastion
"#;
const USER: &str = "#cloud-config\nruncmd: [echo scw]\n";
const VENDOR: &str = "#cloud-config\npackages: [htop]\n";

fn net() -> RecordingNet {
    RecordingNet::new().with_lease(LeaseInfo {
        iface: "ens2".into(),
        address: Some("51.15.1.2".into()),
        ..LeaseInfo::default()
    })
}

fn cfg(extra: Value) -> Value {
    let mut c = json!({"max_wait": 2, "timeout": 1, "retries": 2});
    if let (Value::Object(a), Value::Object(b)) = (&mut c, extra) {
        a.extend(b);
    }
    json!({"datasource": {"Scaleway": c}})
}

fn ds(url: &str) -> Scaleway {
    Scaleway::new(Stage::Local, SourceOptions::default())
        .with_metadata_urls([url.to_string()])
        .with_privileged_port(false)
        .with_retry_pause(Duration::from_millis(10))
}

fn root() -> (tempfile::TempDir, Host) {
    let d = tempfile::tempdir().unwrap();
    let h = Host::new(d.path());
    (d, h)
}

#[test]
fn crawls_everything() {
    common::capture();
    let s = seed(META, Some(USER), Some(VENDOR));
    let srv = serve("scaleway", s.path(), Faults::default());
    let (_d, host) = root();
    let config = cfg(json!({}));
    let net = net();
    let ctx = SourceContext::new(&host, &config, Stage::Local)
        .with_cmdline("")
        .with_net(&net);
    let mut ds = ds(&srv.url());
    assert!(ds.crawl(&ctx).unwrap());
    assert_eq!(net.events(), ["up Dhcp4 { iface: None }", "down ens2"]);
    assert_eq!(ds.instance_id(), "5b2a1e34-8f1c-4c1e-9d5b-0123456789ab");
    assert_eq!(ds.metadata()["net_in_use"], "ipv4");
    assert_eq!(
        ds.get_hostname(&host, true, false).hostname.as_deref(),
        Some("scw-web-1")
    );
    assert_eq!(
        ds.public_ssh_keys(),
        vec![
            "ssh-ed25519 AAAAC3Nza me@laptop",
            "ssh-rsa AAAAB3Nza ops@bastion"
        ]
    );
    assert_eq!(ds.userdata_raw(), Some(USER.as_bytes()));
    assert_eq!(ds.vendordata_raw(), Some(VENDOR.as_bytes()));
    assert_eq!(
        ds.network_config().unwrap(),
        json!({"version": 2, "ethernets": {"ens2": {
            "dhcp4": true,
            "routes": [{"on-link": true, "to": "169.254.42.42/32", "via": "62.210.0.1"},
                       {"via": "fe80::1", "to": "::/0"}],
            "addresses": ["2001:bc8:1::1/64"]}}})
    );
    assert_eq!(ds.platform_type(), "scaleway");
    assert_eq!(ds.subplatform(), "unknown");
    assert_eq!(ds.cloud_name(), "scaleway");
    assert_eq!(ds.region(), None);
    assert_eq!(ds.availability_zone(), None);
    assert_eq!(ds.launch_index(), None);
    assert!(common::warnings().is_empty(), "{:?}", common::warnings());
    assert_eq!(srv.count("GET", "/user_data/cloud-init"), 1);
    assert_eq!(srv.count("GET", "/vendor_data/cloud-init"), 1);

    let back = from_cache(&ds.to_cache(), &SourceOptions::default()).unwrap();
    assert_eq!(back.class_name(), "DataSourceScaleway");
    assert_eq!(back.metadata(), ds.metadata());
    assert_eq!(back.vendordata_raw(), ds.vendordata_raw());
    assert_eq!(back.network_config(), ds.network_config());
}

#[test]
fn unset_data_is_404_and_none() {
    common::capture();
    let s = seed(META, None, None);
    let srv = serve("scaleway", s.path(), Faults::default());
    let (_d, host) = root();
    let config = cfg(json!({}));
    let net = net();
    let ctx = SourceContext::new(&host, &config, Stage::Local).with_net(&net);
    let mut ds = ds(&srv.url());
    assert!(ds.crawl(&ctx).unwrap());
    assert_eq!(ds.userdata_raw(), None);
    assert_eq!(ds.vendordata_raw(), None);
    assert!(common::warnings().is_empty(), "{:?}", common::warnings());
}

#[test]
fn unreachable_falls_back_to_ipv6_then_gives_up() {
    common::capture();
    let (_d, host) = root();
    let config = cfg(json!({"max_wait": 1}));
    let net = net();
    let ctx = SourceContext::new(&host, &config, Stage::Local).with_net(&net);
    let mut ds = ds(&dead_url());
    let found = within(Duration::from_secs(6), || ds.crawl(&ctx).unwrap());
    assert!(!found);
    assert_eq!(
        net.events(),
        [
            "up Dhcp4 { iface: None }",
            "down ens2",
            "up LinkLocal6 { iface: None }",
            "down ens2"
        ]
    );
    // Upstream logs the IPv4 ConnectionError (an empty message) at WARNING.
    assert_eq!(common::warnings(), [""]);
}

#[test]
fn dhcp_failure_goes_straight_to_ipv6() {
    common::capture();
    let (_d, host) = root();
    let config = cfg(json!({"max_wait": 1}));
    let net = RecordingNet::failing();
    let ctx = SourceContext::new(&host, &config, Stage::Local).with_net(&net);
    let mut ds = ds(&dead_url());
    assert!(!ds.crawl(&ctx).unwrap());
    assert_eq!(
        net.events(),
        ["up Dhcp4 { iface: None }", "up LinkLocal6 { iface: None }"]
    );
}

#[test]
fn server_errors_then_recovery() {
    common::capture();
    let s = seed(META, Some(USER), None);
    // The first probe of the base URL fails; the next round succeeds.
    let srv = serve(
        "scaleway",
        s.path(),
        Faults {
            fail_first: 1,
            fail_status: 500,
            ..Faults::default()
        },
    );
    let (_d, host) = root();
    let config = cfg(json!({"max_wait": 3}));
    let net = net();
    let ctx = SourceContext::new(&host, &config, Stage::Local).with_net(&net);
    let mut ds = ds(&srv.url());
    assert!(within(Duration::from_secs(4), || ds.crawl(&ctx).unwrap()));
    assert_eq!(srv.count("GET", "/"), 2);
    assert_eq!(ds.userdata_raw(), Some(USER.as_bytes()));

    // A service that always fails is not found, within max_wait.
    let bad = serve(
        "scaleway",
        s.path(),
        Faults {
            fail_first: 1000,
            fail_status: 503,
            ..Faults::default()
        },
    );
    let config = cfg(json!({"max_wait": 1}));
    let ctx = SourceContext::new(&host, &config, Stage::Local).with_net(&net);
    let mut ds2 = self::ds(&bad.url());
    assert!(!within(Duration::from_secs(6), || ds2.crawl(&ctx).unwrap()));
}

#[test]
fn hung_metadata_is_an_error_within_budget() {
    common::capture();
    let s = seed(META, Some(USER), None);
    let srv = serve(
        "scaleway",
        s.path(),
        Faults {
            hang: vec!["/conf".into()],
            ..Faults::default()
        },
    );
    let (_d, host) = root();
    // timeout 1 s, retries 1: two attempts and one 1 s pause.
    let config = cfg(json!({"retries": 1}));
    let net = net();
    let ctx = SourceContext::new(&host, &config, Stage::Local).with_net(&net);
    let mut ds = ds(&srv.url());
    let err = within(Duration::from_secs(6), || ds.crawl(&ctx).unwrap_err());
    assert!(err.to_string().contains("/conf?format=json"), "{err}");
    assert_eq!(net.events().last().map(String::as_str), Some("down ens2"));
}

#[test]
fn slow_service_is_not_found_within_budget() {
    common::capture();
    let s = seed(META, Some(USER), None);
    let srv = serve(
        "scaleway",
        s.path(),
        Faults {
            delay: Duration::from_millis(2500),
            ..Faults::default()
        },
    );
    let (_d, host) = root();
    let config = cfg(json!({"max_wait": 1}));
    let net = net();
    let ctx = SourceContext::new(&host, &config, Stage::Local).with_net(&net);
    let mut ds = ds(&srv.url());
    assert!(!within(Duration::from_secs(6), || ds.crawl(&ctx).unwrap()));
}

#[test]
fn truncated_user_data_fails_after_port_retries() {
    common::capture();
    let s = seed(META, Some(USER), None);
    let srv = serve(
        "scaleway",
        s.path(),
        Faults {
            truncate: vec!["/user_data/cloud-init".into()],
            ..Faults::default()
        },
    );
    let (_d, host) = root();
    // retries 3: ports 1 and 2, each failing.
    let config = cfg(json!({"retries": 3}));
    let net = net();
    let ctx = SourceContext::new(&host, &config, Stage::Local).with_net(&net);
    let mut ds = ds(&srv.url());
    assert!(within(Duration::from_secs(5), || ds.crawl(&ctx)).is_err());
    assert_eq!(srv.count("GET", "/user_data/cloud-init"), 2);
    let w = common::warnings();
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(
        w[0].starts_with("Error while trying to get user-data data: "),
        "{w:?}"
    );
}

/// The privileged tests bind ports 1 and 2 on every address; one at a time.
static LOW_PORTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn root_or_skip() -> bool {
    let root = Host::running_as_root();
    if !root {
        eprintln!("skipped: binding ports below 1024 needs root");
    }
    root
}

#[test]
fn privileged_source_port_is_bound_by_us() {
    if !root_or_skip() {
        return;
    }
    let _low = LOW_PORTS.lock().unwrap_or_else(|e| e.into_inner());
    common::capture();
    let s = seed(META, Some(USER), Some(VENDOR));
    let srv = serve("scaleway", s.path(), Faults::default());
    let d = tempfile::tempdir().unwrap();
    let rr = Arc::new(RecordingRunner::new());
    let host = Host::with_runner(d.path(), rr.clone());
    let config = cfg(json!({}));
    let net = net();
    let ctx = SourceContext::new(&host, &config, Stage::Local).with_net(&net);
    let mut ds = ds(&srv.url()).with_privileged_port(true);
    assert!(ds.crawl(&ctx).unwrap());
    // No helper program: the socket is bound in-process.
    assert!(rr.lines().is_empty(), "{:?}", rr.lines());
    assert_eq!(ds.userdata_raw(), Some(USER.as_bytes()));
    assert_eq!(ds.vendordata_raw(), Some(VENDOR.as_bytes()));
    assert!(common::warnings().is_empty(), "{:?}", common::warnings());
    let m = common::messages();
    assert!(
        m.iter()
            .any(|l| l == "Trying to get user-data data (bind on port 1)..."),
        "{m:?}"
    );
}

#[test]
fn busy_privileged_port_is_retried_on_the_next() {
    if !root_or_skip() {
        return;
    }
    let _low = LOW_PORTS.lock().unwrap_or_else(|e| e.into_inner());
    common::capture();
    let s = seed(META, Some(USER), None);
    let srv = serve("scaleway", s.path(), Faults::default());
    // On 127.0.0.2: earlier requests from port 1 to 127.0.0.1 may linger
    // in TIME_WAIT there, which a listener could not bind over; ours binds
    // the wildcard address, which this listener makes busy either way.
    let holder = std::net::TcpListener::bind("127.0.0.2:1").unwrap();
    let (_d, host) = root();
    // retries 3: ports 1 and 2.
    let config = cfg(json!({"retries": 3}));
    let net = net();
    let ctx = SourceContext::new(&host, &config, Stage::Local).with_net(&net);
    let mut ds = ds(&srv.url()).with_privileged_port(true);
    assert!(ds.crawl(&ctx).unwrap());
    drop(holder);
    assert_eq!(ds.userdata_raw(), Some(USER.as_bytes()));
    // Port 1 never reached the service; port 2 did, once per document.
    assert_eq!(srv.count("GET", "/user_data/cloud-init"), 1);
    let w = common::warnings();
    assert_eq!(w.len(), 2, "{w:?}");
    for (what, line) in ["user-data", "vendor-data"].iter().zip(&w) {
        assert!(
            line.starts_with(&format!("Error while trying to get {what} data: "))
                && line.contains("cannot bind local port 1: Address already in use"),
            "{w:?}"
        );
    }
}

#[test]
fn sandbox_root_uses_any_source_port_by_default() {
    common::capture();
    let s = seed(META, Some(USER), None);
    let srv = serve("scaleway", s.path(), Faults::default());
    let d = tempfile::tempdir().unwrap();
    let rr = Arc::new(RecordingRunner::new());
    let host = Host::with_runner(d.path(), rr.clone());
    let config = cfg(json!({}));
    let net = net();
    let ctx = SourceContext::new(&host, &config, Stage::Local).with_net(&net);
    let mut ds = Scaleway::new(Stage::Local, SourceOptions::default())
        .with_metadata_urls([srv.url()])
        .with_retry_pause(Duration::ZERO);
    assert!(ds.crawl(&ctx).unwrap());
    assert!(rr.lines().is_empty(), "{:?}", rr.lines());
    assert_eq!(ds.userdata_raw(), Some(USER.as_bytes()));
}

#[test]
fn detection_and_registry() {
    let (_d, host) = root();
    let config = json!({});
    let ds = Scaleway::new(Stage::Local, SourceOptions::default());
    let ctx = SourceContext::new(&host, &config, Stage::Local).with_cmdline("quiet");
    assert!(!ds.ds_detect(&ctx));
    let ctx2 = ctx.clone().with_cmdline("root=/dev/sda scaleway");
    assert!(ds.ds_detect(&ctx2));
    common::write(&host, "/sys/class/dmi/id/sys_vendor", "Scaleway\n");
    assert!(ds.ds_detect(&ctx));
    let (_d2, host2) = root();
    common::write(&host2, "/var/run/scaleway", "");
    let ctx3 = SourceContext::new(&host2, &config, Stage::Local).with_cmdline("");
    assert!(ds.ds_detect(&ctx3));
    let o = SourceOptions::default();
    assert_eq!(
        by_name("scaleway", Stage::Local, &o).unwrap().class_name(),
        "DataSourceScaleway"
    );
    assert!(by_name("Scaleway", Stage::Network, &o).is_none());
}

#[test]
fn sandbox_never_queries_link_local_defaults() {
    common::capture();
    let (_d, host) = root();
    let config = cfg(json!({}));
    let net = net();
    let ctx = SourceContext::new(&host, &config, Stage::Local).with_net(&net);
    let mut ds = Scaleway::new(Stage::Local, SourceOptions::default());
    assert!(!within(Duration::from_secs(2), || ds.crawl(&ctx).unwrap()));
}

/// Differential: upstream's DataSourceScaleway crawled the same emulated
/// API (see `regen-scaleway.py`).
#[test]
fn matches_upstream() {
    common::capture();
    let o = helpers::oracle("scaleway");
    let srv = helpers::serve_fixture("scaleway");
    let (_d, host) = root();
    let config = cfg(json!({"max_wait": 5, "timeout": 2, "retries": 3}));
    let net = net();
    let ctx = SourceContext::new(&host, &config, Stage::Local).with_net(&net);
    let mut ds = ds(&srv.url());
    assert!(ds.crawl(&ctx).unwrap());
    helpers::assert_same_as_oracle(&ds, &host, &o);
}

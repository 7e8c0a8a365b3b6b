//! The Exoscale datasource against the ci-imds Exoscale emulator (metadata
//! and password server on one listener) on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "common/scaleway.rs"]
mod helpers;

use ci_host::Host;
use ci_imds::Faults;
use ci_sources::exoscale::Exoscale;
use ci_sources::{by_name, from_cache, Datasource, SourceContext, SourceOptions, Stage};
use helpers::{dead_url, seed, serve, within};
use serde_json::{json, Value};
use std::time::Duration;

const META: &str = r#"
instance-id: 9f0c7a50-1b5e-4c64-b3ad-0123456789ab
local-hostname: exo-web-1
availability-zone: ch-dk-2
public-ipv4: 194.182.1.2
public-keys: [ssh-ed25519 AAAAC3 me@x]
password: p4ssw0rd-from-console
"#;
const USER: &str = "#cloud-config\nruncmd: [echo exo]\n";

fn root() -> (tempfile::TempDir, Host) {
    let d = tempfile::tempdir().unwrap();
    let h = Host::new(d.path());
    common::write(
        &h,
        "/sys/class/dmi/id/product_name",
        "Exoscale Compute Platform\n",
    );
    (d, h)
}

fn cfg(url: &str) -> Value {
    json!({"datasource": {"Exoscale": {"metadata_url": url, "timeout": 1, "retries": 1}}})
}

fn ds(url: &str) -> Exoscale {
    Exoscale::new(Stage::Network, SourceOptions::default())
        .with_password_url(format!("{url}/1.0/"))
        .with_wait(Duration::from_secs(2), Duration::from_millis(20))
}

#[test]
fn crawls_metadata_and_password() {
    common::capture();
    let s = seed(META, Some(USER), None);
    let srv = serve("exoscale", s.path(), Faults::default());
    let (_d, host) = root();
    let config = cfg(&srv.url());
    let ctx = SourceContext::new(&host, &config, Stage::Network);
    let mut ds = ds(&srv.url());
    assert!(ds.ds_detect(&ctx));
    assert!(ds.crawl(&ctx).unwrap());
    assert_eq!(ds.instance_id(), "9f0c7a50-1b5e-4c64-b3ad-0123456789ab");
    assert_eq!(
        ds.metadata()["vm-id"],
        "9f0c7a50-1b5e-4c64-b3ad-0123456789ab"
    );
    assert_eq!(ds.metadata()["public-keys"], "ssh-ed25519 AAAAC3 me@x");
    assert_eq!(ds.public_ssh_keys(), vec!["ssh-ed25519 AAAAC3 me@x"]);
    assert_eq!(ds.local_hostname(&host).as_deref(), Some("exo-web-1"));
    assert_eq!(ds.availability_zone().as_deref(), Some("ch-dk-2"));
    assert_eq!(ds.userdata_raw(), Some(USER.as_bytes()));
    assert_eq!(ds.platform_type(), "exoscale");
    assert_eq!(ds.subplatform(), "unknown");
    assert_eq!(ds.cloud_name(), "exoscale");
    assert_eq!(
        ds.config_obj(),
        &json!({"ssh_pwauth": true, "password": "p4ssw0rd-from-console",
                "chpasswd": {"expire": false}})
    );
    assert!(!ds.metadata().as_object().unwrap().contains_key("password"));
    assert!(common::warnings().is_empty(), "{:?}", common::warnings());
    // Asked, then acknowledged: the next boot gets no password.
    assert_eq!(srv.count("GET", "/1.0/"), 2);
    let back = from_cache(&ds.to_cache(), &SourceOptions::default()).unwrap();
    assert_eq!(back.metadata(), ds.metadata());
    let mut again = self::ds(&srv.url());
    assert!(again.crawl(&ctx).unwrap());
    assert_eq!(again.config_obj(), &json!({}));
    assert_eq!(srv.count("GET", "/1.0/"), 3);
}

#[test]
fn no_password_set() {
    common::capture();
    let s = seed("instance-id: i-1\n", None, None);
    let srv = serve("exoscale", s.path(), Faults::default());
    let (_d, host) = root();
    let config = cfg(&srv.url());
    let ctx = SourceContext::new(&host, &config, Stage::Network);
    let mut ds = ds(&srv.url());
    assert!(ds.crawl(&ctx).unwrap());
    assert_eq!(ds.config_obj(), &json!({}));
    assert_eq!(ds.userdata_raw(), Some(&b""[..]));
    assert_eq!(srv.count("GET", "/1.0/"), 1);
    assert!(common::warnings().is_empty(), "{:?}", common::warnings());
}

#[test]
fn password_server_down_is_a_warning_only() {
    common::capture();
    let s = seed(META, Some(USER), None);
    let srv = serve("exoscale", s.path(), Faults::default());
    let (_d, host) = root();
    let config = cfg(&srv.url());
    let ctx = SourceContext::new(&host, &config, Stage::Network);
    let mut ds = Exoscale::new(Stage::Network, SourceOptions::default())
        .with_password_url(format!("{}/1.0/", dead_url()))
        .with_wait(Duration::from_secs(2), Duration::from_millis(20));
    assert!(ds.crawl(&ctx).unwrap());
    assert_eq!(ds.config_obj(), &json!({}));
    let w = common::warnings();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].starts_with(&format!(
        "failed to read from password server url {}:8080 (",
        srv.url()
    )));
}

#[test]
fn unreachable_or_slow_service_is_not_found_in_time() {
    for (url, faults) in [
        (Some(dead_url()), Faults::default()),
        (
            None,
            Faults {
                delay: Duration::from_millis(1500),
                ..Faults::default()
            },
        ),
        (
            None,
            Faults {
                hang: vec!["instance-id".into()],
                ..Faults::default()
            },
        ),
    ] {
        common::capture();
        let s = seed(META, None, None);
        let srv = serve("exoscale", s.path(), faults);
        let url = url.unwrap_or_else(|| srv.url());
        let (_d, host) = root();
        let config = cfg(&url);
        let ctx = SourceContext::new(&host, &config, Stage::Network);
        let mut ds = ds(&url);
        assert!(!within(Duration::from_secs(5), || ds.crawl(&ctx).unwrap()));
        let errs: Vec<_> = common::records()
            .into_iter()
            .filter(|(l, _, _)| *l == log::Level::Error)
            .map(|(_, _, m)| m)
            .collect();
        assert_eq!(
            errs.last().map(String::as_str),
            Some("Unable to get response from metadata service")
        );
    }
}

#[test]
fn faults_during_the_crawl() {
    // 5xx once: the wait retries and the crawl succeeds.
    common::capture();
    let s = seed(META, Some(USER), None);
    let srv = serve(
        "exoscale",
        s.path(),
        Faults {
            fail_first: 1,
            fail_status: 502,
            ..Faults::default()
        },
    );
    let (_d, host) = root();
    let config = cfg(&srv.url());
    let ctx = SourceContext::new(&host, &config, Stage::Network);
    let mut d = ds(&srv.url()).with_wait(Duration::from_secs(3), Duration::from_millis(20));
    assert!(within(Duration::from_secs(4), || d.crawl(&ctx).unwrap()));
    assert_eq!(d.instance_id(), "9f0c7a50-1b5e-4c64-b3ad-0123456789ab");

    // A truncated leaf: metadata is {} with upstream's warning, still found.
    common::capture();
    let srv = serve(
        "exoscale",
        s.path(),
        Faults {
            truncate: vec!["local-ipv4".into()],
            ..Faults::default()
        },
    );
    let config = cfg(&srv.url());
    let ctx = SourceContext::new(&host, &config, Stage::Network);
    let mut d = ds(&srv.url());
    assert!(within(Duration::from_secs(5), || d.crawl(&ctx).unwrap()));
    assert_eq!(d.metadata(), &json!({}));
    assert!(common::warnings().iter().any(|w| w
        == &format!(
            "Failed fetching meta-data/ from url {}/1.0/meta-data/",
            srv.url()
        )));
    assert_eq!(d.userdata_raw(), Some(USER.as_bytes()));
}

#[test]
fn detection_and_registry() {
    let d = tempfile::tempdir().unwrap();
    let host = Host::new(d.path());
    let config = json!({});
    let ctx = SourceContext::new(&host, &config, Stage::Network);
    let ds = Exoscale::new(Stage::Network, SourceOptions::default());
    assert!(!ds.ds_detect(&ctx));
    common::write(&host, "/sys/class/dmi/id/product_name", "OpenStack Nova\n");
    assert!(!ds.ds_detect(&ctx));
    let o = SourceOptions::default();
    assert!(by_name("Exoscale", Stage::Local, &o).is_none());
    assert_eq!(
        by_name("exoscale", Stage::Network, &o)
            .unwrap()
            .class_name(),
        "DataSourceExoscale"
    );
}

/// Differential: upstream's DataSourceExoscale crawled the same emulated
/// API (see `regen-exoscale.py`).
#[test]
fn matches_upstream() {
    common::capture();
    let o = helpers::oracle("exoscale");
    let srv = helpers::serve_fixture("exoscale");
    let (_d, host) = root();
    let config = cfg(&srv.url());
    let ctx = SourceContext::new(&host, &config, Stage::Network);
    let mut ds = ds(&srv.url());
    assert!(ds.crawl(&ctx).unwrap());
    helpers::assert_same_as_oracle(&ds, &host, &o);
    assert_eq!(ds.config_obj(), &o["config_obj"]);
}

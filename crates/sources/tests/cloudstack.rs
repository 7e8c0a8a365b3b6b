//! The CloudStack datasource against the ci-imds CloudStack emulator
//! (data server and password server on one listener) on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "common/scaleway.rs"]
mod helpers;

use ci_host::Host;
use ci_imds::{Faults, Server};
use ci_sources::cloudstack::{CloudStack, CloudStackPolicy};
use ci_sources::{by_name, from_cache, Datasource, SourceContext, SourceOptions, Stage};
use helpers::{seed, serve, within};
use serde_json::{json, Value};
use std::time::Duration;

const META: &str = r#"
instance-id: 2a4e0f6c-5f44-4a6a-8f4c-0123456789ab
local-hostname: cs-vm-1
availability-zone: zone-ams
local-ipv4: 10.1.1.20
public-keys: [ssh-ed25519 AAAAC3 me@x, ssh-rsa AAAAB3 ops@y]
password: Welcome123
"#;
const USER: &str = "#cloud-config\nruncmd: [echo cs]\n";

fn quick() -> CloudStackPolicy {
    CloudStackPolicy {
        timeout: Duration::from_secs(1),
        retries: 1,
        sec_between: Duration::from_millis(20),
        password_timeout: Duration::from_secs(1),
        password_retries: 1,
    }
}

fn cfg() -> Value {
    json!({"datasource": {"CloudStack": {"max_wait": 2, "timeout": 1}}})
}

fn ds(srv: &Server) -> CloudStack {
    CloudStack::new(Stage::Network, SourceOptions::default())
        .with_metadata_port(srv.addr().port())
        .with_password_url(format!("{}/", srv.url()))
        .with_policy(quick())
}

fn root() -> (tempfile::TempDir, Host) {
    let d = tempfile::tempdir().unwrap();
    let h = Host::new(d.path());
    (d, h)
}

/// The router found from the dhclient lease, as on a real instance.
fn with_lease(h: &Host) {
    common::write(
        h,
        "/var/lib/dhcp/dhclient.eth0.leases",
        "lease {\n  interface \"eth0\";\n  fixed-address 10.1.1.20;\n  option dhcp-server-identifier 127.0.0.1;\n  option domain-name \"cs.internal\";\n}\n",
    );
}

#[test]
fn crawls_from_the_router_in_the_lease() {
    common::capture();
    let s = seed(META, Some(USER), None);
    let srv = serve("cloudstack", s.path(), Faults::default());
    let (_d, host) = root();
    with_lease(&host);
    let config = cfg();
    let ctx = SourceContext::new(&host, &config, Stage::Network);
    let mut ds = ds(&srv);
    assert!(ds.crawl(&ctx).unwrap());
    assert_eq!(ds.instance_id(), "2a4e0f6c-5f44-4a6a-8f4c-0123456789ab");
    assert_eq!(
        ds.metadata()["vm-id"],
        "2a4e0f6c-5f44-4a6a-8f4c-0123456789ab"
    );
    assert_eq!(ds.availability_zone().as_deref(), Some("zone-ams"));
    assert_eq!(
        ds.public_ssh_keys(),
        vec!["ssh-ed25519 AAAAC3 me@x", "ssh-rsa AAAAB3 ops@y"]
    );
    assert_eq!(ds.local_hostname(&host).as_deref(), Some("cs-vm-1"));
    assert_eq!(
        ds.get_hostname(&host, true, false).hostname.as_deref(),
        Some("cs-vm-1.cs.internal")
    );
    assert_eq!(ds.userdata_raw(), Some(USER.as_bytes()));
    assert_eq!(ds.platform_type(), "cloudstack");
    assert_eq!(ds.cloud_name(), "cloudstack");
    assert_eq!(
        ds.subplatform(),
        format!("metadata (http://127.0.0.1:{}/)", srv.addr().port())
    );
    assert_eq!(
        ds.config_obj(),
        &json!({"ssh_pwauth": true, "password": "Welcome123", "chpasswd": {"expire": false}})
    );
    assert!(common::warnings().is_empty(), "{:?}", common::warnings());
    assert_eq!(srv.count("GET", "/latest/user-data"), 1);
    let back = from_cache(&ds.to_cache(), &SourceOptions::default()).unwrap();
    assert_eq!(back.metadata(), ds.metadata());
    assert_eq!(back.availability_zone(), ds.availability_zone());
    // The password config reaches the system config after a cache restore.
    assert_eq!(
        back.ds_config(),
        Some(json!({"ssh_pwauth": true, "password": "Welcome123", "chpasswd": {"expire": false}}))
    );

    // Acknowledged: a second boot gets no password.
    let mut again = self::ds(&srv);
    assert!(again.crawl(&ctx).unwrap());
    assert_eq!(again.config_obj(), &json!({}));
    assert_eq!(Datasource::ds_config(&again), None);
}

#[test]
fn no_router_is_an_error() {
    common::capture();
    let (_d, host) = root();
    let config = cfg();
    let ctx = SourceContext::new(&host, &config, Stage::Network);
    let err = CloudStack::new(Stage::Network, SourceOptions::default())
        .crawl(&ctx)
        .unwrap_err();
    assert_eq!(err.to_string(), "CloudStack: No virtual router found!");
}

#[test]
fn seed_directory_wins() {
    common::capture();
    let (_d, host) = root();
    common::write(
        &host,
        "/var/lib/cloud/seed/cs/meta-data",
        "instance-id: seeded-1\navailability-zone: z9\n",
    );
    common::write(&host, "/var/lib/cloud/seed/cs/user-data", USER);
    let config = cfg();
    let ctx = SourceContext::new(&host, &config, Stage::Network);
    let mut ds = CloudStack::new(Stage::Network, SourceOptions::default()).with_router("192.0.2.1");
    assert!(ds.crawl(&ctx).unwrap());
    assert_eq!(ds.instance_id(), "seeded-1");
    assert_eq!(ds.availability_zone().as_deref(), Some("z9"));
    assert_eq!(ds.userdata_raw(), Some(USER.as_bytes()));
}

#[test]
fn bad_request_from_password_server_warns() {
    common::capture();
    let s = seed(META, None, None);
    let srv = serve("cloudstack", s.path(), Faults::default());
    // A password server that answers `bad_request` to everything.
    struct Bad;
    impl ci_imds::CloudApi for Bad {
        fn name(&self) -> &'static str {
            "bad"
        }
        fn answer(&self, _req: &ci_imds::Request) -> ci_imds::Response {
            ci_imds::Response::ok("bad_request")
        }
    }
    let pw = Server::start_api(Box::new(Bad), Faults::default(), "127.0.0.1:0").unwrap();
    let (_d, host) = root();
    let config = cfg();
    let ctx = SourceContext::new(&host, &config, Stage::Network);
    let mut ds = ds(&srv)
        .with_router("127.0.0.1")
        .with_password_url(format!("{}/", pw.url()));
    assert!(ds.crawl(&ctx).unwrap());
    assert_eq!(ds.config_obj(), &json!({}));
    assert_eq!(
        common::warnings(),
        ["Failed to fetch password from virtual router 127.0.0.1"]
    );
    assert_eq!(ds.userdata_raw(), Some(&b""[..]));
}

#[test]
fn unreachable_slow_or_failing_router_in_time() {
    for faults in [
        Faults {
            delay: Duration::from_millis(1500),
            ..Faults::default()
        },
        Faults {
            hang: vec!["instance-id".into()],
            ..Faults::default()
        },
        Faults {
            fail_first: 1000,
            fail_status: 500,
            ..Faults::default()
        },
    ] {
        common::capture();
        let s = seed(META, None, None);
        let srv = serve("cloudstack", s.path(), faults.clone());
        let (_d, host) = root();
        let config = cfg();
        let ctx = SourceContext::new(&host, &config, Stage::Network);
        let mut ds = ds(&srv).with_router("127.0.0.1");
        assert!(
            !within(Duration::from_secs(5), || ds.crawl(&ctx).unwrap()),
            "{faults:?}"
        );
        let w: Vec<_> = common::records()
            .into_iter()
            .filter(|(l, _, _)| *l == log::Level::Warn)
            .map(|(_, _, m)| m)
            .collect();
        assert!(
            !w.is_empty() && w.iter().all(|m| m.starts_with("Calling '")),
            "{w:?}"
        );
        assert!(
            common::records()
                .iter()
                .any(|(l, _, m)| *l == log::Level::Error
                    && m.starts_with("Giving up on waiting for the metadata from")),
            "{faults:?}"
        );
    }
    // 5xx once then fine: found.
    common::capture();
    let s = seed(META, None, None);
    let srv = serve(
        "cloudstack",
        s.path(),
        Faults {
            fail_first: 1,
            fail_status: 503,
            ..Faults::default()
        },
    );
    let (_d, host) = root();
    let config = json!({"datasource": {"CloudStack": {"max_wait": 3, "timeout": 1}}});
    let ctx = SourceContext::new(&host, &config, Stage::Network);
    let mut ds = ds(&srv).with_router("127.0.0.1");
    assert!(within(Duration::from_secs(4), || ds.crawl(&ctx).unwrap()));
}

#[test]
fn registry() {
    let o = SourceOptions::default();
    assert!(by_name("CloudStack", Stage::Local, &o).is_none());
    assert_eq!(
        by_name("cloudstack", Stage::Network, &o)
            .unwrap()
            .class_name(),
        "DataSourceCloudStack"
    );
}

/// Differential: upstream's DataSourceCloudStack crawled the same emulated
/// API (see `regen-cloudstack.py`).
#[test]
fn matches_upstream() {
    common::capture();
    let o = helpers::oracle("cloudstack");
    let srv = helpers::serve_fixture("cloudstack");
    let (_d, host) = root();
    let config = cfg();
    let ctx = SourceContext::new(&host, &config, Stage::Network);
    let mut ds = ds(&srv).with_router("127.0.0.1");
    assert!(ds.crawl(&ctx).unwrap());
    helpers::assert_same_as_oracle(&ds, &host, &o);
    assert_eq!(ds.config_obj(), &o["config_obj"]);
}

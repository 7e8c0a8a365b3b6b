//! The Akamai (Linode) datasource against the ci-imds Akamai emulator on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "common/scaleway.rs"]
mod helpers;

use ci_host::Host;
use ci_imds::Faults;
use ci_sources::akamai::{Akamai, AkamaiPolicy};
use ci_sources::ephemeral::RecordingNet;
use ci_sources::{by_name, from_cache, Datasource, SourceContext, SourceOptions, Stage};
use helpers::{dead_url, seed, serve, within};
use serde_json::{json, Value};
use std::time::Duration;

const META: &str = r#"
instance-id: 51234567
local-hostname: linode-web
region: us-ord
public-keys: [ssh-ed25519 AAAAC3 me@x]
"#;
const USER: &str = "#cloud-config\nruncmd: [echo linode]\n";

fn root(vendor: &str, baseboard: Option<&str>) -> (tempfile::TempDir, Host) {
    let d = tempfile::tempdir().unwrap();
    let h = Host::new(d.path());
    common::write(&h, "/sys/class/dmi/id/sys_vendor", &format!("{vendor}\n"));
    common::write(&h, "/sys/class/dmi/id/product_serial", "51234567\n");
    if let Some(b) = baseboard {
        common::write(&h, "/sys/class/dmi/id/board_serial", &format!("{b}\n"));
    }
    common::write(&h, "/sys/class/net/eth0/address", "f2:3c:94:00:00:01\n");
    common::write(&h, "/sys/class/net/eth1/address", "52:54:00:00:00:02\n");
    (d, h)
}

fn quick() -> AkamaiPolicy {
    AkamaiPolicy {
        timeout: Duration::from_secs(1),
        sec_between: Duration::from_millis(20),
        token_retries: 1,
        retries: 0,
    }
}

fn ds(stage: Stage, v4: &str, v6: &str) -> Akamai {
    Akamai::new(stage, SourceOptions::default())
        .with_base_urls(v4, v6)
        .with_policy(quick())
}

fn cfg(c: Value) -> Value {
    json!({"datasource": {"Akamai": c}})
}

#[test]
fn local_stage_prefers_ipv6_on_the_preferred_nic() {
    common::capture();
    let s = seed(META, Some(USER), None);
    let srv = serve("akamai", s.path(), Faults::default());
    let (_d, host) = root("Linode", None);
    let config = json!({});
    let net = RecordingNet::new();
    let ctx = SourceContext::new(&host, &config, Stage::Local).with_net(&net);
    let mut ds = ds(Stage::Local, &dead_url(), &srv.url());
    assert!(ds.crawl(&ctx).unwrap());
    assert_eq!(
        net.events(),
        ["up LinkLocal6 { iface: Some(\"eth0\") }", "down eth0"]
    );
    assert_eq!(ds.class_name(), "DataSourceAkamaiLocal");
    assert_eq!(ds.instance_id(), "51234567");
    assert_eq!(ds.metadata()["instance-id"], 51234567);
    assert_eq!(ds.metadata()["label"], "linode-web");
    assert_eq!(ds.metadata()["region"], "us-ord");
    assert_eq!(ds.userdata_raw(), Some(USER.as_bytes()));
    assert_eq!(ds.platform_type(), "akamai");
    assert_eq!(ds.cloud_name(), "akamai");
    assert_eq!(ds.subplatform(), "unknown");
    assert_eq!(ds.region().as_deref(), Some("us-ord"));
    // Upstream reads no keys from the service: keys come from user-data.
    assert!(ds.public_ssh_keys().is_empty());
    assert!(ds.check_instance_id(&ctx));
    assert!(common::warnings().is_empty(), "{:?}", common::warnings());
    assert_eq!(srv.count("PUT", "/v1/token"), 1);
    let back = from_cache(&ds.to_cache(), &SourceOptions::default()).unwrap();
    assert_eq!(back.metadata(), ds.metadata());
    assert_eq!(back.userdata_raw(), ds.userdata_raw());
}

#[test]
fn ipv6_failure_falls_back_to_dhcp4() {
    common::capture();
    let s = seed(META, Some(USER), None);
    let srv = serve("akamai", s.path(), Faults::default());
    let (_d, host) = root("Akamai", None);
    let config = json!({});
    let net = RecordingNet::new();
    let ctx = SourceContext::new(&host, &config, Stage::Local).with_net(&net);
    let mut ds = ds(Stage::Local, &srv.url(), &dead_url());
    assert!(ds.crawl(&ctx).unwrap());
    assert_eq!(
        net.events(),
        [
            "up LinkLocal6 { iface: Some(\"eth0\") }",
            "down eth0",
            "up Dhcp4 { iface: Some(\"eth0\") }",
            "down eth0"
        ]
    );
    let w = common::warnings();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].starts_with("Failed to retrieve metadata using IPv6 due to "),
        "{w:?}"
    );
    assert_eq!(ds.instance_id(), "51234567");
}

#[test]
fn unreachable_keeps_local_instance_id() {
    common::capture();
    let (_d, host) = root("Linode", None);
    let config = json!({});
    let net = RecordingNet::new();
    let ctx = SourceContext::new(&host, &config, Stage::Network).with_net(&net);
    let mut ds = ds(Stage::Network, &dead_url(), &dead_url());
    assert!(within(Duration::from_secs(3), || ds.crawl(&ctx).unwrap()));
    assert!(net.events().is_empty());
    assert_eq!(ds.instance_id(), "51234567");
    assert_eq!(ds.userdata_raw(), None);
    let w = common::warnings();
    assert_eq!(
        w.last().map(String::as_str),
        Some("Failed to contact metadata service, falling back to local metadata only.")
    );
}

#[test]
fn bad_services_are_bounded() {
    for f in [
        Faults {
            hang: vec!["/v1/instance".into()],
            ..Faults::default()
        },
        Faults {
            delay: Duration::from_millis(1500),
            ..Faults::default()
        },
        Faults {
            truncate: vec!["/v1/user-data".into()],
            ..Faults::default()
        },
        Faults {
            fail_first: 1000,
            fail_status: 500,
            ..Faults::default()
        },
        Faults {
            not_found: vec!["/v1/instance".into()],
            ..Faults::default()
        },
    ] {
        common::capture();
        let s = seed(META, Some(USER), None);
        let srv = serve("akamai", s.path(), f.clone());
        let (_d, host) = root("Linode", None);
        let config = json!({});
        let ctx = SourceContext::new(&host, &config, Stage::Network);
        let mut ds = ds(Stage::Network, &srv.url(), &srv.url());
        // Two networks, each at most: token (2 tries) + instance + user-data, 1 s each.
        assert!(
            within(Duration::from_secs(9), || ds.crawl(&ctx).unwrap()),
            "{f:?}"
        );
        // Upstream quirk kept: when user-data fails after the instance
        // document arrived, that document (with `id`, no `instance-id`)
        // replaced the local one, so the id falls back to iid-datasource.
        let want = if f.truncate.is_empty() {
            "51234567"
        } else {
            "iid-datasource"
        };
        assert_eq!(ds.instance_id(), want, "{f:?}");
        assert!(
            common::warnings()
                .iter()
                .any(|w| w.starts_with("Failed to contact metadata service")),
            "{f:?}"
        );
    }
}

#[test]
fn retried_token_then_success() {
    common::capture();
    let s = seed(META, Some(USER), None);
    let srv = serve(
        "akamai",
        s.path(),
        Faults {
            fail_first: 1,
            fail_status: 503,
            ..Faults::default()
        },
    );
    let (_d, host) = root("Linode", None);
    let config = json!({});
    let ctx = SourceContext::new(&host, &config, Stage::Network);
    let mut ds = ds(Stage::Network, &srv.url(), &srv.url());
    assert!(ds.crawl(&ctx).unwrap());
    assert_eq!(srv.count("PUT", "/v1/token"), 2);
    assert_eq!(ds.userdata_raw(), Some(USER.as_bytes()));
}

#[test]
fn config_and_dmi_flags_steer_the_stages() {
    common::capture();
    let s = seed(META, Some(USER), None);
    let srv = serve("akamai", s.path(), Faults::default());
    let net = RecordingNet::new();
    // Local stage disabled by config: wait for the network stage.
    let (_d, host) = root("Linode", None);
    let config = cfg(json!({"allow_local_stage": false}));
    let ctx = SourceContext::new(&host, &config, Stage::Local).with_net(&net);
    assert!(!ds(Stage::Local, &srv.url(), &srv.url())
        .crawl(&ctx)
        .unwrap());
    // No IP family allowed: local data only, nothing asked.
    let config = cfg(json!({"allow_ipv4": false, "allow_ipv6": false}));
    let ctx = SourceContext::new(&host, &config, Stage::Local).with_net(&net);
    let mut d = ds(Stage::Local, &srv.url(), &srv.url());
    assert!(d.crawl(&ctx).unwrap());
    assert_eq!(d.metadata(), &json!({"instance-id": "51234567"}));
    assert!(srv.requests().is_empty());
    assert!(net.events().is_empty());
    // DMI flags win over the config: IPv6 off, DHCP with another prefix.
    let (_d2, host2) = root("Linode", Some("v6=0;pmp=52:54"));
    let config = cfg(json!({"allow_ipv6": true}));
    let ctx = SourceContext::new(&host2, &config, Stage::Local).with_net(&net);
    let mut d = ds(Stage::Local, &srv.url(), &dead_url());
    assert!(d.crawl(&ctx).unwrap());
    assert_eq!(
        net.events(),
        ["up Dhcp4 { iface: Some(\"eth1\") }", "down eth1"]
    );
    // Not on Akamai.
    let (_d3, host3) = root("QEMU", None);
    let ctx = SourceContext::new(&host3, &config, Stage::Network);
    assert!(!ds(Stage::Network, &srv.url(), &srv.url())
        .crawl(&ctx)
        .unwrap());
}

#[test]
fn registry() {
    let o = SourceOptions::default();
    assert_eq!(
        by_name("Akamai", Stage::Local, &o).unwrap().class_name(),
        "DataSourceAkamaiLocal"
    );
    assert_eq!(
        by_name("akamai", Stage::Network, &o).unwrap().class_name(),
        "DataSourceAkamai"
    );
}

/// Differential: upstream's DataSourceAkamai crawled the same emulated
/// API (see `regen-akamai.py`).
#[test]
fn matches_upstream() {
    common::capture();
    let o = helpers::oracle("akamai");
    let srv = helpers::serve_fixture("akamai");
    let (_d, host) = root("Linode", None);
    common::write(&host, "/etc/hostname", "akamai-host\n");
    let config = json!({});
    let ctx = SourceContext::new(&host, &config, Stage::Network);
    let mut ds = ds(Stage::Network, &srv.url(), &srv.url());
    assert!(ds.crawl(&ctx).unwrap());
    helpers::assert_same_as_oracle(&ds, &host, &o);
}

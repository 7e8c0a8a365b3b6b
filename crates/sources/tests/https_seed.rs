//! NoCloud `seedfrom=https://127.0.0.1:PORT/` against a TLS test server
//! whose CA is in the sandbox root's trust bundle.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ci_host::Host;
use ci_http::testing::{TestCa, TlsServer};
use ci_sources::url::UrlPolicy;
use ci_sources::{Datasource, NoCloud, SourceContext, SourceOptions, Stage};
use serde_json::json;
use std::time::Duration;

fn quick() -> SourceOptions {
    SourceOptions {
        http: UrlPolicy::quick(Duration::from_secs(5)),
        ..SourceOptions::default()
    }
}

fn sandbox_trusting(pem: &[u8]) -> (tempfile::TempDir, Host) {
    let d = tempfile::tempdir().unwrap();
    let host = Host::new(d.path());
    let bundle = host.path(ci_http::bundle_path());
    std::fs::create_dir_all(bundle.parent().unwrap()).unwrap();
    std::fs::write(&bundle, pem).unwrap();
    (d, host)
}

const ROUTES: &[(&str, &[u8])] = &[
    ("/seed/meta-data", b"instance-id: tls-iid\n"),
    ("/seed/user-data", b"#cloud-config\nfrom: tls\n"),
];

#[test]
fn seedfrom_https_reads_the_seed() {
    let srv = TlsServer::start(ROUTES).unwrap();
    let (_d, host) = sandbox_trusting(&srv.ca_pem().unwrap());
    let cfg = json!({"datasource": {"NoCloud": {"seedfrom": srv.url("/seed/")}}});
    let ctx = SourceContext::new(&host, &cfg, Stage::Network).with_cmdline("");
    let mut ds = NoCloud::new(Stage::Network, quick());
    assert!(ds.get_data(&ctx).unwrap());
    assert_eq!(ds.instance_id(), "tls-iid");
    assert_eq!(ds.metadata()["seedfrom"], srv.url("/seed/"));
}

#[test]
fn seedfrom_https_from_an_untrusted_ca_fails_verification() {
    let srv = TlsServer::start(ROUTES).unwrap();
    let stranger = TestCa::new("stranger").unwrap();
    let (_d, host) = sandbox_trusting(&stranger.cert_pem().unwrap());
    let cfg = json!({"datasource": {"NoCloud": {"seedfrom": srv.url("/seed/")}}});
    let ctx = SourceContext::new(&host, &cfg, Stage::Network).with_cmdline("");
    let mut ds = NoCloud::new(Stage::Network, quick());
    let err = ds.get_data(&ctx).unwrap_err();
    assert!(
        err.to_string()
            .contains("TLS certificate verification failed"),
        "{err}"
    );
}

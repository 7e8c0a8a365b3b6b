//! `#include https://` against a TLS server on 127.0.0.1 whose test CA is
//! in the sandbox root's trust bundle.

#![allow(clippy::unwrap_used)]

use ci_host::Host;
use ci_http::testing::TlsServer;
use ci_userdata::{process, HttpFetcher, ProcessOptions};
use std::time::Duration;

fn sandbox_with_bundle(pem: &[u8]) -> (tempfile::TempDir, Host) {
    let tmp = tempfile::tempdir().unwrap();
    let host = Host::new(tmp.path());
    let bundle = host.path(ci_http::bundle_path());
    std::fs::create_dir_all(bundle.parent().unwrap()).unwrap();
    std::fs::write(&bundle, pem).unwrap();
    (tmp, host)
}

#[test]
fn include_https_trusts_the_sandbox_bundle() {
    let srv = TlsServer::start(&[("/x", b"#cloud-config\nfrom_https: 1\n")]).unwrap();
    let (_tmp, host) = sandbox_with_bundle(&srv.ca_pem().unwrap());
    let opts = ProcessOptions {
        host: Some(&host),
        ..ProcessOptions::default()
    };
    let fetcher =
        HttpFetcher::new(Duration::from_secs(5), 0, Duration::ZERO).with_host(host.clone());
    let raw = format!("#include\n{}\n", srv.url("/x"));
    let got = process(raw.as_bytes(), &opts, &fetcher);
    assert!(got.errors.is_empty(), "{:?}", got.errors);
    assert_eq!(got.cloud_config, Some(serde_json::json!({"from_https": 1})));
}

#[test]
fn include_https_from_an_untrusted_ca_fails_verification() {
    let srv = TlsServer::start(&[("/x", b"#cloud-config\nfrom_https: 1\n")]).unwrap();
    let stranger = ci_http::testing::TestCa::new("stranger").unwrap();
    let (_tmp, host) = sandbox_with_bundle(&stranger.cert_pem().unwrap());
    let fetcher =
        HttpFetcher::new(Duration::from_secs(5), 0, Duration::ZERO).with_host(host.clone());
    let err = ci_userdata::Fetcher::get(&fetcher, &srv.url("/x")).unwrap_err();
    assert!(
        err.starts_with("TLS certificate verification failed: "),
        "{err}"
    );
    assert!(err.contains(&srv.url("/x")), "{err}");
}

#[test]
fn include_https_without_a_bundle_names_it() {
    let srv = TlsServer::start(&[("/x", b"x")]).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let host = Host::new(tmp.path());
    let fetcher =
        HttpFetcher::new(Duration::from_secs(5), 0, Duration::ZERO).with_host(host.clone());
    let err = ci_userdata::Fetcher::get(&fetcher, &srv.url("/x")).unwrap_err();
    assert!(err.contains(&ci_http::bundle_path()), "{err}");
}

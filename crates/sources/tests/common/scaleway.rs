//! Shared by the Scaleway, UpCloud, Akamai, Exoscale and CloudStack tests:
//! seed directories and emulators on 127.0.0.1.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ci_imds::{Faults, Server};
use std::path::Path;
use std::time::{Duration, Instant};

/// A seed directory with `meta-data` (YAML) and optional user/vendor data.
pub fn seed(meta: &str, user: Option<&str>, vendor: Option<&str>) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("meta-data"), meta).unwrap();
    if let Some(u) = user {
        std::fs::write(d.path().join("user-data"), u).unwrap();
    }
    if let Some(v) = vendor {
        std::fs::write(d.path().join("vendor-data"), v).unwrap();
    }
    d
}

/// `cloud`'s emulator serving `dir`, with `faults`.
pub fn serve(cloud: &str, dir: &Path, faults: Faults) -> Server {
    Server::start_api(ci_imds::api_for(cloud, dir).unwrap(), faults, "127.0.0.1:0").unwrap()
}

/// A URL on 127.0.0.1 where nothing listens (connection refused at once).
pub fn dead_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}")
}

/// Run `f`, assert it took less than `budget`, return its result.
pub fn within<T>(budget: Duration, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    let took = start.elapsed();
    assert!(took < budget, "took {took:?}, budget {budget:?}");
    out
}

/// `tests/fixtures/<name>`.
pub fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// What `regen-<cloud>.py` recorded from upstream's datasource.
pub fn oracle(cloud: &str) -> serde_json::Value {
    let path = fixture(&format!("{cloud}-oracle.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The emulator serving `fixtures/<cloud>-seed`.
pub fn serve_fixture(cloud: &str) -> Server {
    serve(cloud, &fixture(&format!("{cloud}-seed")), Faults::default())
}

/// Compare what every fixture records (key order included).
pub fn assert_same_as_oracle(
    ds: &dyn ci_sources::Datasource,
    host: &ci_host::Host,
    o: &serde_json::Value,
) {
    use serde_json::{json, Value};
    let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap();
    let text = |b: Option<&[u8]>| match b {
        Some(b) => json!(String::from_utf8_lossy(b)),
        None => Value::Null,
    };
    assert_eq!(pretty(ds.metadata()), pretty(&o["metadata"]), "metadata");
    assert_eq!(text(ds.userdata_raw()), o["userdata_raw"], "userdata");
    assert_eq!(text(ds.vendordata_raw()), o["vendordata_raw"], "vendordata");
    assert_eq!(json!(ds.instance_id()), o["instance_id"], "instance-id");
    assert_eq!(
        json!(ds.get_hostname(host, false, false).hostname),
        o["hostname"],
        "hostname"
    );
    assert_eq!(json!(ds.public_ssh_keys()), o["public_keys"], "keys");
    assert_eq!(json!(ds.platform_type()), o["platform_type"], "platform");
    assert_eq!(json!(ds.cloud_name()), o["cloud_name"], "cloud_name");
    assert_eq!(json!(ds.region()), o["region"], "region");
    assert_eq!(json!(ds.availability_zone()), o["availability_zone"], "az");
    if let Some(n) = o.get("network_config") {
        assert_eq!(pretty(&json!(ds.network_config())), pretty(n), "network");
    }
    if let Some(s) = o.get("subplatform").and_then(Value::as_str) {
        assert_eq!(ds.subplatform(), s, "subplatform");
    }
    if let Some(p) = o.get("subplatform_prefix").and_then(Value::as_str) {
        assert!(ds.subplatform().starts_with(p), "{}", ds.subplatform());
    }
}

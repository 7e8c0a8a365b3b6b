//! Helpers for the GCE, DigitalOcean, Hetzner, Vultr and AliYun tests:
//! seed directories, emulators on 127.0.0.1 and fake instance roots.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ci_host::{Host, WriteOpts};
use ci_imds::{Faults, Server};
use std::time::Duration;

/// A seed directory holding `files` (`meta-data`, `user-data`, ...).
pub fn seed_dir(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for (name, body) in files {
        std::fs::write(d.path().join(name), body).unwrap();
    }
    d
}

/// `cloud`'s emulator serving `seed` on 127.0.0.1 with `faults`.
pub fn serve(cloud: &str, seed: &tempfile::TempDir, faults: Faults) -> Server {
    let api = ci_imds::api_for(cloud, seed.path()).unwrap();
    Server::start_api(api, faults, "127.0.0.1:0").unwrap()
}

pub fn delay(ms: u64) -> Faults {
    Faults {
        delay: Duration::from_millis(ms),
        ..Faults::default()
    }
}

pub fn fail_first(n: u32, status: u16) -> Faults {
    Faults {
        fail_first: n,
        fail_status: status,
        ..Faults::default()
    }
}

pub fn hang(path: &str) -> Faults {
    Faults {
        hang: vec![path.to_string()],
        ..Faults::default()
    }
}

pub fn truncate(path: &str) -> Faults {
    Faults {
        truncate: vec![path.to_string()],
        ..Faults::default()
    }
}

pub fn not_found(path: &str) -> Faults {
    Faults {
        not_found: vec![path.to_string()],
        ..Faults::default()
    }
}

/// A root with these DMI fields (`sys_vendor`, `product_serial`, ...) and
/// NICs (`name`, `mac`, ifindex = position + 2, each with a `device`).
pub fn root(dmi: &[(&str, &str)], nics: &[(&str, &str)]) -> (tempfile::TempDir, Host) {
    let d = tempfile::tempdir().unwrap();
    let h = Host::new(d.path());
    let w = |p: String, c: String| {
        h.write_atomic(p, c.as_bytes(), &WriteOpts::default())
            .unwrap()
    };
    for (k, v) in dmi {
        w(format!("/sys/class/dmi/id/{k}"), format!("{v}\n"));
    }
    for (i, (name, mac)) in nics.iter().enumerate() {
        w(format!("/sys/class/net/{name}/address"), format!("{mac}\n"));
        w(
            format!("/sys/class/net/{name}/ifindex"),
            format!("{}\n", i + 2),
        );
        w(
            format!("/sys/class/net/{name}/device/vendor"),
            "0x1af4\n".into(),
        );
    }
    w(
        "/sys/class/net/lo/address".into(),
        "00:00:00:00:00:00\n".into(),
    );
    (d, h)
}

/// `tests/fixtures/<name>`'s path.
pub fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// `cloud`'s emulator serving the committed `fixtures/<seed>`.
pub fn serve_fixture(cloud: &str, seed: &str) -> Server {
    let api = ci_imds::api_for(cloud, &fixture(seed)).unwrap();
    Server::start_api(api, Faults::default(), "127.0.0.1:0").unwrap()
}

/// What upstream's datasource produced (`regen-<cloud>.py`) equals ours,
/// key order included; `url` is the emulator's (the fixture says `URL`).
pub fn assert_matches_oracle(
    ds: &dyn ci_sources::Datasource,
    host: &Host,
    oracle: &str,
    url: &str,
) {
    use serde_json::{json, Value};
    let o: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture(oracle)).unwrap()).unwrap();
    let ordered = |v: &Value| serde_json::to_string_pretty(v).unwrap();
    let text = |b: Option<&[u8]>| json!(b.map(|b| String::from_utf8_lossy(b).into_owned()));
    assert_eq!(ordered(ds.metadata()), ordered(&o["metadata"]), "metadata");
    assert_eq!(text(ds.userdata_raw()), o["userdata"], "userdata");
    assert_eq!(text(ds.vendordata_raw()), o["vendordata"], "vendordata");
    assert_eq!(json!(ds.instance_id()), o["instance_id"], "instance-id");
    assert_eq!(json!(ds.local_hostname(host)), o["hostname"], "hostname");
    assert_eq!(json!(ds.public_ssh_keys()), o["public_keys"], "keys");
    assert_eq!(json!(ds.platform_type()), o["platform_type"], "platform");
    assert_eq!(
        json!(ds.subplatform().replace(url, "URL")),
        o["subplatform"],
        "subplatform"
    );
    assert_eq!(json!(ds.cloud_name()), o["cloud_name"], "cloud_name");
    assert_eq!(json!(ds.region()), o["region"], "region");
    assert_eq!(json!(ds.availability_zone()), o["availability_zone"], "az");
    if let Some(n) = o.get("network_config") {
        assert_eq!(
            ordered(&ds.network_config().unwrap_or(Value::Null)),
            ordered(n),
            "network config"
        );
    }
}

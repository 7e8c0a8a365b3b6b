//! The LXD datasource against a devlxd stand-in on a unix socket under a
//! temp root, plus the differential check against upstream's run on the
//! same routes (tests/fixtures/lxd-oracle.json, from tests/regen-lxd.py).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use ci_host::Host;
use ci_sources::lxd::Lxd;
use ci_sources::{from_cache, Datasource, SourceContext, SourceOptions, Stage};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

type Routes = HashMap<String, (u16, String)>;

fn routes() -> Routes {
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("lxd-routes.json")).unwrap())
            .unwrap();
    v.as_object()
        .unwrap()
        .iter()
        .map(|(k, r)| {
            (
                k.clone(),
                (
                    r[0].as_u64().unwrap() as u16,
                    r[1].as_str().unwrap().to_string(),
                ),
            )
        })
        .collect()
}

/// devlxd stand-in: answers `routes` (404 otherwise); `hang` paths never answer.
struct Devlxd {
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl Devlxd {
    fn start(root: &Path, routes: Routes, hang: &[&str]) -> Devlxd {
        std::fs::create_dir_all(root.join("dev/lxd")).unwrap();
        let listener = UnixListener::bind(root.join("dev/lxd/sock")).unwrap();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Vec::new()));
        let (s, l) = (Arc::clone(&stop), Arc::clone(&log));
        let hang: Vec<String> = hang.iter().map(|h| h.to_string()).collect();
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            while !s.load(Ordering::SeqCst) {
                let Ok((mut conn, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                conn.set_nonblocking(false).unwrap();
                let mut buf = Vec::new();
                let mut byte = [0u8; 1];
                while !buf.ends_with(b"\r\n\r\n") && conn.read(&mut byte).unwrap_or(0) == 1 {
                    buf.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&buf).to_string();
                let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
                l.lock().unwrap().push(path.clone());
                if hang.contains(&path) {
                    held.push(conn);
                    continue;
                }
                let (code, body) = routes
                    .get(&path)
                    .cloned()
                    .unwrap_or((404, "{\"error\": \"not found\"}".into()));
                let _ = write!(
                    conn,
                    "HTTP/1.0 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Devlxd {
            stop,
            log,
            thread: Some(thread),
        }
    }

    fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Devlxd {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn root() -> (tempfile::TempDir, Host) {
    let d = tempfile::tempdir().unwrap();
    let h = Host::new(d.path());
    common::write(&h, "/sys/class/net/eth0/address", "00:16:3e:00:00:01\n");
    common::write(&h, "/sys/class/net/eth0/carrier", "1\n");
    (d, h)
}

fn ds() -> Lxd {
    Lxd::new(Stage::Local, SourceOptions::default())
        .with_socket("/dev/lxd/sock", Duration::from_millis(500))
        .with_retry_sleep(Duration::from_millis(1))
}

#[test]
fn crawl_matches_upstream() {
    common::capture();
    let (d, h) = root();
    let _srv = Devlxd::start(d.path(), routes(), &[]);
    let cfg = json!({});
    let ctx = SourceContext::new(&h, &cfg, Stage::Local).with_cmdline("");
    let mut s = ds();
    assert!(s.ds_detect(&ctx));
    assert!(s.get_data(&ctx).unwrap());
    let want: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("lxd-oracle.json")).unwrap())
            .unwrap();
    assert_eq!(s.metadata(), &want["metadata"]);
    assert_eq!(s.crawled(), &want["crawled"]);
    let text = |b: Option<&[u8]>| json!(b.map(|b| String::from_utf8_lossy(b).into_owned()));
    assert_eq!(text(s.userdata_raw()), want["userdata"]);
    assert_eq!(text(s.vendordata_raw()), want["vendordata"]);
    assert_eq!(s.network_config().unwrap(), want["network_config"]);
    assert_eq!(json!(s.instance_id()), want["instance_id"]);
    assert_eq!(json!(s.local_hostname(&h)), want["hostname"]);
    assert_eq!(json!(s.platform_type()), want["platform_type"]);
    assert_eq!(json!(s.subplatform()), want["subplatform"]);
    assert_eq!(json!(s.cloud_name()), want["cloud_name"]);
    // user.* keys are shadowed by their cloud-init.* twins, as upstream warns.
    assert_eq!(
        common::warnings(),
        [
            "Ignoring LXD config user.user-data in favor of cloud-init.user-data value.",
            "Ignoring LXD config user.vendor-data in favor of cloud-init.vendor-data value."
        ]
    );
    assert!(s.check_instance_id(&ctx));
    let back = from_cache(&s.to_cache(), &SourceOptions::default()).unwrap();
    assert_eq!(back.instance_id(), "c1-iid");
    assert_eq!(back.network_config(), s.network_config());
    assert_eq!(back.vendordata_raw(), s.vendordata_raw());
}

#[test]
fn network_config_key_wins_and_instance_change_is_seen() {
    let (d, h) = root();
    let mut r = routes();
    r.insert(
        "/1.0/config".into(),
        (200, "[\"/1.0/config/cloud-init.network-config\"]".into()),
    );
    r.insert(
        "/1.0/config/cloud-init.network-config".into(),
        (
            200,
            "version: 2\nethernets:\n  eth0: {dhcp4: true}\n".into(),
        ),
    );
    let srv = Devlxd::start(d.path(), r, &[]);
    let cfg = json!({});
    let ctx = SourceContext::new(&h, &cfg, Stage::Local).with_cmdline("");
    let mut s = ds();
    assert!(s.get_data(&ctx).unwrap());
    assert_eq!(
        s.network_config().unwrap(),
        json!({"version": 2, "ethernets": {"eth0": {"dhcp4": true}}})
    );
    assert_eq!(s.userdata_raw(), None);
    drop(srv);
    // A new container behind the same socket.
    std::fs::remove_file(d.path().join("dev/lxd/sock")).unwrap();
    let mut r = routes();
    r.insert(
        "/1.0/meta-data".into(),
        (200, "instance-id: other\n".into()),
    );
    let _srv = Devlxd::start(d.path(), r, &[]);
    assert!(!s.check_instance_id(&ctx));
}

#[test]
fn detection() {
    common::capture();
    let (d, h) = root();
    let cfg = json!({});
    let ctx = SourceContext::new(&h, &cfg, Stage::Local).with_cmdline("");
    assert!(!ds().ds_detect(&ctx));
    assert_eq!(common::warnings(), ["/dev/lxd/sock does not exist."]);
    common::write(&h, "/dev/lxd/sock", "");
    common::capture();
    assert!(!ds().ds_detect(&ctx));
    assert_eq!(common::warnings(), ["/dev/lxd/sock is not a socket"]);
    std::fs::remove_file(d.path().join("dev/lxd/sock")).unwrap();
    let _srv = Devlxd::start(d.path(), routes(), &[]);
    assert!(ds().ds_detect(&ctx));
}

#[test]
fn errors_are_bounded_and_named() {
    let (d, h) = root();
    let cfg = json!({});
    let ctx = SourceContext::new(&h, &cfg, Stage::Local).with_cmdline("");

    // meta-data missing: upstream's "Invalid HTTP response" error.
    let mut r = routes();
    r.remove("/1.0/meta-data");
    let srv = Devlxd::start(d.path(), r, &[]);
    let e = ds().get_data(&ctx).unwrap_err().to_string();
    assert!(
        e.contains("Invalid HTTP response [404] from http://lxd/1.0/meta-data"),
        "{e}"
    );
    drop(srv);
    std::fs::remove_file(d.path().join("dev/lxd/sock")).unwrap();

    // A 500 is retried 30 times, then refused.
    let mut r = routes();
    r.insert("/1.0/meta-data".into(), (500, "oops".into()));
    let srv = Devlxd::start(d.path(), r, &[]);
    let e = ds().get_data(&ctx).unwrap_err().to_string();
    assert!(e.contains("Invalid HTTP response [500]"), "{e}");
    assert_eq!(srv.requests().len(), 31);
    drop(srv);
    std::fs::remove_file(d.path().join("dev/lxd/sock")).unwrap();

    // Config that is not JSON.
    let mut r = routes();
    r.insert("/1.0/config".into(), (200, "not json".into()));
    let srv = Devlxd::start(d.path(), r, &[]);
    let e = ds().get_data(&ctx).unwrap_err().to_string();
    assert!(
        e.contains("Unable to process LXD config at http://lxd/1.0/config. Expected JSON but found: not json"),
        "{e}"
    );
    drop(srv);
    std::fs::remove_file(d.path().join("dev/lxd/sock")).unwrap();

    // A hung socket: one timeout, then an error.
    let srv = Devlxd::start(d.path(), routes(), &["/1.0/meta-data"]);
    let t = Instant::now();
    assert!(ds().get_data(&ctx).is_err());
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    drop(srv);

    // No socket at all.
    std::fs::remove_file(d.path().join("dev/lxd/sock")).unwrap();
    assert!(ds().crawl(&ctx).is_err());
}

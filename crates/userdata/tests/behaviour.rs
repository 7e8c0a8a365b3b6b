//! Behaviour the oracle corpus cannot show: the include-once cache on
//! disk, HTTP retries, processed MIME round trip, script destinations.

// Test helpers outside #[test] fns may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ci_host::Host;
use ci_userdata::{md5_hex, process, Fetcher, HttpFetcher, Kind, ProcessOptions, ScriptDest};
use std::cell::RefCell;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

struct Counting {
    calls: RefCell<Vec<String>>,
}

impl Fetcher for Counting {
    fn get(&self, url: &str) -> Result<Vec<u8>, String> {
        self.calls.borrow_mut().push(url.to_string());
        Ok(b"#cloud-config\nfrom_include: 1\n".to_vec())
    }
}

#[test]
fn include_once_is_cached_under_the_instance_data_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let host = Host::new(tmp.path());
    let cache = PathBuf::from("/var/lib/cloud/instances/i-1/data/urlcache");
    let opts = ProcessOptions {
        include_once_cache: Some(cache.clone()),
        host: Some(&host),
        ..ProcessOptions::default()
    };
    let fetcher = Counting {
        calls: RefCell::new(Vec::new()),
    };
    let raw = b"#include-once\nhttp://127.0.0.1:9/a\n#include\nhttp://127.0.0.1:9/b\n";
    for _ in 0..2 {
        let got = process(raw, &opts, &fetcher);
        assert!(got.errors.is_empty(), "{:?}", got.errors);
        assert_eq!(
            got.cloud_config,
            Some(serde_json::json!({"from_include": 1}))
        );
    }
    // `a` was fetched once, `b` (plain #include) every time.
    assert_eq!(
        *fetcher.calls.borrow(),
        vec![
            "http://127.0.0.1:9/a",
            "http://127.0.0.1:9/b",
            "http://127.0.0.1:9/b"
        ]
    );
    let file = host.path(cache.join(md5_hex(b"http://127.0.0.1:9/a")));
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(
        std::fs::read(&file).unwrap(),
        b"#cloud-config\nfrom_include: 1\n"
    );
}

#[test]
fn http_fetcher_retries_then_succeeds_and_reads_local_files() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/x", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let hits2 = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let n = hits2.fetch_add(1, Ordering::SeqCst);
            let resp: &[u8] = if n < 2 {
                b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            } else {
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
            };
            let _ = s.write_all(resp);
        }
    });
    let f = HttpFetcher::new(Duration::from_secs(5), 3, Duration::ZERO);
    assert_eq!(f.get(&url).unwrap(), b"ok");
    assert_eq!(hits.load(Ordering::SeqCst), 3);

    let none = HttpFetcher::new(Duration::from_secs(5), 0, Duration::ZERO);
    hits.store(0, Ordering::SeqCst);
    assert_eq!(
        none.get(&url).unwrap_err(),
        format!("503 Server Error: Service Unavailable for url: {url}")
    );

    let tmp = tempfile::tempdir().unwrap();
    let host = Host::new(tmp.path());
    std::fs::create_dir_all(tmp.path().join("srv")).unwrap();
    std::fs::write(tmp.path().join("srv/ud"), b"local").unwrap();
    let local = HttpFetcher::new(Duration::from_secs(1), 0, Duration::ZERO).with_host(host);
    assert_eq!(local.get("/srv/ud").unwrap(), b"local");
    assert_eq!(local.get("file:///srv/ud").unwrap(), b"local");
    assert_eq!(
        local.get("/srv/missing").unwrap_err(),
        "[Errno 2] No such file or directory: '/srv/missing'"
    );
}

#[test]
fn processed_mime_lists_every_part_and_script_paths_follow_kind() {
    let raw =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/35-vendor.txt"))
            .unwrap();
    let opts = ProcessOptions {
        kind: Kind::Vendor,
        ..ProcessOptions::default()
    };
    let fetcher = HttpFetcher::new(Duration::from_secs(1), 0, Duration::ZERO);
    let got = process(&raw, &opts, &fetcher);
    let text = String::from_utf8(got.processed_mime.clone()).unwrap();
    assert!(
        text.starts_with("Content-Type: multipart/mixed; boundary="),
        "{text}"
    );
    assert!(text.contains("Number-Attachments: 4\n"), "{text}");
    for n in 1..=4 {
        assert!(text.contains(&format!("filename=\"part-00{n}\"")), "{text}");
    }
    let cloud = Path::new("/var/lib/cloud");
    let inst = Path::new("/var/lib/cloud/instance");
    let paths: Vec<(ScriptDest, PathBuf)> = got
        .scripts
        .iter()
        .map(|s| (s.dest, s.path(cloud, inst)))
        .collect();
    assert_eq!(
        paths,
        vec![
            (
                ScriptDest::Vendor,
                PathBuf::from("/var/lib/cloud/instance/scripts/vendor/part-002")
            ),
            (
                ScriptDest::PerBoot,
                PathBuf::from("/var/lib/cloud/scripts/vendor/per-boot/part-003")
            ),
        ]
    );
    assert_eq!(Kind::Vendor.cloud_config_file(), "vendor-cloud-config.txt");
    assert!(got
        .cloud_config_text
        .starts_with("#cloud-config\n\n# from 2 files\n# part-001\n# part-004\n\n---\n"));
}

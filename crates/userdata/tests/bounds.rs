//! Each kind of inflating user-data is refused within its bound, through
//! the public `process`, with a message naming the bound; what is left of
//! the blob is still consumed.

// Test helpers outside #[test] fns may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ci_userdata::bounds::MAX_EXPANDED_BYTES;
use ci_userdata::{process, Fetcher, ProcessOptions, Processed};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Serves one large body for every URL.
struct Big(usize);

impl Fetcher for Big {
    fn get(&self, _url: &str) -> Result<Vec<u8>, String> {
        Ok(vec![b'#'; self.0])
    }
}

fn gz_zeros(n: u64) -> Vec<u8> {
    ci_pyval::gzip::repeated(b' ', n)
}

fn run(raw: &[u8], fetch: &dyn Fetcher) -> (Processed, Duration) {
    let opts = ProcessOptions {
        instance_data: Some(json!({"v1": {"instance_id": "i-1"}})),
        ..ProcessOptions::default()
    };
    let t = Instant::now();
    let p = process(raw, &opts, fetch);
    (p, t.elapsed())
}

fn mime(parts: &[(&str, &[u8], bool)]) -> Vec<u8> {
    use base64::Engine;
    let mut out = b"Content-Type: multipart/mixed; boundary=\"XX\"\nMIME-Version: 1.0\n\n".to_vec();
    for (ctype, body, b64) in parts {
        out.extend_from_slice(
            format!("--XX\nContent-Type: {ctype}\nMIME-Version: 1.0\n").as_bytes(),
        );
        if *b64 {
            out.extend_from_slice(b"Content-Transfer-Encoding: base64\n\n");
            let enc = base64::engine::general_purpose::STANDARD.encode(body);
            out.extend_from_slice(enc.as_bytes());
        } else {
            out.extend_from_slice(b"\n");
            out.extend_from_slice(body);
        }
        out.extend_from_slice(b"\n");
    }
    out.extend_from_slice(b"--XX--\n");
    out
}

fn warned(p: &Processed, text: &str) -> bool {
    p.warnings.iter().any(|w| w.contains(text))
}

#[test]
fn gzip_bomb_is_dropped_with_a_warning_naming_the_bound() {
    let (p, took) = run(&gz_zeros(MAX_EXPANDED_BYTES + 1), &Big(0));
    assert!(took < Duration::from_secs(30), "{took:?}");
    // Like invalid user-data: a warning, not a failed consumption.
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert!(
        warned(
            &p,
            "gzip-compressed user-data decompressed exceeds 64 MiB (bound MAX_EXPANDED_BYTES)"
        ),
        "{:?}",
        p.warnings
    );
    assert!(p.cloud_config.is_none());
}

#[test]
fn gzip_parts_share_one_budget_and_the_rest_is_consumed() {
    let half = gz_zeros(MAX_EXPANDED_BYTES / 2 + 1);
    let raw = mime(&[
        ("application/x-gzip", &half, true),
        ("application/x-gzip", &half, true),
        ("text/cloud-config", b"#cloud-config\nkept: 1\n", false),
    ]);
    let (p, _) = run(&raw, &Big(0));
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert!(
        warned(
            &p,
            "application/x-gzip part decompressed exceeds 64 MiB (bound MAX_EXPANDED_BYTES)"
        ),
        "{:?}",
        p.warnings
    );
    assert_eq!(p.cloud_config, Some(json!({"kept": 1})));
    // The first part fitted and was kept (it is blank text).
    assert_eq!(p.parts.len(), 2);
}

#[test]
fn corrupt_gzip_parts_still_fail_the_blob() {
    let raw = mime(&[("application/x-gzip", b"not gzip", false)]);
    let (p, _) = run(&raw, &Big(0));
    assert_eq!(p.errors.len(), 1, "{:?}", p.errors);
}

#[test]
fn includes_are_charged_to_the_same_budget() {
    let raw = b"#include\nhttp://127.0.0.1:9/a\nhttp://127.0.0.1:9/b\n";
    let (p, _) = run(raw, &Big(MAX_EXPANDED_BYTES as usize / 2 + 1));
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert!(
        warned(
            &p,
            "#include content of http://127.0.0.1:9/b exceeds 64 MiB (bound MAX_EXPANDED_BYTES)"
        ),
        "{:?}",
        p.warnings
    );
    assert!(!warned(&p, "127.0.0.1:9/a exceeds"));
}

#[test]
fn jsonp_copy_bomb_is_a_warning_and_other_parts_still_merge() {
    let mut ops = vec![json!({"op": "add", "path": "/blob", "value": "x".repeat(2000)})];
    for i in 0..40 {
        ops.push(json!({"op": "copy", "from": "", "path": format!("/c{i}")}));
    }
    let patch = format!("#cloud-config-jsonp\n{}", Value::Array(ops));
    let raw = mime(&[
        ("text/cloud-config", b"#cloud-config\nkept: 1\n", false),
        ("text/cloud-config-jsonp", patch.as_bytes(), false),
    ]);
    let (p, took) = run(&raw, &Big(0));
    assert!(took < Duration::from_secs(30), "{took:?}");
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert!(
        p.warnings
            .iter()
            .any(|w| w.contains("bound JSONP_MAX_COPIED_BYTES")),
        "{:?}",
        p.warnings
    );
    assert_eq!(p.cloud_config, Some(json!({"kept": 1})));
}

#[test]
fn jinja_bombs_are_warnings_and_other_parts_still_merge() {
    let loops = "## template: jinja\n#cloud-config\n{% set ns = namespace(a=1) %}{% for i in range(100) %}{% for j in range(100) %}{% for k in range(100) %}{% for l in range(100) %}{% for m in range(100) %}{% set ns.a = ns.a + 1 %}{% endfor %}{% endfor %}{% endfor %}{% endfor %}{% endfor %}\nruncmd: [echo {{ ns.a }}]\n";
    let join = "## template: jinja\n#cloud-config\n{% set a = 'x' * 100000 %}{% set b = a ~ a ~ a ~ a ~ a ~ a ~ a ~ a ~ a ~ a %}{% set c = [b]*1000 %}runcmd: [echo {{ c|join('') }}]\n";
    for (bomb, bound) in [
        (loops, "bound JINJA_FUEL"),
        (join, "bound JINJA_MAX_OUTPUT_BYTES"),
    ] {
        let raw = mime(&[
            ("text/jinja2", bomb.as_bytes(), false),
            ("text/cloud-config", b"#cloud-config\nkept: 1\n", false),
        ]);
        let (p, took) = run(&raw, &Big(0));
        assert!(took < Duration::from_secs(30), "{took:?}");
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        assert!(
            p.warnings.iter().any(|w| w.contains(bound)),
            "{bound}: {:?}",
            p.warnings
        );
        assert_eq!(p.cloud_config, Some(json!({"kept": 1})));
    }
}

#[test]
fn a_real_template_renders() {
    let t = "## template: jinja\n#cloud-config\nruncmd:\n{% for i in range(500) %}  - echo {{ v1.instance_id }} {{ i }}\n{% endfor %}";
    let (p, _) = run(t.as_bytes(), &Big(0));
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    let cc = p.cloud_config.unwrap();
    assert_eq!(cc["runcmd"].as_array().unwrap().len(), 500);
    assert_eq!(cc["runcmd"][499], json!("echo i-1 499"));
}

#[test]
fn include_http_bodies_over_the_bound_are_skipped_without_retries() {
    use ci_userdata::HttpFetcher;
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = served.clone();
    std::thread::spawn(move || {
        let body = vec![b'#'; MAX_EXPANDED_BYTES as usize + 1];
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { break };
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&body);
        }
    });
    let fetch = HttpFetcher::new(Duration::from_secs(20), 3, Duration::ZERO);
    let raw = format!("#include\nhttp://127.0.0.1:{port}/big\n");
    let (p, _) = run(raw.as_bytes(), &fetch);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert!(
        warned(
            &p,
            &format!("#include body of http://127.0.0.1:{port}/big exceeds 64 MiB (bound MAX_EXPANDED_BYTES)")
        ),
        "{:?}",
        p.warnings
    );
    assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 1);
}

//! Differential test against upstream cloud-init 25.1.4: every input in
//! tests/corpus/ is processed and compared with tests/expected/<name>.json,
//! written by tests/regen-expected.py from the oracle. Includes are served
//! from corpus/http/ by a loopback HTTP server; `@@BASE@@` is its URL.

// Test helpers outside #[test] fns may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ci_host::Host;
use ci_userdata::{process, HttpFetcher, Kind, ProcessOptions, Processed};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn dir(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(sub)
}

/// A minimal HTTP/1.0-style server for corpus/http: GET → 200 with
/// `@@BASE@@` replaced, or 404.
fn serve() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let base2 = base.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" || line == "\n" {
                    break;
                }
            }
            let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
            let name = path.rsplit('/').next().unwrap_or("");
            let file = dir("corpus/http").join(name);
            let resp = match std::fs::read(&file) {
                Ok(data) if !name.is_empty() => {
                    let text = String::from_utf8_lossy(&data).into_owned();
                    let data = if text.contains("@@BASE@@") {
                        text.replace("@@BASE@@", &base2).into_bytes()
                    } else {
                        data
                    };
                    let mut r = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        data.len()
                    )
                    .into_bytes();
                    r.extend_from_slice(&data);
                    r
                }
                _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_vec(),
            };
            let _ = stream.write_all(&resp);
        }
    });
    base
}

fn replace_bytes(data: &[u8], from: &str, to: &str) -> Vec<u8> {
    let from = from.as_bytes();
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        if data[i..].starts_with(from) {
            out.extend_from_slice(to.as_bytes());
            i += from.len();
        } else {
            out.push(data[i]);
            i += 1;
        }
    }
    out
}

fn normalize(v: Value, base: &str) -> Value {
    match v {
        Value::String(s) => Value::String(s.replace(base, "@@BASE@@")),
        Value::Array(a) => Value::Array(a.into_iter().map(|x| normalize(x, base)).collect()),
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, x)| (k, normalize(x, base)))
                .collect(),
        ),
        other => other,
    }
}

/// Our result in the shape regen-expected.py records.
fn actual_json(p: &Processed) -> Value {
    let cloud = Path::new("/C");
    let inst = Path::new("/C/instance");
    let mut scripts: Vec<Value> = p
        .scripts
        .iter()
        .map(|s| {
            let path = s.path(cloud, inst);
            let rel = path
                .strip_prefix(cloud)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            json!({"path": rel, "content": String::from_utf8_lossy(&s.content)})
        })
        .collect();
    scripts.sort_by_key(|s| s["path"].as_str().unwrap_or_default().to_string());
    let mut boothooks: Vec<Value> = p
        .boothooks
        .iter()
        .map(|b| json!({"filename": b.filename, "content": String::from_utf8_lossy(&b.content)}))
        .collect();
    boothooks.sort_by_key(|s| s["filename"].as_str().unwrap_or_default().to_string());
    let warnings: Vec<&String> = p
        .warnings
        .iter()
        .filter(|w| !w.starts_with("Part handler "))
        .collect();
    if let Some(e) = p.errors.first() {
        return json!({"error": e, "warnings": warnings});
    }
    json!({
        "error": null,
        "parts": p.parts.iter().map(|i| json!({
            "content_type": i.content_type,
            "filename": i.filename,
            "launch_index": i.launch_index,
        })).collect::<Vec<_>>(),
        "cloud_config": p.cloud_config,
        "cloud_config_text": p.cloud_config_text,
        "scripts": scripts,
        "boothooks": boothooks,
        "warnings": warnings,
    })
}

/// Jinja syntax errors keep upstream's frame (`... syntax error: <msg> on
/// line N: <line>`) but minijinja words `<msg>` differently.
fn loosen_jinja_syntax(v: &mut Value) {
    const MARK: &str = "Unable to parse Jinja template due to syntax error: ";
    if let Some(Value::Array(ws)) = v.get_mut("warnings") {
        for w in ws.iter_mut() {
            let Some(s) = w.as_str() else { continue };
            if let (Some(a), Some(b)) = (s.find(MARK), s.rfind(" on line ")) {
                if a + MARK.len() <= b {
                    *w = Value::String(format!("{}<msg>{}", &s[..a + MARK.len()], &s[b..]));
                }
            }
        }
    }
}

fn sorted_scripts(v: &mut Value) {
    if let Some(Value::Array(a)) = v.get_mut("scripts") {
        a.sort_by_key(|s| s["path"].as_str().unwrap_or_default().to_string());
    }
}

#[test]
fn corpus_matches_upstream() {
    let base = serve();
    let options: Value =
        serde_json::from_str(&std::fs::read_to_string(dir("corpus/options.json")).unwrap())
            .unwrap();
    let instance_data: Value =
        serde_json::from_str(&std::fs::read_to_string(dir("corpus/instance-data.json")).unwrap())
            .unwrap();
    let mut names: Vec<String> = std::fs::read_dir(dir("corpus"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "options.json" && n != "instance-data.json")
        .collect();
    names.sort();
    assert!(names.len() >= 30, "corpus too small: {}", names.len());

    let mut failures = Vec::new();
    for name in &names {
        let raw = std::fs::read(dir("corpus").join(name)).unwrap();
        let raw = replace_bytes(&raw, "@@BASE@@", &base);
        let expected_path = dir("expected").join(format!("{name}.json"));
        let mut expected: Value =
            serde_json::from_str(&std::fs::read_to_string(&expected_path).unwrap()).unwrap();
        sorted_scripts(&mut expected);
        let opts = options.get(name).cloned().unwrap_or(json!({}));
        let kind = match opts.get("kind").and_then(Value::as_str) {
            Some("vendor") => Kind::Vendor,
            Some("vendor2") => Kind::Vendor2,
            _ => Kind::User,
        };
        let tmp = tempfile::tempdir().unwrap();
        let host = Host::new(tmp.path());
        let popts = ProcessOptions {
            kind,
            launch_index: opts.get("launch_index").and_then(Value::as_i64),
            instance_data: if opts.get("no_instance_data").is_some() {
                None
            } else {
                Some(instance_data.clone())
            },
            include_once_cache: Some(PathBuf::from("/var/lib/cloud/instance/data/urlcache")),
            host: Some(&host),
            disabled_handlers: opts
                .get("disabled_handlers")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default(),
        };
        let fetcher =
            HttpFetcher::new(Duration::from_secs(5), 10, Duration::ZERO).with_host(host.clone());
        let got = process(&raw, &popts, &fetcher);
        let mut actual = normalize(actual_json(&got), &base);
        loosen_jinja_syntax(&mut actual);
        loosen_jinja_syntax(&mut expected);
        let keys: Vec<String> = expected
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        for key in keys {
            let (e, a) = (&expected[&key], &actual[&key]);
            if e != a {
                failures.push(format!(
                    "{name}: {key} differs\n  upstream: {}\n  ours:     {}",
                    serde_json::to_string(e).unwrap(),
                    serde_json::to_string(a).unwrap()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn part_handlers_are_reported_not_run() {
    let raw = std::fs::read(dir("corpus/05-part-handler.txt")).unwrap();
    let fetcher = HttpFetcher::new(Duration::from_secs(1), 0, Duration::ZERO);
    let got = process(&raw, &ProcessOptions::default(), &fetcher);
    assert_eq!(got.part_handlers.len(), 1);
    assert_eq!(got.part_handlers[0].0, "part-001");
    assert_eq!(
        got.warnings,
        vec!["Part handler part-001 (text/part-handler) is Python code and cannot run in cloud-init-rs; ignored"]
    );
}

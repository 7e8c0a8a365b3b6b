//! `cloud-init devel make-mime`: the document it prints is read back part
//! by part by our user-data processor, and yields the parts (content type,
//! filename, payload) upstream 25.1.4's processor read from it when the
//! fixture was made (tests/regen-make-mime.py; boundaries are random, so
//! parts are compared, not bytes). `--list-types` is upstream's verbatim.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use serde_json::Value;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn fixtures() -> PathBuf {
    repo().join("crates/cli/tests/fixtures/make_mime")
}

fn make_mime(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(BIN)
        .current_dir(fixtures().join("inputs"))
        .args(["devel", "make-mime"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    if let Some(data) = stdin {
        pipe.write_all(data).unwrap();
    }
    drop(pipe);
    child.wait_with_output().unwrap()
}

fn b64decode(s: &str) -> Vec<u8> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=') {
        acc = (acc << 6) | A.iter().position(|x| *x == c).unwrap() as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// The parts of a flat multipart document as written by our processor or
/// by make-mime: (content type, filename, decoded payload). Test-side
/// reading only; what counts is that both readers agree with upstream.
fn split(doc: &str) -> Vec<(String, Option<String>, Vec<u8>)> {
    let boundary = doc
        .lines()
        .find_map(|l| l.split("boundary=\"").nth(1))
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    let delim = format!("\n--{boundary}");
    let body_start = doc.find(&format!("--{boundary}\n")).unwrap();
    let body = &doc[body_start..];
    let mut out = Vec::new();
    for chunk in body.split(&delim) {
        let chunk = chunk
            .strip_prefix(&format!("--{boundary}"))
            .unwrap_or(chunk);
        if chunk.starts_with("--") {
            break;
        }
        let chunk = chunk.strip_prefix('\n').unwrap_or(chunk);
        // The empty multipart upstream prints has one empty chunk.
        if chunk.is_empty() {
            continue;
        }
        let (head, payload) = chunk.split_once("\n\n").unwrap_or((chunk, ""));
        let header = |name: &str| {
            head.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
            })
        };
        let ctype = header("content-type")
            .map(|v| v.split(';').next().unwrap().trim().to_ascii_lowercase())
            .unwrap();
        let filename = header("content-disposition")
            .and_then(|v| v.split("filename=\"").nth(1).map(str::to_string))
            .map(|f| f.trim_end_matches('"').to_string());
        let data = if header("content-transfer-encoding").is_some_and(|v| v == "base64") {
            b64decode(payload)
        } else {
            payload.as_bytes().to_vec()
        };
        out.push((ctype, filename, data));
    }
    out
}

struct Expected {
    args: Vec<String>,
    parts: Vec<(String, Option<String>, Vec<u8>)>,
}

fn expected() -> Expected {
    let v: Value =
        serde_json::from_slice(&std::fs::read(fixtures().join("parts.json")).unwrap()).unwrap();
    let args = v["attach"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|a| {
            [
                "-a".to_string(),
                format!("{}:{}", a[0].as_str().unwrap(), a[1].as_str().unwrap()),
            ]
        })
        .collect();
    let parts = v["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["content_type"].as_str().unwrap().to_string(),
                p["filename"].as_str().map(str::to_string),
                b64decode(p["payload_b64"].as_str().unwrap()),
            )
        })
        .collect();
    Expected { args, parts }
}

struct NoFetch;

impl ci_userdata::Fetcher for NoFetch {
    fn get(&self, url: &str) -> Result<Vec<u8>, String> {
        Err(format!("no fetching in this test: {url}"))
    }
}

#[test]
fn our_processor_reads_the_parts_upstream_read() {
    let exp = expected();
    let args: Vec<&str> = exp.args.iter().map(String::as_str).collect();
    let out = make_mime(&args, None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = String::from_utf8(out.stdout).unwrap();

    // The document itself: one part per attachment, in order.
    assert_eq!(split(&doc), exp.parts, "make-mime parts");

    // Our user-data processor on it: the same types and names in order,
    // and the same payloads in what it hands on.
    let processed = ci_userdata::process(
        doc.as_bytes(),
        &ci_userdata::ProcessOptions::default(),
        &NoFetch,
    );
    assert!(processed.errors.is_empty(), "{:?}", processed.errors);
    let got: Vec<(String, String)> = processed
        .parts
        .iter()
        .map(|p| (p.content_type.clone(), p.filename.clone()))
        .collect();
    let want: Vec<(String, String)> = exp
        .parts
        .iter()
        .map(|(t, f, _)| (t.clone(), f.clone().unwrap_or_default()))
        .collect();
    assert_eq!(got, want, "our processor's parts");
    let again = split(&String::from_utf8(processed.processed_mime).unwrap());
    assert_eq!(again, exp.parts, "parts of our processed message");
    // And what it acted on: the cloud-config parts merged, the scripts.
    let cfg = processed.cloud_config.expect("cloud-config parts");
    assert_eq!(cfg["hostname"], "mime-host");
    assert_eq!(cfg["bootcmd"][0], "echo upper");
    let scripts: Vec<&str> = processed
        .scripts
        .iter()
        .map(|s| s.filename.as_str())
        .collect();
    assert_eq!(scripts, ["script.sh", "crlf.sh", "perboot.sh"]);
    assert_eq!(processed.boothooks.len(), 1);
}

#[test]
fn list_types_is_upstreams() {
    let out = make_mime(&["--list-types"], None);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        std::fs::read_to_string(fixtures().join("list-types.txt")).unwrap()
    );
    let short = make_mime(&["-l"], None);
    assert_eq!(
        short.stdout,
        std::fs::read(fixtures().join("list-types.txt")).unwrap()
    );
}

#[test]
fn unknown_types_errors_and_exit_codes() {
    let out = make_mime(
        &["-a", "config.yaml:cloud-config", "-a", "script.sh:foo"],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "ERROR: content type 'text/foo' for attachment 2 may be incorrect!\nInvalid content-types, override with --force\n"
    );
    let out = make_mime(&["-a", "script.sh:foo", "--force"], None);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "WARNING: content type 'text/foo' for attachment 1 may be incorrect!\nInvalid content-types, override with --force\n"
    );
    let parts = split(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0].0, "text/foo");

    // No colon: a usage error (2) naming the value, not a traceback.
    let out = make_mime(&["-a", "config.yaml"], None);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("config.yaml") && !err.contains("panicked"),
        "{err}"
    );
    // A missing or non-UTF-8 file: 1, naming it.
    let out = make_mime(&["-a", "no-such-file:cloud-config"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-file"));
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin.dat");
    std::fs::write(&bin, b"\xff\xfe\x00").unwrap();
    let arg = format!("{}:cloud-config", bin.display());
    let out = make_mime(&["-a", &arg], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not UTF-8"));

    // No attachment: an empty multipart, as upstream prints it.
    let out = make_mime(&[], None);
    assert_eq!(out.status.code(), Some(0));
    let doc = String::from_utf8(out.stdout).unwrap();
    assert!(doc.starts_with("Content-Type: multipart/mixed; boundary=\"==============="));
    assert!(split(&doc).is_empty(), "{doc}");
}

#[test]
fn dash_reads_standard_input() {
    let out = make_mime(
        &["-a", "-:cloud-config"],
        Some(b"#cloud-config\r\nhostname: s\r\n"),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let parts = split(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(
        parts,
        vec![(
            "text/cloud-config".to_string(),
            Some("-".to_string()),
            b"#cloud-config\nhostname: s\n".to_vec()
        )]
    );
}

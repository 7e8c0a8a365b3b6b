//! `cloud-init devel imds-serve` serves the EC2 metadata API on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

#[test]
fn serves_ec2_metadata_from_a_seed() {
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sources/tests/fixtures/ec2-seed");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cloud-init"))
        .args([
            "devel",
            "imds-serve",
            "--cloud",
            "ec2",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--seed",
        ])
        .arg(&seed)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut answer = None;
    while Instant::now() < deadline {
        answer = get(port, "/latest/meta-data/instance-id");
        if answer.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let answer = answer.expect("the emulator answered");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    let md = std::fs::read_to_string(seed.join("meta-data")).unwrap();
    assert!(
        !body.is_empty() && md.contains(body.trim()),
        "instance-id {body:?} not from the seed"
    );
}

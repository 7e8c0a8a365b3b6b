//! `phone_home` on a booted sandbox root reaches a server on 127.0.0.1 with
//! the form upstream 25.1.4 posts: the keys in the order asked, the host
//! key the `ssh` module generated in the root, the instance id in the URL.
//! (The HTTPS path, with the test CA in the root's trust store, is covered
//! in crates/modules/tests/phone_home_https.rs.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;

/// Serves one request with `status`; hands back its head and body.
fn one_request_server(status: &'static str) -> (u16, mpsc::Receiver<(String, String)>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let (mut head, mut len) = (String::new(), 0usize);
        loop {
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap();
            }
            head.push_str(&line);
        }
        let mut body = vec![0; len];
        r.read_exact(&mut body).unwrap();
        let mut s = s;
        write!(
            s,
            "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        tx.send((head, String::from_utf8(body).unwrap())).unwrap();
    });
    (port, rx)
}

fn form(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn final_warnings(sb: &Sandbox) -> Vec<String> {
    let status: serde_json::Value =
        serde_json::from_str(&sb.read("/var/lib/cloud/data/status.json")).unwrap();
    status["v1"]["modules-final"]["recoverable_errors"]["WARNING"]
        .as_array()
        .map(|a| a.iter().map(|v| v.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

#[test]
fn posts_the_form_over_http_after_the_boot() {
    let Some(base) = debian_root() else { return };
    let (port, rx) = one_request_server("200 OK");
    let ud = format!(
        "#cloud-config\nphone_home:\n  url: http://127.0.0.1:{port}/$INSTANCE_ID/done\n  \
         post: [instance_id, hostname, fqdn, pub_key_ed25519]\n  tries: 1\n"
    );
    let sb = Sandbox::new(
        &base,
        &[
            (
                "meta-data",
                b"instance-id: iid-ph1\nlocal-hostname: ph-host\n",
            ),
            ("user-data", ud.as_bytes()),
        ],
    );
    assert_eq!(sb.boot(), vec![0, 0, 0, 0], "{}", sb.log());
    let (head, body) = rx
        .recv_timeout(std::time::Duration::from_secs(5))
        .expect("phone_home did not reach the server");
    assert!(
        head.starts_with("POST /iid-ph1/done HTTP/1.1\r\n"),
        "{head}"
    );
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/x-www-form-urlencoded\r\n"),
        "{head}"
    );
    let key = sb.read("/etc/ssh/ssh_host_ed25519_key.pub");
    assert!(key.starts_with("ssh-ed25519 "), "no host key: {key:?}");
    assert_eq!(
        body,
        format!(
            "instance_id=iid-ph1&hostname=ph-host&fqdn=ph-host&pub_key_ed25519={}",
            form(&key)
        )
    );
    assert!(final_warnings(&sb).is_empty(), "{:?}", final_warnings(&sb));
}

#[test]
fn a_server_error_is_upstreams_warning_and_the_boot_goes_on() {
    let Some(base) = debian_root() else { return };
    let (port, rx) = one_request_server("500 Internal Server Error");
    let url = format!("http://127.0.0.1:{port}/x");
    let ud = format!("#cloud-config\nphone_home:\n  url: {url}\n  post: [fqdn]\n  tries: 1\n");
    let sb = Sandbox::new(
        &base,
        &[
            ("meta-data", b"instance-id: iid-ph2\n"),
            ("user-data", ud.as_bytes()),
        ],
    );
    assert_eq!(sb.boot(), vec![0, 0, 0, 0], "{}", sb.log());
    assert!(rx.recv_timeout(std::time::Duration::from_secs(5)).is_ok());
    assert_eq!(
        final_warnings(&sb),
        [format!(
            "Failed to post phone home data to {url} in 1 tries"
        )]
    );
    assert!(sb
        .path("/var/lib/cloud/instances/iid-ph2/boot-finished")
        .exists());
}

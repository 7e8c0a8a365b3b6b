use super::*;
use crate::testutil::{logcap, TestEnv};
use serde_json::json;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;

/// A one-shot HTTP server on 127.0.0.1: answers `status` to each of
/// `n` requests and hands back each request's head and body.
fn server(n: usize, status: &'static str) -> (u16, mpsc::Receiver<(String, String)>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for _ in 0..n {
            let (s, _) = l.accept().unwrap();
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut head = String::new();
            let mut len = 0usize;
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
                "HTTP/1.1 {status}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
            )
            .unwrap();
            tx.send((head, String::from_utf8(body).unwrap())).unwrap();
        }
    });
    (port, rx)
}

fn keys(env: &TestEnv) {
    env.write("/etc/ssh/ssh_host_rsa_key.pub", "ssh-rsa AAAA root@h\n");
    env.write(
        "/etc/ssh/ssh_host_ecdsa_key.pub",
        "ecdsa-sha2-nistp256 BBBB root@h\n",
    );
    env.write(
        "/etc/ssh/ssh_host_ed25519_key.pub",
        "ssh-ed25519 CCCC root@h\n",
    );
}

fn env_for(ph: Value) -> TestEnv {
    let mut env = TestEnv::new(json!({"phone_home": ph}));
    env.instance.local_hostname = Some("myhost.example.org".into());
    env
}

#[test]
fn form_encoding_is_pythons_urlencode() {
    let pairs = vec![
        ("a b".to_string(), "x+y/z=1&2\n~é".to_string()),
        ("k".to_string(), "N/A".to_string()),
    ];
    assert_eq!(
        form_encode(&pairs),
        "a+b=x%2By%2Fz%3D1%262%0A~%C3%A9&k=N%2FA"
    );
}

#[test]
fn posts_every_key_in_upstreams_order_with_instance_id_in_the_url() {
    logcap::init();
    let (port, rx) = server(1, "200 OK");
    let env = env_for(json!({"url": format!("http://127.0.0.1:{port}/$INSTANCE_ID/"), "tries": 1}));
    keys(&env);
    handle(&env.ctx("phone_home")).unwrap();
    let (head, body) = rx.recv().unwrap();
    assert!(head.starts_with("POST /i-test/ HTTP/1.1\r\n"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/x-www-form-urlencoded"),
        "{head}"
    );
    assert_eq!(
        body,
        "pub_key_rsa=ssh-rsa+AAAA+root%40h%0A\
         &pub_key_ecdsa=ecdsa-sha2-nistp256+BBBB+root%40h%0A\
         &pub_key_ed25519=ssh-ed25519+CCCC+root%40h%0A\
         &instance_id=i-test&hostname=myhost&fqdn=myhost.example.org"
    );
    assert!(logcap::warnings().is_empty(), "{:?}", logcap::warnings());
}

#[test]
fn missing_keys_and_tries_warn_and_post_na() {
    logcap::init();
    let (port, rx) = server(1, "200 OK");
    let env = env_for(json!({
        "url": format!("http://127.0.0.1:{port}/"),
        "post": ["instance_id", "pub_key_rsa", "pub_key_dsa", "instance_id"]
    }));
    handle(&env.ctx("phone_home")).unwrap();
    let (_, body) = rx.recv().unwrap();
    assert_eq!(
        body,
        "instance_id=i-test&pub_key_rsa=N%2FA&pub_key_dsa=N%2FA"
    );
    assert_eq!(
        logcap::warnings(),
        [
            "Configuration entry 'tries' is not an integer, using 10 instead",
            "/etc/ssh/ssh_host_rsa_key.pub: failed to open, can not phone home that data!",
            "/etc/ssh/ssh_host_ecdsa_key.pub: failed to open, can not phone home that data!",
            "/etc/ssh/ssh_host_ed25519_key.pub: failed to open, can not phone home that data!",
            "Requested key pub_key_rsa from 'post' configuration list not available",
            "Requested key pub_key_dsa from 'post' configuration list not available",
        ]
    );
}

#[test]
fn http_errors_are_retried_then_reported() {
    logcap::init();
    let (port, rx) = server(2, "500 Internal Server Error");
    let url = format!("http://127.0.0.1:{port}/x");
    let env = env_for(json!({"url": url, "tries": "2", "post": ["hostname"]}));
    keys(&env);
    let started = std::time::Instant::now();
    handle(&env.ctx("phone_home")).unwrap();
    assert_eq!(rx.iter().take(2).count(), 2);
    assert!(started.elapsed() >= SEC_BETWEEN);
    assert_eq!(
        logcap::warnings(),
        [format!(
            "Failed to post phone home data to {url} in 2 tries"
        )]
    );
}

#[test]
fn refused_connection_fails_after_one_try() {
    logcap::init();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/");
    let env = env_for(json!({"url": url, "tries": 0}));
    keys(&env);
    handle(&env.ctx("phone_home")).unwrap();
    assert_eq!(
        logcap::warnings(),
        [format!(
            "Failed to post phone home data to {url} in 0 tries"
        )]
    );
}

#[test]
fn no_url_warns_and_skips() {
    logcap::init();
    let env = env_for(json!({"post": "all"}));
    handle(&env.ctx("phone_home")).unwrap();
    assert_eq!(
        logcap::warnings(),
        ["Skipping module named phone_home, no 'url' found in 'phone_home' configuration"]
    );
    let env = TestEnv::new(json!({}));
    handle(&env.ctx("phone_home")).unwrap();
    assert_eq!(logcap::warnings().len(), 1);
}

#[test]
fn a_file_url_is_read_not_posted() {
    logcap::init();
    let env = env_for(json!({"url": "file:///srv/ph", "tries": 1, "post": ["fqdn"]}));
    env.write("/srv/ph", "x");
    keys(&env);
    handle(&env.ctx("phone_home")).unwrap();
    assert_eq!(
        logcap::warnings(),
        ["Unable to post data to file resource /srv/ph"]
    );
}

#[test]
fn unknown_template_key_is_a_key_error() {
    let env = env_for(json!({"url": "http://127.0.0.1:9/$NOPE", "tries": 1, "post": []}));
    let e = handle(&env.ctx("phone_home")).unwrap_err();
    assert_eq!(e.py_class(), "KeyError");
    assert_eq!(e.to_string(), "NOPE");
}

#[test]
fn string_post_other_than_all_is_iterated_by_character() {
    assert_eq!(post_list(Some(&json!("ab"))).unwrap(), ["a", "b"]);
    assert_eq!(post_list(Some(&json!("all"))).unwrap().len(), 6);
    assert!(post_list(Some(&json!([["x"]]))).is_err());
}

#[test]
fn https_uses_the_targets_trust_store() {
    logcap::init();
    let srv = ci_http::testing::TlsServer::start(&[("/ph", b"ok")]).unwrap();
    let env = env_for(json!({"url": srv.url("/ph"), "tries": 1, "post": ["instance_id"]}));
    keys(&env);
    env.write(
        &ci_http::bundle_path(),
        &String::from_utf8(srv.ca_pem().unwrap()).unwrap(),
    );
    handle(&env.ctx("phone_home")).unwrap();
    assert!(logcap::warnings().is_empty(), "{:?}", logcap::warnings());

    let stranger = ci_http::testing::TestCa::new("stranger").unwrap();
    env.write(
        &ci_http::bundle_path(),
        &String::from_utf8(stranger.cert_pem().unwrap()).unwrap(),
    );
    handle(&env.ctx("phone_home")).unwrap();
    assert_eq!(
        logcap::warnings(),
        [format!(
            "Failed to post phone home data to {} in 1 tries",
            srv.url("/ph")
        )]
    );
}

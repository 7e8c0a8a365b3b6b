use super::testing::{TestCa, TlsServer};
use super::*;
use std::io::{Read, Write};
use std::net::TcpListener;

fn opts(trust: Trust) -> AgentOpts {
    AgentOpts {
        timeout_global: Some(Duration::from_secs(10)),
        trust,
        ..AgentOpts::default()
    }
}

fn get(agent: &ureq::Agent, url: &str) -> Result<(u16, Vec<u8>), String> {
    let mut resp = agent.get(url).call().map_err(|e| error_text(&e))?;
    let code = resp.status().as_u16();
    let body = resp.body_mut().read_to_vec().map_err(|e| e.to_string())?;
    Ok((code, body))
}

#[test]
fn https_with_ca_in_bundle_returns_body() {
    let srv = TlsServer::start(&[("/x", b"hello tls")]).unwrap();
    let agent = agent(&opts(Trust::pem("test bundle", srv.ca_pem().unwrap())));
    assert_eq!(
        get(&agent, &srv.url("/x")).unwrap(),
        (200, b"hello tls".to_vec())
    );
    // A status is a response, not an error.
    assert_eq!(get(&agent, &srv.url("/missing")).unwrap().0, 404);
}

#[test]
fn https_with_bundle_read_through_a_root() {
    let srv = TlsServer::start(&[("/x", b"via root")]).unwrap();
    let root = tempfile::tempdir().unwrap();
    let bundle = root.path().join(bundle_path().trim_start_matches('/'));
    std::fs::create_dir_all(bundle.parent().unwrap()).unwrap();
    // Another CA before ours: the whole bundle is trusted, not its first entry.
    let mut pem = TestCa::new("other").unwrap().cert_pem().unwrap();
    pem.extend(srv.ca_pem().unwrap());
    std::fs::write(&bundle, pem).unwrap();
    let r = root.path().to_path_buf();
    let trust = Trust::via(r.display().to_string(), move |p: &str| {
        std::fs::read(r.join(p.trim_start_matches('/')))
    });
    let agent = agent(&opts(trust));
    assert_eq!(get(&agent, &srv.url("/x")).unwrap().1, b"via root");
}

#[test]
fn https_with_unknown_ca_fails_certificate_verification() {
    let srv = TlsServer::start(&[("/x", b"secret")]).unwrap();
    let other = TestCa::new("stranger").unwrap().cert_pem().unwrap();
    let agent = agent(&opts(Trust::pem("test bundle", other)));
    let err = get(&agent, &srv.url("/x")).unwrap_err();
    assert_eq!(
        err,
        "TLS certificate verification failed: invalid peer certificate: UnknownIssuer"
    );
}

#[test]
fn missing_bundle_fails_https_naming_it_but_http_works() {
    let trust = Trust::via("/sandbox", |_p: &str| {
        Err(std::io::Error::from(std::io::ErrorKind::NotFound))
    });
    let agent = agent(&opts(trust));
    let srv = TlsServer::start(&[("/x", b"x")]).unwrap();
    let err = get(&agent, &srv.url("/x")).unwrap_err();
    assert!(err.contains(&bundle_path()), "{err}");
    assert!(err.contains("(under /sandbox)"), "{err}");
    assert!(err.contains("cannot verify TLS certificates"), "{err}");

    let (port, handle) = plain_server(b"plain body");
    let url = format!("http://127.0.0.1:{port}/y");
    assert_eq!(get(&agent, &url).unwrap(), (200, b"plain body".to_vec()));
    handle.join().unwrap();
}

#[test]
fn empty_or_garbage_bundle_is_an_error_naming_it() {
    let e = Trust::pem("empty bundle", Vec::new()).load().unwrap_err();
    assert_eq!(e, "empty bundle holds no certificate");
    let e = Trust::pem("junk", b"hello\n".to_vec()).load().unwrap_err();
    assert!(e.starts_with("junk"), "{e}");
}

#[test]
fn bundle_path_defaults_to_debian() {
    if std::env::var_os("SSL_CERT_FILE").is_none() {
        assert_eq!(bundle_path(), "/etc/ssl/certs/ca-certificates.crt");
    }
}

/// One plain HTTP response on 127.0.0.1.
fn plain_server(body: &'static [u8]) -> (u16, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut buf = [0u8; 4096];
        let mut got = Vec::new();
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = s.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(body).unwrap();
    });
    (port, h)
}

#[test]
fn the_running_systems_bundle_parses_when_present() {
    let path = bundle_path();
    if !std::path::Path::new(&path).exists() {
        return;
    }
    let certs = Trust::system().load().unwrap();
    // Debian's bundle holds well over a hundred roots; a parser that stopped
    // at the first block or choked on the comments would find one or none.
    assert!(certs.len() > 50, "{} certificates in {path}", certs.len());
}

#[test]
fn oversized_bundle_is_refused_naming_it_and_the_bound() {
    let root = tempfile::tempdir().unwrap();
    let bundle = root.path().join(bundle_path().trim_start_matches('/'));
    std::fs::create_dir_all(bundle.parent().unwrap()).unwrap();
    // A real certificate first: the size alone must refuse the file.
    let mut pem = TestCa::new("big").unwrap().cert_pem().unwrap();
    pem.resize(MAX_BUNDLE_BYTES as usize + 1, b'\n');
    std::fs::write(&bundle, &pem).unwrap();
    let place = root.path().display().to_string();
    let want = format!(
        "CA bundle {} (under {place}) is larger than 8388608 bytes (bound MAX_BUNDLE_BYTES); not reading it",
        bundle_path()
    );
    let r = root.path().to_path_buf();
    let resolving = Trust::resolving(place.clone(), move |p: &str| {
        Ok(r.join(p.trim_start_matches('/')))
    });
    assert_eq!(resolving.load().unwrap_err(), want);
    let r = root.path().to_path_buf();
    let via = Trust::via(place.clone(), move |p: &str| {
        std::fs::read(r.join(p.trim_start_matches('/')))
    });
    assert_eq!(via.load().unwrap_err(), want);
    // At the bound exactly it is read and parsed.
    pem.truncate(MAX_BUNDLE_BYTES as usize);
    std::fs::write(&bundle, &pem).unwrap();
    assert_eq!(resolving.load().unwrap().len(), 1);
}

#[test]
fn resolved_bundle_link_is_not_followed() {
    let root = tempfile::tempdir().unwrap();
    let bundle = root.path().join(bundle_path().trim_start_matches('/'));
    std::fs::create_dir_all(bundle.parent().unwrap()).unwrap();
    let target = root.path().join("real.pem");
    std::fs::write(&target, TestCa::new("linked").unwrap().cert_pem().unwrap()).unwrap();
    std::os::unix::fs::symlink(&target, &bundle).unwrap();
    let r = root.path().to_path_buf();
    let trust = Trust::resolving("/sandbox", move |p: &str| {
        Ok(r.join(p.trim_start_matches('/')))
    });
    let e = trust.load().unwrap_err();
    assert!(e.starts_with("cannot read CA bundle "), "{e}");
    assert!(e.contains("(under /sandbox)"), "{e}");
}

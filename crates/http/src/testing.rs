//! A TLS server on 127.0.0.1 for tests, with a CA made at run time by the
//! `openssl` command (no certificate-generation crate to build).
//!
//! Test support only: errors are returned, never panicked, but nothing
//! here is hardened.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A CA (certificate and key) in a temporary directory.
pub struct TestCa {
    dir: tempfile::TempDir,
}

fn openssl(dir: &Path, args: &[&str]) -> io::Result<()> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "openssl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        )))
    }
}

impl TestCa {
    pub fn new(name: &str) -> io::Result<TestCa> {
        let dir = tempfile::tempdir()?;
        let subj = format!("/CN={name}");
        openssl(
            dir.path(),
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                &subj,
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        )?;
        Ok(TestCa { dir })
    }

    /// The CA certificate, PEM: what goes into a trust bundle.
    pub fn cert_pem(&self) -> io::Result<Vec<u8>> {
        std::fs::read(self.dir.path().join("ca.pem"))
    }

    /// A fresh key and a certificate for 127.0.0.1 and localhost signed by
    /// this CA: (certificate PEM, key PEM).
    fn issue_server(&self) -> io::Result<(Vec<u8>, Vec<u8>)> {
        let d = self.dir.path();
        std::fs::write(
            d.join("ext.cnf"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\n\
             basicConstraints=critical,CA:FALSE\n\
             keyUsage=critical,digitalSignature\n\
             extendedKeyUsage=serverAuth\n",
        )?;
        openssl(
            d,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                "srv.key",
                "-out",
                "srv.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        )?;
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                "srv.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-set_serial",
                "2",
                "-out",
                "srv.pem",
                "-days",
                "2",
                "-extfile",
                "ext.cnf",
            ],
        )?;
        Ok((
            std::fs::read(d.join("srv.pem"))?,
            std::fs::read(d.join("srv.key"))?,
        ))
    }
}

/// An HTTPS server on 127.0.0.1 answering fixed routes; stops when dropped.
pub struct TlsServer {
    port: u16,
    ca: TestCa,
    stop: Arc<AtomicBool>,
}

impl TlsServer {
    /// Serves `routes` (path → body, status 200); other paths get 404.
    pub fn start(routes: &[(&str, &[u8])]) -> io::Result<TlsServer> {
        let ca = TestCa::new("ci-http test CA")?;
        let (cert_pem, key_pem) = ca.issue_server()?;
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
            .collect::<Result<_, _>>()
            .map_err(|e| io::Error::other(format!("server cert: {e}")))?;
        let key = PrivateKeyDer::from_pem_slice(&key_pem)
            .map_err(|e| io::Error::other(format!("server key: {e}")))?;
        let provider = crate::ring_provider();
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(io::Error::other)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(io::Error::other)?;
        let config = Arc::new(config);
        let routes: Arc<HashMap<String, Vec<u8>>> = Arc::new(
            routes
                .iter()
                .map(|(p, b)| (p.to_string(), b.to_vec()))
                .collect(),
        );
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(tcp) = conn else { continue };
                let config = Arc::clone(&config);
                let routes = Arc::clone(&routes);
                std::thread::spawn(move || {
                    let _ = serve(tcp, config, &routes);
                });
            }
        });
        Ok(TlsServer { port, ca, stop })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `https://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }

    /// The PEM of the CA that signed the server's certificate.
    pub fn ca_pem(&self) -> io::Result<Vec<u8>> {
        self.ca.cert_pem()
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// One connection: one request, one response, then close.
fn serve(
    tcp: TcpStream,
    config: Arc<rustls::ServerConfig>,
    routes: &HashMap<String, Vec<u8>>,
) -> io::Result<()> {
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    let conn = rustls::ServerConnection::new(config).map_err(io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let mut reader = BufReader::new(&mut tls);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("/");
    let (status, body) = match routes.get(path) {
        Some(b) => ("200 OK", b.as_slice()),
        None => ("404 Not Found", &b"not found"[..]),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    tls.write_all(head.as_bytes())?;
    tls.write_all(body)?;
    tls.flush()?;
    tls.conn.send_close_notify();
    let _ = tls.flush();
    Ok(())
}

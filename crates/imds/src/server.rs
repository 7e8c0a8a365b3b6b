//! The listener: one small thread per connection, all of them stopped and
//! joined by [`Server::shutdown`] (or drop).

use crate::clouds::{api_for, CloudApi, Ec2Api};
use crate::faults::Faults;
use crate::http::{read_request, write_response, ReadOutcome, Request, Response};
use crate::seed::Seed;
use crate::ImdsError;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

const TOKEN_HEADER: &str = "x-aws-ec2-metadata-token";
/// Connections served at once; more are closed on accept.
const MAX_CONNS: usize = 64;
/// Requests remembered for [`Server::requests`].
const MAX_LOG: usize = 10_000;
const POLL: Duration = Duration::from_millis(10);

/// One request as the emulator saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    /// Whether an `X-aws-ec2-metadata-token` header was sent.
    pub token: bool,
    pub status: u16,
}

struct Shared {
    api: Box<dyn CloudApi>,
    /// `devel imds-serve`: one stderr line per request, for counting.
    echo: AtomicBool,
    faults: Faults,
    shutdown: AtomicBool,
    failed: AtomicU32,
    served: AtomicU64,
    log: Mutex<Vec<RequestRecord>>,
    active: AtomicUsize,
    conns: Mutex<Vec<JoinHandle<()>>>,
}

/// A running emulator.
pub struct Server {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl Server {
    /// Listen on `addr` (tests: `127.0.0.1:0`) and serve `seed` as EC2.
    pub fn start(seed: Seed, faults: Faults, addr: &str) -> Result<Server, ImdsError> {
        Server::start_api(Box::new(Ec2Api::new(seed)), faults, addr)
    }

    /// Listen on `addr` and answer requests with `api`.
    pub fn start_api(
        api: Box<dyn CloudApi>,
        faults: Faults,
        addr: &str,
    ) -> Result<Server, ImdsError> {
        let bind = |source| ImdsError::Bind {
            addr: addr.to_string(),
            source,
        };
        let listener = TcpListener::bind(addr).map_err(bind)?;
        listener.set_nonblocking(true).map_err(bind)?;
        let local = listener.local_addr().map_err(bind)?;
        let cloud = api.name();
        let shared = Arc::new(Shared {
            api,
            echo: AtomicBool::new(false),
            faults,
            shutdown: AtomicBool::new(false),
            failed: AtomicU32::new(0),
            served: AtomicU64::new(0),
            log: Mutex::new(Vec::new()),
            active: AtomicUsize::new(0),
            conns: Mutex::new(Vec::new()),
        });
        let s = Arc::clone(&shared);
        let accept = std::thread::spawn(move || accept_loop(&listener, &s));
        log::info!("{cloud} metadata emulator listening on http://{local}");
        Ok(Server {
            addr: local,
            shared,
            accept: Some(accept),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://IP:PORT`, what a client takes as its metadata URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request answered (or hung) so far, in arrival order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared
            .log
            .lock()
            .map(|l| l.clone())
            .unwrap_or_default()
    }

    /// How many requests had this method and a path ending with `suffix`.
    pub fn count(&self, method: &str, suffix: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.method == method && r.path.ends_with(suffix))
            .count()
    }

    /// Stop accepting, release hung requests, join every thread.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
        let conns = self
            .shared
            .conns
            .lock()
            .map(|mut c| std::mem::take(&mut *c))
            .unwrap_or_default();
        for h in conns {
            let _ = h.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `cloud-init devel imds-serve`: serve `seed_dir` for `cloud` on
/// `listen_addr` until the process is killed.
pub fn serve(
    cloud: &str,
    seed_dir: &Path,
    listen_addr: &str,
    faults: Faults,
) -> Result<(), ImdsError> {
    let api = api_for(cloud, seed_dir)?;
    let mut server = Server::start_api(api, faults, listen_addr)?;
    server.shared.echo.store(true, Ordering::SeqCst);
    if let Some(h) = server.accept.take() {
        let _ = h.join();
    }
    Ok(())
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    while !shared.shutdown.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                if shared.active.load(Ordering::SeqCst) >= MAX_CONNS {
                    drop(stream);
                    continue;
                }
                shared.active.fetch_add(1, Ordering::SeqCst);
                let s = Arc::clone(shared);
                let h = std::thread::spawn(move || {
                    connection(stream, &s);
                    s.active.fetch_sub(1, Ordering::SeqCst);
                });
                if let Ok(mut c) = shared.conns.lock() {
                    c.retain(|h| !h.is_finished());
                    c.push(h);
                }
            }
            Err(_) => std::thread::sleep(POLL),
        }
    }
}

fn connection(mut stream: TcpStream, shared: &Shared) {
    if stream.set_nonblocking(false).is_err()
        || stream.set_read_timeout(Some(POLL * 5)).is_err()
        || stream
            .set_write_timeout(Some(Duration::from_secs(5)))
            .is_err()
    {
        return;
    }
    let mut buf = Vec::new();
    loop {
        let req = match read_request(&mut stream, &mut buf, &shared.shutdown) {
            ReadOutcome::Request(r) => r,
            ReadOutcome::Closed => return,
            ReadOutcome::Bad(why) => {
                let _ = write_response(&mut stream, 400, why.as_bytes(), &[], true, false);
                return;
            }
        };
        let f = &shared.faults;
        let served = shared.served.fetch_add(1, Ordering::SeqCst);
        if f.revoke_tokens_after
            .is_some_and(|n| u64::from(n) == served)
        {
            shared.api.revoke_tokens();
        }
        if Faults::matches(&f.hang, &req.path) {
            record(shared, &req, 0);
            while !shared.shutdown.load(Ordering::SeqCst) {
                std::thread::sleep(POLL);
            }
            return;
        }
        if !f.delay.is_zero() {
            std::thread::sleep(f.delay);
        }
        let Response {
            status: code,
            body,
            headers,
        } = if f.fail_first > 0 && shared.failed.fetch_add(1, Ordering::SeqCst) < f.fail_first {
            Response::status(f.fail_status)
        } else if Faults::matches(&f.not_found, &req.path) {
            Response::status(404)
        } else {
            shared.api.answer(&req)
        };
        record(shared, &req, code);
        let truncate = code == 200 && Faults::matches(&f.truncate, &req.path);
        let body = if body.is_empty() && code != 200 {
            crate::http::reason(code).as_bytes().to_vec()
        } else {
            body
        };
        if write_response(&mut stream, code, &body, &headers, req.close, truncate).is_err()
            || req.close
            || truncate
        {
            return;
        }
    }
}

fn record(shared: &Shared, req: &Request, status: u16) {
    if shared.echo.load(Ordering::SeqCst) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default();
        let status = if status == 0 {
            "hung".to_string()
        } else {
            status.to_string()
        };
        eprintln!("request {now:.3} {} {} {status}", req.method, req.path);
    }
    if let Ok(mut l) = shared.log.lock() {
        if l.len() < MAX_LOG {
            l.push(RequestRecord {
                method: req.method.clone(),
                path: req.path.clone(),
                token: req.header(TOKEN_HEADER).is_some(),
                status,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serve_rejects_bad_input() {
        let d = std::env::temp_dir().join(format!("ci-imds-none-{}", std::process::id()));
        let e = serve("nosuchcloud", &d, "127.0.0.1:0", Faults::default()).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.starts_with("unsupported cloud 'nosuchcloud' (supported: ec2"),
            "{msg}"
        );
        for cloud in crate::supported() {
            assert!(msg.contains(cloud), "{msg} lacks {cloud}");
        }
        let e = serve("ec2", &d, "127.0.0.1:0", Faults::default()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with(&format!("{}/meta-data: ", d.display())),
            "{e}"
        );
    }

    #[test]
    fn answers_like_ec2() {
        use std::io::{Read, Write};
        let md = serde_json::json!({"instance-id": "i-1", "public-keys": {"k": "ssh-rsa A"}});
        let serde_json::Value::Object(md) = md else {
            panic!()
        };
        let mut seed = Seed::from_meta_data(&md, None);
        seed.token = crate::seed::TokenMode::Required;
        let srv = Server::start(seed, Faults::default(), "127.0.0.1:0").unwrap();
        let ask = |req: &str| {
            let mut s = TcpStream::connect(srv.addr()).unwrap();
            s.write_all(req.as_bytes()).unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).unwrap();
            out
        };
        let put = ask("PUT /latest/api/token HTTP/1.1\r\nX-aws-ec2-metadata-token-ttl-seconds: 21600\r\nConnection: close\r\n\r\n");
        assert!(put.starts_with("HTTP/1.1 200 OK\r\n"), "{put}");
        let token = put.split("\r\n\r\n").nth(1).unwrap().to_string();
        let no_ttl = ask("PUT /latest/api/token HTTP/1.1\r\nConnection: close\r\n\r\n");
        assert!(no_ttl.starts_with("HTTP/1.1 400 "), "{no_ttl}");
        let anon = ask("GET /latest/meta-data/ HTTP/1.1\r\nConnection: close\r\n\r\n");
        assert!(anon.starts_with("HTTP/1.1 401 "), "{anon}");
        let get = |p: &str| {
            ask(&format!(
                "GET {p} HTTP/1.1\r\nX-aws-ec2-metadata-token: {token}\r\nConnection: close\r\n\r\n"
            ))
        };
        assert!(get("/latest/meta-data/").ends_with("\r\n\r\ninstance-id\npublic-keys/"));
        assert!(get("/latest/meta-data/public-keys").ends_with("\r\n\r\n0=k"));
        assert!(get("/2016-09-02/meta-data/public-keys/0/openssh-key").ends_with("ssh-rsa A"));
        assert!(get("/latest/user-data").starts_with("HTTP/1.1 404 "));
        assert!(get("/2099-01-01/meta-data/").starts_with("HTTP/1.1 404 "));
        assert!(get("/latest/dynamic/instance-identity/").ends_with("\r\n\r\ndocument"));
        assert_eq!(srv.count("GET", "/user-data"), 1);
        srv.shutdown();
    }
}

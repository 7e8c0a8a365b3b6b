//! What the metadata clients of Scaleway, UpCloud, Akamai, Exoscale and
//! CloudStack need beyond [`UrlReader`]: upstream's `wait_for_url` in its
//! simple serial form, config numbers read the way upstream's `int()` reads
//! them, the sandbox rule for link-local addresses, and requests from a
//! privileged source port (Scaleway serves user-data only to clients
//! bound below 1024, as proof they run as root).

use crate::url::{UrlError, UrlPolicy, UrlReader};
use ci_host::Host;
use ci_pyval::py_str;
use serde_json::Value;
use std::time::{Duration, Instant};

/// Upstream's `int(ds_cfg.get(key, default))`. Upstream raises on a value
/// that is not a number; we warn and use the default instead.
pub(crate) fn cfg_int(cfg: &Value, key: &str, default: i64) -> i64 {
    let Some(v) = cfg.get(key).filter(|v| !v.is_null()) else {
        return default;
    };
    let parsed = match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f.trunc() as i64)),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    };
    parsed.unwrap_or_else(|| {
        log::warn!(
            "Config {key} '{}' is not an int, using default '{default}'",
            py_str(v)
        );
        default
    })
}

/// A non-negative number of seconds from config (fractions kept).
pub(crate) fn cfg_secs(cfg: &Value, key: &str, default: f64) -> Duration {
    let secs = match cfg.get(key) {
        Some(Value::Number(n)) => n.as_f64().unwrap_or(default),
        Some(Value::String(s)) => s.trim().parse().unwrap_or(default),
        _ => default,
    };
    Duration::from_secs_f64(if secs.is_finite() { secs.max(0.0) } else { 0.0 })
}

/// Whether the URL's host is `localhost` or a loopback address (IPv6 in
/// brackets); the one copy every datasource's sandbox guard uses.
pub(crate) fn is_loopback_url(url: &str) -> bool {
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let hostport = rest.split('/').next().unwrap_or_default();
    let host = if let Some(v6) = hostport.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        hostport.split(':').next().unwrap_or_default()
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Under a sandbox root (tests, image builds) only loopback services are
/// queried: a link-local metadata service there belongs to the build machine.
pub(crate) fn sandbox_allows(host: &Host, url: &str) -> bool {
    if host.is_sandbox() && !is_loopback_url(url) {
        log::debug!("Not querying {url}: not loopback and the root is a sandbox");
        return false;
    }
    true
}

/// One attempt per call, bounded by `timeout`, no proxy (metadata
/// services are link-local).
pub(crate) fn one_shot(base: &UrlPolicy, timeout: Duration) -> UrlReader {
    UrlReader::new(UrlPolicy {
        timeout: Some(timeout),
        connect_timeout: Some(timeout),
        retries: 0,
        sec_between: Duration::ZERO,
        env_proxy: false,
        ..base.clone()
    })
}

/// A reader with upstream's `readurl(timeout, retries, sec_between)`.
pub(crate) fn reader(
    base: &UrlPolicy,
    timeout: Duration,
    retries: u32,
    sec_between: Duration,
) -> UrlReader {
    UrlReader::new(UrlPolicy {
        timeout: Some(timeout),
        connect_timeout: Some(timeout),
        retries,
        sec_between,
        env_proxy: false,
        ..base.clone()
    })
}

/// Upstream `wait_for_url`: try each URL in turn until one answers 2xx
/// with a body, sleeping 1 s (2 s after five rounds, ...) between rounds,
/// until `max_wait` has passed. Returns the URL that answered.
pub(crate) fn wait_for_url(
    base: &UrlPolicy,
    urls: &[String],
    max_wait: Duration,
    timeout: Duration,
    on_fail: impl Fn(&str),
) -> Option<String> {
    let start = Instant::now();
    let mut round: u64 = 0;
    loop {
        for url in urls {
            let left = max_wait.saturating_sub(start.elapsed());
            if round > 0 && left.is_zero() {
                return None;
            }
            let mut t = timeout;
            if t.is_zero() || t > left {
                t = left.max(Duration::from_secs(1));
            }
            let err = match one_shot(base, t).get(url, &[]) {
                Ok(r) if !r.body.is_empty() => return Some(url.clone()),
                Ok(r) => format!("empty response [{}]", r.code),
                Err(e) => e.to_string(),
            };
            on_fail(&format!(
                "Calling '{url}' failed [{}/{}s]: request error [{err}]",
                start.elapsed().as_secs(),
                max_wait.as_secs()
            ));
        }
        let sleep = Duration::from_secs(round / 5 + 1);
        if start.elapsed() + sleep > max_wait {
            return None;
        }
        log::debug!(
            "Please wait {} seconds while we wait to try again",
            sleep.as_secs()
        );
        std::thread::sleep(sleep);
        round += 1;
    }
}

/// Which local port a request leaves from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SourcePort {
    /// Whatever the kernel picks (tests on 127.0.0.1, non-root runs).
    Any,
    /// This port, below 1024: only root may bind it.
    Privileged(u16),
}

/// One GET of `url` from `port`, not retried; `Ok(None)` for HTTP 404.
pub(crate) fn get_from_port(
    base: &UrlPolicy,
    url: &str,
    port: SourcePort,
    timeout: Duration,
) -> Result<Option<Vec<u8>>, UrlError> {
    let reader = match port {
        SourcePort::Any => one_shot(base, timeout),
        SourcePort::Privileged(p) => {
            UrlReader::from_port(one_shot(base, timeout).policy().clone(), p)
        }
    };
    match reader.get(url, &[]) {
        Ok(r) => Ok(Some(r.body)),
        Err(e) if e.code() == Some(ci_http::status::NOT_FOUND) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `{mac: name}` for the physical-looking NICs under `/sys/class/net`, in
/// directory order (upstream `get_interfaces_by_mac`, simplified:
/// loopback, bridges, bonds and VLANs are skipped).
pub(crate) fn interfaces_by_mac(host: &Host) -> Vec<(String, String)> {
    let mut names = host.list_dir("/sys/class/net");
    names.sort();
    macs_of(host, names)
}

/// `[mac, name]` of the physical-looking NICs among `names` (entries of
/// `/sys/class/net`). Their order matters: a MAC seen twice keeps the
/// first name.
pub(crate) fn macs_of(host: &Host, names: Vec<String>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for name in names {
        let dir = format!("/sys/class/net/{name}");
        if name == "lo"
            || host.exists(format!("{dir}/bridge"))
            || host.exists(format!("{dir}/bonding"))
            || host
                .read_to_string(format!("{dir}/uevent"))
                .is_ok_and(|u| u.lines().any(|l| l == "DEVTYPE=vlan"))
        {
            continue;
        }
        let Ok(mac) = host.read_to_string(format!("{dir}/address")) else {
            continue;
        };
        let mac = mac.trim().to_lowercase();
        if mac.is_empty() || mac == "00:00:00:00:00:00" || out.iter().any(|(m, _)| *m == mac) {
            continue;
        }
        out.push((mac, name));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::io::{Read, Write};

    #[test]
    fn config_numbers() {
        let cfg = json!({"a": "3", "b": 2.9, "c": "x", "d": null, "t": "0.5"});
        assert_eq!(cfg_int(&cfg, "a", 1), 3);
        assert_eq!(cfg_int(&cfg, "b", 1), 2);
        assert_eq!(cfg_int(&cfg, "c", 7), 7);
        assert_eq!(cfg_int(&cfg, "d", 7), 7);
        assert_eq!(cfg_secs(&cfg, "t", 2.0), Duration::from_millis(500));
        assert_eq!(cfg_secs(&cfg, "zz", 2.0), Duration::from_secs(2));
    }

    #[test]
    fn loopback_and_sandbox() {
        assert!(is_loopback_url("http://127.0.0.1:8/x"));
        assert!(is_loopback_url("http://[::1]/"));
        assert!(!is_loopback_url("http://169.254.42.42"));
        assert!(!is_loopback_url("http://[fd00:42::42]"));
        let d = tempfile::tempdir().unwrap();
        let h = Host::new(d.path());
        assert!(!sandbox_allows(&h, "http://169.254.169.254"));
        assert!(sandbox_allows(&h, "http://127.0.0.1:1"));
    }

    #[test]
    fn privileged_port_is_the_peer_port() {
        if !Host::running_as_root() {
            eprintln!("skipped: binding ports below 1024 needs root");
            return;
        }
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://127.0.0.1:{}/user_data/cloud-init",
            listener.local_addr().unwrap().port()
        );
        let answer = |status: &'static str, body: &'static str| {
            let (mut conn, peer) = listener.accept().unwrap();
            let mut head = [0u8; 4096];
            let _ = conn.read(&mut head).unwrap();
            write!(
                conn,
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
            peer.port()
        };
        let get = |port| {
            let url = url.clone();
            std::thread::spawn(move || {
                get_from_port(
                    &UrlPolicy::default(),
                    &url,
                    SourcePort::Privileged(port),
                    Duration::from_secs(5),
                )
            })
        };
        let t = get(1020);
        assert_eq!(answer("200 OK", "#cloud-config\n"), 1020);
        assert_eq!(
            t.join().unwrap().unwrap().as_deref(),
            Some(&b"#cloud-config\n"[..])
        );
        let t = get(1021);
        assert_eq!(answer("404 Not Found", "nope"), 1021);
        assert_eq!(t.join().unwrap().unwrap(), None);
        let t = get(1022);
        answer("429 Too Many Requests", "");
        assert_eq!(t.join().unwrap().unwrap_err().code(), Some(429));
    }
}

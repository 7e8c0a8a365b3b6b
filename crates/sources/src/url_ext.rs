//! What the metadata clients of Scaleway, UpCloud, Akamai, Exoscale and
//! CloudStack need beyond [`UrlReader`]: upstream's `wait_for_url` in its
//! simple serial form, config numbers read the way upstream's `int()` reads
//! them, the sandbox rule for link-local addresses, and requests from a
//! privileged source port (Scaleway serves user-data only to clients
//! bound below 1024, as proof they run as root).

use crate::url::{UrlError, UrlPolicy, UrlReader};
use ci_host::{Cmd, Host};
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

/// GET `url` from `port`; `Ok(None)` for HTTP 404.
///
/// The standard library cannot bind a client socket before connecting and
/// this crate forbids `unsafe`, so a privileged port goes through `curl
/// --local-port` on the host, as upstream's CloudStack password client
/// goes through `wget`.
pub(crate) fn get_from_port(
    host: &Host,
    base: &UrlPolicy,
    url: &str,
    port: SourcePort,
    timeout: Duration,
) -> Result<Option<Vec<u8>>, UrlError> {
    let port = match port {
        SourcePort::Any => {
            return match one_shot(base, timeout).get(url, &[]) {
                Ok(r) => Ok(Some(r.body)),
                Err(e) if e.code() == Some(404) => Ok(None),
                Err(e) => Err(e),
            }
        }
        SourcePort::Privileged(p) => p,
    };
    const MARK: &str = "\n--ci-http-status:";
    let secs = format!("{}", timeout.as_secs().max(1));
    let cmd = Cmd::new([
        "curl".to_string(),
        "--silent".into(),
        "--show-error".into(),
        "--noproxy".into(),
        "*".into(),
        "--local-port".into(),
        port.to_string(),
        "--max-time".into(),
        secs,
        "--user-agent".into(),
        base.user_agent.clone(),
        "--write-out".into(),
        format!("{MARK}%{{http_code}}"),
        url.to_string(),
    ]);
    let out = host.run(&cmd).map_err(|e| UrlError::Transport {
        url: url.to_string(),
        message: e.to_string(),
    })?;
    let text = out.stdout;
    let split = text
        .windows(MARK.len())
        .rposition(|w| w == MARK.as_bytes())
        .ok_or_else(|| UrlError::Transport {
            url: url.to_string(),
            message: "curl printed no status".into(),
        })?;
    let (body, tail) = text.split_at(split);
    let code: u16 = String::from_utf8_lossy(tail.get(MARK.len()..).unwrap_or_default())
        .trim()
        .parse()
        .unwrap_or(0);
    match code {
        200..=299 => Ok(Some(body.to_vec())),
        404 => Ok(None),
        0 => Err(UrlError::Transport {
            url: url.to_string(),
            message: "no HTTP response".into(),
        }),
        c => Err(UrlError::Status {
            url: url.to_string(),
            code: c,
            reason: if c >= 500 {
                "Server Error".into()
            } else {
                "Client Error".into()
            },
        }),
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
    use ci_host::RecordingRunner;
    use serde_json::json;
    use std::sync::Arc;

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
    fn privileged_port_goes_through_curl() {
        let d = tempfile::tempdir().unwrap();
        let run = |answer: &[u8], port: u16| {
            let rr = Arc::new(RecordingRunner::new());
            let h = Host::with_runner(d.path(), rr.clone());
            rr.answer("curl", 0, answer);
            let got = get_from_port(
                &h,
                &UrlPolicy::default(),
                "http://169.254.42.42/user_data/cloud-init",
                SourcePort::Privileged(port),
                Duration::from_secs(10),
            );
            (got, rr.lines().join("\n"))
        };
        let (got, line) = run(b"#cloud-config\n\n--ci-http-status:200", 1);
        assert_eq!(got.unwrap().as_deref(), Some(&b"#cloud-config\n"[..]));
        assert!(line.contains("--local-port 1 "), "{line}");
        assert_eq!(run(b"nope\n--ci-http-status:404", 2).0.unwrap(), None);
        let e = run(b"\n--ci-http-status:429", 2).0.unwrap_err();
        assert_eq!(e.code(), Some(429));
        assert!(run(b"", 2).0.is_err());
    }
}

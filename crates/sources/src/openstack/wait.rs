//! Waiting for a metadata service (upstream's `url_helper.wait_for_url`),
//! shared by OpenStack and Oracle.

use crate::url::{UrlError, UrlPolicy, UrlReader};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How to wait.
pub(crate) struct WaitSpec<'a> {
    pub urls: &'a [String],
    /// Seconds; zero or less means one round of attempts.
    pub max_wait: i64,
    /// Per attempt; zero means unbounded upstream, we use the round budget.
    pub timeout: Duration,
    /// Fixed pause between rounds; `None` is upstream's 1 s, 2 s after
    /// five rounds, ...
    pub sleep: Option<Duration>,
    /// Try every URL at once and take the first answer (upstream's
    /// `connect_synchronously=False`).
    pub parallel: bool,
    /// Extra headers for a URL (Oracle's v2 `Authorization`).
    pub headers: fn(&str) -> Vec<(&'static str, &'static str)>,
    pub base: &'a UrlPolicy,
}

pub(crate) fn no_headers(_: &str) -> Vec<(&'static str, &'static str)> {
    Vec::new()
}

/// One attempt per call, bounded by `timeout`, no proxy: metadata
/// services are link-local.
pub(crate) fn attempt_policy(base: &UrlPolicy, timeout: Duration) -> UrlPolicy {
    UrlPolicy {
        timeout: Some(timeout),
        connect_timeout: Some(timeout),
        retries: 0,
        sec_between: Duration::ZERO,
        env_proxy: false,
        ..base.clone()
    }
}

enum Attempt {
    Ok(String, Vec<u8>),
    Failed { retry_soon: bool },
}

fn attempt(spec: &WaitSpec, url: &str, timeout: Duration, start: Instant) -> Attempt {
    let reader = UrlReader::new(attempt_policy(spec.base, timeout));
    let headers = (spec.headers)(url);
    let err = match reader.get(url, &headers) {
        Ok(r) if !r.body.is_empty() => return Attempt::Ok(url.to_string(), r.body),
        Ok(r) => UrlError::Status {
            url: url.to_string(),
            code: r.code,
            reason: format!("empty response [{}]", r.code),
        },
        Err(e) => e,
    };
    log_failure(spec, url, &err, start);
    // The reader has already logged upstream's 503 warning.
    Attempt::Failed {
        retry_soon: err.code() == Some(ci_http::status::SERVICE_UNAVAILABLE),
    }
}

fn log_failure(spec: &WaitSpec, url: &str, err: &UrlError, start: Instant) {
    let max = if spec.max_wait != 0 {
        format!("{}s", spec.max_wait)
    } else {
        "unlimited".into()
    };
    log::debug!(
        "Calling '{url}' failed [{}/{max}]: request error [{err}]",
        start.elapsed().as_secs()
    );
}

/// The URL that answered with a non-empty 2xx body, and that body.
pub(crate) fn wait_for_url(spec: &WaitSpec) -> Option<(String, Vec<u8>)> {
    let start = Instant::now();
    let max_wait = Duration::from_secs(spec.max_wait.max(0).unsigned_abs());
    let one_round = spec.max_wait <= 0;
    let mut loop_n: u64 = 0;
    let mut timeout = spec.timeout;
    if timeout.is_zero() {
        timeout = max_wait.max(Duration::from_secs(1));
    }
    loop {
        let left = max_wait.saturating_sub(start.elapsed());
        let round_timeout = if loop_n > 0 && !one_round && timeout > left {
            left.max(Duration::from_millis(100))
        } else {
            timeout
        };
        let (found, soon) = if spec.parallel {
            round_parallel(spec, round_timeout, start)
        } else {
            round_serial(spec, round_timeout, start)
        };
        if found.is_some() {
            return found;
        }
        if one_round && !soon {
            return None;
        }
        let pause = if soon {
            Duration::from_secs(1)
        } else {
            spec.sleep
                .unwrap_or_else(|| Duration::from_secs(loop_n / 5 + 1))
        };
        if one_round || start.elapsed() + pause > max_wait {
            return None;
        }
        log::debug!(
            "Please wait {} seconds while we wait to try again",
            pause.as_secs_f64()
        );
        std::thread::sleep(pause);
        loop_n += 1;
    }
}

fn round_serial(
    spec: &WaitSpec,
    timeout: Duration,
    start: Instant,
) -> (Option<(String, Vec<u8>)>, bool) {
    let mut soon = false;
    for url in spec.urls {
        match attempt(spec, url, timeout, start) {
            Attempt::Ok(u, b) => return (Some((u, b)), false),
            Attempt::Failed { retry_soon } => soon |= retry_soon,
        }
    }
    (None, soon)
}

/// Every URL at once; the first success wins and the others are left to
/// finish within their own timeout.
fn round_parallel(
    spec: &WaitSpec,
    timeout: Duration,
    start: Instant,
) -> (Option<(String, Vec<u8>)>, bool) {
    let (tx, rx) = mpsc::channel();
    for url in spec.urls {
        let url = url.clone();
        let tx = tx.clone();
        let base = spec.base.clone();
        let headers = spec.headers;
        let (max_wait, parallel) = (spec.max_wait, spec.parallel);
        std::thread::spawn(move || {
            let urls = [url.clone()];
            let inner = WaitSpec {
                urls: &urls,
                max_wait,
                timeout,
                sleep: None,
                parallel,
                headers,
                base: &base,
            };
            let _ = tx.send(attempt(&inner, &url, timeout, start));
        });
    }
    drop(tx);
    let mut soon = false;
    for a in rx {
        match a {
            Attempt::Ok(u, b) => return (Some((u, b)), false),
            Attempt::Failed { retry_soon } => soon |= retry_soon,
        }
    }
    (None, soon)
}

pub(crate) use crate::url_ext::is_loopback_url;

/// Upstream's `int(ds_cfg.get(key, default))`, with its message on a
/// non-integer.
pub(crate) fn cfg_int(cfg: &serde_json::Value, key: &str, default: i64) -> i64 {
    use serde_json::Value;
    let Some(v) = cfg.get(key) else {
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
            ci_pyval::py_str(v)
        );
        default
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback() {
        assert!(is_loopback_url("http://127.0.0.1:80"));
        assert!(is_loopback_url("http://[::1]:8/x"));
        assert!(!is_loopback_url("http://169.254.169.254"));
        assert!(!is_loopback_url("http://[fe80::a9fe:a9fe%25eth0]"));
    }

    #[test]
    fn one_round_against_nothing_is_quick() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/x", l.local_addr().unwrap());
        drop(l);
        let urls = vec![url];
        let base = UrlPolicy::default();
        let t = Instant::now();
        let r = wait_for_url(&WaitSpec {
            urls: &urls,
            max_wait: -1,
            timeout: Duration::from_secs(2),
            sleep: None,
            parallel: true,
            headers: no_headers,
            base: &base,
        });
        assert!(r.is_none());
        assert!(t.elapsed() < Duration::from_secs(2));
    }
}

//! Fetching `#include` URLs: HTTP(S) with upstream's retry loop, and
//! local paths / `file://` URLs read through the [`Host`].

use ci_host::Host;
use std::time::Duration;

/// Where `#include` content comes from. `Err` carries upstream's message
/// (e.g. `404 Client Error: Not Found for url: http://...`).
pub trait Fetcher {
    fn get(&self, url: &str) -> Result<Vec<u8>, String>;
}

/// Upstream's include fetcher: `timeout` per attempt, `retries` extra
/// attempts after the first, `retry_delay` between attempts (upstream:
/// 5 s, 10 retries, 1 s). Local paths are read under `host`'s root.
pub struct HttpFetcher {
    host: Option<Host>,
    timeout: Duration,
    retries: u32,
    retry_delay: Duration,
}

impl HttpFetcher {
    pub fn new(timeout: Duration, retries: u32, retry_delay: Duration) -> Self {
        HttpFetcher {
            host: None,
            timeout,
            retries,
            retry_delay,
        }
    }

    /// Upstream's values for `#include`: 5 s timeout, 10 retries, 1 s apart.
    pub fn upstream_include() -> Self {
        Self::new(Duration::from_secs(5), 10, Duration::from_secs(1))
    }

    /// Read local paths and `file://` URLs under this host's root.
    pub fn with_host(mut self, host: Host) -> Self {
        self.host = Some(host);
        self
    }

    /// The CA bundle of the host's root (the running system's without a host).
    fn trust(&self) -> ci_http::Trust {
        match &self.host {
            Some(host) => {
                let h = host.clone();
                ci_http::Trust::resolving(host.root().display().to_string(), move |p: &str| {
                    h.try_resolve(p)
                })
            }
            None => ci_http::Trust::system(),
        }
    }

    fn read_local(&self, path: &str) -> Result<Vec<u8>, String> {
        let Some(host) = &self.host else {
            return Err(format!(
                "[Errno 2] No such file or directory: '{path}' (no host root for local includes)"
            ));
        };
        host.read(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                format!("[Errno 2] No such file or directory: '{path}'")
            }
            _ => format!("{e}"),
        })
    }

    fn attempt(&self, agent: &ureq::Agent, url: &str) -> Result<Vec<u8>, String> {
        let mut resp = agent.get(url).call().map_err(|e| {
            let msg = ci_http::error_text(&e);
            if msg.contains(url) {
                msg
            } else {
                format!("{msg} for url: {url}")
            }
        })?;
        let status = resp.status();
        if status.as_u16() >= 400 {
            let class = if status.as_u16() < 500 {
                "Client"
            } else {
                "Server"
            };
            return Err(format!(
                "{} {class} Error: {} for url: {url}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            ));
        }
        if !(200..300).contains(&status.as_u16()) {
            return Err(format!(
                "Fetching from {url} resulted in a invalid http code of {}",
                status.as_u16()
            ));
        }
        resp.body_mut()
            .with_config()
            .limit(crate::bounds::MAX_EXPANDED_BYTES)
            .read_to_vec()
            .map_err(|e| match e {
                ureq::Error::BodyExceedsLimit(_) => crate::bounds::exceeded(
                    &format!("#include body of {url}"),
                    "MAX_EXPANDED_BYTES",
                    crate::bounds::MAX_EXPANDED_BYTES,
                ),
                e => format!("{e} for url: {url}"),
            })
    }
}

impl Fetcher for HttpFetcher {
    fn get(&self, url: &str) -> Result<Vec<u8>, String> {
        let url = url.trim_start();
        if url.starts_with('/') {
            return self.read_local(url);
        }
        if let Some(rest) = url.strip_prefix("file://") {
            // file://host/path: only the path matters, as urlparse's .path.
            let path = match rest.find('/') {
                Some(i) => &rest[i..],
                None => "",
            };
            return self.read_local(path);
        }
        if !url.starts_with("http://") && !url.starts_with("https://") {
            // The caller has warned "Attempting unknown protocol" already.
            return Err(format!("No connection adapters were found for '{url}'"));
        }
        let agent = ci_http::agent(&ci_http::AgentOpts {
            timeout_global: Some(self.timeout),
            user_agent: Some(ci_http::user_agent()),
            env_proxy: true,
            trust: self.trust(),
            ..ci_http::AgentOpts::default()
        });
        let mut last = String::new();
        for attempt in 0..=self.retries {
            match self.attempt(&agent, url) {
                Ok(body) => return Ok(body),
                // Upstream does not retry a response it got (e.g. a 3xx left over).
                Err(e) if e.starts_with("Fetching from ") => return Err(e),
                // The same body would be as large again.
                Err(e) if e.contains("(bound MAX_EXPANDED_BYTES)") => return Err(e),
                Err(e) => last = e,
            }
            if attempt < self.retries && !self.retry_delay.is_zero() {
                std::thread::sleep(self.retry_delay);
            }
        }
        Err(last)
    }
}

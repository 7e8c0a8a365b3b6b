//! Reading a URL or a file named like one, with budgets that are values.
//!
//! Mirrors upstream's `url_helper.read_file_or_url` / `readurl`: `file://`
//! URLs and absolute paths are read from the host root; `http://` and
//! `https://` go through one agent from `ci_http`; a failed request
//! (refused, timed out, any non-2xx status) is retried `retries` times with
//! `sec_between` pauses.

use ci_host::Host;
use std::time::Duration;

/// Default largest body of one metadata response. Providers cap user-data
/// at 16 KiB to 1 MiB; 64 MiB is far above any real response and keeps a
/// hostile or broken endpoint from filling memory.
pub const MAX_HTTP_BODY_BYTES: u64 = 64 * 1024 * 1024;

/// Timeouts and retries for metadata requests. Upstream's defaults for
/// NoCloud seeds are 10 retries, 1 s apart; upstream sets no timeout there,
/// we bound every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlPolicy {
    /// Whole request (connect, send, receive), per attempt.
    pub timeout: Option<Duration>,
    pub connect_timeout: Option<Duration>,
    /// Extra attempts after the first.
    pub retries: u32,
    pub sec_between: Duration,
    pub user_agent: String,
    /// Largest body accepted.
    pub max_body: u64,
    /// Honour `http_proxy`/`no_proxy` from the environment (as Python requests does).
    pub env_proxy: bool,
    /// CA certificates `https://` trusts (default: the running system's bundle).
    pub trust: ci_http::Trust,
}

impl Default for UrlPolicy {
    fn default() -> Self {
        UrlPolicy {
            timeout: Some(Duration::from_secs(10)),
            connect_timeout: Some(Duration::from_secs(10)),
            retries: 10,
            sec_between: Duration::from_secs(1),
            user_agent: ci_http::user_agent(),
            max_body: MAX_HTTP_BODY_BYTES,
            env_proxy: true,
            trust: ci_http::Trust::system(),
        }
    }
}

impl UrlPolicy {
    /// Trust the CA bundle of `host`'s root instead of the running system's.
    pub fn trusting(mut self, host: &Host) -> Self {
        self.trust = trust_of(host);
        self
    }

    /// No retries, no pauses, short timeouts: for tests and fast probes.
    pub fn quick(timeout: Duration) -> Self {
        UrlPolicy {
            timeout: Some(timeout),
            connect_timeout: Some(timeout),
            retries: 0,
            sec_between: Duration::ZERO,
            env_proxy: false,
            ..Self::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlResponse {
    pub url: String,
    pub code: u16,
    pub body: Vec<u8>,
}

impl UrlResponse {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.code)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// A file seed that does not exist, or HTTP 404 after all retries.
    #[error("{message}")]
    NotFound { url: String, message: String },
    #[error("{code} {reason} for url: {url}")]
    Status {
        url: String,
        code: u16,
        reason: String,
    },
    #[error("{url}: {message}")]
    Transport { url: String, message: String },
    #[error("{url}: {message}")]
    File { url: String, message: String },
    #[error("unsupported URL scheme in {url} (supported: file://, http://, https://)")]
    Unsupported { url: String },
}

impl UrlError {
    pub fn url(&self) -> &str {
        match self {
            UrlError::NotFound { url, .. }
            | UrlError::Status { url, .. }
            | UrlError::Transport { url, .. }
            | UrlError::File { url, .. }
            | UrlError::Unsupported { url } => url,
        }
    }

    /// HTTP status (404 for a missing file), as upstream's `UrlError.code`.
    pub fn code(&self) -> Option<u16> {
        match self {
            UrlError::NotFound { .. } => Some(ci_http::status::NOT_FOUND),
            UrlError::Status { code, .. } => Some(*code),
            _ => None,
        }
    }

    pub fn reason(&self) -> &'static str {
        match self {
            UrlError::NotFound { .. } => "url-not-found",
            UrlError::Status { .. } => "url-status",
            UrlError::Transport { .. } => "url-unreachable",
            UrlError::File { .. } => "url-file-unreadable",
            UrlError::Unsupported { .. } => "url-unsupported",
        }
    }
}

/// One HTTP agent (one connection pool) with its policy.
#[derive(Debug, Clone)]
pub struct UrlReader {
    agent: ureq::Agent,
    policy: UrlPolicy,
}

impl UrlReader {
    pub fn new(policy: UrlPolicy) -> Self {
        Self::build(policy, None)
    }

    /// Requests leave from local port `port` (Scaleway's proof of root:
    /// below 1024); a port that cannot be bound fails the attempt.
    pub fn from_port(policy: UrlPolicy, port: u16) -> Self {
        Self::build(policy, Some(port))
    }

    fn build(policy: UrlPolicy, source_port: Option<u16>) -> Self {
        let agent = ci_http::agent(&ci_http::AgentOpts {
            timeout_global: policy.timeout,
            timeout_connect: policy.connect_timeout,
            user_agent: Some(policy.user_agent.clone()),
            env_proxy: policy.env_proxy,
            trust: policy.trust.clone(),
            source_port,
            ..ci_http::AgentOpts::default()
        });
        UrlReader { agent, policy }
    }

    pub fn policy(&self) -> &UrlPolicy {
        &self.policy
    }

    /// GET with retries; any non-2xx status is an error, as upstream's `readurl`.
    pub fn get(&self, url: &str, headers: &[(&str, &str)]) -> Result<UrlResponse, UrlError> {
        self.request("GET", url, headers, None)
    }

    /// PUT with retries (IMDSv2 token requests and the like).
    pub fn put(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<UrlResponse, UrlError> {
        self.request("PUT", url, headers, Some(body))
    }

    fn request(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<UrlResponse, UrlError> {
        let tries = self.policy.retries.saturating_add(1);
        let mut attempt = 0u32;
        loop {
            log::debug!(
                "[{attempt}/{tries}] open '{url}' with {{'url': '{url}', 'allow_redirects': True, 'method': '{method}', 'timeout': {}}} configuration",
                self.policy
                    .timeout
                    .map(|t| format!("{:.1}", t.as_secs_f64()))
                    .unwrap_or_else(|| "None".into())
            );
            let err = match self.once(method, url, headers, body) {
                Ok(resp) if resp.ok() => {
                    log::debug!(
                        "Read from {url} ({}, {}b) after {} attempts",
                        resp.code,
                        resp.body.len(),
                        attempt + 1
                    );
                    return Ok(resp);
                }
                Ok(resp) => status_error(url, resp.code),
                Err(e) => e,
            };
            if err.code() == Some(ci_http::status::SERVICE_UNAVAILABLE) {
                log::warn!("Endpoint returned a 503 error. HTTP endpoint is overloaded. Retrying.");
            }
            attempt += 1;
            if attempt >= tries {
                return Err(err);
            }
            if !self.policy.sec_between.is_zero() {
                log::debug!(
                    "Please wait {} seconds while we wait to try again",
                    self.policy.sec_between.as_secs_f64()
                );
                std::thread::sleep(self.policy.sec_between);
            }
        }
    }

    fn once(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<UrlResponse, UrlError> {
        send_once(
            &self.agent,
            method,
            url,
            headers,
            body,
            None,
            self.policy.max_body,
        )
    }
}

/// One request on `agent` (`PUT` sends `body`, anything else is a GET); any
/// status is a response. `timeout` overrides the agent's deadlines.
pub(crate) fn send_once(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
    timeout: Option<Duration>,
    max_body: u64,
) -> Result<UrlResponse, UrlError> {
    let transport = |e: ureq::Error| UrlError::Transport {
        url: url.to_string(),
        message: ci_http::error_text(&e),
    };
    // ureq's PUT and GET builders are different types, hence two arms.
    let result = if method == "PUT" {
        let mut req = agent.put(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        match timeout {
            Some(t) => req
                .config()
                .timeout_global(Some(t))
                .timeout_connect(Some(t))
                .build()
                .send(body.unwrap_or_default()),
            None => req.send(body.unwrap_or_default()),
        }
    } else {
        let mut req = agent.get(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        match timeout {
            Some(t) => req
                .config()
                .timeout_global(Some(t))
                .timeout_connect(Some(t))
                .build()
                .call(),
            None => req.call(),
        }
    };
    let mut resp = result.map_err(transport)?;
    let code = resp.status().as_u16();
    let body = resp
        .body_mut()
        .with_config()
        .limit(max_body)
        .read_to_vec()
        .map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(_) => UrlError::Transport {
                url: url.to_string(),
                message: format!(
                    "response body larger than {max_body} bytes (bound MAX_HTTP_BODY_BYTES)"
                ),
            },
            e => transport(e),
        })?;
    Ok(UrlResponse {
        url: url.to_string(),
        code,
        body,
    })
}

/// The error upstream's `readurl` raises for a status (and its text).
pub(crate) fn status_error(url: &str, code: u16) -> UrlError {
    let kind = ci_http::status::error_class(code);
    if code == ci_http::status::NOT_FOUND {
        return UrlError::NotFound {
            url: url.to_string(),
            message: format!("404 Client Error: Not Found for url: {url}"),
        };
    }
    UrlError::Status {
        url: url.to_string(),
        code,
        reason: kind.to_string(),
    }
}

/// The CA bundle of `host`'s root, read through the host (so `--root`
/// sandboxes trust their own `/etc/ssl/certs`).
pub fn trust_of(host: &Host) -> ci_http::Trust {
    let h = host.clone();
    ci_http::Trust::resolving(host.root().display().to_string(), move |p: &str| {
        h.try_resolve(p)
    })
}

/// Upstream's `read_file_or_url`: `file://PATH` and `/PATH` are read below
/// the host root; `http://` and `https://` are fetched with the reader;
/// other schemes are refused (this build has no FTP client).
pub fn read_file_or_url(
    host: &Host,
    reader: &UrlReader,
    url: &str,
) -> Result<UrlResponse, UrlError> {
    let url = url.trim_start();
    if let Some(path) = file_path(url) {
        return read_file(host, url, path);
    }
    if url.starts_with("http://") || url.starts_with("https://") {
        return reader.get(url, &[]);
    }
    Err(UrlError::Unsupported {
        url: url.to_string(),
    })
}

/// The path of a `file://` URL or an absolute path (query and fragment dropped, as urlparse).
fn file_path(url: &str) -> Option<&str> {
    let path = if let Some(rest) = url.strip_prefix("file://") {
        // file://host/path: the host part is ignored, as urlparse().path does.
        match rest.find('/') {
            Some(i) => &rest[i..],
            None => "",
        }
    } else if url.starts_with('/') {
        url
    } else {
        return None;
    };
    Some(path.split(['?', '#']).next().unwrap_or_default())
}

fn read_file(host: &Host, url: &str, path: &str) -> Result<UrlResponse, UrlError> {
    match host.read(path) {
        Ok(body) => Ok(UrlResponse {
            url: path.to_string(),
            code: 200,
            body,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(UrlError::NotFound {
            url: path.to_string(),
            message: format!("[Errno 2] No such file or directory: '{path}'"),
        }),
        Err(e) => Err(UrlError::File {
            url: url.to_string(),
            message: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_urls() {
        assert_eq!(file_path("file:///a/b/"), Some("/a/b/"));
        assert_eq!(file_path("file://host/a"), Some("/a"));
        assert_eq!(file_path("/x/y?q=1"), Some("/x/y"));
        assert_eq!(file_path("http://x/"), None);
        assert_eq!(file_path("seed/x"), None);
        let d = tempfile::tempdir().unwrap();
        let h = Host::new(d.path());
        std::fs::create_dir_all(d.path().join("seed")).unwrap();
        std::fs::write(d.path().join("seed/meta-data"), b"x: 1").unwrap();
        let r = UrlReader::new(UrlPolicy::quick(Duration::from_millis(100)));
        let resp = read_file_or_url(&h, &r, "file:///seed/meta-data").unwrap();
        assert_eq!(resp.body, b"x: 1");
        let e = read_file_or_url(&h, &r, "/seed/user-data").unwrap_err();
        assert_eq!(e.code(), Some(404));
        assert_eq!(
            e.to_string(),
            "[Errno 2] No such file or directory: '/seed/user-data'"
        );
        let e = read_file_or_url(&h, &r, "ftp://x/").unwrap_err();
        assert_eq!(e.reason(), "url-unsupported");
    }

    /// Serves `body` once on loopback; returns the URL.
    fn serve_once(body: Vec<u8>) -> String {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            if let Ok((mut s, _)) = listener.accept() {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(head.as_bytes());
                let _ = s.write_all(&body);
            }
        });
        format!("http://127.0.0.1:{port}/user-data")
    }

    #[test]
    fn bodies_over_the_bound_are_errors_naming_it() {
        let policy = UrlPolicy {
            max_body: 1000,
            ..UrlPolicy::quick(Duration::from_secs(5))
        };
        let r = UrlReader::new(policy.clone());
        let url = serve_once(vec![b'x'; 1001]);
        let e = r.get(&url, &[]).unwrap_err().to_string();
        assert!(e.contains("bound MAX_HTTP_BODY_BYTES"), "{e}");
        assert!(e.contains("127.0.0.1"), "{e}");
        let r = UrlReader::new(policy);
        let url = serve_once(vec![b'x'; 1000]);
        assert_eq!(r.get(&url, &[]).unwrap().body.len(), 1000);
        assert_eq!(UrlPolicy::default().max_body, MAX_HTTP_BODY_BYTES);
    }
}

//! Azure's Instance Metadata Service: `GET <base>/metadata/instance?api-version=...`
//! with `Metadata: true`, retried as upstream's `ReadUrlRetryHandler` does.

use super::http::{Client, FailKind};
use serde_json::Value;
use std::time::{Duration, Instant};

pub const EXTENDED_QUERY: &str = "instance?api-version=2021-08-01&extended=true";
pub const FALLBACK_QUERY: &str = "instance?api-version=2019-06-01";

/// One failed IMDS request, as upstream's `UrlError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImdsUrlError {
    pub url: String,
    pub code: Option<u16>,
    pub kind: Option<FailKind>,
    pub message: String,
}

impl ImdsUrlError {
    /// Upstream `ReportableErrorImdsUrlError` reason.
    pub fn reason(&self) -> String {
        match (&self.kind, self.code) {
            (Some(FailKind::ConnectTimeout), _) => "connection timeout querying IMDS".into(),
            (Some(FailKind::Connection), _) => "connection error querying IMDS".into(),
            (Some(FailKind::ReadTimeout), _) => "read timeout querying IMDS".into(),
            (_, Some(c)) => format!("http error {c} querying IMDS"),
            _ => "unexpected error querying IMDS".into(),
        }
    }

    pub fn is_connection_error(&self) -> bool {
        matches!(
            self.kind,
            Some(FailKind::Connection | FailKind::ConnectTimeout)
        )
    }

    pub fn repr(&self) -> String {
        format!(
            "UrlError(\"{}\", code={}, url='{}')",
            self.message,
            self.code
                .map(|c| c.to_string())
                .unwrap_or_else(|| "None".into()),
            self.url
        )
    }
}

impl std::fmt::Display for ImdsUrlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImdsError {
    Url(ImdsUrlError),
    /// The body was not JSON.
    Parse(String),
}

/// Budgets for the IMDS fetch (upstream: 30 s per request, 1 s between
/// attempts, retry until 300 s after the start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImdsPolicy {
    pub timeout: Duration,
    pub sec_between: Duration,
    pub retry_deadline: Duration,
}

impl Default for ImdsPolicy {
    fn default() -> Self {
        ImdsPolicy {
            timeout: Duration::from_secs(30),
            sec_between: Duration::from_secs(1),
            retry_deadline: Duration::from_secs(300),
        }
    }
}

/// Upstream `ReadUrlRetryHandler`: whether to retry, and when to log.
struct RetryHandler {
    max_connection_errors: Option<u32>,
    deadline: Instant,
    request_count: u32,
    last_error: Option<String>,
}

impl RetryHandler {
    fn should_retry(&mut self, e: &ImdsUrlError) -> bool {
        self.request_count += 1;
        let mut retry = Instant::now() < self.deadline;
        if let (Some(left), true) = (self.max_connection_errors.as_mut(), e.is_connection_error()) {
            *left = left.saturating_sub(1);
            if *left == 0 {
                retry = false;
            }
        } else if let Some(code) = e.code {
            if !ci_http::status::AZURE_IMDS_RETRY_CODES.contains(&code) {
                retry = false;
            }
        }
        let key = match (e.code, &e.kind) {
            (Some(c), _) => format!("code {c}"),
            (None, k) => format!("{k:?}"),
        };
        let log_it = self.last_error.as_deref() != Some(key.as_str());
        self.last_error = Some(key);
        if log_it || !retry {
            log::warn!(
                "Polling IMDS failed attempt {} with exception: {}",
                self.request_count,
                e.repr()
            );
        }
        retry
    }
}

fn fetch_url(
    client: &Client,
    url: &str,
    policy: &ImdsPolicy,
    handler: &mut RetryHandler,
) -> Result<Vec<u8>, ImdsUrlError> {
    let request_id = request_id(url)?;
    let headers = [
        ("Metadata", "true"),
        ("x-ms-client-request-id", request_id.as_str()),
    ];
    let mut attempt = 0u32;
    loop {
        log::debug!(
            "[{attempt}/infinite] open '{url}' with {{'url': '{url}', 'allow_redirects': True, 'method': 'GET', 'timeout': {}, 'headers': {{'Metadata': 'true'}}}} configuration",
            policy.timeout.as_secs()
        );
        let err = match client.send(url, &headers, None) {
            Ok((code, body)) if (200..300).contains(&code) => {
                log::debug!(
                    "Read from {url} ({code}, {}b) after {} attempts",
                    body.len(),
                    attempt + 1
                );
                return Ok(body);
            }
            Ok((code, _)) => ImdsUrlError {
                url: url.to_string(),
                code: Some(code),
                kind: None,
                message: format!("{code} Client Error for url: {url}"),
            },
            Err(f) => ImdsUrlError {
                url: url.to_string(),
                code: None,
                kind: Some(f.kind),
                message: f.message,
            },
        };
        attempt += 1;
        if !handler.should_retry(&err) {
            log::warn!("Failed to fetch metadata from IMDS: {err}");
            return Err(err);
        }
        std::thread::sleep(policy.sec_between);
    }
}

/// A random UUIDv4 request id (upstream sends one per request). Without
/// randomness the fetch fails like any other unexpected error.
fn request_id(url: &str) -> Result<String, ImdsUrlError> {
    ci_host::random::uuid4().map_err(|e| ImdsUrlError {
        url: url.to_string(),
        code: None,
        kind: None,
        message: e.to_string(),
    })
}

/// Upstream `fetch_metadata_with_api_fallback`: the extended document, or
/// the 2019-06-01 one when IMDS answers 400 (an older Azure Stack).
pub fn fetch_metadata_with_api_fallback(
    client: &Client,
    base: &str,
    policy: &ImdsPolicy,
    max_connection_errors: Option<u32>,
) -> Result<Value, ImdsError> {
    let deadline = Instant::now() + policy.retry_deadline;
    let handler = || RetryHandler {
        max_connection_errors,
        deadline,
        request_count: 0,
        last_error: None,
    };
    let root = format!("{}/metadata", base.trim_end_matches('/'));
    let body = match fetch_url(
        client,
        &format!("{root}/{EXTENDED_QUERY}"),
        policy,
        &mut handler(),
    ) {
        Ok(b) => b,
        Err(e) if e.code == Some(ci_http::status::BAD_REQUEST) => {
            log::warn!("Falling back to IMDS api-version: 2019-06-01");
            fetch_url(
                client,
                &format!("{root}/{FALLBACK_QUERY}"),
                policy,
                &mut handler(),
            )
            .map_err(ImdsError::Url)?
        }
        Err(e) => return Err(ImdsError::Url(e)),
    };
    match serde_json::from_slice::<Value>(&body) {
        Ok(v) => Ok(v),
        Err(e) => {
            let msg = format!("{e}");
            log::warn!("Failed to parse metadata from IMDS: {msg}");
            Err(ImdsError::Parse(msg))
        }
    }
}

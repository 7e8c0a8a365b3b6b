//! Waiting for the metadata service: upstream's `wait_for_url` and
//! its IMDSv2 token rules.

use super::*;

pub(super) use crate::url_ext::is_loopback_url;

/// What to do after a failed wait attempt (upstream's exception callbacks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    Retry,
    /// Retry after 1 s at once (HTTP 503).
    RetrySoon,
    Abort,
}

/// AWS token requests: 403 and other 4xx fail fast, 503 retries.
pub(super) fn token_exception(e: &UrlError) -> Verdict {
    match e.code() {
        Some(ci_http::status::FORBIDDEN) => {
            log::warn!(
                "Ec2 IMDS endpoint returned a 403 error. HTTP endpoint is disabled. Aborting."
            );
            Verdict::Abort
        }
        Some(ci_http::status::SERVICE_UNAVAILABLE) => Verdict::RetrySoon,
        c if ci_http::status::token_request_gives_up(c) => {
            log::warn!("Fatal error while requesting Ec2 IMDSv2 API tokens");
            Verdict::Abort
        }
        _ => Verdict::Retry,
    }
}

/// Upstream `wait_for_url` (serial form): try each URL in turn, sleep
/// 1 s, 2 s after five rounds, … until `max_wait` has passed.
pub(super) struct Waiter<'a> {
    pub(super) client: &'a Client,
    pub(super) max_wait: Duration,
    pub(super) timeout: Duration,
}

impl Waiter<'_> {
    pub(super) fn wait(
        &self,
        urls: &[String],
        method: &str,
        headers: &[(&str, &str)],
        on_error: impl Fn(&UrlError) -> Verdict,
    ) -> Option<(usize, Vec<u8>)> {
        let start = Instant::now();
        let mut loop_n: u64 = 0;
        loop {
            let mut soon = false;
            for (i, url) in urls.iter().enumerate() {
                let left = self.max_wait.saturating_sub(start.elapsed());
                if loop_n > 0 && left.is_zero() {
                    return None;
                }
                let mut timeout = self.timeout;
                if timeout.is_zero() || (loop_n > 0 && timeout > left) {
                    timeout = left.max(Duration::from_secs(1));
                }
                let err = match self.client.send(method, url, headers, timeout) {
                    Ok(r) if r.ok() && !r.body.is_empty() => return Some((i, r.body)),
                    Ok(r) if r.ok() => UrlError::Status {
                        url: url.clone(),
                        code: r.code,
                        reason: format!("empty response [{}]", r.code),
                    },
                    Ok(r) => status_error(url, r.code),
                    Err(e) => e,
                };
                log::warn!(
                    "Calling '{url}' failed [{}/{}s]: request error [{err}]",
                    start.elapsed().as_secs(),
                    self.max_wait.as_secs()
                );
                match on_error(&err) {
                    Verdict::Abort => return None,
                    Verdict::RetrySoon => soon = true,
                    Verdict::Retry => {}
                }
            }
            let sleep = if soon {
                // Upstream retries a 503 without looking at the clock;
                // we keep to max_wait.
                let s = Duration::from_secs(1);
                if start.elapsed() + s > self.max_wait {
                    return None;
                }
                s
            } else {
                let s = Duration::from_secs(loop_n / 5 + 1);
                if start.elapsed() + s > self.max_wait {
                    return None;
                }
                log::debug!(
                    "Please wait {} seconds while we wait to try again",
                    s.as_secs()
                );
                s
            };
            std::thread::sleep(sleep);
            loop_n += 1;
        }
    }
}

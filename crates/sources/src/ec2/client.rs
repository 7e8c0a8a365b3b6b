//! One HTTP agent for a whole Ec2 search: the token request, the wait, the
//! version probe and the crawl share its kept-alive connections, and every
//! request carries its own deadline (the wait's `timeout`, the crawl's
//! policy) instead of the agent's.

pub(super) use crate::url::status_error;
use crate::url::{send_once, UrlError, UrlPolicy, UrlResponse};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Idle connections kept per host: the crawl workers, the token and one spare.
const IDLE_PER_HOST: usize = super::tree::WORKERS + 2;

pub(super) struct Client {
    agent: ureq::Agent,
    max_body: u64,
    requests: Arc<AtomicUsize>,
}

impl Client {
    /// No proxy, whatever the environment says: the metadata service is link-local.
    pub(super) fn new(base: &UrlPolicy, requests: Arc<AtomicUsize>) -> Self {
        let agent = ci_http::agent(&ci_http::AgentOpts {
            user_agent: Some(base.user_agent.clone()),
            env_proxy: false,
            max_idle_per_host: Some(IDLE_PER_HOST),
            trust: base.trust.clone(),
            ..ci_http::AgentOpts::default()
        });
        Client {
            agent,
            max_body: base.max_body,
            requests,
        }
    }

    /// One attempt of `method` (GET or PUT) within `timeout`; any status is
    /// a response (the caller decides what a failure is).
    pub(super) fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<UrlResponse, UrlError> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        log::debug!(
            "open '{url}' with {{'url': '{url}', 'allow_redirects': True, 'method': '{method}', 'timeout': {:.1}}} configuration",
            timeout.as_secs_f64()
        );
        let resp = send_once(
            &self.agent,
            method,
            url,
            headers,
            None,
            Some(timeout),
            self.max_body,
        )?;
        if resp.code == ci_http::status::SERVICE_UNAVAILABLE {
            log::warn!("Endpoint returned a 503 error. HTTP endpoint is overloaded. Retrying.");
        }
        Ok(resp)
    }

    /// One attempt; a non-2xx status is an error, as upstream's `readurl`.
    pub(super) fn fetch(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<Vec<u8>, UrlError> {
        let resp = self.send(method, url, headers, timeout)?;
        if resp.ok() {
            log::debug!("Read from {url} ({}, {}b)", resp.code, resp.body.len());
            return Ok(resp.body);
        }
        Err(status_error(url, resp.code))
    }
}

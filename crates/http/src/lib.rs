//! The one place that builds the program's HTTP agent.
//!
//! Every consumer (metadata services, seeds, `#include`, `write_files`
//! sources) gets its `ureq` agent from [`agent`], so TLS (rustls with the
//! ring provider, no C toolchain beyond ring's own) and the trust store are
//! set up once. The trust store is the PEM bundle upstream's requests reads
//! on Debian: `SSL_CERT_FILE`, else `/etc/ssl/certs/ca-certificates.crt`,
//! read through whatever root the caller runs against ([`Trust::via`]).
//! A bundle that cannot be read or holds no certificate does not stop plain
//! `http://`; `https://` then fails naming the bundle.
//!
//! [`AgentOpts::source_port`] makes an agent connect from a chosen local
//! port (Scaleway's proof of root), bound here rather than by a helper
//! program. [`status`] names the HTTP codes the clients retry or give up on.

mod bind;
mod guard;
pub mod status;
mod trust;

#[cfg(any(test, feature = "test-server"))]
pub mod testing;

pub use trust::{bundle_path, Trust, DEFAULT_BUNDLE, MAX_BUNDLE_BYTES};
/// Consumers keep matching on `ureq::Error` and using its request builders.
pub use ureq;

use std::sync::Arc;
use std::time::Duration;
use ureq::tls::{RootCerts, TlsConfig, TlsProvider};
use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::{Connector, DefaultConnector, RustlsConnector};

/// How one consumer wants its agent. Statuses are always responses (never
/// `ureq::Error`): every consumer maps codes itself, as upstream does.
#[derive(Debug, Clone, Default)]
pub struct AgentOpts {
    pub timeout_connect: Option<Duration>,
    /// Whole request, per attempt.
    pub timeout_global: Option<Duration>,
    pub timeout_recv_response: Option<Duration>,
    pub timeout_recv_body: Option<Duration>,
    /// `None` sends ureq's own user agent.
    pub user_agent: Option<String>,
    /// Honour `http_proxy`/`https_proxy`/`no_proxy` (Python requests does;
    /// link-local metadata services must not).
    pub env_proxy: bool,
    pub max_idle_per_host: Option<usize>,
    pub trust: Trust,
    /// Connect from this local port (Scaleway's privileged source port;
    /// binding below 1024 needs root). Never through a proxy.
    pub source_port: Option<u16>,
}

/// Builds the agent for `opts`. Never fails: a trust store that cannot be
/// loaded only makes `https://` requests fail, with the reason.
pub fn agent(opts: &AgentOpts) -> ureq::Agent {
    let (roots, broken) = match opts.trust.load() {
        Ok(certs) => (RootCerts::Specific(Arc::new(certs)), None),
        Err(why) => (RootCerts::Specific(Arc::new(Vec::new())), Some(why)),
    };
    let tls = TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .root_certs(roots)
        .unversioned_rustls_crypto_provider(ring_provider())
        .build();
    let mut cfg = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(opts.timeout_connect)
        .timeout_global(opts.timeout_global)
        .timeout_recv_response(opts.timeout_recv_response)
        .timeout_recv_body(opts.timeout_recv_body)
        .tls_config(tls);
    if let Some(ua) = &opts.user_agent {
        cfg = cfg.user_agent(ua.as_str());
    }
    if !opts.env_proxy || opts.source_port.is_some() {
        cfg = cfg.proxy(None);
    }
    if let Some(n) = opts.max_idle_per_host {
        cfg = cfg.max_idle_connections_per_host(n);
    }
    let guard = guard::TrustGuard::new(broken);
    match opts.source_port {
        Some(port) => ureq::Agent::with_parts(
            cfg.build(),
            guard
                .chain(bind::BoundTcp::new(port))
                .chain(RustlsConnector::default()),
            DefaultResolver::default(),
        ),
        None => ureq::Agent::with_parts(
            cfg.build(),
            guard.chain(DefaultConnector::new()),
            DefaultResolver::default(),
        ),
    }
}

/// Text for a failed request. A certificate the trust store does not vouch
/// for says so in words (ureq shows it as an I/O error), as requests'
/// "certificate verify failed" does; anything else is ureq's own text.
pub fn error_text(e: &ureq::Error) -> String {
    let tls = match e {
        ureq::Error::Rustls(r) => Some(r),
        ureq::Error::Io(io) => io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()),
        _ => None,
    };
    match tls {
        Some(r @ rustls::Error::InvalidCertificate(_)) => {
            format!("TLS certificate verification failed: {r}")
        }
        _ => e.to_string(),
    }
}

/// rustls's ring provider. rustls 0.23.48 deprecates it for lacking
/// post-quantum key exchange, which only aws-lc-rs offers; aws-lc-rs needs
/// cmake and a C toolchain for every target, so ring stays.
#[allow(deprecated)]
pub(crate) fn ring_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Upstream's user agent string.
pub fn user_agent() -> String {
    format!("Cloud-Init/{}", env!("CARGO_PKG_VERSION"))
}

#[cfg(test)]
mod tests;

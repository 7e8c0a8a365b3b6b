//! Fails `https://` connections up front when the trust store did not load,
//! so the error names the bundle instead of rustls's "unknown issuer".

use ureq::unversioned::transport::{ConnectionDetails, Connector};

#[derive(Debug)]
pub(crate) struct TrustGuard {
    broken: Option<String>,
}

impl TrustGuard {
    pub(crate) fn new(broken: Option<String>) -> Self {
        TrustGuard { broken }
    }
}

impl Connector<()> for TrustGuard {
    type Out = ();

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<()>,
    ) -> Result<Option<()>, ureq::Error> {
        match &self.broken {
            Some(why) if details.needs_tls() => Err(ureq::Error::Io(std::io::Error::other(
                format!("cannot verify TLS certificates: {why}"),
            ))),
            _ => Ok(chained),
        }
    }
}

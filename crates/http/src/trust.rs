//! Which CA certificates `https://` trusts.

use std::fmt;
use std::io;
use std::sync::Arc;
use ureq::tls::{parse_pem, Certificate, PemItem};

/// Debian's bundle, kept by `update-ca-certificates`.
pub const DEFAULT_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The bundle path as upstream's requests picks it on Debian: `SSL_CERT_FILE`
/// when set and non-empty, else [`DEFAULT_BUNDLE`].
pub fn bundle_path() -> String {
    match std::env::var("SSL_CERT_FILE") {
        Ok(p) if !p.is_empty() => p,
        _ => DEFAULT_BUNDLE.to_string(),
    }
}

type Reader = dyn Fn(&str) -> io::Result<Vec<u8>> + Send + Sync;

/// The source of trusted roots, read when an agent is built.
#[derive(Clone)]
pub struct Trust {
    /// Where `read` resolves paths (e.g. the target root), for messages and equality.
    place: String,
    source: Source,
}

#[derive(Clone)]
enum Source {
    /// The bundle at [`bundle_path`], read through a reader.
    Bundle(Arc<Reader>),
    /// Fixed PEM text.
    Pem(Arc<Vec<u8>>),
}

impl Trust {
    /// The bundle of the running system (`/`).
    pub fn system() -> Trust {
        Trust::via("/", |p: &str| std::fs::read(p))
    }

    /// The bundle read through `read`, which resolves absolute paths on the
    /// target (e.g. `move |p| host.read(p)`); `place` names that target.
    pub fn via<F>(place: impl Into<String>, read: F) -> Trust
    where
        F: Fn(&str) -> io::Result<Vec<u8>> + Send + Sync + 'static,
    {
        Trust {
            place: place.into(),
            source: Source::Bundle(Arc::new(read)),
        }
    }

    /// Exactly these PEM certificates; `label` names them in errors.
    pub fn pem(label: impl Into<String>, pem: Vec<u8>) -> Trust {
        Trust {
            place: label.into(),
            source: Source::Pem(Arc::new(pem)),
        }
    }

    /// The trusted roots, or why there are none (naming the bundle).
    pub fn load(&self) -> Result<Vec<Certificate<'static>>, String> {
        let (what, bytes) = match &self.source {
            Source::Pem(pem) => (self.place.clone(), pem.as_slice().to_vec()),
            Source::Bundle(read) => {
                let path = bundle_path();
                let what = if self.place == "/" {
                    format!("CA bundle {path}")
                } else {
                    format!("CA bundle {path} (under {})", self.place)
                };
                match read(&path) {
                    Ok(b) => (what, b),
                    Err(e) => return Err(format!("cannot read {what}: {e}")),
                }
            }
        };
        let mut certs = Vec::new();
        for item in parse_pem(&bytes) {
            match item {
                Ok(PemItem::Certificate(c)) => certs.push(c),
                Ok(_) => {}
                Err(e) => return Err(format!("{what} is not valid PEM: {e}")),
            }
        }
        if certs.is_empty() {
            return Err(format!("{what} holds no certificate"));
        }
        Ok(certs)
    }
}

impl Default for Trust {
    fn default() -> Self {
        Trust::system()
    }
}

impl fmt::Debug for Trust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.source {
            Source::Bundle(_) => "bundle",
            Source::Pem(_) => "pem",
        };
        f.debug_struct("Trust")
            .field("kind", &kind)
            .field("place", &self.place)
            .finish()
    }
}

/// Two trusts are equal when they read the same place the same way.
impl PartialEq for Trust {
    fn eq(&self, other: &Self) -> bool {
        self.place == other.place
            && match (&self.source, &other.source) {
                (Source::Bundle(_), Source::Bundle(_)) => true,
                (Source::Pem(a), Source::Pem(b)) => a == b,
                _ => false,
            }
    }
}

impl Eq for Trust {}

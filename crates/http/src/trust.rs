//! Which CA certificates `https://` trusts.

use std::fmt;
use std::fs::OpenOptions;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::Arc;
use ureq::tls::{parse_pem, Certificate, PemItem};

/// Debian's bundle, kept by `update-ca-certificates`.
pub const DEFAULT_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Largest CA bundle read. Debian's full bundle is about 220 KiB; a file
/// far beyond this is not a bundle, and is refused rather than held in
/// memory.
pub const MAX_BUNDLE_BYTES: u64 = 8 * 1024 * 1024;

/// The bundle path as upstream's requests picks it on Debian: `SSL_CERT_FILE`
/// when set and non-empty, else [`DEFAULT_BUNDLE`].
pub fn bundle_path() -> String {
    match std::env::var("SSL_CERT_FILE") {
        Ok(p) if !p.is_empty() => p,
        _ => DEFAULT_BUNDLE.to_string(),
    }
}

type Reader = dyn Fn(&str) -> io::Result<Vec<u8>> + Send + Sync;
type Resolver = dyn Fn(&str) -> io::Result<PathBuf> + Send + Sync;

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
    /// The bundle at [`bundle_path`], found by a resolver and read here
    /// (at most [`MAX_BUNDLE_BYTES`]).
    Resolved(Arc<Resolver>),
    /// Fixed PEM text.
    Pem(Arc<Vec<u8>>),
}

impl Trust {
    /// The bundle of the running system (`/`).
    pub fn system() -> Trust {
        // Links are this machine's own (Arch's bundle is one): follow them.
        Trust::resolving("/", |p: &str| std::fs::canonicalize(p))
    }

    /// The bundle at the path `resolve` gives for an absolute path on the
    /// target (e.g. `move |p| host.try_resolve(p)`), read here without
    /// following a final link and at most [`MAX_BUNDLE_BYTES`]; `place`
    /// names that target. Prefer it to [`Trust::via`].
    pub fn resolving<F>(place: impl Into<String>, resolve: F) -> Trust
    where
        F: Fn(&str) -> io::Result<PathBuf> + Send + Sync + 'static,
    {
        Trust {
            place: place.into(),
            source: Source::Resolved(Arc::new(resolve)),
        }
    }

    /// The bundle read through `read`, which resolves absolute paths on the
    /// target (e.g. `move |p| host.read(p)`); `place` names that target.
    /// `read` reads the whole file: a bundle above [`MAX_BUNDLE_BYTES`] is
    /// refused only once read, so [`Trust::resolving`] is the safer choice.
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
            Source::Bundle(_) | Source::Resolved(_) => {
                let path = bundle_path();
                let what = if self.place == "/" {
                    format!("CA bundle {path}")
                } else {
                    format!("CA bundle {path} (under {})", self.place)
                };
                let read = match &self.source {
                    Source::Bundle(read) => read(&path),
                    Source::Resolved(resolve) => resolve(&path).and_then(read_bounded),
                    Source::Pem(_) => Ok(Vec::new()),
                };
                match read {
                    Ok(b) if b.len() as u64 > MAX_BUNDLE_BYTES => {
                        return Err(too_large(&what));
                    }
                    Ok(b) => (what, b),
                    Err(e) if e.kind() == io::ErrorKind::FileTooLarge => {
                        return Err(too_large(&what));
                    }
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

fn too_large(what: &str) -> String {
    format!(
        "{what} is larger than {MAX_BUNDLE_BYTES} bytes (bound MAX_BUNDLE_BYTES); not reading it"
    )
}

/// The file at `path` (no final link followed), at most
/// [`MAX_BUNDLE_BYTES`]; beyond that an error of kind `FileTooLarge`.
fn read_bounded(path: PathBuf) -> io::Result<Vec<u8>> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(&path)?;
    let mut bytes = Vec::new();
    file.take(MAX_BUNDLE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_BUNDLE_BYTES {
        return Err(io::Error::from(io::ErrorKind::FileTooLarge));
    }
    Ok(bytes)
}

impl Default for Trust {
    fn default() -> Self {
        Trust::system()
    }
}

impl fmt::Debug for Trust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.source {
            Source::Bundle(_) | Source::Resolved(_) => "bundle",
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
                (Source::Bundle(_), Source::Bundle(_))
                | (Source::Resolved(_), Source::Resolved(_)) => true,
                (Source::Pem(a), Source::Pem(b)) => a == b,
                _ => false,
            }
    }
}

impl Eq for Trust {}

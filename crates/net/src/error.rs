use thiserror::Error;

/// Why a network config could not be parsed, interpreted or rendered.
/// `path` is the dotted key path inside the document (`config.0.subnets.1.address`).
#[derive(Debug, Error)]
pub enum NetError {
    #[error("{path}: {msg}")]
    Invalid { path: String, msg: String },
    #[error("renderer {renderer} cannot render for distro {distro}")]
    Unsupported { renderer: String, distro: String },
    #[error("writing {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl NetError {
    pub fn invalid(path: impl Into<String>, msg: impl Into<String>) -> Self {
        NetError::Invalid {
            path: path.into(),
            msg: msg.into(),
        }
    }

    /// Short stable reason for status reporting.
    pub fn reason(&self) -> &'static str {
        match self {
            NetError::Invalid { .. } => "invalid-network-config",
            NetError::Unsupported { .. } => "renderer-unsupported",
            NetError::Io { .. } => "write-failed",
        }
    }
}

/// Joins a key path the way the oracle's schema messages print it.
pub(crate) fn join(base: &str, key: impl std::fmt::Display) -> String {
    if base.is_empty() {
        key.to_string()
    } else {
        format!("{base}.{key}")
    }
}

use crate::url::UrlError;

/// Why a datasource could not produce its data.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Url(#[from] UrlError),
    #[error("{path}: {message}")]
    Read { path: String, message: String },
    #[error("{what}: {message}")]
    Malformed { what: String, message: String },
    #[error(transparent)]
    Command(#[from] ci_host::CmdError),
    #[error("datasource cache: {0}")]
    Cache(String),
}

impl SourceError {
    /// Short stable reason for status reporting.
    pub fn reason(&self) -> &'static str {
        match self {
            SourceError::Url(e) => e.reason(),
            SourceError::Read { .. } => "read-failed",
            SourceError::Malformed { .. } => "malformed-data",
            SourceError::Command(e) => e.reason(),
            SourceError::Cache(_) => "bad-cache",
        }
    }
}

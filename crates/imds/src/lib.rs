//! An EC2 instance metadata service (IMDS) emulator.
//!
//! It serves the EC2 API (`PUT /latest/api/token`, version listing,
//! `meta-data/` tree with EC2's trailing-slash directory listings, leaf
//! values, `user-data`, `dynamic/instance-identity/document`) from a
//! NoCloud-like seed directory, optionally requiring IMDSv2 tokens, with
//! injectable faults. It exists so the Ec2 datasource can be exercised on
//! 127.0.0.1 without a cloud.

mod clouds;
mod faults;
mod http;
mod seed;
mod seedfiles;
mod server;
mod tree;

pub use clouds::{api_for, supported, CloudApi, Ec2Api};
pub use faults::Faults;
pub use http::{Request, Response};
pub use seed::{load_seed, Seed, TokenMode};
pub use seedfiles::SeedFiles;
pub use server::{serve, RequestRecord, Server};
pub use tree::Node;

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum ImdsError {
    #[error("{path}: {message}")]
    Seed { path: String, message: String },
    #[error("unsupported cloud '{0}' (supported: {list})", list = clouds::supported().join(", "))]
    Cloud(String),
    #[error("bad fault spec '{spec}': {message}")]
    Faults { spec: String, message: String },
    #[error("listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
}

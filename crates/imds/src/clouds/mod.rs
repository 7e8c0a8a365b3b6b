//! The clouds the emulator speaks for. Each module turns a seed directory
//! into a [`CloudApi`] that answers requests the way that cloud's metadata
//! service does; [`api_for`] picks one by the `--cloud` name.

mod ec2;

pub use ec2::Ec2Api;

use crate::http::{Request, Response};
use crate::ImdsError;
use std::path::Path;

/// One cloud's metadata API.
pub trait CloudApi: Send + Sync {
    /// The cloud's name for logs ("EC2", "GCE", ...).
    fn name(&self) -> &'static str;
    /// Answer one request; faults are applied by the server around this.
    fn answer(&self, req: &Request) -> Response;
    /// Forget issued session tokens (the `revoke-tokens-after` fault).
    fn revoke_tokens(&self) {}
}

/// `--cloud` names, with the function building each API from a seed dir.
type Builder = fn(&Path) -> Result<Box<dyn CloudApi>, ImdsError>;

const CLOUDS: &[(&[&str], Builder)] = &[(&["ec2", "aws"], |dir| {
    Ok(Box::new(Ec2Api::new(crate::seed::load_seed(dir)?)))
})];

/// The API for `cloud` (case-insensitive) serving the seed in `dir`.
pub fn api_for(cloud: &str, dir: &Path) -> Result<Box<dyn CloudApi>, ImdsError> {
    let want = cloud.to_ascii_lowercase();
    for (names, build) in CLOUDS {
        if names.contains(&want.as_str()) {
            return build(dir);
        }
    }
    Err(ImdsError::Cloud(cloud.to_string()))
}

/// The primary `--cloud` names, for messages.
pub fn supported() -> Vec<&'static str> {
    CLOUDS
        .iter()
        .filter_map(|(names, _)| names.first().copied())
        .collect()
}

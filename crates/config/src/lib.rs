//! System configuration and merging.
//!
//! API contract (other crates rely on it):
//! - [`merge::MergeSpec`] with `parse("dict(replace)+list(append)+str()")`,
//!   `from_config(&Value)` (reads `merge_how` / `merge_type`),
//!   `config_default()` (no-replace, as config files merge) and
//!   `userdata_default()` (`dict(replace)+list()+str()`, as user-data parts merge).
//! - [`merge::merge`]`(base, new, spec)` merges `new` into `base`.
//! - [`merge::merge_many`]`(&[cfg...])`: earlier wins (upstream `mergemanydict`).
//! - [`merge::merge_part`]: one user-data cloud-config part into the earlier ones.
//! - [`load::load_system_config`] reads builtin < cloud.cfg < cloud.cfg.d <
//!   /run/cloud-init/cloud.cfg < kernel `cc:` < `CLOUD_CFG` < `--file`;
//!   [`load::load_config`] adds instance and datasource config.

pub mod load;
pub mod merge;

pub use serde_json::Value;

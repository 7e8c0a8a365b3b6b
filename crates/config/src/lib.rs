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

/// Python's name for the type of a YAML-loaded value (upstream messages
/// name it).
pub(crate) fn py_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// Python truthiness, which upstream uses to decide whether a key is set.
pub(crate) fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

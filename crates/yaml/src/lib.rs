//! YAML 1.1 as PyYAML's SafeLoader reads it, into JSON-like values.
//!
//! API contract (other crates rely on it):
//! - [`load`] parses one document into a `serde_json::Value` (empty → `Null`).
//! - [`load_with_marks`] also returns the line/column (1-based) of every
//!   mapping key and sequence item, keyed by dotted path (`users.0.name`).
//! - [`dump`] writes a value as PyYAML `safe_dump(default_flow_style=False)`.
//! - Errors carry 1-based line and column and a PyYAML-like message.

pub use serde_json::Value;
use std::collections::BTreeMap;

/// Dotted path (`users.0.name`) → (line, column), both 1-based.
pub type Marks = BTreeMap<String, (usize, usize)>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (line {line}, column {column})")]
pub struct YamlError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

pub fn load(text: &str) -> Result<Value, YamlError> {
    load_with_marks(text).map(|(v, _)| v)
}

pub fn load_with_marks(_text: &str) -> Result<(Value, Marks), YamlError> {
    Err(YamlError {
        line: 1,
        column: 1,
        message: "YAML loader not built yet".into(),
    })
}

pub fn dump(_v: &Value) -> String {
    String::new()
}

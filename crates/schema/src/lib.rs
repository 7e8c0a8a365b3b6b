//! Cloud-config schema validation with upstream cloud-init's verdicts and
//! messages, and the `cloud-init schema` command's output.
//!
//! - [`validator`]: JSON Schema Draft 4 with jsonschema 4.19's messages and
//!   cloud-init's deprecation/`anyOf`/`oneOf` rules.
//! - [`validate_cloud_config`]: a loaded config against our cloud-config
//!   schema, as sorted, de-duplicated errors and deprecations.
//! - [`network_config_schema`]: the v1 or v2 network-config schema for a
//!   document, as upstream picks it.
//! - [`run_schema`], [`run_system`]: `cloud-init schema -c FILE [-t TYPE]
//!   [-i FILE] [--annotate] [--format json]` and `--system`.
//! - [`boot_problems`], [`format_console`]: findings with positions and
//!   80-column console lines for the boot stages.
//!
//! See README.md for the JSON output format.

mod annotate;
mod boot;
mod check;
mod command;
mod json;
mod problems;
mod regex;
mod system;
pub mod validator;

pub use boot::{boot_problems, format_console, Finding, FindingKind};
pub use command::{
    run_schema, run_schema_on_bytes, DataType, Format, Output, Part, SchemaArgs, SchemaType,
};
pub use problems::{validate_cloud_config, validate_with_schema, Problem, Problems};
pub use system::{run_system, SystemLayout};

use serde_json::Value;
use std::sync::OnceLock;

const CLOUD_CONFIG_SCHEMA: &str = include_str!("../schema/cloud-config.json");
const NETWORK_V1_SCHEMA: &str = include_str!("../schema/network-config-v1.json");
const NETWORK_V2_SCHEMA: &str = include_str!("../schema/network-config-v2.json");

/// Our cloud-config schema (Draft 4, with `deprecated`/`changed`
/// annotations and upstream's top-level key list).
pub fn cloud_config_schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    // The schema is compiled in and checked by tests, so a parse failure
    // cannot reach users; fall back to an empty schema rather than panic.
    SCHEMA.get_or_init(|| serde_json::from_str(CLOUD_CONFIG_SCHEMA).unwrap_or(Value::Null))
}

/// The network-config schema upstream picks for a document: v1 for
/// `version: 1`, otherwise v2 (also when the version is missing). Upstream
/// hands v2 to netplan when its Python module is importable; without it,
/// as on the oracle, v2 is checked against the JSON schema, and so do we.
pub fn network_config_schema(config: &Value) -> &'static Value {
    static V1: OnceLock<Value> = OnceLock::new();
    static V2: OnceLock<Value> = OnceLock::new();
    let version = match config.get("network") {
        Some(net) => net.get("version"),
        None => config.get("version"),
    };
    // Python's `== 1` also holds for `1.0` and `True`.
    let is_v1 = match version {
        Some(Value::Number(n)) => n.as_f64() == Some(1.0),
        Some(Value::Bool(b)) => *b,
        _ => false,
    };
    if is_v1 {
        V1.get_or_init(|| serde_json::from_str(NETWORK_V1_SCHEMA).unwrap_or(Value::Null))
    } else {
        V2.get_or_init(|| serde_json::from_str(NETWORK_V2_SCHEMA).unwrap_or(Value::Null))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn schemas_parse() {
        assert!(super::cloud_config_schema().is_object());
        let v1 = super::network_config_schema(&json!({"version": 1}));
        let v2 = super::network_config_schema(&json!({"network": {"version": 2}}));
        assert!(v1.is_object() && v2.is_object());
        assert_ne!(v1, v2);
        assert_eq!(super::network_config_schema(&json!({})), v2);
    }
}

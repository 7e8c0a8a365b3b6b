//! Cloud-config schema validation with upstream cloud-init's verdicts and
//! messages, and the `cloud-init schema` command's output.
//!
//! - [`validator`]: JSON Schema Draft 4 with jsonschema 4.19's messages and
//!   cloud-init's deprecation/`anyOf`/`oneOf` rules.
//! - [`validate_cloud_config`]: a loaded config against our cloud-config
//!   schema, as sorted, de-duplicated errors and deprecations.
//! - [`run_schema`]: `cloud-init schema -c FILE [-t TYPE] [--annotate]`.

mod annotate;
mod command;
mod problems;
mod regex;
pub mod validator;

pub use command::{run_schema, run_schema_on_bytes, Output, SchemaArgs, SchemaType};
pub use problems::{validate_cloud_config, validate_with_schema, Problem, Problems};

use serde_json::Value;
use std::sync::OnceLock;

const CLOUD_CONFIG_SCHEMA: &str = include_str!("../schema/cloud-config.json");

/// Our cloud-config schema (Draft 4, with `deprecated`/`changed`
/// annotations and upstream's top-level key list).
pub fn cloud_config_schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    // The schema is compiled in and checked by tests, so a parse failure
    // cannot reach users; fall back to an empty schema rather than panic.
    SCHEMA.get_or_init(|| serde_json::from_str(CLOUD_CONFIG_SCHEMA).unwrap_or(Value::Null))
}

#[cfg(test)]
mod tests {
    #[test]
    fn schema_parses() {
        assert!(super::cloud_config_schema().is_object());
    }
}

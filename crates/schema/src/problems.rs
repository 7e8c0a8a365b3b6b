//! Turning validator findings into upstream's `SchemaProblem` lists.

use crate::validator::{SchemaError, Validator};
use serde_json::Value;

/// One finding: dotted path (or `format-lL.cC`) and message.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl Problem {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            path: path.into(),
            message: message.into(),
        }
    }

    /// `path: message`, as upstream joins them.
    pub fn format(&self) -> String {
        format!("{}: {}", self.path, self.message)
    }
}

/// Errors and deprecations, each sorted by (path, message) without
/// duplicates, as upstream's `SchemaValidationError` holds them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Problems {
    pub errors: Vec<Problem>,
    pub deprecations: Vec<Problem>,
}

impl Problems {
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty() && self.deprecations.is_empty()
    }
}

/// Validates a loaded cloud-config against [`crate::cloud_config_schema`].
pub fn validate_cloud_config(config: &Value) -> Problems {
    validate_with_schema(config, crate::cloud_config_schema())
}

/// Validates against any root schema with upstream's path rules.
pub fn validate_with_schema(config: &Value, schema: &Value) -> Problems {
    let mut problems = Problems::default();
    for e in Validator::new(schema).iter_errors(config) {
        let p = Problem::new(problem_path(&e), e.message.clone());
        if e.is_deprecation() {
            problems.deprecations.push(p);
        } else {
            problems.errors.push(p);
        }
    }
    sort_unique(&mut problems.errors);
    sort_unique(&mut problems.deprecations);
    problems
}

pub(crate) fn sort_unique(v: &mut Vec<Problem>) {
    v.sort();
    v.dedup();
}

/// Upstream names a single unknown top-level key by the key itself.
fn problem_path(e: &SchemaError) -> String {
    let path = e.dotted_path();
    if path.is_empty() && e.keyword == "additionalProperties" && e.at_root {
        if let Some(name) = unexpected_name(&e.message) {
            return name;
        }
    }
    path
}

/// The `name` of `.*\('(?P<name>.*)' was unexpected\)` (greedy, one line).
fn unexpected_name(message: &str) -> Option<String> {
    let first_line = message.split('\n').next().unwrap_or("");
    let end = first_line.rfind("' was unexpected)")?;
    let start = first_line.get(..end)?.rfind("('")?;
    first_line.get(start + 2..end).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_top_level_key_is_named() {
        let p = validate_cloud_config(&json!({"hostname": 123, "bogus": 1}));
        assert_eq!(
            p.errors,
            vec![
                Problem::new(
                    "bogus",
                    "Additional properties are not allowed ('bogus' was unexpected)"
                ),
                Problem::new("hostname", "123 is not of type 'string'"),
            ]
        );
    }

    #[test]
    fn bytes_are_strings_and_shown_as_python_bytes() {
        // Upstream's documented `!!binary` write_files example is valid.
        let gz = ci_yaml::load(
            "write_files:\n- encoding: gzip\n  content: !!binary |\n    \
             H4sIAIDb/U8C/1NW1E/KzNMvzuBKTc7IV8hIzcnJVyjPL8pJ4QIA6N+MVxsAAAA=\n  \
             path: /usr/bin/hello\n  permissions: '0755'\n",
        )
        .unwrap();
        assert!(validate_cloud_config(&gz).is_empty());
        // What `cloud-init schema -c` of 25.1.4 reports for bytes that do
        // not fit.
        let bad = ci_yaml::load(
            "write_files:\n- path: /x\n  encoding: !!binary Z3o=\n  content: !!binary aGk=\n\
             packages: !!binary aGk=\n",
        )
        .unwrap();
        assert_eq!(
            validate_cloud_config(&bad).errors,
            vec![
                Problem::new("packages", "b'hi' is not of type 'array'"),
                Problem::new(
                    "write_files.0.encoding",
                    "b'gz' is not one of ['gz', 'gzip', 'gz+base64', 'gzip+base64', 'gz+b64', \
                     'gzip+b64', 'b64', 'base64', 'text/plain']"
                ),
            ]
        );
    }

    #[test]
    fn deprecated_user_key() {
        let p = validate_cloud_config(&json!({"users": [{"name": "a", "lock-passwd": true}]}));
        assert!(p.errors.is_empty());
        assert_eq!(
            p.deprecations,
            vec![Problem::new(
                "users.0.lock-passwd",
                " Deprecated in version 22.3. Use **lock_passwd** instead."
            )]
        );
    }
}

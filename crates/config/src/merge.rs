//! Upstream's mergers (`dict`, `list`, `str` with their options) and the two
//! ways upstream applies them: config files (`mergemanydict`: earlier wins)
//! and user-data cloud-config parts (later part replaces, by default).

mod apply;
mod spec;

pub use apply::{try_merge, MergeError};
pub use spec::{MergeOpts, MergeSpec, MergerKind, MergerStep, CONFIG_DEFAULT, USERDATA_DEFAULT};

use log::warn;
use serde_json::{Map, Value};

/// Merge `new` into `base` with `spec`. Where upstream would raise (see
/// [`MergeError`]) the base is returned unchanged; use [`try_merge`] to
/// see the error.
pub fn merge(base: &Value, new: &Value, spec: &MergeSpec) -> Value {
    try_merge(base, new, spec).unwrap_or_else(|_| base.clone())
}

/// Upstream `mergemanydict`: the first mapping has the highest priority;
/// each later one only fills gaps (`list()+dict()+str()`), unless it carries
/// its own `merge_how` / `merge_type`, which then says how it merges into
/// what came before it. Top-level `merge_how` keys do not reach the result.
/// Empty mappings and non-mappings are skipped.
pub fn merge_many(cfgs: &[Value]) -> Value {
    let mut merged = Value::Object(Map::new());
    for cfg in cfgs {
        let Value::Object(map) = cfg else { continue };
        if map.is_empty() {
            continue;
        }
        let mut map = map.clone();
        let spec = match MergeSpec::extract(&mut map) {
            Ok(Some(spec)) => spec,
            Ok(None) => MergeSpec::config_default(),
            Err(e) => {
                // Upstream raises here and the stage fails; we keep going
                // with the default so one bad key does not lose the boot.
                warn!("Invalid merge_how in configuration, using the default: {e}");
                MergeSpec::config_default()
            }
        };
        match try_merge(&merged, &Value::Object(map), &spec) {
            Ok(v) => merged = v,
            Err(e) => warn!("Failed merging configuration with {spec}: {e}"),
        }
    }
    merged
}

/// Why a cloud-config part was not merged. Upstream's warning differs by
/// cause: `Failed at merging in cloud config part from <file>: <err>` for
/// value errors, the same without `: <err>` for the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartMergeError {
    pub message: String,
    /// Upstream's ValueError path (bad spec syntax, empty part): the part
    /// is also listed as `# Cloud-config part ignored SCHEMA_ERROR: <file>`.
    pub value_error: bool,
}

impl PartMergeError {
    /// Upstream's warning text for a part named `filename`.
    pub fn warning(&self, filename: &str) -> String {
        if self.value_error {
            format!(
                "Failed at merging in cloud config part from {filename}: {}",
                self.message
            )
        } else {
            format!("Failed at merging in cloud config part from {filename}")
        }
    }
}

/// Merge one user-data cloud-config part into the buffer of earlier parts,
/// as upstream's cloud-config part handler: the part's own `merge_how` /
/// `merge_type` (removed from it) come first, then those of the MIME
/// `Merge-Type` / `X-Merge-Type` header; with neither,
/// `dict(replace)+list()+str()`. `part` is the parsed YAML (`Null` for an
/// empty or non-mapping document). On error the caller keeps its buffer.
pub fn merge_part(
    buf: &Value,
    part: &Value,
    header: Option<&str>,
) -> Result<Value, PartMergeError> {
    let Value::Object(map) = part else {
        return Err(PartMergeError {
            message: "empty cloud config".into(),
            value_error: true,
        });
    };
    let mut map = map.clone();
    let from_part = MergeSpec::extract(&mut map).map_err(|e| classify(&e))?;
    let from_header = MergeSpec::parse(header.unwrap_or("")).map_err(|e| classify(&e))?;
    let mut spec = from_part.unwrap_or_default().chain(from_header);
    if spec.mergers.is_empty() {
        spec = MergeSpec::userdata_default();
    }
    let base = if buf.is_object() {
        buf.clone()
    } else {
        Value::Object(Map::new())
    };
    try_merge(&base, &Value::Object(map), &spec).map_err(|e| PartMergeError {
        message: e.0,
        value_error: false,
    })
}

fn classify(e: &str) -> PartMergeError {
    PartMergeError {
        message: e.to_string(),
        // Only the string-syntax error is a ValueError upstream; unknown
        // mergers and malformed list forms raise other exceptions.
        value_error: e.contains("is not in the right format"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(s: &str) -> MergeSpec {
        MergeSpec::parse(s).unwrap()
    }

    #[test]
    fn no_replace_fills_gaps_only() {
        let a = json!({"a": 1, "l": [1], "d": {"x": 1}});
        let b = json!({"a": 2, "l": [2, 3], "d": {"x": 2, "y": 3}, "n": null});
        let got = merge(&a, &b, &MergeSpec::config_default());
        assert_eq!(
            got,
            json!({"a": 1, "l": [1], "d": {"x": 1, "y": 3}, "n": null})
        );
    }

    #[test]
    fn allow_delete_keeps_order_of_the_rest() {
        let a = json!({"a": 1, "b": 2, "c": 3});
        let got = merge(&a, &json!({"a": null}), &spec("dict(allow_delete)"));
        assert_eq!(serde_json::to_string(&got).unwrap(), r#"{"b":2,"c":3}"#);
    }

    #[test]
    fn str_append_of_a_list_is_an_error() {
        let r = try_merge(&json!("x"), &json!([1]), &spec("str(append)"));
        assert!(r.is_err());
        assert_eq!(
            merge(&json!("x"), &json!([1]), &spec("str(append)")),
            json!("x")
        );
    }

    #[test]
    fn merge_many_honours_a_later_dicts_merge_how() {
        let got = merge_many(&[
            json!({"a": 1, "l": [1]}),
            json!({"merge_how": "dict(replace)+list(append)", "a": 2, "l": [2]}),
        ]);
        assert_eq!(got, json!({"a": 2, "l": [2]}));
        let got = merge_many(&[
            json!({"a": 1, "l": [1]}),
            json!({"merge_how": "dict(no_replace,recurse_list)+list(append)", "l": [2]}),
        ]);
        assert_eq!(got, json!({"a": 1, "l": [1, 2]}));
    }

    #[test]
    fn part_errors_are_classified() {
        let e = merge_part(&json!({}), &json!({"merge_how": "dict"}), None).unwrap_err();
        assert!(e.value_error);
        assert!(e
            .warning("part-001")
            .ends_with("part-001: Matcher identifier 'dict' is not in the right format"));
        let e = merge_part(&json!({}), &Value::Null, None).unwrap_err();
        assert_eq!(
            e.warning("p"),
            "Failed at merging in cloud config part from p: empty cloud config"
        );
        let e = merge_part(&json!({}), &json!({"merge_how": "nope()"}), None).unwrap_err();
        assert_eq!(
            e.warning("p"),
            "Failed at merging in cloud config part from p"
        );
    }
}

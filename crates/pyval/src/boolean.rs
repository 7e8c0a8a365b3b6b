//! Reading booleans out of config the way upstream's `util` helpers do,
//! and this project's laxer flag reading used by the stage runner.

use crate::value::{py_str, truthy};
use serde_json::Value;

const TRUE_STRINGS: &[&str] = &["true", "1", "on", "yes"];
const FALSE_STRINGS: &[&str] = &["off", "0", "no", "false"];

/// Upstream's `util.is_true(v)`: a bool is itself, anything else is true
/// when `str(v)`, trimmed and lowercased, is a true-string.
pub fn is_true(v: &Value) -> bool {
    is_true_with(v, &[])
}

/// Upstream's `util.is_true(v, addons)`: extra accepted strings.
pub fn is_true_with(v: &Value, addons: &[&str]) -> bool {
    match v {
        Value::Bool(b) => *b,
        other => {
            let s = py_str(other).trim().to_lowercase();
            TRUE_STRINGS.contains(&s.as_str()) || addons.contains(&s.as_str())
        }
    }
}

/// Upstream's `util.is_false`.
pub fn is_false(v: &Value) -> bool {
    match v {
        Value::Bool(b) => !*b,
        other => FALSE_STRINGS.contains(&py_str(other).trim().to_lowercase().as_str()),
    }
}

/// Upstream's `util.translate_bool`: falsy values are false, otherwise
/// [`is_true_with`].
pub fn translate_bool(v: &Value, addons: &[&str]) -> bool {
    truthy(v) && is_true_with(v, addons)
}

/// Upstream's `util.get_cfg_option_bool(map, key, default)`.
pub fn cfg_bool(map: &Value, key: &str, default: bool) -> bool {
    cfg_bool_opt(map, key).unwrap_or(default)
}

/// Like [`cfg_bool`] but `None` when the key is absent (upstream passes
/// `default=None` to tell "unset" from "false").
pub fn cfg_bool_opt(map: &Value, key: &str) -> Option<bool> {
    map.get(key).map(|v| translate_bool(v, &[]))
}

/// Upstream's `util.get_cfg_option_str`: `str()` of the value when present.
pub fn cfg_str(map: &Value, key: &str) -> Option<String> {
    map.get(key).map(py_str)
}

/// A yes/no flag read leniently: absent, `null`, lists and mappings give
/// `default`; numbers are true when non-zero; strings are true when one of
/// `true`/`1`/`on`/`yes`/`y` (any case). Laxer than upstream's
/// [`cfg_bool`], which reads `2`, `"y"` and `null` as false.
pub fn loose_bool(v: Option<&Value>, default: bool) -> bool {
    match v {
        None | Some(Value::Null) => default,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().map(|f| f != 0.0).unwrap_or(default),
        Some(Value::String(s)) => matches!(
            s.trim().to_ascii_lowercase().as_str(),
            "true" | "1" | "on" | "yes" | "y"
        ),
        Some(_) => default,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn booleans_as_upstream() {
        assert!(translate_bool(&json!("Yes"), &[]));
        assert!(translate_bool(&json!(" ON "), &[]));
        assert!(translate_bool(&json!(1), &[]));
        assert!(!translate_bool(&json!(2), &[]));
        assert!(!translate_bool(&json!("y"), &[]));
        assert!(!translate_bool(&json!([]), &[]));
        assert!(!translate_bool(&json!(null), &[]));
        assert!(translate_bool(&json!("template"), &["template"]));
        assert!(!translate_bool(&json!(""), &[""]));
        assert!(is_true(&json!(true)));
        assert!(is_true(&json!("TRUE")));
        assert!(!is_true(&json!(false)));
        assert!(!is_true(&json!(1.0)));
        assert!(is_true_with(&json!("Template"), &["template"]));
        assert!(is_false(&json!("Off")));
        assert!(is_false(&json!(false)));
        assert!(is_false(&json!(0)));
        assert!(!is_false(&json!(null)));
        assert!(!is_false(&json!("en_US.UTF-8")));
        assert_eq!(cfg_bool_opt(&json!({}), "x"), None);
        assert_eq!(cfg_bool_opt(&json!({"x": "no"}), "x"), Some(false));
        assert!(cfg_bool(&json!({}), "x", true));
        assert!(!cfg_bool(&json!({"x": null}), "x", true));
        assert_eq!(cfg_str(&json!({"x": 1.5}), "x").as_deref(), Some("1.5"));
        assert_eq!(cfg_str(&json!({}), "x"), None);
    }

    #[test]
    fn loose_flags() {
        assert!(loose_bool(Some(&json!("Yes")), false));
        assert!(loose_bool(Some(&json!("y")), false));
        assert!(!loose_bool(Some(&json!("no")), true));
        assert!(loose_bool(Some(&json!(2)), false));
        assert!(!loose_bool(Some(&json!(0)), true));
        assert!(loose_bool(None, true));
        assert!(loose_bool(Some(&json!(null)), true));
        assert!(!loose_bool(Some(&json!([1])), false));
    }
}

//! Python's view of config values, for the places where upstream's output
//! or decisions depend on `str()`, `repr()` or truthiness of a YAML value.

use serde_json::Value;

/// Python's `str(value)` for a loaded YAML value (`True`, `None`, `1.5`, ...).
pub fn py_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => py_repr(other),
    }
}

/// Python's `repr(value)`.
pub fn py_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => {
            if n.is_f64() {
                n.as_f64().map(py_float).unwrap_or_else(|| n.to_string())
            } else {
                n.to_string()
            }
        }
        Value::String(s) => py_quote(s),
        Value::Array(a) => format!("[{}]", a.iter().map(py_repr).collect::<Vec<_>>().join(", ")),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{}: {}", py_quote(k), py_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn py_float(f: f64) -> String {
    if f.is_nan() {
        "nan".into()
    } else if f.is_infinite() {
        if f > 0.0 { "inf" } else { "-inf" }.into()
    } else if f == f.trunc() && f.abs() < 1e16 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}

/// Python's string repr: single quotes unless the text holds a single quote
/// and no double quote.
pub fn py_quote(s: &str) -> String {
    let q = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(q);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == q => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(q);
    out
}

/// Python's type name of a loaded value (`str`, `int`, `NoneType`, ...).
pub fn py_type(v: &Value) -> &'static str {
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

/// Python truthiness (`bool(value)`).
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

const TRUE_STRINGS: &[&str] = &["true", "1", "on", "yes"];
const FALSE_STRINGS: &[&str] = &["off", "0", "no", "false"];

/// Upstream's `util.translate_bool`: falsy values are false, booleans are
/// themselves, anything else is true when `str(v)` is a true-string.
pub fn translate_bool(v: &Value, addons: &[&str]) -> bool {
    if !truthy(v) {
        return false;
    }
    if let Value::Bool(b) = v {
        return *b;
    }
    let s = py_str(v).trim().to_lowercase();
    TRUE_STRINGS.contains(&s.as_str()) || addons.contains(&s.as_str())
}

/// Upstream's `util.get_cfg_option_bool(map, key, default)`.
pub fn cfg_bool(map: &Value, key: &str, default: bool) -> bool {
    match map.get(key) {
        None => default,
        Some(v) => translate_bool(v, &[]),
    }
}

/// Like [`cfg_bool`] but `None` when the key is absent (upstream passes
/// `default=None` to tell "unset" from "false").
pub fn cfg_bool_opt(map: &Value, key: &str) -> Option<bool> {
    map.get(key).map(|v| translate_bool(v, &[]))
}

/// Upstream's `util.is_false`.
pub fn is_false(v: &Value) -> bool {
    match v {
        Value::Bool(b) => !*b,
        other => FALSE_STRINGS.contains(&py_str(other).trim().to_lowercase().as_str()),
    }
}

/// Upstream's `util.get_cfg_option_str`: `str()` of the value when present.
pub fn cfg_str(map: &Value, key: &str) -> Option<String> {
    map.get(key).map(py_str)
}

/// Upstream's `util.shellify`: list items become single-quoted words of one
/// command line, strings are kept verbatim, `None` items (a YAML comment
/// line) are dropped, anything else is an error with upstream's text.
pub fn shellify(cmds: &Value) -> Result<String, String> {
    let items = match cmds {
        Value::Array(a) => a,
        other => {
            return Err(format!(
                "Input to shellify was type '{}'. Expected list or tuple.",
                py_type(other)
            ))
        }
    };
    let mut out = String::from("#!/bin/sh\n");
    let mut made = 0usize;
    for item in items {
        match item {
            Value::Array(words) => {
                let quoted: Vec<String> = words
                    .iter()
                    .map(|w| format!("'{}'", py_str(w).replace('\'', "'\\''")))
                    .collect();
                out.push_str(&quoted.join(" "));
                out.push('\n');
                made += 1;
            }
            Value::String(s) => {
                out.push_str(s);
                out.push('\n');
                made += 1;
            }
            Value::Null => {}
            other => {
                return Err(format!(
                    "Unable to shellify type '{}'. Expected list, string, tuple. Got: {}",
                    py_type(other),
                    py_str(other)
                ))
            }
        }
    }
    log::debug!("Shellified {made} commands.");
    Ok(out)
}

/// Upstream's `os.path.abspath` with `/` as the working directory
/// (cloud-init runs from `/`): relative paths are made absolute, `.`, `..`
/// and repeated slashes are folded.
pub fn abspath(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for comp in p.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_strings() {
        assert_eq!(py_str(&json!(true)), "True");
        assert_eq!(py_str(&json!(null)), "None");
        assert_eq!(py_str(&json!(1.0)), "1.0");
        assert_eq!(py_str(&json!(420)), "420");
        assert_eq!(
            py_repr(&json!(["a", 1, {"k": "it's"}])),
            "['a', 1, {'k': \"it's\"}]"
        );
        assert_eq!(py_repr(&json!("a\nb")), "'a\\nb'");
    }

    #[test]
    fn booleans_as_upstream() {
        assert!(translate_bool(&json!("Yes"), &[]));
        assert!(translate_bool(&json!(1), &[]));
        assert!(!translate_bool(&json!(2), &[]));
        assert!(!translate_bool(&json!("y"), &[]));
        assert!(!translate_bool(&json!([]), &[]));
        assert!(translate_bool(&json!("template"), &["template"]));
        assert!(is_false(&json!("Off")));
        assert!(is_false(&json!(false)));
        assert!(!is_false(&json!("en_US.UTF-8")));
        assert_eq!(cfg_bool_opt(&json!({}), "x"), None);
        assert_eq!(cfg_bool_opt(&json!({"x": "no"}), "x"), Some(false));
    }

    #[test]
    fn shellify_like_upstream() {
        let s = shellify(&json!([["echo", "it's", true, 1.5, null], "ls -l /", null])).unwrap();
        assert_eq!(
            s,
            "#!/bin/sh\n'echo' 'it'\\''s' 'True' '1.5' 'None'\nls -l /\n"
        );
        assert_eq!(
            shellify(&json!([{"a": 1}])).unwrap_err(),
            "Unable to shellify type 'dict'. Expected list, string, tuple. Got: {'a': 1}"
        );
        assert_eq!(
            shellify(&json!("ls")).unwrap_err(),
            "Input to shellify was type 'str'. Expected list or tuple."
        );
    }

    #[test]
    fn abspath_folds() {
        assert_eq!(abspath("etc/x"), "/etc/x");
        assert_eq!(abspath("/a//b/./c/../d"), "/a/b/d");
        assert_eq!(abspath("/../../x"), "/x");
    }
}

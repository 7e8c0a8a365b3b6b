//! Helpers shared by modules.

use serde_json::Value;

/// Python-style truthiness for config values (`"yes"`, `1`, `true`...),
/// as upstream's `util.is_true` / `get_cfg_option_bool` treat strings.
pub fn is_true(v: Option<&Value>, default: bool) -> bool {
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

/// A string or a list of strings as a list (comma-separated strings split).
pub fn str_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => s
            .split(',')
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| match x {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Quote one word for `/bin/sh` with single quotes.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Turn a `runcmd`/`bootcmd` list into a shell script as upstream's `shellify`:
/// list items become single-quoted argv lines, strings are kept verbatim.
pub fn shellify(cmds: &[Value]) -> Result<String, String> {
    let mut out = String::from("#!/bin/sh\n");
    for (i, c) in cmds.iter().enumerate() {
        match c {
            Value::String(s) => {
                out.push_str(s);
                out.push('\n');
            }
            Value::Array(a) => {
                let words: Vec<String> = a
                    .iter()
                    .map(|w| match w {
                        Value::String(s) => shell_quote(s),
                        other => shell_quote(&other.to_string()),
                    })
                    .collect();
                out.push_str(&words.join(" "));
                out.push('\n');
            }
            other => {
                return Err(format!(
                    "Unable to shellify type '{}'. Expected list, string, tuple. Got: {other}",
                    type_name(other)
                ))
                .map_err(|e| format!("item {i}: {e}"))
            }
        }
    }
    Ok(out)
}

fn type_name(v: &Value) -> &'static str {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shellify_quotes_lists_and_keeps_strings() {
        let s = shellify(&[json!(["echo", "it's"]), json!("ls -l /")]).unwrap();
        assert_eq!(s, "#!/bin/sh\n'echo' 'it'\\''s'\nls -l /\n");
        assert!(shellify(&[json!(1)]).is_err());
    }

    #[test]
    fn truthiness() {
        assert!(is_true(Some(&json!("Yes")), false));
        assert!(!is_true(Some(&json!("no")), true));
        assert!(is_true(None, true));
    }
}

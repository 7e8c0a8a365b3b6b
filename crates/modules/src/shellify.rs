//! Upstream's `util.shellify`, which `bootcmd` and `runcmd` turn their
//! command lists into scripts with.

use ci_pyval::{py_str, py_type};
use serde_json::Value;

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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
}

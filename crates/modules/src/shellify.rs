//! Upstream's `util.shellify`, which `bootcmd` and `runcmd` turn their
//! command lists into scripts with.
//!
//! Bytes (YAML `!!binary`) are not text here either: a bytes command is
//! refused like any other non-string, and a bytes word is written as
//! Python's `str()` of it (`b'...'`), as upstream does, so the marker they
//! travel as never reaches a script.

use ci_pyval::binary::text;
use ci_pyval::{py_str, py_type};
use serde_json::Value;

/// Upstream's `util.shellify`: list items become single-quoted words of one
/// command line, strings are kept verbatim, `None` items (a YAML comment
/// line) are dropped, anything else (bytes too) is an error with
/// upstream's text.
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
        if let Some(line) = text(item) {
            out.push_str(line);
            out.push('\n');
            made += 1;
            continue;
        }
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

    // `!!binary` loads as bytes. The oracle (cloud-init 25.1.4, PyYAML
    // safe_load then `util.shellify`) prints, for
    // `[[echo, !!binary "J2l0J3MgXG4KAP8="]]`:
    //     #!/bin/sh
    //     'echo' 'b"'\''it'\''s \\n\n\x00\xff"'
    // for `[[echo, !!binary ""]]`:
    //     #!/bin/sh
    //     'echo' 'b'\'''\'''
    // for `[ls, !!binary aGVsbG8=]`: TypeError
    //     Unable to shellify type 'bytes'. Expected list, string, tuple. Got: b'hello'
    // and for `!!binary aGVsbG8=`: TypeError
    //     Input to shellify was type 'bytes'. Expected list or tuple.
    #[test]
    fn bytes_like_upstream() {
        let load = |y: &str| ci_yaml::load(y).unwrap();
        assert_eq!(
            shellify(&load(r#"[[echo, !!binary "J2l0J3MgXG4KAP8="]]"#)).unwrap(),
            r#"#!/bin/sh
'echo' 'b"'\''it'\''s \\n\n\x00\xff"'
"#
        );
        assert_eq!(
            shellify(&load(r#"[[echo, !!binary ""]]"#)).unwrap(),
            r"#!/bin/sh
'echo' 'b'\'''\'''
"
        );
        assert_eq!(
            shellify(&load("[ls, !!binary aGVsbG8=]")).unwrap_err(),
            "Unable to shellify type 'bytes'. Expected list, string, tuple. Got: b'hello'"
        );
        assert_eq!(
            shellify(&load("!!binary aGVsbG8=")).unwrap_err(),
            "Input to shellify was type 'bytes'. Expected list or tuple."
        );
    }

    // A string that only resembles the marker is text, kept verbatim.
    #[test]
    fn marker_lookalike_text_is_a_command() {
        let s = shellify(&json!(["\u{FDD0}ci-binary:aGk"])).unwrap();
        assert_eq!(s, "#!/bin/sh\n\u{FDD0}ci-binary:aGk\n");
    }
}

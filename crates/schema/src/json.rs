//! `cloud-init schema --format json` (ours): one JSON document on stdout
//! for tools that today parse the text output.
//!
//! ```json
//! {
//!   "valid": false,
//!   "files": [
//!     {
//!       "type": "user-data",
//!       "schema": "cloud-config",
//!       "path": "user-data.yaml",
//!       "status": "invalid",
//!       "errors": [
//!         {"path": "hostname", "line": 2, "column": 1,
//!          "message": "123 is not of type 'string'"}
//!       ],
//!       "deprecations": [],
//!       "notes": []
//!     }
//!   ]
//! }
//! ```
//!
//! - `valid`: the verdict; the exit code is the same as in text mode (1
//!   when any file is invalid or the run stopped).
//! - `status`: `valid`, `invalid`, `skipped` (empty file, a user-data type
//!   the schema does not cover, an empty network-config; `notes` says
//!   why) or `error` (a jinja template could not be rendered; `error` has
//!   upstream's message and later files are not checked).
//! - `errors`/`deprecations`: sorted by path; `path` is the dotted key path
//!   upstream prints (`users.0.name`), or `format-lL.cC` for problems of the
//!   file itself; `line`/`column` are 1-based, of the key (or of the nearest
//!   enclosing key when the problem is about a whole list or the document).
//! - Deprecations alone do not make a file invalid. `--annotate` is
//!   ignored with `--format json`.

use crate::check::{Check, Located, Verdict};
use crate::command::{Output, Part};
use serde_json::{json, Value};

pub(crate) fn render_json(checks: &[(&Part, Check)]) -> Output {
    let mut valid = true;
    let mut exit_code = 0;
    let files: Vec<Value> = checks
        .iter()
        .map(|(part, check)| {
            let mut file = json!({
                "type": part.data_type.as_str(),
                "schema": part.schema_type.as_str(),
                "path": part.display,
            });
            let (status, extra) = match &check.verdict {
                Verdict::Valid => ("valid", None),
                Verdict::Skipped => ("skipped", None),
                Verdict::Invalid => ("invalid", None),
                Verdict::NotADict(msg) => ("invalid", Some(("message", msg))),
                Verdict::Abort(msg) => ("error", Some(("error", msg))),
            };
            if matches!(status, "invalid" | "error") {
                valid = false;
                exit_code = 1;
            }
            let mut errors = problems(&check.located_errors);
            if let Verdict::NotADict(msg) = &check.verdict {
                errors.push(json!({"path": "", "line": 1, "column": 1, "message": msg}));
            }
            if let Some(obj) = file.as_object_mut() {
                obj.insert("status".into(), status.into());
                obj.insert("errors".into(), Value::Array(errors));
                obj.insert(
                    "deprecations".into(),
                    Value::Array(problems(&check.located_deprecations)),
                );
                let notes = if status == "skipped" {
                    check.notes.clone()
                } else {
                    Vec::new()
                };
                obj.insert("notes".into(), notes.into());
                if let Some(("error", msg)) = extra {
                    obj.insert("error".into(), msg.as_str().into());
                }
            }
            file
        })
        .collect();
    let doc = json!({"valid": valid, "files": files});
    Output {
        stdout: format!(
            "{}\n",
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        ),
        stderr: String::new(),
        exit_code,
    }
}

fn problems(list: &[Located]) -> Vec<Value> {
    list.iter()
        .map(|l| {
            json!({
                "path": l.problem.path,
                "line": l.line,
                "column": l.column,
                "message": l.problem.message,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::{run_schema_on_bytes, Format, SchemaArgs};
    use serde_json::Value;

    fn run(text: &str) -> (Value, i32) {
        let args = SchemaArgs {
            config_file: "u.yaml".into(),
            format: Format::Json,
            annotate: true,
            ..SchemaArgs::default()
        };
        let out = run_schema_on_bytes(&args, text.as_bytes());
        assert_eq!(out.stderr, "");
        (
            serde_json::from_str(&out.stdout).unwrap_or(Value::Null),
            out.exit_code,
        )
    }

    #[test]
    fn errors_and_deprecations_with_positions() {
        let (doc, code) =
            run("#cloud-config\nusers:\n  - name: a\n    lock-passwd: true\nhostname: 5\n");
        assert_eq!(code, 1);
        assert_eq!(doc["valid"], false);
        let file = &doc["files"][0];
        assert_eq!(file["status"], "invalid");
        assert_eq!(file["type"], "user-data");
        assert_eq!(file["errors"][0]["path"], "hostname");
        assert_eq!(file["errors"][0]["line"], 5);
        assert_eq!(file["errors"][0]["column"], 1);
        assert_eq!(file["errors"][0]["message"], "5 is not of type 'string'");
        assert_eq!(file["deprecations"][0]["path"], "users.0.lock-passwd");
        assert_eq!(file["deprecations"][0]["line"], 4);
        assert_eq!(file["deprecations"][0]["column"], 5);
    }

    #[test]
    fn valid_skipped_and_yaml_errors() {
        let (doc, code) = run("#cloud-config\nhostname: a\n");
        assert_eq!((doc["valid"].clone(), code), (Value::Bool(true), 0));
        assert_eq!(doc["files"][0]["status"], "valid");
        let (doc, _) = run("#!/bin/sh\necho hi\n");
        assert_eq!(doc["files"][0]["status"], "skipped");
        assert_eq!(
            doc["files"][0]["notes"][0],
            "User-data type 'text/x-shellscript' not currently evaluated by cloud-init schema"
        );
        let (doc, code) = run("#cloud-config\na: [\n");
        assert_eq!(code, 1);
        let path = doc["files"][0]["errors"][0]["path"].as_str().unwrap_or("");
        assert!(path.starts_with("format-l"), "{path}");
        assert_eq!(doc["files"][0]["errors"][0]["line"], 3);
    }
}

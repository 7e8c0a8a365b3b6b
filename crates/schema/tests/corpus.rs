//! Differential test: `cloud-init schema -c FILE [--annotate]` on every
//! corpus file must print exactly what upstream printed (tests/expected,
//! made by tests/regen-expected.py from the oracle).
//!
//! One kind of message cannot be byte-equal by design: jsonschema's
//! `oneOf`/`anyOf` messages quote the sub-schema, and upstream's carries its
//! documentation prose (`'description': ...`) that our schema leaves out.
//! For those files the verdict, the exit code, the first stdout line and
//! the set of error paths must still agree.

use ci_schema::{run_schema, run_schema_on_bytes, Format, Output, SchemaArgs, SchemaType};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

/// Cases where ci-yaml cannot represent what PyYAML builds, so messages
/// differ (listed in docs/compat.md). The test fails once they agree, so
/// the list stays honest.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    (
        "combo-big-int.yaml",
        "integers beyond 64 bits load as floats",
    ),
    (
        "combo-float-values.yaml",
        ".inf loads as the string 'Infinity'",
    ),
    (
        "y11-hostname-date.yaml",
        "dates load as strings, not datetime.date",
    ),
    (
        "y11-key-int.yaml",
        "non-string mapping keys load as strings",
    ),
    (
        "jinja-missing-var.yaml",
        "upstream's WARNING log line carries a timestamp; ours goes to the log",
    ),
    (
        "jinja-syntax-error.yaml",
        "minijinja words template syntax errors differently from Jinja2",
    ),
    (
        "net-yaml-error.yaml",
        "ci-yaml words PyYAML's flow-node-at-stream-end error differently",
    ),
    (
        "y11-timestamp-final.yaml",
        "timestamps load as strings, not datetime.datetime",
    ),
    (
        "y11-null-key.yaml",
        "non-string mapping keys load as strings",
    ),
];

fn expected(v: &Value) -> Option<Output> {
    Some(Output {
        stdout: v.get("stdout")?.as_str()?.to_string(),
        stderr: v.get("stderr")?.as_str()?.to_string(),
        exit_code: i32::try_from(v.get("exit_code")?.as_i64()?).ok()?,
    })
}

fn args(dir: &Path, file: &str, annotate: bool) -> SchemaArgs {
    SchemaArgs {
        config_file: file.to_string(),
        annotate,
        // As tests/regen-expected.py runs the oracle for jinja cases.
        instance_data: file
            .starts_with("jinja-")
            .then(|| dir.join("instance-data.json")),
        schema_type: if file.starts_with("net-") {
            SchemaType::NetworkConfig
        } else {
            SchemaType::CloudConfig
        },
        ..SchemaArgs::default()
    }
}

/// Paths of `Cloud config schema errors: P: msg, P: msg` in upstream's
/// stderr: a run of key characters at an item start followed by `: `.
fn upstream_error_paths(stderr: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let Some(start) = stderr.find("Cloud config schema errors: ") else {
        return out;
    };
    let text = &stderr[start + "Cloud config schema errors: ".len()..];
    let text = text
        .split("\n\nError: Invalid schema")
        .next()
        .unwrap_or(text);
    let mut starts = vec![0];
    starts.extend(text.match_indices(", ").map(|(i, _)| i + 2));
    for i in starts {
        let rest = &text[i..];
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || "_.-/".contains(c)))
            .unwrap_or(rest.len());
        if len > 0 && rest[len..].starts_with(": ") {
            out.insert(rest[..len].to_string());
        }
    }
    out
}

/// Our error paths, from `--format json`.
fn our_error_paths(dir: &Path, file: &str) -> BTreeSet<String> {
    let mut a = args(dir, file, false);
    a.format = Format::Json;
    let out = match std::fs::read(dir.join(file)) {
        Ok(bytes) => run_schema_on_bytes(&a, &bytes),
        Err(_) => run_schema(&a),
    };
    let doc: Value = serde_json::from_str(&out.stdout).unwrap_or(Value::Null);
    doc["files"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|f| f["errors"].as_array().cloned().unwrap_or_default())
        .filter_map(|e| e["path"].as_str().map(str::to_string))
        .filter(|p| !p.is_empty())
        .collect()
}

/// Messages that quote upstream's sub-schemas, prose included.
fn quotes_schema_prose(o: &Output) -> bool {
    o.stderr.contains("'description': ") || o.stdout.contains("'description': ")
}

fn ours(dir: &Path, file: &str, annotate: bool) -> Output {
    let args = args(dir, file, annotate);
    match std::fs::read(dir.join(file)) {
        Ok(bytes) => run_schema_on_bytes(&args, &bytes),
        // Missing files go through the path check, named as given.
        Err(_) => run_schema(&args),
    }
}

#[test]
fn corpus_matches_oracle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let corpus = root.join("corpus");
    let mut entries: Vec<_> = std::fs::read_dir(root.join("expected"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    entries.sort();
    assert!(entries.len() >= 300, "corpus too small: {}", entries.len());
    let mut failures = Vec::new();
    let mut compared = 0;
    let mut prose = 0;
    for path in &entries {
        let case: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let file = case["file"].as_str().unwrap();
        for (mode, annotate) in [("plain", false), ("annotate", true)] {
            let want = expected(&case[mode]).unwrap();
            // Upstream crashes (a traceback) where a problem has no YAML
            // mark; we annotate instead, so there is nothing to compare.
            if want.stderr.contains("Traceback") {
                continue;
            }
            compared += 1;
            let got = ours(&corpus, file, annotate);
            if KNOWN_DIFFERENCES.iter().any(|(f, _)| *f == file) {
                if got == want {
                    failures.push(format!(
                        "{file} [{mode}] now agrees: drop it from KNOWN_DIFFERENCES"
                    ));
                }
                continue;
            }
            if got == want {
                continue;
            }
            if quotes_schema_prose(&want) {
                prose += 1;
                let first = |o: &Output| o.stdout.lines().next().map(str::to_string);
                let agree = got.exit_code == want.exit_code
                    && (annotate || first(&got) == first(&want))
                    && our_error_paths(&corpus, file) == upstream_error_paths(&want.stderr);
                if !annotate && !agree {
                    failures.push(format!(
                        "{file} [{mode}] verdict or error paths differ\n want: {:?}\n  got: {:?}",
                        upstream_error_paths(&want.stderr),
                        our_error_paths(&corpus, file)
                    ));
                } else if annotate && got.exit_code != want.exit_code {
                    failures.push(format!("{file} [{mode}] exit code differs"));
                }
                continue;
            }
            failures.push(format!("{file} [{mode}]\n want: {want:?}\n  got: {got:?}"));
        }
    }
    eprintln!(
        "{compared} comparisons over {} files: {} compared by verdict and error paths only",
        entries.len(),
        prose
    );
    assert!(compared >= 300, "only {compared} comparisons");
    // Keeps the path-set fallback from quietly swallowing the corpus.
    assert!(
        prose * 10 < compared,
        "{prose} of {compared} compared by paths only"
    );
    assert!(
        failures.is_empty(),
        "{} of {compared} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

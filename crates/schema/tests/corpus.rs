//! Differential test: `cloud-init schema -c FILE [--annotate]` on every
//! corpus file must print exactly what upstream printed (tests/expected,
//! made by tests/regen-expected.py from the oracle).

use ci_schema::{run_schema, run_schema_on_bytes, Output, SchemaArgs};
use serde_json::Value;
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

fn ours(dir: &Path, file: &str, annotate: bool) -> Output {
    let args = SchemaArgs {
        config_file: file.to_string(),
        annotate,
        ..SchemaArgs::default()
    };
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
    assert!(entries.len() >= 150, "corpus too small: {}", entries.len());
    let mut failures = Vec::new();
    let mut compared = 0;
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
            if got != want {
                failures.push(format!("{file} [{mode}]\n want: {want:?}\n  got: {got:?}"));
            }
        }
    }
    assert!(compared >= 300, "only {compared} comparisons");
    assert!(
        failures.is_empty(),
        "{} of {compared} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

//! Differential test: every case under tests/merge_cases against the result
//! upstream's own mergers gave (expected.json, from tests/regen-merge.py).

// Test helpers outside #[test] fns: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ci_config::merge::{merge_many, merge_part, try_merge, MergeSpec};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

fn cases() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/merge_cases");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

/// Order-sensitive: upstream's key order is part of its output.
fn same(a: &Value, b: &Value) -> bool {
    serde_json::to_string(a).unwrap() == serde_json::to_string(b).unwrap()
}

fn check_spec(exp: &Value) -> Result<(), String> {
    let spec = MergeSpec::parse(exp["spec"].as_str().unwrap()).map_err(|e| e.to_string())?;
    let inputs = exp["inputs"].as_array().unwrap();
    let mut acc = inputs[0].clone();
    let error_at = exp.get("error_at").and_then(Value::as_u64);
    for (i, v) in inputs.iter().enumerate().skip(1) {
        match try_merge(&acc, v, &spec) {
            Ok(next) if error_at == Some(i as u64) => {
                return Err(format!("upstream raised at input {i}, we gave {next}"))
            }
            Ok(next) => acc = next,
            Err(e) if error_at == Some(i as u64) => {
                let _ = e;
                break;
            }
            Err(e) => return Err(format!("we failed at input {i}: {e}")),
        }
    }
    if !same(&acc, &exp["result"]) {
        return Err(format!("got {acc}\nwant {}", exp["result"]));
    }
    Ok(())
}

fn check_many(exp: &Value) -> Result<(), String> {
    let got = merge_many(exp["inputs"].as_array().unwrap());
    if !same(&got, &exp["result"]) {
        return Err(format!("got {got}\nwant {}", exp["result"]));
    }
    Ok(())
}

fn check_parts(exp: &Value) -> Result<(), String> {
    let mut buf = Value::Object(Map::new());
    let mut skipped = Vec::new();
    let mut value_errors = Vec::new();
    let headers = exp["headers"].as_array().unwrap();
    for (i, part) in exp["inputs"].as_array().unwrap().iter().enumerate() {
        let header = headers[i].as_str().filter(|h| !h.is_empty());
        match merge_part(&buf, part, header) {
            Ok(v) => buf = v,
            Err(e) => {
                skipped.push(Value::from(i));
                if e.value_error {
                    value_errors.push(Value::from(i));
                }
            }
        }
    }
    if !same(&buf, &exp["result"]) {
        return Err(format!("got {buf}\nwant {}", exp["result"]));
    }
    if Value::Array(skipped.clone()) != exp["skipped"] {
        return Err(format!("skipped {skipped:?}, want {}", exp["skipped"]));
    }
    if Value::Array(value_errors.clone()) != exp["value_errors"] {
        return Err(format!(
            "value errors {value_errors:?}, want {}",
            exp["value_errors"]
        ));
    }
    Ok(())
}

#[test]
fn merge_cases_match_upstream() {
    let cases = cases();
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for dir in &cases {
        let text = std::fs::read_to_string(dir.join("expected.json")).unwrap();
        let exp: Value = serde_json::from_str(&text).unwrap();
        let r = match exp["mode"].as_str().unwrap() {
            "spec" => check_spec(&exp),
            "many" => check_many(&exp),
            "parts" => check_parts(&exp),
            m => Err(format!("unknown mode {m}")),
        };
        if let Err(e) = r {
            failures.push(format!(
                "{}: {e}",
                dir.file_name().unwrap().to_string_lossy()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The inputs above are PyYAML's reading of the case files; our loader must
/// read them the same, so the YAML → merge path matches end to end.
#[test]
fn case_files_load_like_pyyaml() {
    let mut failures = Vec::new();
    for dir in cases() {
        let text = std::fs::read_to_string(dir.join("expected.json")).unwrap();
        let exp: Value = serde_json::from_str(&text).unwrap();
        let parts = exp["mode"] == "parts";
        let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .collect();
        names.sort();
        for (i, f) in names.iter().enumerate() {
            let got = ci_yaml::load(&std::fs::read_to_string(f).unwrap());
            let got = match got {
                Ok(v) if parts && !v.is_object() => Value::Null,
                Ok(v) => v,
                Err(e) => Value::String(format!("error: {e}")),
            };
            if !same(&got, &exp["inputs"][i]) {
                failures.push(format!("{}: {got} != {}", f.display(), exp["inputs"][i]));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

//! Differential test of the validator alone: every config in
//! tests/fixtures/validator.jsonl (mutations of the corpus, made by
//! tests/regen-validator-fixtures.py) must give upstream's errors and
//! deprecations, paths and messages included.

use serde_json::Value;

fn pairs(v: &Value) -> Vec<(String, String)> {
    let text = |x: &Value| x.as_str().unwrap_or_default().to_string();
    v.as_array()
        .into_iter()
        .flatten()
        .map(|p| (text(&p[0]), text(&p[1])))
        .collect()
}

/// jsonschema's `oneOf` message quotes the sub-schemas; upstream's carry
/// documentation prose that our schema leaves out, so such messages are
/// compared by path only.
fn masked(v: &[(String, String)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = v
        .iter()
        .map(|(p, m)| {
            if m.contains("is valid under each of {") {
                (p.clone(), "<quotes sub-schemas>".to_string())
            } else {
                (p.clone(), m.clone())
            }
        })
        .collect();
    out.sort();
    out
}

#[test]
fn validator_matches_upstream() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/validator.jsonl"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let mut failures = Vec::new();
    let mut invalid = 0;
    let mut total = 0;
    for line in text.lines() {
        let case: Value = serde_json::from_str(line).unwrap();
        let want_errors = pairs(&case["errors"]);
        let want_deps = pairs(&case["deprecations"]);
        let got = ci_schema::validate_cloud_config(&case["config"]);
        let got_errors: Vec<_> = got
            .errors
            .into_iter()
            .map(|p| (p.path, p.message))
            .collect();
        let got_deps: Vec<_> = got
            .deprecations
            .into_iter()
            .map(|p| (p.path, p.message))
            .collect();
        total += 1;
        invalid += usize::from(!want_errors.is_empty());
        let prose = want_errors
            .iter()
            .any(|(_, m)| m.contains("'description': "));
        let differ = if prose {
            masked(&got_errors) != masked(&want_errors) || got_deps != want_deps
        } else {
            got_errors != want_errors || got_deps != want_deps
        };
        if differ {
            failures.push(format!(
                "{}\n want {want_errors:?} {want_deps:?}\n  got {got_errors:?} {got_deps:?}",
                case["config"]
            ));
        }
    }
    assert!(
        total >= 1000 && invalid >= 500,
        "fixture too weak: {total} cases, {invalid} invalid"
    );
    assert!(
        failures.is_empty(),
        "{} of {total} differ:\n{}",
        failures.len(),
        failures
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

//! `/etc/network/interfaces` → v1 as upstream's `eni.convert_eni_data`
//! converts it (tests/eni_parse, from tests/regen-eni-parse.py with the
//! oracle): same devices, subnets and key order; refused where upstream
//! raises.

use ci_net::eni_parse::{convert_eni_data, EniParseError};
use serde_json::Value;
use std::fs;
use std::path::Path;

#[test]
fn interfaces_files_convert_as_upstream() -> Result<(), Box<dyn std::error::Error>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/eni_parse");
    let expected: Value = serde_json::from_str(&fs::read_to_string(dir.join("expected.json"))?)?;
    let expected = expected.as_object().ok_or("expected.json: not a mapping")?;
    assert!(expected.len() >= 10, "too few cases");
    // An empty root: `source` lines name nothing there.
    let root = tempfile::tempdir()?;
    let host = ci_host::Host::new(root.path());
    let mut failures = Vec::new();
    for (case, want) in expected {
        let text = fs::read_to_string(dir.join("cases").join(format!("{case}.eni")))?;
        let got = convert_eni_data(&host, &text);
        match (
            want.get("config"),
            want.get("error").and_then(Value::as_str),
            got,
        ) {
            (Some(cfg), _, Ok(v1)) => {
                // Compared as text: key order is part of what renderers print.
                let (w, g) = (serde_json::to_string(cfg)?, serde_json::to_string(&v1)?);
                if w != g {
                    failures.push(format!("{case}:\n want {w}\n got  {g}"));
                }
            }
            (None, Some(err), Err(e)) => {
                let redefined = matches!(e, EniParseError::Redefined { .. });
                if err.starts_with("ParserError: ") != redefined
                    || (redefined && err != format!("ParserError: {e}"))
                {
                    failures.push(format!("{case}: upstream {err}, we said {e}"));
                }
            }
            (_, _, got) => failures.push(format!("{case}: upstream {want}, we gave {got:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    Ok(())
}

//! Differential test: every case in netjson/cases/ converted by ours and
//! compared with what upstream's `convert_net_json` produced
//! (netjson/expected.json, made by regen-netjson.py in the oracle).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ci_net::netjson::{convert_net_json, StaticMacs};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

fn map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn matches_upstream() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/netjson");
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let expected = expected.as_object().unwrap();
    let mut seen = 0;
    let mut failures = Vec::new();
    for entry in std::fs::read_dir(dir.join("cases")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let case: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let macs = StaticMacs {
            macs: map(case.get("known_macs")),
            ib: map(case.get("ib_hwaddrs")),
        };
        let want = expected
            .get(&name)
            .unwrap_or_else(|| panic!("{name}: not in expected.json (run regen-netjson.py)"));
        let got = convert_net_json(&case["network_json"], &macs);
        seen += 1;
        match (got, want.get("error")) {
            (Ok(cfg), None) => {
                let cfg = cfg.unwrap_or(Value::Null);
                if cfg != want["config"] {
                    failures.push(format!(
                        "{name}:\n ours  {cfg}\n upstream {}",
                        want["config"]
                    ));
                }
            }
            (Err(e), Some(msg)) => {
                let msg = msg.as_str().unwrap();
                // Upstream prefixes the exception type; the message itself
                // must match, except for KeyError whose message is just the
                // key, which ours must name.
                let ok = match msg.strip_prefix("KeyError: ") {
                    Some(key) => e.to_string().contains(key),
                    None => msg.ends_with(&e.to_string()),
                };
                if !ok {
                    failures.push(format!("{name}: error '{e}' vs upstream '{msg}'"));
                }
            }
            (Ok(cfg), Some(msg)) => failures.push(format!("{name}: ours {cfg:?}, upstream {msg}")),
            (Err(e), None) => failures.push(format!("{name}: ours failed ({e}), upstream {want}")),
        }
    }
    assert!(seen >= 12, "only {seen} cases");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

//! The cloud.cfg each non-Debian package ships must say what upstream
//! 25.1.4's `config/cloud.cfg.tmpl` renders for that family: the same modules
//! in the same stages and order, the same `system_info` (default user and its
//! groups, sudo or doas, shell, renderers, package mirrors, paths, ssh service
//! name). Comments and layout are ours. The expected documents are the
//! oracle's renderings, `fixtures/cloud-cfg/<variant>.json`, written by
//! `regen-cloud-cfg.sh`.
//!
//! Debian's package is not in the table: it ships Debian's own cloud.cfg
//! (Debian patches the template), which `crates/detect/tests/dist.rs` checks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use std::path::{Path, PathBuf};

/// (variant upstream renders, the file a package of ours installs as cloud.cfg)
const SHIPPED: &[(&str, &str)] = &[
    ("rhel", "dist/rpm/cloud.cfg.rhel"),
    ("fedora", "dist/rpm/cloud.cfg.fedora"),
    ("alpine", "dist/alpine/cloud.cfg"),
    ("freebsd", "dist/freebsd/cloud.cfg"),
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every difference between two documents, one line each, with its key path.
fn differences(want: &Value, got: &Value, path: &str, out: &mut Vec<String>) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, wv) in w {
                match g.get(k) {
                    Some(gv) => differences(wv, gv, &format!("{path}/{k}"), out),
                    None => out.push(format!("{path}/{k}: missing (upstream: {wv})")),
                }
            }
            for k in g.keys().filter(|k| !w.contains_key(*k)) {
                out.push(format!("{path}/{k}: not in upstream's"));
            }
        }
        _ if want != got => out.push(format!("{path}: upstream {want}, ours {got}")),
        _ => {}
    }
}

#[test]
fn each_package_ships_the_cloud_cfg_upstream_renders_for_its_family() {
    let mut failures = Vec::new();
    for (variant, ours) in SHIPPED {
        let fixture = repo()
            .join("crates/distro/tests/fixtures/cloud-cfg")
            .join(format!("{variant}.json"));
        let want: Value =
            serde_json::from_str(&std::fs::read_to_string(&fixture).unwrap()).unwrap();
        let text =
            std::fs::read_to_string(repo().join(ours)).unwrap_or_else(|e| panic!("{ours}: {e}"));
        let got = ci_yaml::load(&text).unwrap_or_else(|e| panic!("{ours}: {e}"));
        let mut diffs = Vec::new();
        differences(&want, &got, "", &mut diffs);
        if !diffs.is_empty() {
            failures.push(format!("{ours} ({variant}):\n  {}", diffs.join("\n  ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_comparison_sees_a_changed_value_a_missing_key_and_an_extra_one() {
    let want = serde_json::json!({"a": {"b": [1, 2], "c": "x"}});
    let got = serde_json::json!({"a": {"b": [2, 1], "d": true}});
    let mut out = Vec::new();
    differences(&want, &got, "", &mut out);
    assert_eq!(out.len(), 3, "{out:?}");
    assert!(out[0].starts_with("/a/b: upstream [1,2]"), "{out:?}");
    assert!(out[1].starts_with("/a/c: missing"), "{out:?}");
    assert_eq!(out[2], "/a/d: not in upstream's");
}

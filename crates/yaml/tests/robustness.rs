//! Loading never panics on damaged input, and dump output reads back to
//! the same value.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ci_yaml::{dump, dumps, load, load_all, Value};
use std::fs;
use std::path::Path;

fn corpus_texts() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let n = p.file_name().unwrap().to_string_lossy().to_string();
        if n.ends_with(".yaml") && !n.ends_with(".dump.yaml") && !n.ends_with(".dumps.yaml") {
            out.push((n, fs::read_to_string(&p).unwrap()));
        }
    }
    out.sort();
    out
}

#[test]
fn prefixes_and_mutations_do_not_panic() {
    for (_, text) in corpus_texts() {
        let cuts: Vec<usize> = text.char_indices().map(|(i, _)| i).step_by(5).collect();
        for &i in &cuts {
            let prefix = &text[..i];
            let _ = load(prefix);
            let _ = load_all(prefix);
            for ins in [
                "\t", ":", "- ", "\"", "'", "[", "{", "&a ", "*a", "!!", "|", "\n  ", "#",
            ] {
                let mutated = format!("{}{}{}", prefix, ins, &text[i..]);
                let _ = load(&mutated);
            }
        }
    }
}

#[test]
fn dump_reads_back() {
    for (name, text) in corpus_texts() {
        let Ok(v) = load(&text) else { continue };
        for out in [dump(&v), dumps(&v)] {
            let back =
                load(&out).unwrap_or_else(|e| panic!("{name}: dump does not load: {e}\n{out}"));
            assert_eq!(back, v, "{name}: round trip changed the value\n{out}");
        }
    }
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let deep = format!("{}1{}", "[".repeat(5000), "]".repeat(5000));
    assert!(load(&deep).is_err());
    let ok = format!("{}1{}", "[".repeat(100), "]".repeat(100));
    let mut v = load(&ok).unwrap();
    for _ in 0..100 {
        v = v.as_array().unwrap()[0].clone();
    }
    assert_eq!(v, Value::from(1));
}

#[test]
fn alias_bombs_are_bounded() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..9 {
        let prev = i - 1;
        text.push_str(&format!("a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"));
    }
    let e = load(&text).unwrap_err();
    assert!(e.message.contains("too many values"), "{e}");
    assert!(e.message.contains("YAML alias expansion bound"), "{e}");
}

/// Every alias-expansion refusal names the bound, and comes quickly (the
/// wall-clock limit is a generous guard against a hang, not a benchmark).
fn assert_bounded(text: &str) {
    let start = std::time::Instant::now();
    for r in [load(text).err(), ci_yaml::load_with_marks(text).err()] {
        let e = r.expect("an expansion bomb must be refused");
        assert!(e.message.contains("YAML alias expansion bound"), "{e}");
        assert!(e.mark().is_some(), "reported as invalid YAML at a place");
    }
    assert!(start.elapsed() < std::time::Duration::from_secs(20));
}

fn aliases(name: &str, n: usize) -> String {
    vec![format!("*{name}"); n].join(", ")
}

#[test]
fn alias_string_bomb_is_bounded() {
    // 100 KB of text, repeated 100 000 times through two levels of lists.
    let text = format!(
        "a: &a \"{}\"\nb: &b [{}]\nc: &c [{}]\n",
        "x".repeat(100_000),
        aliases("a", 1000),
        aliases("b", 100)
    );
    assert_bounded(&text);
    // Below the bound the same shape loads, sharing nothing.
    let small = format!(
        "a: &a \"{}\"\nb: [{}]\n",
        "x".repeat(100_000),
        aliases("a", 100)
    );
    let v = load(&small).unwrap();
    assert_eq!(v["b"].as_array().unwrap().len(), 100);
    assert_eq!(v["b"][99].as_str().unwrap().len(), 100_000);
}

#[test]
fn alias_key_bomb_is_bounded() {
    // Long keys repeat in values and in mark paths.
    let text = format!(
        "a: &a {{{}: 1}}\nb: &b [{}]\nc: &c [{}]\n",
        "k".repeat(50_000),
        aliases("a", 1000),
        aliases("b", 100)
    );
    assert_bounded(&text);
}

#[test]
fn merge_bomb_is_bounded() {
    let mut text = String::from("a0: &a0 {x: 1, y: 2}\n");
    for i in 1..9 {
        text.push_str(&format!(
            "a{i}: &a{i} {{<<: [{}]}}\n",
            aliases(&format!("a{}", i - 1), 10)
        ));
    }
    assert_bounded(&text);
    // A few levels of merges load as usual.
    let v = load("a: &a {x: 1}\nb: &b {<<: [*a, *a], y: 2}\nc: {<<: [*b, *b]}\n").unwrap();
    assert_eq!(v["c"], serde_json::json!({"x": 1, "y": 2}));
}

#[test]
fn nested_list_bomb_is_bounded() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..9 {
        text.push_str(&format!(
            "a{i}: &a{i} [{}]\n",
            aliases(&format!("a{}", i - 1), 10)
        ));
    }
    assert_bounded(&text);
}

/// Repairs are linear: 20 000 under-indented continuation lines (each a
/// repair) load, well within a guard meant only to catch a quadratic
/// regression.
#[test]
fn many_repairs_load() {
    let n = 20_000;
    let body: String = (0..n).map(|i| format!("  k{i}: \"a\nb\"\n")).collect();
    let start = std::time::Instant::now();
    let v = load(&format!("top:\n{body}")).unwrap();
    assert_eq!(v["top"].as_object().unwrap().len(), n);
    assert_eq!(v["top"]["k19999"], "a b");
    assert!(start.elapsed() < std::time::Duration::from_secs(20));
}

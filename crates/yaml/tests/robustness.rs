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
}

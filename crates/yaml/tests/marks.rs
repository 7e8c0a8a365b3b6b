//! Positions reported by `load_with_marks` (1-based, PyYAML's start marks).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ci_yaml::{load_with_marks, YamlError};

fn marks(text: &str) -> Vec<(String, (usize, usize))> {
    let (_, m) = load_with_marks(text).unwrap();
    m.into_iter().collect()
}

#[test]
fn keys_and_items() {
    let text = "#cloud-config\nusers:\n  - default\n  - name: bob\n    groups: [adm, sudo]\nruncmd:\n- ls\n- [echo, hi]\n";
    let m = marks(text);
    let want: Vec<(String, (usize, usize))> = [
        ("runcmd", (6, 1)),
        ("runcmd.0", (7, 3)),
        ("runcmd.1", (8, 3)),
        ("runcmd.1.0", (8, 4)),
        ("runcmd.1.1", (8, 10)),
        ("users", (2, 1)),
        ("users.0", (3, 5)),
        ("users.1", (4, 5)),
        ("users.1.groups", (5, 5)),
        ("users.1.groups.0", (5, 14)),
        ("users.1.groups.1", (5, 19)),
        ("users.1.name", (4, 5)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(m, want);
}

#[test]
fn block_scalar_items_start_at_indicator() {
    let m = marks("write_files:\n  - content: |\n      hello\n    path: /x\n  - >-\n    folded\n");
    assert!(m.contains(&("write_files.0.content".into(), (2, 5))));
    assert!(m.contains(&("write_files.1".into(), (5, 5))));
}

#[test]
fn converted_keys_and_merges() {
    let (v, m) = load_with_marks("on: 1\nbase: &b {x: 1}\nc:\n  <<: *b\n  y: 2\n").unwrap();
    assert_eq!(v["true"], 1);
    assert_eq!(m.get("true"), Some(&(1, 1)));
    // A merged key is marked where it is written (inside the anchor).
    assert_eq!(m.get("c.x"), Some(&(2, 11)));
    assert_eq!(m.get("c.y"), Some(&(5, 3)));
    assert!(!m.contains_key("c.<<"));
}

#[test]
fn scalar_document_has_no_marks() {
    let (v, m) = load_with_marks("just text\n").unwrap();
    assert_eq!(v, "just text");
    assert!(m.is_empty());
}

#[test]
fn error_positions_are_one_based() {
    let e: YamlError = load_with_marks("a: 1\nb: c: d\n").unwrap_err();
    assert_eq!((e.line, e.column), (2, 5));
    assert_eq!(e.message, "mapping values are not allowed here");
    assert_eq!(
        e.to_string(),
        "mapping values are not allowed here (line 2, column 5)"
    );
}

#[test]
fn error_text_like_pyyaml() {
    let text = "a: 1\nb\nc: 2\n";
    let e = ci_yaml::load(text).unwrap_err();
    assert_eq!(e.reported_mark(), (2, 1));
    assert_eq!(
        e.pyyaml_text(text),
        "while scanning a simple key\n  in \"<unicode string>\", line 2, column 1:\n    b\n    ^\n\
         could not find expected ':'\n  in \"<unicode string>\", line 3, column 1:\n    c: 2\n    ^"
    );
}

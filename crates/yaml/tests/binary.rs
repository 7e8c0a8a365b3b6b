//! `!!binary` loads to bytes (`ci_yaml::binary`), as PyYAML's SafeLoader
//! loads it to `bytes`, and dumps back as `!!binary`. The PyYAML-generated
//! corpus (`binary*.yaml`, `err_binary_*.yaml`) checks the same against
//! the oracle; these name the cases.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ci_yaml::{binary, dump, load};

#[test]
fn utf8_and_other_bytes_load_as_bytes() {
    let v = load("text: !!binary aGVsbG8=\nelf: !!binary f0VMRgIBAQA=\n").unwrap();
    assert_eq!(binary::decode(&v["text"]).unwrap(), b"hello");
    assert_eq!(
        binary::decode(&v["elf"]).unwrap(),
        b"\x7fELF\x02\x01\x01\x00"
    );
    // Bytes are never mistaken for text, even when they are UTF-8.
    assert_ne!(v["text"], "hello");
    assert_eq!(binary::py_repr(&v["elf"]), r"b'\x7fELF\x02\x01\x01\x00'");
}

#[test]
fn flow_block_and_quoted_scalars() {
    let v = load(
        "flow: [!!binary aGk=, !!binary \"/wA=\", !!binary '']\n\
         literal: !!binary |\n  aGVs\n  bG8=\n\
         folded: !!binary >\n  aGVs\n  bG8=\n",
    )
    .unwrap();
    let got: Vec<Vec<u8>> = v["flow"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| binary::decode(x).unwrap())
        .collect();
    assert_eq!(got, [b"hi".to_vec(), vec![0xff, 0], Vec::new()]);
    assert_eq!(binary::decode(&v["literal"]).unwrap(), b"hello");
    assert_eq!(binary::decode(&v["folded"]).unwrap(), b"hello");
}

#[test]
fn dump_writes_binary_back_and_reloads_the_same() {
    let v = load("a: !!binary /w==\nb: [!!binary '']\n").unwrap();
    // yaml.safe_dump({'a': b'\xff', 'b': [b'']}, default_flow_style=False)
    assert_eq!(dump(&v), "a: !!binary |\n  /w==\nb:\n- !!binary \"\"\n");
    assert_eq!(load(&dump(&v)).unwrap(), v);
}

#[test]
fn bad_base64_is_an_error_like_pyyaml() {
    for (doc, line, col, problem) in [
        (
            "a: !!binary aGVsbG8\n",
            1,
            4,
            "failed to decode base64 data: Incorrect padding",
        ),
        (
            "a: !!binary aGVsb\n",
            1,
            4,
            "failed to decode base64 data: Invalid base64-encoded string: number of data \
             characters (5) cannot be 1 more than a multiple of 4",
        ),
        (
            "x: 1\na: !!binary \"\u{e9}\"\n",
            2,
            4,
            "failed to convert base64 data into ascii: 'ascii' codec can't encode character \
             '\\xe9' in position 0: ordinal not in range(128)",
        ),
    ] {
        let e = load(doc).unwrap_err();
        assert_eq!((e.line, e.column), (line, col), "{doc:?}");
        assert_eq!(e.message, problem, "{doc:?}");
    }
}

//! Bytes inside JSON values.
//!
//! PyYAML loads `!!binary` as Python `bytes`, and upstream hands those bytes
//! on as they are (`write_files` writes them, `str()` shows them as
//! `b'...'`, `json.dumps` turns them into `"ci-b64:<base64>"`, `safe_dump`
//! writes them back as `!!binary`). Values here are `serde_json::Value`,
//! which has no bytes, so bytes travel as a string: [`MARKER`] followed by
//! the canonical base64 of the bytes.
//!
//! The marker starts with U+FDD0, a Unicode noncharacter meant for a
//! program's internal use, so ordinary text does not hold it; and only a
//! marker followed by canonical base64 counts, so a stray U+FDD0 stays
//! text. Consumers never look at the marker themselves: they ask
//! [`decode`] / [`is_binary`] / [`text`], and show values to users with
//! [`py_str`] / [`py_repr`] / [`py_type`], which know bytes.
//!
//! This lives here rather than in the YAML loader because every Python
//! view of a value (`str()`, `repr()`, `type()`, `bool()`) must know
//! bytes, and the loader already builds on this crate (`ci_yaml::binary`
//! re-exports it).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::Value;

pub use crate::value::{py_repr, py_str, py_type};

/// What starts a string holding bytes.
pub const MARKER: &str = "\u{FDD0}ci-binary:";

/// `bytes` as a value.
pub fn encode(bytes: &[u8]) -> Value {
    Value::String(encode_str(bytes))
}

/// `bytes` as the marker string.
pub fn encode_str(bytes: &[u8]) -> String {
    format!("{MARKER}{}", STANDARD.encode(bytes))
}

/// The bytes a value holds, if it holds bytes.
pub fn decode(v: &Value) -> Option<Vec<u8>> {
    v.as_str().and_then(decode_str)
}

/// The bytes a string holds, if it is a marker string.
pub fn decode_str(s: &str) -> Option<Vec<u8>> {
    s.strip_prefix(MARKER).and_then(decode_canonical)
}

/// Whether a value holds bytes.
pub fn is_binary(v: &Value) -> bool {
    v.as_str().is_some_and(is_binary_str)
}

/// Whether a string is a marker string.
pub fn is_binary_str(s: &str) -> bool {
    decode_str(s).is_some()
}

/// The text a value holds: `Some` for a string that is not bytes. Use it
/// where upstream tests `isinstance(v, str)`, so bytes never pass as text.
pub fn text(v: &Value) -> Option<&str> {
    v.as_str().filter(|s| !is_binary_str(s))
}

/// The canonical base64 of the bytes a marker string holds (what
/// upstream's JSON writer puts after `ci-b64:`).
pub fn base64_of(s: &str) -> Option<&str> {
    s.strip_prefix(MARKER)
        .filter(|p| decode_canonical(p).is_some())
}

/// Only the one spelling [`encode_str`] writes counts, so a marker string
/// has exactly one form and anything else (missing padding, non-zero pad
/// bits, whitespace) stays text.
fn decode_canonical(b64: &str) -> Option<Vec<u8>> {
    let bytes = STANDARD.decode(b64).ok()?;
    (STANDARD.encode(&bytes) == b64).then_some(bytes)
}

/// The value with every bytes value (at any depth) replaced by what
/// upstream's `json.dumps(..., default=json_serialize_default)` writes for
/// it, `"ci-b64:<base64>"`: the value as it reads back from such a file.
pub fn to_ci_b64(v: &Value) -> Value {
    match v {
        Value::String(s) => match base64_of(s) {
            Some(b64) => Value::String(format!("ci-b64:{b64}")),
            None => v.clone(),
        },
        Value::Array(a) => Value::Array(a.iter().map(to_ci_b64).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, val)| (k.clone(), to_ci_b64(val)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Python's `repr(bytes)` (also what `str(bytes)` gives): `b'...'`, or
/// `b"..."` when the bytes hold a single quote and no double quote;
/// printable ASCII as is, `\t`, `\n`, `\r`, `\\` and the quote escaped,
/// other bytes as `\xNN`.
pub fn bytes_repr(b: &[u8]) -> String {
    let q = if b.contains(&b'\'') && !b.contains(&b'"') {
        b'"'
    } else {
        b'\''
    };
    let mut s = String::with_capacity(b.len() + 3);
    s.push('b');
    s.push(char::from(q));
    for &c in b {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            c if c == q => {
                s.push('\\');
                s.push(char::from(c));
            }
            0x20..=0x7e => s.push(char::from(c)),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push(char::from(q));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trip_utf8_and_not() {
        for b in [&b""[..], b"hello", b"\x7fELF\x02\x01\x01\x00", &[0xff; 7]] {
            let v = encode(b);
            assert!(is_binary(&v));
            assert_eq!(decode(&v).as_deref(), Some(b));
        }
        assert_eq!(
            encode(b"hi"),
            Value::String("\u{FDD0}ci-binary:aGk=".into())
        );
        // The empty bytes value is the marker alone.
        assert_eq!(encode_str(b""), MARKER);
    }

    #[test]
    fn ordinary_text_is_not_bytes() {
        for s in [
            "",
            "aGk=",
            "ci-binary:aGk=",
            "\u{FDD0}",
            // Not canonical base64: missing padding, non-zero pad bits,
            // characters outside the alphabet, whitespace, inner padding.
            "\u{FDD0}ci-binary:aGk",
            "\u{FDD0}ci-binary:aGl=",
            "\u{FDD0}ci-binary:a Gk=",
            "\u{FDD0}ci-binary:aGk=\n",
            "\u{FDD0}ci-binary:aG==aGk=",
            "\u{FDD0}ci-binary:aGk-",
            "\u{FDD0}ci-binary:aG=sbG8=",
            "\u{FDD0}ci-binary:aGVsbG8===",
            "\u{FDD0}ci-binary:aGVs\nbG8=",
        ] {
            assert!(!is_binary_str(s), "{s:?}");
            assert_eq!(decode_str(s), None, "{s:?}");
            assert_eq!(base64_of(s), None, "{s:?}");
            assert_eq!(text(&json!(s)), Some(s));
        }
        assert_eq!(decode_str(MARKER).as_deref(), Some(&b""[..]));
        assert!(!is_binary(&json!(1)));
        assert_eq!(text(&encode(b"hi")), None);
        assert_eq!(text(&json!(1)), None);
        assert_eq!(base64_of(&encode_str(b"hi")), Some("aGk="));
    }

    #[test]
    fn ci_b64_at_any_depth() {
        let v = json!({"a": encode(b"hello"), "b": [encode(&[0xff])], "c": "text", "d": 1});
        assert_eq!(
            to_ci_b64(&v),
            json!({"a": "ci-b64:aGVsbG8=", "b": ["ci-b64:/w=="], "c": "text", "d": 1})
        );
    }

    // Expected values printed by the oracle's Python 3.11, e.g.
    // `repr(b"a'b\n\x00\xff\\")` → `b"a'b\n\x00\xff\\"`.
    #[test]
    fn bytes_repr_like_python() {
        assert_eq!(bytes_repr(b"a'b\n\x00\xff\\"), "b\"a'b\\n\\x00\\xff\\\\\"");
        assert_eq!(bytes_repr(b"it's"), "b\"it's\"");
        assert_eq!(bytes_repr(b"q'\""), "b'q\\'\"'");
        assert_eq!(bytes_repr(b"\t\r\x7f\x1b~ "), "b'\\t\\r\\x7f\\x1b~ '");
        assert_eq!(bytes_repr(b"\xc3\xa9"), "b'\\xc3\\xa9'");
        assert_eq!(bytes_repr(b""), "b''");
    }
}

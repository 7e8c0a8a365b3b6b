//! JSON text exactly as Python's `json.dumps` writes it, so files written by
//! us compare byte-for-byte with upstream's and tools that diff them (or
//! grep them) keep working: `ensure_ascii` escaping, float `repr`, empty
//! containers inline, optional indent and key sorting. Bytes (YAML
//! `!!binary`, carried as `crate::binary` strings) come out as
//! `"ci-b64:<base64>"`, what upstream's `json_serialize_default` writes.

use serde_json::{Map, Number, Value};

/// How to lay the text out; mirrors `json.dumps` keyword arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub indent: Option<usize>,
    pub sort_keys: bool,
    pub item_sep: &'static str,
    pub key_sep: &'static str,
}

/// `atomic_helper.json_dumps`: indent 1, sorted keys, `,` / `: `. Used for
/// status.json, result.json, instance-data and combined-cloud-config.
pub const ATOMIC: Style = Style {
    indent: Some(1),
    sort_keys: true,
    item_sep: ",",
    key_sep: ": ",
};

/// `cloud-init status --format json`: indent 2, sorted keys.
pub const STATUS: Style = Style {
    indent: Some(2),
    sort_keys: true,
    item_sep: ",",
    key_sep: ": ",
};

/// `json.dumps(v)` with default arguments (one line, `, ` and `: `).
pub const COMPACT: Style = Style {
    indent: None,
    sort_keys: false,
    item_sep: ", ",
    key_sep: ": ",
};

/// `atomic_helper.json_dumps(v)`.
pub fn json_dumps(v: &Value) -> String {
    dumps(v, &ATOMIC)
}

pub fn dumps(v: &Value, style: &Style) -> String {
    let mut out = String::new();
    write_value(&mut out, v, style, 0);
    out
}

fn newline(out: &mut String, style: &Style, level: usize) {
    if let Some(n) = style.indent {
        out.push('\n');
        out.extend(std::iter::repeat_n(' ', n * level));
    }
}

fn write_value(out: &mut String, v: &Value, style: &Style, level: usize) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => out.push_str(&number(n)),
        Value::String(s) => match crate::binary::base64_of(s) {
            Some(b64) => write_str(out, &format!("ci-b64:{b64}")),
            None => write_str(out, s),
        },
        Value::Array(a) => {
            if a.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, item) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(style.item_sep);
                }
                newline(out, style, level + 1);
                write_value(out, item, style, level + 1);
            }
            newline(out, style, level);
            out.push(']');
        }
        Value::Object(m) => write_object(out, m, style, level),
    }
}

fn write_object(out: &mut String, m: &Map<String, Value>, style: &Style, level: usize) {
    if m.is_empty() {
        out.push_str("{}");
        return;
    }
    let mut entries: Vec<(&String, &Value)> = m.iter().collect();
    if style.sort_keys {
        // Python sorts str keys by code point, which is UTF-8 byte order.
        entries.sort_by(|a, b| a.0.cmp(b.0));
    }
    out.push('{');
    for (i, (k, val)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push_str(style.item_sep);
        }
        newline(out, style, level + 1);
        write_str(out, k);
        out.push_str(style.key_sep);
        write_value(out, val, style, level + 1);
    }
    newline(out, style, level);
    out.push('}');
}

fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
}

fn number(n: &Number) -> String {
    if n.is_f64() {
        n.as_f64().map(float_repr).unwrap_or_else(|| n.to_string())
    } else {
        n.to_string()
    }
}

/// A float as `json.dumps` writes it: `float.__repr__`, except that the
/// non-finite values get JavaScript's names.
pub fn float_repr(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    crate::float_repr(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn floats_like_python_repr() {
        for (x, want) in [
            (12.3, "12.3"),
            (12.0, "12.0"),
            (0.0, "0.0"),
            (-0.5, "-0.5"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (123456789012345.6, "123456789012345.6"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1717236001.1234567, "1717236001.1234567"),
        ] {
            assert_eq!(float_repr(x), want, "{x}");
        }
    }

    #[test]
    fn bytes_as_ci_b64() {
        let v =
            json!({"a": crate::binary::encode(b"hello"), "b": [crate::binary::encode(&[0xff])]});
        // What upstream's atomic_helper.json_dumps writes for b'hello' / [b'\xff'].
        assert_eq!(
            json_dumps(&v),
            "{\n \"a\": \"ci-b64:aGVsbG8=\",\n \"b\": [\n  \"ci-b64:/w==\"\n ]\n}"
        );
        // Text that only looks like the marker stays text.
        let odd = "\u{FDD0}ci-binary:aGk";
        assert_eq!(dumps(&json!(odd), &COMPACT), "\"\\ufdd0ci-binary:aGk\"");
    }

    #[test]
    fn layout_like_json_dumps() {
        let v = json!({"b": [1, 2.5, {}], "a": {"x": null, "é": "ü\u{1F600}\n"}, "c": []});
        assert_eq!(
            json_dumps(&v),
            "{\n \"a\": {\n  \"x\": null,\n  \"\\u00e9\": \"\\u00fc\\ud83d\\ude00\\n\"\n },\n \"b\": [\n  1,\n  2.5,\n  {}\n ],\n \"c\": []\n}"
        );
        assert_eq!(
            dumps(&json!({"b": 1, "a": [true]}), &COMPACT),
            "{\"b\": 1, \"a\": [true]}"
        );
    }
}

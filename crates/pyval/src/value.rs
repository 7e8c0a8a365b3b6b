//! `type()`, `bool()`, `str()` and `repr()` of loaded values as Python
//! computes them, because upstream puts them into messages, headers and
//! files users compare against. Strings holding bytes (see
//! [`crate::binary`]) are Python `bytes` here, so the marker they travel
//! as never reaches a message or a file.

use crate::binary::{bytes_repr, decode_str, MARKER};
use serde_json::Value;

/// `type(value).__name__` (`str`, `int`, `NoneType`, ...), as upstream's
/// messages name types.
pub fn py_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(s) if decode_str(s).is_some() => "bytes",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// `bool(value)`: upstream tests most keys for "set" this way.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        // The marker alone is `b''`.
        Value::String(s) => !s.is_empty() && s != MARKER,
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

/// `str(value)`: text as is, everything else (bytes too) as its repr.
pub fn py_str(v: &Value) -> String {
    match v {
        Value::String(s) if decode_str(s).is_none() => s.clone(),
        other => py_repr(other),
    }
}

/// `repr(value)`.
pub fn py_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => float_repr(f),
            _ => n.to_string(),
        },
        Value::String(s) => match decode_str(s) {
            Some(b) => bytes_repr(&b),
            None => py_quote(s),
        },
        Value::Array(a) => format!("[{}]", a.iter().map(py_repr).collect::<Vec<_>>().join(", ")),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{}: {}", py_quote(k), py_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// `repr(list_of_str)`: `['a', 'b']`.
pub fn py_list<S: AsRef<str>>(items: &[S]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| py_quote(s.as_ref())).collect();
    format!("[{}]", quoted.join(", "))
}

/// `repr(str)`: single quotes unless the text holds a single quote and no
/// double quote; backslash escapes for the quote, `\\`, `\n`, `\r`, `\t`
/// and the other ASCII control characters.
pub fn py_quote(s: &str) -> String {
    let q = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(q);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == q => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(q);
    out
}

/// `repr(float)`: the shortest digits that round-trip, positional when
/// the decimal exponent is in [-4, 16), else `d.ddde+XX`.
pub fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.into();
    }
    // Rust's `{:e}` already gives the shortest round-trip digits.
    let sci = format!("{:e}", f.abs());
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    let sign = if f.is_sign_negative() { "-" } else { "" };
    let body = if (0..16).contains(&exp) {
        let int_len = exp.unsigned_abs() as usize + 1;
        match (digits.get(..int_len), digits.get(int_len..)) {
            (Some(int), Some(frac)) if !frac.is_empty() => format!("{int}.{frac}"),
            _ => format!(
                "{digits}{}.0",
                "0".repeat(int_len.saturating_sub(digits.len()))
            ),
        }
    } else if (-4..0).contains(&exp) {
        format!("0.{}{digits}", "0".repeat(exp.unsigned_abs() as usize - 1))
    } else {
        let m = match (digits.get(..1), digits.get(1..)) {
            (Some(first), Some(rest)) if !rest.is_empty() => format!("{first}.{rest}"),
            _ => digits.clone(),
        };
        format!("{m}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn type_names_and_truthiness() {
        let cases = [
            (json!(null), "NoneType", false),
            (json!(true), "bool", true),
            (json!(false), "bool", false),
            (json!(0), "int", false),
            (json!(-3), "int", true),
            (json!(0.0), "float", false),
            (json!(0.5), "float", true),
            (json!(""), "str", false),
            (json!("x"), "str", true),
            (json!([]), "list", false),
            (json!([0]), "list", true),
            (json!({}), "dict", false),
            (json!({"a": null}), "dict", true),
        ];
        for (v, name, t) in cases {
            assert_eq!(py_type(&v), name, "{v}");
            assert_eq!(truthy(&v), t, "{v}");
        }
    }

    // Expected values printed by the oracle's Python 3.11.
    #[test]
    fn str_and_repr_like_python() {
        assert_eq!(py_str(&json!(true)), "True");
        assert_eq!(py_str(&json!(null)), "None");
        assert_eq!(py_str(&json!(1.0)), "1.0");
        assert_eq!(py_str(&json!(2.0)), "2.0");
        assert_eq!(py_str(&json!(420)), "420");
        assert_eq!(py_str(&json!(u64::MAX)), "18446744073709551615");
        assert_eq!(py_str(&json!("it's")), "it's");
        assert_eq!(
            py_repr(&json!(["a", 1, {"k": "it's"}])),
            "['a', 1, {'k': \"it's\"}]"
        );
        assert_eq!(
            py_repr(&json!({"a": [1, "x'y", true, null, 1.5]})),
            "{'a': [1, \"x'y\", True, None, 1.5]}"
        );
        assert_eq!(py_repr(&json!("a\nb")), "'a\\nb'");
        assert_eq!(py_repr(&json!("a\u{1}b\u{7f}")), "'a\\x01b\\x7f'");
        assert_eq!(py_repr(&json!("both ' and \"")), "'both \\' and \"'");
        assert_eq!(py_list(&["NoCloud", "None"]), "['NoCloud', 'None']");
        assert_eq!(py_list::<&str>(&[]), "[]");
    }

    // Expected values printed by the oracle's Python 3.11 for the values
    // PyYAML loads from `!!binary`: `str(b'hi')` → `b'hi'`,
    // `repr({'k': [b'gz', 'x']})` → `{'k': [b'gz', 'x']}`,
    // `type(b'').__name__` → `bytes`, `bool(b'')` → `False`.
    #[test]
    fn bytes_views_like_python() {
        use crate::binary::encode;
        let v = json!({"k": [encode(b"gz"), "x"]});
        assert_eq!(py_repr(&v), "{'k': [b'gz', 'x']}");
        assert_eq!(py_str(&v), "{'k': [b'gz', 'x']}");
        assert_eq!(py_str(&encode(b"hi")), "b'hi'");
        assert_eq!(py_repr(&encode(b"hi")), "b'hi'");
        assert_eq!(py_str(&encode(b"it's\n\x00")), "b\"it's\\n\\x00\"");
        assert_eq!(py_str(&encode(b"")), "b''");
        assert_eq!(py_type(&encode(b"")), "bytes");
        assert_eq!(py_type(&encode(b"\xff")), "bytes");
        assert!(!truthy(&encode(b"")));
        assert!(truthy(&encode(b"\x00")));
        // Text that only looks like the marker stays text.
        let fake = json!("\u{FDD0}ci-binary:aGk");
        assert_eq!(py_type(&fake), "str");
        assert_eq!(py_str(&fake), "\u{FDD0}ci-binary:aGk");
        assert!(truthy(&json!("\u{FDD0}")));
    }

    #[test]
    fn floats_like_python() {
        for (f, want) in [
            (1.0, "1.0"),
            (1e16, "1e+16"),
            (1e20, "1e+20"),
            (1e-5, "1e-05"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (0.00012, "0.00012"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (-0.0, "-0.0"),
            (-2.5, "-2.5"),
            (0.1, "0.1"),
            (1e15, "1000000000000000.0"),
            (1234.5678, "1234.5678"),
            (2.5, "2.5"),
            (12.3, "12.3"),
            (12.0, "12.0"),
            (0.0, "0.0"),
            (-0.5, "-0.5"),
            (1.5e16, "1.5e+16"),
            (123456789012345.6, "123456789012345.6"),
            (0.00001, "1e-05"),
            (1717236001.1234567, "1717236001.1234567"),
            (f64::NAN, "nan"),
            (f64::NEG_INFINITY, "-inf"),
        ] {
            assert_eq!(float_repr(f), want, "{f:e}");
        }
        assert_eq!(py_str(&json!(1e16)), "1e+16");
    }
}

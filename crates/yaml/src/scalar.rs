//! SafeConstructor's scalar conversions (int, float, bool, timestamp,
//! binary), with Python's semantics, into JSON values.
//!
//! JSON cannot hold everything Python can; the choices:
//! - integers outside i64/u64 become the nearest f64;
//! - `.inf`, `-.inf`, `.nan` become the strings `"Infinity"`,
//!   `"-Infinity"`, `"NaN"` (what Python's `json.dumps` writes for them);
//! - timestamps become the string Python's `str()` gives the date/datetime;
//! - `!!binary` becomes bytes as `crate::binary` carries them (a marked
//!   string of canonical base64), whatever the bytes are.

use crate::resolve::timestamp_parts;
use serde_json::{Number, Value};

pub(crate) fn construct_bool(s: &str) -> Result<Value, String> {
    match s.to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" => Ok(Value::Bool(true)),
        "no" | "false" | "off" => Ok(Value::Bool(false)),
        _ => Err(format!("invalid boolean value '{s}'")),
    }
}

/// Splits PyYAML's sign handling: `-` negates, `+`/`-` are dropped.
fn split_sign(s: &str) -> Result<(bool, &str), String> {
    match s.as_bytes().first() {
        None => Err("empty numeric value".to_string()),
        Some(b'-') => Ok((true, s.get(1..).unwrap_or(""))),
        Some(b'+') => Ok((false, s.get(1..).unwrap_or(""))),
        Some(_) => Ok((false, s)),
    }
}

/// An integer too wide for i128 keeps going as f64.
enum Big {
    Exact(i128),
    Approx(f64),
}

fn parse_radix(digits: &str, radix: u32, orig: &str) -> Result<Big, String> {
    if digits.is_empty() {
        return Err(format!(
            "invalid literal for int() with base {radix}: '{orig}'"
        ));
    }
    let mut acc = Big::Exact(0);
    for ch in digits.chars() {
        let d = ch
            .to_digit(radix)
            .ok_or_else(|| format!("invalid literal for int() with base {radix}: '{orig}'"))?;
        acc = match acc {
            Big::Exact(v) => match v
                .checked_mul(i128::from(radix))
                .and_then(|v| v.checked_add(i128::from(d)))
            {
                Some(n) => Big::Exact(n),
                None => Big::Approx(v as f64 * f64::from(radix) + f64::from(d)),
            },
            Big::Approx(f) => Big::Approx(f * f64::from(radix) + f64::from(d)),
        };
    }
    Ok(acc)
}

fn big_to_value(neg: bool, b: Big, decimal_text: Option<&str>) -> Value {
    match b {
        Big::Exact(v) => {
            let v = if neg { -v } else { v };
            if let Ok(i) = i64::try_from(v) {
                Value::from(i)
            } else if let Ok(u) = u64::try_from(v) {
                Value::from(u)
            } else {
                float_value(v as f64)
            }
        }
        Big::Approx(f) => {
            // Decimal text parses to the correctly rounded f64, as
            // json.loads would give for Python's exact integer.
            let f = decimal_text
                .and_then(|t| t.parse::<f64>().ok())
                .unwrap_or(f);
            float_value(if neg { -f } else { f })
        }
    }
}

pub(crate) fn construct_int(raw: &str) -> Result<Value, String> {
    let cleaned = raw.replace('_', "");
    let (neg, v) = split_sign(&cleaned)?;
    if v == "0" {
        return Ok(Value::from(0));
    }
    if let Some(d) = v.strip_prefix("0b") {
        return Ok(big_to_value(neg, parse_radix(d, 2, raw)?, None));
    }
    if let Some(d) = v.strip_prefix("0x") {
        return Ok(big_to_value(neg, parse_radix(d, 16, raw)?, None));
    }
    if let Some(rest) = v.strip_prefix('0') {
        // Python's int(v, 8) also accepts an "0o" prefix.
        let d = rest
            .strip_prefix('o')
            .or_else(|| rest.strip_prefix('O'))
            .unwrap_or(rest);
        let d = if rest.starts_with(['o', 'O']) { d } else { v };
        return Ok(big_to_value(neg, parse_radix(d, 8, raw)?, None));
    }
    if v.contains(':') {
        let mut total = Big::Exact(0);
        let mut base: i128 = 1;
        for part in v.rsplit(':') {
            let d = match parse_radix(part.trim(), 10, raw)? {
                Big::Exact(d) => d,
                Big::Approx(_) => return Err(format!("integer too large: '{raw}'")),
            };
            total = match (total, d.checked_mul(base)) {
                (Big::Exact(t), Some(x)) => t
                    .checked_add(x)
                    .map(Big::Exact)
                    .unwrap_or(Big::Approx(t as f64 + x as f64)),
                (Big::Exact(t), None) => Big::Approx(t as f64 + d as f64 * base as f64),
                (Big::Approx(t), _) => Big::Approx(t + d as f64 * base as f64),
            };
            base = base.saturating_mul(60);
        }
        return Ok(big_to_value(neg, total, None));
    }
    let t = v.trim();
    Ok(big_to_value(neg, parse_radix(t, 10, raw)?, Some(t)))
}

/// A finite f64 as a JSON number; non-finite as the json.dumps spelling.
pub(crate) fn float_value(f: f64) -> Value {
    if f.is_nan() {
        Value::String("NaN".into())
    } else if f == f64::INFINITY {
        Value::String("Infinity".into())
    } else if f == f64::NEG_INFINITY {
        Value::String("-Infinity".into())
    } else {
        Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    }
}

fn py_float(s: &str, raw: &str) -> Result<f64, String> {
    let t = s.trim();
    let ok = !t.is_empty()
        && t.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
        || matches!(t.trim_start_matches(['+', '-']), "inf" | "infinity" | "nan");
    if !ok {
        return Err(format!("could not convert string to float: '{raw}'"));
    }
    t.parse::<f64>()
        .map_err(|_| format!("could not convert string to float: '{raw}'"))
}

pub(crate) fn construct_float(raw: &str) -> Result<Value, String> {
    let cleaned = raw.replace('_', "").to_lowercase();
    let (neg, v) = split_sign(&cleaned)?;
    let sign = if neg { -1.0 } else { 1.0 };
    let f = if v == ".inf" {
        f64::INFINITY
    } else if v == ".nan" {
        f64::NAN
    } else if v.contains(':') {
        let mut total = 0.0;
        let mut base = 1.0;
        for part in v.rsplit(':') {
            total += py_float(part, raw)? * base;
            base *= 60.0;
        }
        total
    } else {
        py_float(v, raw)?
    };
    Ok(float_value(if f.is_nan() { f } else { sign * f }))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if matches!((year % 4, year % 100, year % 400), (0, 1.., _) | (_, _, 0)) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn num(s: &str) -> u32 {
    s.parse().unwrap_or(0)
}

/// `str()` of the `date`/`datetime` PyYAML builds.
pub(crate) fn construct_timestamp(raw: &str) -> Result<String, String> {
    let p = timestamp_parts(raw).ok_or_else(|| format!("invalid timestamp '{raw}'"))?;
    let (year, month, day) = (num(p.year), num(p.month), num(p.day));
    if year == 0 {
        return Err(format!("year {year} is out of range"));
    }
    if !(1..=12).contains(&month) {
        return Err("month must be in 1..12".into());
    }
    if day == 0 || day > days_in_month(year, month) {
        return Err("day is out of range for month".into());
    }
    let date = format!("{year:04}-{month:02}-{day:02}");
    let Some((h, m, s, frac)) = p.time else {
        return Ok(date);
    };
    let (h, m, s) = (num(h), num(m), num(s));
    if h > 23 {
        return Err("hour must be in 0..23".into());
    }
    if m > 59 {
        return Err("minute must be in 0..59".into());
    }
    if s > 59 {
        return Err("second must be in 0..59".into());
    }
    let mut out = format!("{date} {h:02}:{m:02}:{s:02}");
    if let Some(f) = frac.filter(|f| !f.is_empty()) {
        let mut f: String = f.chars().take(6).collect();
        while f.len() < 6 {
            f.push('0');
        }
        if f != "000000" {
            out.push('.');
            out.push_str(&f);
        }
    }
    match p.tz {
        None => {}
        Some((None, _, _)) => out.push_str("+00:00"),
        Some((Some(sign), th, tm)) => {
            let (th, tm) = (num(th), tm.map(num).unwrap_or(0));
            let mut minutes = th * 60 + tm;
            if minutes >= 24 * 60 {
                return Err("offset must be a timedelta strictly between -timedelta(hours=24) and timedelta(hours=24)".into());
            }
            // timedelta(minutes=tm) may carry past 59 into the hours.
            let neg = sign == b'-' && minutes != 0;
            let hh = minutes / 60;
            minutes %= 60;
            out.push_str(&format!(
                "{}{hh:02}:{minutes:02}",
                if neg { '-' } else { '+' }
            ));
        }
    }
    Ok(out)
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn b64_value(c: u8) -> Option<u32> {
    B64.iter()
        .position(|&x| x == c)
        .and_then(|p| u32::try_from(p).ok())
}

/// Python's lenient `base64.decodebytes`: skips characters outside the
/// alphabet and stops at complete padding.
pub(crate) fn decode_base64(s: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let (mut acc, mut bits, mut quad, mut pads, mut data_chars) =
        (0u32, 0u32, 0usize, 0usize, 0usize);
    for c in s.bytes() {
        if c == b'=' {
            if quad >= 2 {
                pads += 1;
                if quad + pads >= 4 {
                    return Ok(out);
                }
            }
            continue;
        }
        let Some(v) = b64_value(c) else { continue };
        data_chars += 1;
        acc = (acc << 6) | v;
        bits += 6;
        quad = (quad + 1) % 4;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    match quad {
        0 => Ok(out),
        1 => Err(format!(
            "Invalid base64-encoded string: number of data characters ({data_chars}) cannot be 1 more than a multiple of 4"
        )),
        _ => Err("Incorrect padding".into()),
    }
}

/// PyYAML's `construct_yaml_binary` refuses non-ASCII text with the
/// `UnicodeEncodeError` of `str.encode('ascii')`: the first run of
/// non-ASCII characters, by code point position.
pub(crate) fn ascii_error(s: &str) -> Option<String> {
    let chars: Vec<char> = s.chars().collect();
    let start = chars.iter().position(|c| !c.is_ascii())?;
    let run = chars
        .get(start..)
        .unwrap_or(&[])
        .iter()
        .take_while(|c| !c.is_ascii())
        .count();
    let what = if run == 1 {
        let c = u32::from(chars.get(start).copied().unwrap_or('?'));
        let esc = if c <= 0xff {
            format!("\\x{c:02x}")
        } else if c <= 0xffff {
            format!("\\u{c:04x}")
        } else {
            format!("\\U{c:08x}")
        };
        format!("character '{esc}' in position {start}")
    } else {
        format!("characters in position {start}-{}", start + run - 1)
    };
    Some(format!(
        "failed to convert base64 data into ascii: 'ascii' codec can't encode {what}: ordinal not in range(128)"
    ))
}

pub(crate) fn encode_base64(data: &[u8]) -> String {
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b =
            [chunk.first(), chunk.get(1), chunk.get(2)].map(|x| u32::from(x.copied().unwrap_or(0)));
        let n = (b[0] << 16) | (b[1] << 8) | b[2];
        for i in 0..4 {
            if i <= chunk.len() {
                let idx = ((n >> (18 - 6 * i)) & 63) as usize;
                out.push(char::from(B64.get(idx).copied().unwrap_or(b'A')));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints() {
        assert_eq!(construct_int("0644"), Ok(Value::from(420)));
        assert_eq!(construct_int("-0x_1F"), Ok(Value::from(-31)));
        assert_eq!(construct_int("0b101"), Ok(Value::from(5)));
        assert_eq!(construct_int("1:20"), Ok(Value::from(80)));
        assert_eq!(construct_int("190:20:30"), Ok(Value::from(685230)));
        assert_eq!(construct_int("1_000"), Ok(Value::from(1000)));
        assert_eq!(
            construct_int("18446744073709551615"),
            Ok(Value::from(u64::MAX))
        );
        assert_eq!(
            construct_int("123456789012345678901234567890"),
            Ok(float_value(1.2345678901234568e29))
        );
        assert!(construct_int("abc").is_err());
    }

    #[test]
    fn floats() {
        assert_eq!(construct_float("1_000.5"), Ok(float_value(1000.5)));
        assert_eq!(
            construct_float("-.inf"),
            Ok(Value::String("-Infinity".into()))
        );
        assert_eq!(construct_float("190:20:30.15"), Ok(float_value(685230.15)));
        assert_eq!(construct_float("1e3"), Ok(float_value(1000.0)));
    }

    #[test]
    fn timestamps() {
        assert_eq!(
            construct_timestamp("2001-12-14").as_deref(),
            Ok("2001-12-14")
        );
        assert_eq!(
            construct_timestamp("2001-12-14t21:59:43.10-05:00").as_deref(),
            Ok("2001-12-14 21:59:43.100000-05:00")
        );
        assert_eq!(
            construct_timestamp("2001-12-14 21:59:43.10 -5").as_deref(),
            Ok("2001-12-14 21:59:43.100000-05:00")
        );
        assert_eq!(
            construct_timestamp("2001-12-15T02:59:43Z").as_deref(),
            Ok("2001-12-15 02:59:43+00:00")
        );
        assert!(construct_timestamp("2001-02-29").is_err());
    }

    #[test]
    fn base64_roundtrip() {
        assert_eq!(decode_base64("aGVs\nbG8=").as_deref(), Ok(&b"hello"[..]));
        assert_eq!(encode_base64(b"hello"), "aGVsbG8=");
        assert!(decode_base64("aGVsbG8").is_err());
    }

    #[test]
    fn ascii_errors_name_pythons_positions() {
        assert_eq!(ascii_error("aGk="), None);
        let e = |s| ascii_error(s).unwrap();
        assert!(e("\u{e9}")
            .ends_with("encode character '\\xe9' in position 0: ordinal not in range(128)"));
        assert!(e("aGk=\u{e9}\u{20ac}x").contains("characters in position 4-5:"));
        assert!(e("aGk=\n\u{20ac}").contains("character '\\u20ac' in position 5"));
        assert!(e("\u{1F600}").contains("character '\\U0001f600'"));
    }
}

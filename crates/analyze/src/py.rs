//! The few Python behaviours upstream's output depends on: `str.split()`,
//! `str.splitlines()`, `repr(float)`, `json.dumps(indent=1, sort_keys=True)`,
//! microsecond rounding of `datetime.fromtimestamp` and `str(datetime)`.

use serde_json::Value;

/// Python's `str.isspace` for one character: Unicode White_Space plus the
/// four information separators Python also treats as whitespace.
pub fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// `s.split()`: runs of whitespace separate, no empty fields.
pub fn split_ws(s: &str) -> Vec<&str> {
    s.split(is_space).filter(|p| !p.is_empty()).collect()
}

/// `s.strip()`.
pub fn strip(s: &str) -> &str {
    s.trim_matches(is_space)
}

/// `s.split(sep)[1]` when `sep` is non-empty: the text between the first and
/// the second occurrence (or the end). `None` where Python raises.
pub fn split_second<'a>(s: &'a str, sep: &str) -> Option<&'a str> {
    if sep.is_empty() {
        return None;
    }
    let start = s.find(sep)? + sep.len();
    let rest = &s[start..];
    Some(match rest.find(sep) {
        Some(i) => &rest[..i],
        None => rest,
    })
}

/// `s.split(sep)[0]` (sep non-empty).
pub fn split_first<'a>(s: &'a str, sep: &str) -> &'a str {
    match s.find(sep) {
        Some(i) => &s[..i],
        None => s,
    }
}

pub use ci_pyval::splitlines;

/// Python's universal-newline translation on reading a text file.
pub fn universal_newlines(s: &str) -> String {
    s.replace("\r\n", "\n").replace('\r', "\n")
}

/// `repr(x)` for a float, as `ci_pyval` writes it for every other crate.
pub use ci_pyval::float_repr;

/// `str(v)` of a JSON-loaded value, as `'{}'.format(v)` prints it.
pub fn py_str(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "None".into(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => ci_pyval::py_repr(other),
    }
}

/// `json.dumps(v, indent=1, sort_keys=True)`, upstream's
/// `atomic_helper.json_dumps` (ASCII-only output).
pub use ci_pyval::pyjson::json_dumps;

/// `datetime.fromtimestamp(t, timezone.utc)` as microseconds since the
/// epoch: the fraction rounds half to even, as CPython does.
pub fn timestamp_micros(t: f64) -> Option<i64> {
    if !t.is_finite() || t.abs() > 1e14 {
        return None;
    }
    let mut int = t.trunc();
    let mut frac = ((t - int) * 1e6).round_ties_even();
    if frac >= 1e6 {
        frac -= 1e6;
        int += 1.0;
    } else if frac < 0.0 {
        frac += 1e6;
        int -= 1.0;
    }
    Some(int as i64 * 1_000_000 + frac as i64)
}

/// `str(datetime)` of an aware UTC datetime given in microseconds.
pub fn datetime_str(us: i64) -> String {
    let secs = us.div_euclid(1_000_000);
    let micros = us.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let mut s = format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    );
    if micros != 0 {
        s.push_str(&format!(".{micros:06}"));
    }
    s.push_str("+00:00");
    s
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

pub fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_repr_matches_python() {
        assert_eq!(float_repr(1796685851.438), "1796685851.438");
        assert_eq!(float_repr(1.0), "1.0");
        assert_eq!(float_repr(0.0001), "0.0001");
        assert_eq!(float_repr(0.00001), "1e-05");
        assert_eq!(float_repr(1e16), "1e+16");
        assert_eq!(float_repr(123456789012345.6), "123456789012345.6");
        assert_eq!(float_repr(-2.5), "-2.5");
        assert_eq!(float_repr(1.5e-7), "1.5e-07");
    }

    #[test]
    fn splitlines_like_python() {
        assert_eq!(splitlines("a\r\nb\rc\n\nd"), vec!["a", "b", "c", "", "d"]);
        assert_eq!(splitlines("a\u{2028}b\x0c"), vec!["a", "b"]);
        assert!(splitlines("").is_empty());
    }

    #[test]
    fn json_like_python() {
        let v: Value = serde_json::json!([{"b": 1.5, "a": "é\u{1F600}\u{7f}"}, [], {}]);
        assert_eq!(
            json_dumps(&v),
            "[\n {\n  \"a\": \"\\u00e9\\ud83d\\ude00\\u007f\",\n  \"b\": 1.5\n },\n [],\n {}\n]"
        );
    }

    #[test]
    fn dates_round_trip() {
        let us = timestamp_micros(1796685851.438).unwrap_or(0);
        assert_eq!(us, 1_796_685_851_438_000);
        assert_eq!(datetime_str(us), "2026-12-07 23:24:11.438000+00:00");
        assert_eq!(datetime_str(-1_000_000), "1969-12-31 23:59:59+00:00");
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11017);
    }
}

//! Log timestamps to epoch seconds, as upstream's `parse_timestamp`:
//! `2016-09-12 14:39:20,839` (Python's asctime), syslog `Aug 29 22:55:26`
//! and journalctl `Aug 29 22:55:26.123456` (both of the given year), and
//! anything else through GNU `date` as upstream does (RFC 3339, the rsyslog
//! format, is read here without it), to the millisecond.

use crate::py::{days_from_civil, days_in_month, is_space, split_ws};

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Why a timestamp was refused: `Invalid` where upstream raises ValueError
/// (it skips the line), `Unparsable` where upstream fails harder.
#[derive(Debug, PartialEq)]
pub enum StampError {
    Invalid,
    Unparsable,
}

pub fn parse_timestamp(s: &str, year: i64) -> Result<f64, StampError> {
    let first = *split_ws(s).first().ok_or(StampError::Unparsable)?;
    if MONTHS.contains(&first) {
        let full = format!("{s} {year}");
        let fmt: &[Tok] = if s.contains('.') {
            &[
                Tok::Month,
                Tok::Ws,
                Tok::Day,
                Tok::Ws,
                Tok::Hour,
                Tok::Lit(b':'),
                Tok::Minute,
                Tok::Lit(b':'),
                Tok::Second,
                Tok::Lit(b'.'),
                Tok::Frac,
                Tok::Ws,
                Tok::Year,
            ]
        } else {
            &[
                Tok::Month,
                Tok::Ws,
                Tok::Day,
                Tok::Ws,
                Tok::Hour,
                Tok::Lit(b':'),
                Tok::Minute,
                Tok::Lit(b':'),
                Tok::Second,
                Tok::Ws,
                Tok::Year,
            ]
        };
        return strptime(&full, fmt).ok_or(StampError::Invalid);
    }
    if s.contains(',') {
        let fmt = [
            Tok::Year,
            Tok::Lit(b'-'),
            Tok::Mon,
            Tok::Lit(b'-'),
            Tok::Day,
            Tok::Ws,
            Tok::Hour,
            Tok::Lit(b':'),
            Tok::Minute,
            Tok::Lit(b':'),
            Tok::Second,
            Tok::Lit(b','),
            Tok::Frac,
        ];
        return strptime(s, &fmt).ok_or(StampError::Invalid);
    }
    rfc3339(s.trim())
        .or_else(|| gnu_date(s))
        .ok_or(StampError::Unparsable)
}

/// Calls of `date` one process makes at most: a hostile log cannot make
/// analyze spawn one per line.
const MAX_DATE_CALLS: usize = 2000;
static DATE_CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Upstream's last resort for other formats: GNU `date -u +%s.%3N -d S`.
fn gnu_date(s: &str) -> Option<f64> {
    use std::sync::atomic::Ordering;
    if s.is_empty() || s.len() > 200 || DATE_CALLS.fetch_add(1, Ordering::Relaxed) >= MAX_DATE_CALLS
    {
        return None;
    }
    let out = std::process::Command::new("date")
        .args(["-u", "+%s.%3N", "-d", s])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    crate::py::strip(&String::from_utf8_lossy(&out.stdout))
        .parse()
        .ok()
}

#[derive(Clone, Copy)]
enum Tok {
    Year,
    Mon,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    Frac,
    Ws,
    Lit(u8),
}

#[derive(Default, Clone, Copy)]
struct Fields {
    y: i64,
    mo: u32,
    d: u32,
    h: u32,
    mi: u32,
    s: u32,
    us: u32,
}

fn digits(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let part = b.get(at..at + n)?;
    if !part.iter().all(u8::is_ascii_digit) {
        return None;
    }
    part.iter()
        .try_fold(0u32, |acc, c| Some(acc * 10 + u32::from(c - b'0')))
}

/// Candidate (length, value) matches of one token at `at`, in the order of
/// the alternatives of Python's `_strptime` regular expressions.
fn candidates(tok: Tok, s: &str, at: usize) -> Vec<(usize, u32)> {
    let b = s.as_bytes();
    let two = digits(b, at, 2);
    let one = digits(b, at, 1);
    let mut out = Vec::new();
    let push2 = |ok: bool, out: &mut Vec<(usize, u32)>| {
        if let (true, Some(v)) = (ok, two) {
            out.push((2, v));
        }
    };
    match tok {
        Tok::Year => {
            if let Some(v) = digits(b, at, 4) {
                out.push((4, v));
            }
        }
        Tok::Mon => {
            push2(matches!(two, Some(10..=12)), &mut out);
            push2(matches!(two, Some(1..=9)) && b[at] == b'0', &mut out);
            if let Some(v @ 1..=9) = one {
                out.push((1, v));
            }
        }
        Tok::Day => {
            push2(matches!(two, Some(30..=31)), &mut out);
            push2(matches!(two, Some(10..=29)), &mut out);
            push2(matches!(two, Some(1..=9)) && b[at] == b'0', &mut out);
            if let Some(v @ 1..=9) = one {
                out.push((1, v));
            }
            if b.get(at) == Some(&b' ') {
                if let Some(v @ 1..=9) = digits(b, at + 1, 1) {
                    out.push((2, v));
                }
            }
        }
        Tok::Hour => {
            push2(matches!(two, Some(20..=23)), &mut out);
            push2(matches!(two, Some(0..=19)), &mut out);
            if let Some(v) = one {
                out.push((1, v));
            }
        }
        Tok::Minute => {
            push2(two.is_some_and(|v| v < 60), &mut out);
            if let Some(v) = one {
                out.push((1, v));
            }
        }
        Tok::Second => {
            push2(matches!(two, Some(60..=61)), &mut out);
            push2(two.is_some_and(|v| v < 60), &mut out);
            if let Some(v) = one {
                out.push((1, v));
            }
        }
        Tok::Frac => {
            for n in (1..=6).rev() {
                if let Some(v) = digits(b, at, n) {
                    out.push((n, v * 10u32.pow(6 - n as u32)));
                    break;
                }
            }
        }
        Tok::Month => {
            if let Some(word) = s.get(at..at + 3) {
                if let Some(i) = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(word)) {
                    out.push((3, i as u32 + 1));
                }
            }
        }
        Tok::Ws => {
            let n: usize = s[at..]
                .chars()
                .take_while(|c| is_space(*c))
                .map(char::len_utf8)
                .sum();
            if n > 0 {
                out.push((n, 0));
            }
        }
        Tok::Lit(c) => {
            if b.get(at) == Some(&c) {
                out.push((1, 0));
            }
        }
    }
    out
}

/// Python's `re.match` of the format regex: the first match found by
/// backtracking, which must then end at the end of the string.
fn strptime(s: &str, fmt: &[Tok]) -> Option<f64> {
    let (end, f) = walk(s, fmt, 0, Fields::default())?;
    if end != s.len() {
        return None;
    }
    if f.mo == 0 || f.d == 0 || f.d > days_in_month(f.y, f.mo) || f.s > 59 {
        return None;
    }
    let secs = days_from_civil(f.y, f.mo, f.d) * 86_400
        + i64::from(f.h) * 3600
        + i64::from(f.mi) * 60
        + i64::from(f.s);
    Some((secs * 1_000_000 + i64::from(f.us)) as f64 / 1e6)
}

fn walk(s: &str, fmt: &[Tok], at: usize, f: Fields) -> Option<(usize, Fields)> {
    let Some((&tok, rest)) = fmt.split_first() else {
        return Some((at, f));
    };
    for (len, v) in candidates(tok, s, at) {
        let mut g = f;
        match tok {
            Tok::Year => g.y = i64::from(v),
            Tok::Mon | Tok::Month => g.mo = v,
            Tok::Day => g.d = v,
            Tok::Hour => g.h = v,
            Tok::Minute => g.mi = v,
            Tok::Second => g.s = v,
            Tok::Frac => g.us = v,
            Tok::Ws | Tok::Lit(_) => {}
        }
        if let Some(found) = walk(s, rest, at + len, g) {
            return Some(found);
        }
    }
    None
}

/// `YYYY-MM-DD[T ]HH:MM:SS[.frac](Z|±HH:MM)` as `date -u +%s.%3N` prints it
/// (milliseconds, truncated), read back as a float.
fn rfc3339(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let num = |a: usize, n: usize| digits(b, a, n);
    let (y, mo, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    if b.get(4) != Some(&b'-')
        || b.get(7) != Some(&b'-')
        || !matches!(b.get(10), Some(b'T' | b't' | b' '))
    {
        return None;
    }
    let (h, mi, sec) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
        return None;
    }
    let mut at = 19;
    let mut ms = 0u32;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let n = b[at..].iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        let take = n.min(3);
        ms = num(at, take)? * 10u32.pow(3 - take as u32);
        at += n;
    }
    let offset: i64 = match b.get(at..) {
        Some(b"Z" | b"z") => 0,
        Some([sign @ (b'+' | b'-'), ..]) => {
            let oh = i64::from(num(at + 1, 2)?);
            let om = i64::from(num(at + 4, 2)?);
            if b.get(at + 3) != Some(&b':') || b.len() != at + 6 {
                return None;
            }
            let o = oh * 3600 + om * 60;
            if *sign == b'+' {
                o
            } else {
                -o
            }
        }
        _ => return None,
    };
    let (y, mo) = (i64::from(y), mo);
    if !(1..=12).contains(&mo)
        || d == 0
        || d > days_in_month(y, mo)
        || h > 23
        || mi > 59
        || sec > 60
    {
        return None;
    }
    let secs = days_from_civil(y, mo, d) * 86_400
        + i64::from(h) * 3600
        + i64::from(mi) * 60
        + i64::from(sec)
        - offset;
    format!("{secs}.{ms:03}").parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asctime() {
        assert_eq!(
            parse_timestamp("2016-09-12 14:39:20,839", 2025),
            Ok(1473691160.839)
        );
        assert_eq!(parse_timestamp("2016-9-2 4:9:2,8", 2025), Ok(1472789342.8));
        assert_eq!(
            parse_timestamp("2016-09-12 14:39:20,", 2025),
            Err(StampError::Invalid)
        );
        assert_eq!(
            parse_timestamp("2016-02-30 14:39:20,1", 2025),
            Err(StampError::Invalid)
        );
        assert_eq!(
            parse_timestamp("2016-09-12 14:39:20,1234567", 2025),
            Err(StampError::Invalid)
        );
    }

    #[test]
    fn syslog_and_iso() {
        assert_eq!(parse_timestamp("Aug 29 22:55:26", 2016), Ok(1472511326.0));
        assert_eq!(
            parse_timestamp("Nov 03 06:51:06.074410", 2016),
            Ok(1478155866.07441)
        );
        assert_eq!(
            parse_timestamp("Aug 29 22:55", 2016),
            Err(StampError::Invalid)
        );
        assert_eq!(
            parse_timestamp("2016-08-30T21:53:25.972325+00:00", 2025),
            Ok(1472594005.972)
        );
        assert_eq!(
            parse_timestamp("bogus words", 2025),
            Err(StampError::Unparsable)
        );
        assert_eq!(parse_timestamp("", 2025), Err(StampError::Unparsable));
    }
}

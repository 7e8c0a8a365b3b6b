//! PyYAML's implicit resolver (YAML 1.1): which tag a plain scalar gets.
//! The candidate resolvers are chosen by the first character and tried in
//! PyYAML's registration order: bool, float, int, merge, null, timestamp,
//! value; anything else is a string.

pub(crate) const TAG_PREFIX: &str = "tag:yaml.org,2002:";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Implicit {
    Bool,
    Float,
    Int,
    Merge,
    Null,
    Timestamp,
    Value,
    Str,
}

impl Implicit {
    pub(crate) fn tag(self) -> String {
        let short = match self {
            Implicit::Bool => "bool",
            Implicit::Float => "float",
            Implicit::Int => "int",
            Implicit::Merge => "merge",
            Implicit::Null => "null",
            Implicit::Timestamp => "timestamp",
            Implicit::Value => "value",
            Implicit::Str => "str",
        };
        format!("{TAG_PREFIX}{short}")
    }
}

pub(crate) fn resolve_plain(s: &str) -> Implicit {
    let first = s.chars().next();
    let candidates: &[Implicit] = match first {
        None => &[Implicit::Null],
        Some('y' | 'Y' | 'N' | 't' | 'T' | 'f' | 'F' | 'o' | 'O') => &[Implicit::Bool],
        Some('n') => &[Implicit::Bool, Implicit::Null],
        Some('-' | '+') => &[Implicit::Float, Implicit::Int],
        Some('.') => &[Implicit::Float],
        Some('0'..='9') => &[Implicit::Float, Implicit::Int, Implicit::Timestamp],
        Some('<') => &[Implicit::Merge],
        Some('~') => &[Implicit::Null],
        Some('=') => &[Implicit::Value],
        Some(_) => &[],
    };
    // 'N' starts both "No" (bool) and "Null" (null).
    let candidates: &[Implicit] = if first == Some('N') {
        &[Implicit::Bool, Implicit::Null]
    } else {
        candidates
    };
    for &c in candidates {
        let hit = match c {
            Implicit::Bool => is_bool(s),
            Implicit::Float => is_float(s),
            Implicit::Int => is_int(s),
            Implicit::Merge => s == "<<",
            Implicit::Null => matches!(s, "" | "~" | "null" | "Null" | "NULL"),
            Implicit::Timestamp => is_timestamp(s),
            Implicit::Value => s == "=",
            Implicit::Str => false,
        };
        if hit {
            return c;
        }
    }
    Implicit::Str
}

fn is_bool(s: &str) -> bool {
    matches!(
        s,
        "yes"
            | "Yes"
            | "YES"
            | "no"
            | "No"
            | "NO"
            | "true"
            | "True"
            | "TRUE"
            | "false"
            | "False"
            | "FALSE"
            | "on"
            | "On"
            | "ON"
            | "off"
            | "Off"
            | "OFF"
    )
}

/// A tiny cursor for hand-written versions of PyYAML's regexes.
struct Cur<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cur<'a> {
    fn new(s: &'a str) -> Self {
        Cur {
            b: s.as_bytes(),
            i: 0,
        }
    }
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn eat(&mut self, f: impl Fn(u8) -> bool) -> bool {
        match self.peek() {
            Some(c) if f(c) => {
                self.i += 1;
                true
            }
            _ => false,
        }
    }
    fn eat_all(&mut self, f: impl Fn(u8) -> bool) -> usize {
        let start = self.i;
        while self.eat(&f) {}
        self.i - start
    }
    fn done(&self) -> bool {
        self.i == self.b.len()
    }
    fn sign(&mut self) {
        self.eat(|c| c == b'-' || c == b'+');
    }
    fn rest(&self) -> &'a [u8] {
        self.b.get(self.i..).unwrap_or(&[])
    }
}

fn digit(c: u8) -> bool {
    c.is_ascii_digit()
}
fn digit_(c: u8) -> bool {
    c.is_ascii_digit() || c == b'_'
}

/// `(?::[0-5]?[0-9])+`, one or more base-60 groups.
fn sexagesimal_groups(c: &mut Cur) -> bool {
    let mut groups = 0;
    while c.peek() == Some(b':') {
        let save = c.i;
        c.i += 1;
        let start = c.i;
        let n = c.eat_all(digit);
        let ok = n == 1 || (n == 2 && matches!(c.b.get(start), Some(b'0'..=b'5')));
        if !ok {
            c.i = save;
            break;
        }
        groups += 1;
    }
    groups > 0
}

/// `[eE][-+][0-9]+`, optional.
fn exponent(c: &mut Cur) -> bool {
    if c.eat(|x| x == b'e' || x == b'E') {
        return c.eat(|x| x == b'-' || x == b'+') && c.eat_all(digit) > 0;
    }
    true
}

pub(crate) fn is_float(s: &str) -> bool {
    let try_alt = |f: &dyn Fn(&mut Cur) -> bool| {
        let mut c = Cur::new(s);
        f(&mut c) && c.done()
    };
    // [-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?
    try_alt(&|c| {
        c.sign();
        c.eat(digit)
            && {
                c.eat_all(digit_);
                c.eat(|x| x == b'.')
            }
            && {
                c.eat_all(digit_);
                exponent(c)
            }
    }) || try_alt(&|c| {
        // \.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
        c.eat(|x| x == b'.') && c.eat(digit) && {
            c.eat_all(digit_);
            exponent(c)
        }
    }) || try_alt(&|c| {
        // [-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
        c.sign();
        c.eat(digit)
            && {
                c.eat_all(digit_);
                sexagesimal_groups(c)
            }
            && c.eat(|x| x == b'.')
            && {
                c.eat_all(digit_);
                true
            }
    }) || try_alt(&|c| {
        c.sign();
        matches!(c.rest(), b".inf" | b".Inf" | b".INF") && {
            c.i = c.b.len();
            true
        }
    }) || matches!(s, ".nan" | ".NaN" | ".NAN")
}

pub(crate) fn is_int(s: &str) -> bool {
    let try_alt = |f: &dyn Fn(&mut Cur) -> bool| {
        let mut c = Cur::new(s);
        c.sign();
        f(&mut c) && c.done()
    };
    try_alt(&|c| {
        c.rest().starts_with(b"0b") && {
            c.i += 2;
            c.eat_all(|x| x == b'0' || x == b'1' || x == b'_') > 0
        }
    }) || try_alt(&|c| {
        c.eat(|x| x == b'0') && c.eat_all(|x| (b'0'..=b'7').contains(&x) || x == b'_') > 0
    }) || try_alt(&|c| c.rest() == b"0" && c.eat(|x| x == b'0'))
        || try_alt(&|c| {
            c.eat(|x| (b'1'..=b'9').contains(&x)) && {
                c.eat_all(digit_);
                true
            }
        })
        || try_alt(&|c| {
            c.rest().starts_with(b"0x") && {
                c.i += 2;
                c.eat_all(|x| x.is_ascii_hexdigit() || x == b'_') > 0
            }
        })
        || try_alt(&|c| {
            c.eat(|x| (b'1'..=b'9').contains(&x)) && {
                c.eat_all(digit_);
                sexagesimal_groups(c)
            }
        })
}

/// The pieces of a YAML 1.1 timestamp, as PyYAML's constructor regex
/// captures them (which is looser than the resolver's).
#[derive(Debug, Default)]
pub(crate) struct TimestampParts<'a> {
    pub year: &'a str,
    pub month: &'a str,
    pub day: &'a str,
    /// hour, minute, second, fraction (possibly empty)
    pub time: Option<(&'a str, &'a str, &'a str, Option<&'a str>)>,
    /// `Z`, or sign, hour and optional minute
    pub tz: Option<(Option<u8>, &'a str, Option<&'a str>)>,
}

fn take<'a>(c: &mut Cur<'a>, s: &'a str, min: usize, max: usize) -> Option<&'a str> {
    let start = c.i;
    let mut n = 0;
    while n < max && c.eat(digit) {
        n += 1;
    }
    if n < min {
        return None;
    }
    s.get(start..c.i)
}

/// The constructor's regex: month/day may have one digit.
pub(crate) fn timestamp_parts(s: &str) -> Option<TimestampParts<'_>> {
    let mut c = Cur::new(s);
    let mut p = TimestampParts {
        year: take(&mut c, s, 4, 4)?,
        ..Default::default()
    };
    if !c.eat(|x| x == b'-') {
        return None;
    }
    p.month = take(&mut c, s, 1, 2)?;
    if !c.eat(|x| x == b'-') {
        return None;
    }
    p.day = take(&mut c, s, 1, 2)?;
    if c.done() {
        return Some(p);
    }
    if !c.eat(|x| x == b'T' || x == b't') && c.eat_all(|x| x == b' ' || x == b'\t') == 0 {
        return None;
    }
    let hour = take(&mut c, s, 1, 2)?;
    if !c.eat(|x| x == b':') {
        return None;
    }
    let minute = take(&mut c, s, 2, 2)?;
    if !c.eat(|x| x == b':') {
        return None;
    }
    let second = take(&mut c, s, 2, 2)?;
    let mut fraction = None;
    if c.eat(|x| x == b'.') {
        let start = c.i;
        c.eat_all(digit);
        fraction = s.get(start..c.i);
    }
    p.time = Some((hour, minute, second, fraction));
    if c.done() {
        return Some(p);
    }
    c.eat_all(|x| x == b' ' || x == b'\t');
    if c.eat(|x| x == b'Z') {
        p.tz = Some((None, "", None));
    } else {
        let sign = c.peek().filter(|x| *x == b'-' || *x == b'+')?;
        c.i += 1;
        let h = take(&mut c, s, 1, 2)?;
        let mut m = None;
        if c.eat(|x| x == b':') {
            m = Some(take(&mut c, s, 2, 2)?);
        }
        p.tz = Some((Some(sign), h, m));
    }
    if c.done() {
        Some(p)
    } else {
        None
    }
}

/// The resolver's regex: date-only needs two-digit month and day.
fn is_timestamp(s: &str) -> bool {
    match timestamp_parts(s) {
        Some(p) if p.time.is_none() => p.month.len() == 2 && p.day.len() == 2,
        Some(_) => true,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_like_pyyaml() {
        for (s, want) in [
            ("yes", Implicit::Bool),
            ("y", Implicit::Str),
            ("n", Implicit::Str),
            ("NULL", Implicit::Null),
            ("No", Implicit::Bool),
            ("", Implicit::Null),
            ("0644", Implicit::Int),
            ("0o644", Implicit::Str),
            ("09", Implicit::Str),
            ("08", Implicit::Str),
            ("0", Implicit::Int),
            ("-0", Implicit::Int),
            ("08.5", Implicit::Float),
            ("1e3", Implicit::Str),
            ("1.0e+3", Implicit::Float),
            ("1.0e3", Implicit::Str),
            ("+.5", Implicit::Str),
            (".5", Implicit::Float),
            ("-.inf", Implicit::Float),
            ("-.nan", Implicit::Str),
            ("1:20", Implicit::Int),
            ("1:60", Implicit::Str),
            ("1:20.5", Implicit::Float),
            ("0x_1F", Implicit::Int),
            ("0b", Implicit::Str),
            ("2001-12-14", Implicit::Timestamp),
            ("2001-1-14", Implicit::Str),
            ("2001-1-4 1:02:03", Implicit::Timestamp),
            ("2001-12-14t21:59:43.10-05:00", Implicit::Timestamp),
            ("<<", Implicit::Merge),
            ("=", Implicit::Value),
        ] {
            assert_eq!(resolve_plain(s), want, "{s:?}");
        }
    }
}

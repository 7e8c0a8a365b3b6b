//! Small re-creations of the POSIX shell behaviour ds-identify's decisions
//! depend on (`read`, `case` globs, trimming, unquoting), so our answers
//! match the script's on odd input too.

/// What `read var < file` leaves in `var`: the first line, backslash escapes
/// removed, leading and trailing blanks stripped.
pub(crate) fn read_first_line(text: &str) -> String {
    let line = text.split('\n').next().unwrap_or("");
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out.trim_matches(|c| c == ' ' || c == '\t').to_string()
}

/// `read var < file` with its status: the value, and whether `read`
/// succeeded (it fails at end of input without a newline, yet still sets
/// the variable).
pub(crate) fn shell_read(text: &str) -> (String, bool) {
    (read_first_line(text), text.contains('\n'))
}

/// `trim`: strip all leading and trailing whitespace.
pub(crate) fn trim(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_ascii_whitespace())
}

/// `unquote`: drop one pair of matching surrounding `"` or `'`.
pub(crate) fn unquote(s: &str) -> &str {
    for q in ['"', '\''] {
        if s.len() >= 2 && s.starts_with(q) && s.ends_with(q) {
            return &s[1..s.len() - 1];
        }
    }
    s
}

/// A `case` pattern match: `*`, `?` and `[...]` classes (`!` or `^`
/// negates), everything else literal.
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    glob_at(&p, &t)
}

fn glob_at(p: &[char], t: &[char]) -> bool {
    match p.split_first() {
        None => t.is_empty(),
        Some(('*', rest)) => (0..=t.len()).any(|i| glob_at(rest, &t[i..])),
        Some(('?', rest)) => !t.is_empty() && glob_at(rest, &t[1..]),
        Some(('[', rest)) => match (class_end(rest), t.split_first()) {
            (Some(end), Some((c, trest))) => {
                class_matches(&rest[..end], *c) && glob_at(&rest[end + 1..], trest)
            }
            (Some(_), None) => false,
            // An unclosed `[` is a literal character.
            (None, _) => t.first() == Some(&'[') && glob_at(rest, &t[1..]),
        },
        Some((c, rest)) => t.first() == Some(c) && glob_at(rest, &t[1..]),
    }
}

fn class_end(p: &[char]) -> Option<usize> {
    // A `]` right after `[` (or `[!`) is a member, not the end.
    let start = match p.first() {
        Some('!') | Some('^') => 1,
        _ => 0,
    };
    let skip_first = usize::from(p.get(start) == Some(&']'));
    p.iter()
        .enumerate()
        .skip(start + skip_first)
        .find(|(_, c)| **c == ']')
        .map(|(i, _)| i)
}

fn class_matches(class: &[char], c: char) -> bool {
    let (neg, body) = match class.split_first() {
        Some(('!', rest)) | Some(('^', rest)) => (true, rest),
        _ => (false, class),
    };
    let mut hit = false;
    let mut i = 0;
    while i < body.len() {
        let lo = body[i];
        if i + 2 < body.len() && body[i + 1] == '-' {
            hit |= lo <= c && c <= body[i + 2];
            i += 3;
        } else {
            hit |= lo == c;
            i += 1;
        }
    }
    hit != neg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_strips_blanks_and_backslashes() {
        assert_eq!(
            read_first_line("  ds=nocloud\\;x  \nsecond"),
            "ds=nocloud;x"
        );
        assert_eq!(read_first_line(""), "");
        assert_eq!(shell_read("ec2abc"), ("ec2abc".to_string(), false));
        assert_eq!(shell_read(" x \n"), ("x".to_string(), true));
    }

    #[test]
    fn unquote_only_matching_pairs() {
        assert_eq!(unquote("'NoCloud'"), "NoCloud");
        assert_eq!(unquote("\"None\""), "None");
        assert_eq!(unquote("'x\""), "'x\"");
        assert_eq!(unquote("'"), "'");
    }

    #[test]
    fn globs() {
        assert!(glob_match("CloudStack*", "CloudStack KVM Hypervisor"));
        assert!(!glob_match("CloudStack*", "cloudstack"));
        assert!(glob_match("Exoscale*", "Exoscale"));
        assert!(glob_match("?X", "aX"));
        assert!(glob_match("[Oo]racle*", "oracle cloud"));
        assert!(!glob_match("[!Oo]racle", "Oracle"));
        assert!(glob_match("a[", "a["));
        assert!(glob_match("*", ""));
        assert!(!glob_match("HVM domU", "HVM domU x"));
    }
}

//! Content type from the first bytes of a payload (upstream
//! `type_from_starts_with`): leading blanks skipped, case-insensitive,
//! longest prefix first.

/// Prefixes sorted longest first, as upstream searches them.
const PREFIXES: &[(&str, &str)] = &[
    (
        "text/x-shellscript-per-instance",
        "text/x-shellscript-per-instance",
    ),
    ("text/x-shellscript-per-boot", "text/x-shellscript-per-boot"),
    ("text/x-shellscript-per-once", "text/x-shellscript-per-once"),
    ("#cloud-config-archive", "text/cloud-config-archive"),
    ("#cloud-config-jsonp", "text/cloud-config-jsonp"),
    ("## template: jinja", "text/jinja2"),
    ("#cloud-boothook", "text/cloud-boothook"),
    ("#include-once", "text/x-include-once-url"),
    ("#part-handler", "text/part-handler"),
    ("#cloud-config", "text/cloud-config"),
    ("#include", "text/x-include-url"),
    ("#!", "text/x-shellscript"),
];

/// `None` when no prefix matches or the payload is not UTF-8.
pub fn type_from_starts_with(payload: &[u8]) -> Option<&'static str> {
    let text = std::str::from_utf8(payload).ok()?;
    let text = text.trim_start_matches(is_py_space);
    PREFIXES.iter().find_map(|(prefix, ctype)| {
        let head = text.get(..prefix.len())?;
        head.eq_ignore_ascii_case(prefix).then_some(*ctype)
    })
}

/// Python's `str.isspace` for the characters that matter here.
pub(crate) fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::type_from_starts_with as t;

    #[test]
    fn longest_prefix_first_and_case_insensitive() {
        assert_eq!(
            t(b"#cloud-config-archive\n"),
            Some("text/cloud-config-archive")
        );
        assert_eq!(t(b"  \n#Cloud-Config\n"), Some("text/cloud-config"));
        assert_eq!(t(b"#include-once\nx"), Some("text/x-include-once-url"));
        assert_eq!(t(b"#includex"), Some("text/x-include-url"));
        assert_eq!(t(b"## Template: Jinja\n"), Some("text/jinja2"));
        assert_eq!(t(b"#!/bin/sh"), Some("text/x-shellscript"));
        assert_eq!(t(b"hello"), None);
        assert_eq!(t(b"\xff#!"), None);
    }
}

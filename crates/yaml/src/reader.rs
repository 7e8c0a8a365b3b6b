//! PyYAML's reader refuses a stream holding a character outside YAML's
//! printable set before anything is scanned, so such a character is an
//! error wherever it sits (yaml-rust2 would instead end the input at a NUL
//! and accept the other control characters).

use crate::error::{Pos, YamlError};

/// PyYAML's printable set: TAB, LF, CR, 0x20-0x7E, NEL, 0xA0-0xD7FF,
/// 0xE000-0xFFFD and the supplementary planes (surrogates cannot occur in
/// a Rust string).
fn printable(c: char) -> bool {
    matches!(c,
        '\t' | '\n' | '\r' | ' '..='~' | '\u{85}' | '\u{a0}'..='\u{d7ff}'
        | '\u{e000}'..='\u{fffd}' | '\u{10000}'..='\u{10ffff}')
}

/// The first unacceptable character of the whole stream (a leading byte
/// order mark counts in the position, as in PyYAML).
pub(crate) fn check_printable(text: &str) -> Result<(), YamlError> {
    let (mut line, mut line_start) = (1, 0);
    for (position, c) in text.chars().enumerate() {
        if c == '\n' {
            line += 1;
            line_start = position + 1;
        } else if !printable(c) {
            let col = position - line_start + 1;
            return Err(YamlError::reader(Pos { line, col }, position, c));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_bad_character_and_its_offset() {
        let e = check_printable("a: 1\n\u{feff}b: \u{1b}\u{0}").unwrap_err();
        assert_eq!(e.position, Some(9));
        assert_eq!((e.line, e.column), (2, 5));
        assert!(e.message.starts_with("unacceptable character #x001b:"));
        assert!(check_printable("\u{feff}\t\r\n~\u{85}\u{a0}\u{fffd}\u{10ffff}").is_ok());
        for bad in [
            '\u{0}', '\u{8}', '\u{b}', '\u{c}', '\u{1f}', '\u{7f}', '\u{80}', '\u{9f}', '\u{fffe}',
            '\u{ffff}',
        ] {
            assert!(check_printable(&format!("a{bad}")).is_err(), "{bad:?}");
        }
    }
}

//! Python's `repr()` of bytes and `unicode_escape`, because upstream puts
//! them into its messages about parts (values: see `ci_pyval`).

/// Python `repr(bytes)`.
pub fn repr_bytes(b: &[u8]) -> String {
    ci_pyval::binary::bytes_repr(b)
}

/// Python `str.encode('unicode_escape')`.
pub fn unicode_escape(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for c in s.chars() {
        let cp = c as u32;
        match c {
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            _ if (0x20..0x7f).contains(&cp) => out.push(cp as u8),
            _ if cp < 0x100 => out.extend_from_slice(format!("\\x{cp:02x}").as_bytes()),
            _ if cp < 0x10000 => out.extend_from_slice(format!("\\u{cp:04x}").as_bytes()),
            _ => out.extend_from_slice(format!("\\U{cp:08x}").as_bytes()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_reprs() {
        assert_eq!(
            repr_bytes(&unicode_escape("é\thi'")),
            "b\"\\\\xe9\\\\thi'\""
        );
    }
}

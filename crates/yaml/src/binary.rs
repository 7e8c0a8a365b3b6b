//! The bytes `!!binary` loads to, inside JSON values: a string of
//! [`MARKER`] and canonical base64. The code lives in `ci_pyval::binary`,
//! because every Python view of a value (`str()`, `repr()`, `type()`) must
//! know bytes and this crate already builds on `ci-pyval`; it is
//! re-exported here so the loader's callers find it beside [`crate::load`].
//! Read it with [`decode`] / [`text`], show it with [`py_str`] /
//! [`py_repr`] / [`py_type`], never as the string itself.

pub use ci_pyval::binary::*;

#[cfg(test)]
mod tests {
    use super::*;

    // The loader and the views agree on one form: what `!!binary` builds
    // is what the views call bytes.
    #[test]
    fn loaded_bytes_are_bytes_to_the_views() {
        let v = crate::load("a: !!binary aGVsbG8=\nb: !!binary \"\"\n").unwrap();
        assert_eq!(decode(&v["a"]).as_deref(), Some(&b"hello"[..]));
        assert_eq!(py_str(&v["a"]), "b'hello'");
        assert_eq!(py_type(&v["b"]), "bytes");
        assert_eq!(py_repr(&v), "{'a': b'hello', 'b': b''}");
        assert_eq!(text(&v["a"]), None);
    }
}

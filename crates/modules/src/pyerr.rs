//! Python's rendering of OS errors, for module failures whose upstream
//! message embeds `str(OSError)`.
//!
//! `ci-host` reports errors with the sandbox path of `--root` in front and
//! Rust's `(os error N)` after; upstream prints `[Errno N] <strerror>:
//! '<path>'` with the path as the target sees it.

use std::io;

/// The libc text for `errno`, as Python's `os.strerror` gives it.
pub(crate) fn strerror(errno: i32) -> String {
    // std renders an OS error as the C library's strerror text followed
    // by ` (os error N)`; only that suffix is ours to drop.
    let text = io::Error::from_raw_os_error(errno).to_string();
    let suffix = format!(" (os error {errno})");
    match text.strip_suffix(&suffix) {
        Some(s) => s.to_string(),
        None => text,
    }
}

/// The errno behind `e`. Errors re-wrapped with a path (as `ci-host` does)
/// lose `raw_os_error` but keep std's `(os error N)` in their text.
pub(crate) fn errno_of(e: &io::Error) -> Option<i32> {
    if let Some(n) = e.raw_os_error() {
        return Some(n);
    }
    let text = e.to_string();
    let start = text.rfind("(os error ")? + "(os error ".len();
    text[start..].strip_suffix(')')?.parse().ok()
}

/// `str(OSError)` for a failure on `path` (a target path, not the
/// sandbox one): `[Errno 21] Is a directory: '/etc/hostname'`. An error
/// without an errno keeps its own text.
pub(crate) fn os_error_str(e: &io::Error, path: &str) -> String {
    match errno_of(e) {
        Some(n) => format!("[Errno {n}] {}: {}", strerror(n), ci_pyval::py_quote(path)),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strerror_is_the_libc_text() {
        assert_eq!(strerror(21), "Is a directory");
        assert_eq!(strerror(13), "Permission denied");
        assert_eq!(strerror(2), "No such file or directory");
        assert_eq!(strerror(30), "Read-only file system");
    }

    #[test]
    fn renders_like_python_oserror() {
        let e = io::Error::from_raw_os_error(21);
        assert_eq!(
            os_error_str(&e, "/etc/hostname"),
            "[Errno 21] Is a directory: '/etc/hostname'"
        );
        assert_eq!(
            os_error_str(&io::Error::from_raw_os_error(13), "/etc/o'x"),
            "[Errno 13] Permission denied: \"/etc/o'x\""
        );
    }

    // ci-host's `with_path` re-wraps with the sandbox path in front.
    #[test]
    fn errno_survives_a_rewrapped_error() {
        let inner = io::Error::from_raw_os_error(2);
        let e = io::Error::new(inner.kind(), format!("/tmp/root/etc/x: {inner}"));
        assert_eq!(errno_of(&e), Some(2));
        assert_eq!(
            os_error_str(&e, "/etc/x"),
            "[Errno 2] No such file or directory: '/etc/x'"
        );
        let plain = io::Error::other("no parent directory");
        assert_eq!(errno_of(&plain), None);
        assert_eq!(os_error_str(&plain, "/x"), "no parent directory");
    }
}

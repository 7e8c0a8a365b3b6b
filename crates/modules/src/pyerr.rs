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

/// The `OSError` subclass Python raises for `errno`.
pub(crate) fn os_error_class(errno: i32) -> &'static str {
    match errno {
        2 => "FileNotFoundError",
        1 | 13 => "PermissionError",
        17 => "FileExistsError",
        20 => "NotADirectoryError",
        21 => "IsADirectoryError",
        _ => "OSError",
    }
}

/// A failure on target path `path` raised as Python would: the subclass by
/// errno, `str()` naming the path and `repr()` showing `(errno, 'text')`.
/// An error without an errno keeps its text as a plain `OSError`.
pub(crate) fn os_error(e: &io::Error, path: &str) -> crate::ModuleError {
    match errno_of(e) {
        Some(n) => crate::ModuleError::os_error(os_error_class(n), n, &strerror(n), path),
        None => crate::ModuleError::with_class("OSError", e.to_string()),
    }
}

/// `str(ProcessExecutionError(...))`, upstream's text for a command that
/// failed: `None` output or exit code shows as `-`, and every output line
/// after the first is indented by eight spaces (trailing newlines dropped).
pub(crate) fn process_error(
    cmd: &str,
    exit_code: Option<i32>,
    stdout: Option<&str>,
    stderr: Option<&str>,
    reason: &str,
) -> String {
    let text = |t: Option<&str>| match t {
        None => "-".to_string(),
        Some(t) => t.trim_end_matches('\n').replace('\n', "\n        "),
    };
    let exit = exit_code.map_or_else(|| "-".to_string(), |c| c.to_string());
    let reason = if reason.is_empty() { "-" } else { reason };
    format!(
        "Unexpected error while running command.\nCommand: {cmd}\nExit code: {exit}\nReason: {reason}\nStdout: {}\nStderr: {}",
        text(stdout),
        text(stderr)
    )
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

    #[test]
    fn os_errors_repr_like_python() {
        let e = os_error(&io::Error::from_raw_os_error(2), "/etc/zypp/zypp.conf");
        assert_eq!(
            e.py_repr(),
            "FileNotFoundError(2, 'No such file or directory')"
        );
        assert_eq!(
            e.to_string(),
            "[Errno 2] No such file or directory: '/etc/zypp/zypp.conf'"
        );
        assert_eq!(
            os_error(&io::Error::from_raw_os_error(13), "/x").py_repr(),
            "PermissionError(13, 'Permission denied')"
        );
        assert_eq!(
            os_error(&io::Error::other("no parent"), "/x").py_repr(),
            "OSError('no parent')"
        );
    }

    #[test]
    fn process_error_text() {
        assert_eq!(
            process_error("['lsblk', '/dev/x']", Some(32), Some("a\nb\n"), Some(""), "-"),
            "Unexpected error while running command.\nCommand: ['lsblk', '/dev/x']\nExit code: 32\nReason: -\nStdout: a\n        b\nStderr: "
        );
        assert_eq!(
            process_error("['x']", None, None, None, "[Errno 2] No such file or directory: b'x'"),
            "Unexpected error while running command.\nCommand: ['x']\nExit code: -\nReason: [Errno 2] No such file or directory: b'x'\nStdout: -\nStderr: -"
        );
    }
}

//! Running the disk tools the way upstream's `subp` does, a failure being
//! the `ProcessExecutionError` text ([`crate::pyerr::process_error`])
//! upstream embeds in its warnings.

use ci_host::{Cmd, CmdError, Host};
use ci_pyval::py_list;

use crate::pyerr::process_error;

/// `str(exc)` of the Python exception upstream would have raised.
pub(crate) type PyResult<T> = Result<T, String>;

/// Upstream's `subp(argv, rcs=rcs, data=stdin, update_env=env)`: the
/// program runs inside the target; an exit status outside `rcs` or a
/// program that cannot start is the `ProcessExecutionError` text.
pub(crate) fn subp(
    host: &Host,
    argv: &[String],
    stdin: Option<String>,
    env: Option<(&str, &str)>,
    rcs: &[i32],
) -> PyResult<String> {
    let mut cmd = Cmd::new(argv.iter().cloned()).in_target();
    if let Some(data) = stdin {
        cmd = cmd.stdin(data);
    }
    if let Some((k, v)) = env {
        cmd = cmd.env(k, v);
    }
    run(host, &cmd, &py_list(argv), rcs)
}

/// `subp(text, shell=True)`: `/bin/sh -c text`; the error names the text.
pub(crate) fn subp_shell(host: &Host, text: &str) -> PyResult<String> {
    let cmd = Cmd::new(["/bin/sh", "-c", text]).in_target();
    run(host, &cmd, text, &[0])
}

fn run(host: &Host, cmd: &Cmd, shown: &str, rcs: &[i32]) -> PyResult<String> {
    let prog = cmd.argv.first().cloned().unwrap_or_default();
    match host.runner().execute(host, cmd) {
        Err(CmdError::Spawn { source, .. }) => {
            let reason = crate::pyerr::os_error_str(&source, &prog);
            Err(process_error(shown, None, None, None, &reason))
        }
        Err(e) => Err(process_error(shown, None, None, None, &e.to_string())),
        Ok(out) => {
            let stderr = out.stderr_str();
            // `chroot` reports a program it cannot start with 126/127; upstream
            // (running inside the target) gets the OSError from exec itself.
            if cmd.place == ci_host::Where::Target
                && host.is_sandbox()
                && matches!(out.status, 126 | 127)
                && stderr.starts_with("chroot: failed to run command")
            {
                let errno = if stderr.contains("Permission denied") {
                    13
                } else {
                    2
                };
                let reason = format!(
                    "[Errno {errno}] {}: {}",
                    crate::pyerr::strerror(errno),
                    ci_pyval::py_quote(&prog)
                );
                return Err(process_error(shown, None, None, None, &reason));
            }
            let stdout = out.stdout_str();
            if rcs.contains(&out.status) {
                Ok(stdout)
            } else {
                Err(process_error(
                    shown,
                    Some(out.status),
                    Some(&stdout),
                    Some(&stderr),
                    "-",
                ))
            }
        }
    }
}

/// Upstream's `subp.which(prog)` inside the target.
pub(crate) fn which(host: &Host, prog: &str) -> Option<String> {
    host.which_target(prog)
}

/// Upstream's `util.udevadm_settle()`: nothing when the target has no
/// udevadm (mdev-based distros), else `udevadm settle`.
pub(crate) fn udevadm_settle(host: &Host) -> PyResult<()> {
    if which(host, "udevadm").is_none() {
        return Ok(());
    }
    subp(host, &argv(&["udevadm", "settle"]), None, None, &[0]).map(|_| ())
}

pub(crate) fn argv(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

/// `os.path.exists(path)` inside the target (links followed in the root).
pub(crate) fn exists(host: &Host, path: &str) -> bool {
    std::fs::metadata(host.resolve(path)).is_ok()
}

/// `pathlib.Path(path).is_block_device()` inside the target.
pub(crate) fn is_block_device(host: &Host, path: &str) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata(host.resolve(path)).is_ok_and(|m| m.file_type().is_block_device())
}

/// `os.path.realpath(path)` inside the target.
pub(crate) fn realpath(host: &Host, path: &str) -> String {
    let abs = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    };
    host.canonical(&abs)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or(abs)
}

/// POSIX `shlex.split(text)` (no comments).
pub(crate) fn shlex_split(text: &str) -> PyResult<Vec<String>> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(ch) => cur.push(ch),
                        None => return Err("No closing quotation".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.peek() {
                            Some(&n) if n == '"' || n == '\\' => {
                                cur.push(n);
                                chars.next();
                            }
                            Some(_) => cur.push('\\'),
                            None => return Err("No closing quotation".into()),
                        },
                        Some(ch) => cur.push(ch),
                        None => return Err("No closing quotation".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(n) => cur.push(n),
                    None => return Err("No escaped character".into()),
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// Upstream's `value_splitter`: `KEY="value"` pairs after `start` words.
pub(crate) fn value_splitter(text: &str, start: usize) -> PyResult<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    for word in shlex_split(text)?.into_iter().skip(start) {
        let parts: Vec<&str> = word.split('=').collect();
        match parts.as_slice() {
            [k, v] => pairs.push((k.to_string(), v.to_string())),
            [_] => return Err("not enough values to unpack (expected 2, got 1)".into()),
            _ => return Err("too many values to unpack (expected 2)".into()),
        }
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shlex_like_python() {
        assert_eq!(
            shlex_split(r#"NAME="sdb" TYPE="disk" FSTYPE="" LABEL="a\x20b""#).unwrap(),
            vec!["NAME=sdb", "TYPE=disk", "FSTYPE=", r"LABEL=a\x20b"]
        );
        assert_eq!(
            shlex_split(r#"a='b c' d\ e "f\"g""#).unwrap(),
            vec!["a=b c", "d e", "f\"g"]
        );
        assert_eq!(shlex_split("A=\"b").unwrap_err(), "No closing quotation");
    }

    #[test]
    fn splitter_errors_as_python() {
        assert_eq!(
            value_splitter("/dev/sdb: LABEL=\"x\" TYPE=\"ext4\"", 1).unwrap(),
            vec![("LABEL".into(), "x".into()), ("TYPE".into(), "ext4".into())]
        );
        assert_eq!(
            value_splitter("A=b=c", 0).unwrap_err(),
            "too many values to unpack (expected 2)"
        );
        assert_eq!(
            value_splitter("lonely", 0).unwrap_err(),
            "not enough values to unpack (expected 2, got 1)"
        );
    }
}

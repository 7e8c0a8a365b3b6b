//! Upstream's `subp.subp(..., capture=True)` for the modules: the command
//! runs inside the target, and a failure carries the exact
//! `ProcessExecutionError` text upstream logs or records
//! ([`crate::pyerr::process_error`]).

use ci_host::{Cmd, CmdOutput, Host};

/// A command that did not start or did not exit with an allowed code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExecError {
    /// `None` when the program could not be started.
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// `str(ProcessExecutionError)`.
    pub text: String,
}

impl std::fmt::Display for ExecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// How upstream shows a command given as a list: the list's repr.
pub(crate) fn shown_list<S: AsRef<str>>(argv: &[S]) -> String {
    ci_pyval::py_list(argv)
}

/// The error of a program that could not be started, `reason` being
/// `str()` of the `OSError`.
pub(crate) fn not_started(shown: &str, reason: &str) -> ExecError {
    ExecError {
        exit_code: None,
        stdout: String::new(),
        stderr: String::new(),
        text: crate::pyerr::process_error(shown, None, None, None, reason),
    }
}

/// The `OSError` text of exec on a program the target does not have
/// (upstream passes the argv as bytes, hence the `b`).
pub(crate) fn missing_program(prog: &str) -> String {
    format!(
        "[Errno 2] No such file or directory: b{}",
        ci_pyval::py_quote(prog)
    )
}

/// `chroot` could not find the program in a `--root` target: upstream, in
/// the target itself, fails to exec it (`[Errno 2]`, no exit code).
pub(crate) fn not_in_target(out: &CmdOutput) -> bool {
    out.status == 127 && {
        let err = out.stderr_str();
        err.starts_with("chroot: failed to run command")
            && err.contains("No such file or directory")
    }
}

/// Runs `cmd` and requires an exit code in `rcs`; `shown` is how the
/// command appears in the error text.
pub(crate) fn run(
    host: &Host,
    cmd: &Cmd,
    shown: &str,
    rcs: &[i32],
) -> Result<CmdOutput, ExecError> {
    let out = host
        .runner()
        .execute(host, cmd)
        .map_err(|e| not_started(shown, &e.to_string()))?;
    if not_in_target(&out) {
        let prog = cmd.argv.first().map_or("", String::as_str);
        return Err(not_started(shown, &missing_program(prog)));
    }
    if rcs.contains(&out.status) {
        return Ok(out);
    }
    let stdout = out.stdout_str();
    let stderr = out.stderr_str();
    Err(ExecError {
        exit_code: Some(out.status),
        text: crate::pyerr::process_error(
            shown,
            Some(out.status),
            Some(&stdout),
            Some(&stderr),
            "-",
        ),
        stdout,
        stderr,
    })
}

/// Run `argv` in the target and require an exit code in `rcs`.
pub(crate) fn capture(
    host: &Host,
    argv: &[String],
    shown: &str,
    stdin: Option<&[u8]>,
    rcs: &[i32],
) -> Result<CmdOutput, ExecError> {
    capture_in(host, argv, shown, stdin, rcs, None)
}

/// Like [`capture`], with `dir` put in front of the `PATH` the program is
/// looked up in (upstream modules that extend `os.environ["PATH"]`).
pub(crate) fn capture_in(
    host: &Host,
    argv: &[String],
    shown: &str,
    stdin: Option<&[u8]>,
    rcs: &[i32],
    dir: Option<&str>,
) -> Result<CmdOutput, ExecError> {
    let prog = argv.first().map(String::as_str).unwrap_or_default();
    // Under --root a missing program would be chroot's failure; answer as
    // the target's exec would.
    let in_dir = dir.and_then(|d| host.which_target(&format!("{d}/{prog}")));
    if in_dir.is_none() && host.which_target(prog).is_none() {
        return Err(not_started(shown, &missing_program(prog)));
    }
    let mut cmd = Cmd::new(argv.iter().cloned()).in_target();
    if let Some(d) = dir {
        let path = std::env::var("PATH").unwrap_or_default();
        let path = if path.is_empty() {
            d.to_string()
        } else {
            format!("{d}:{path}")
        };
        cmd = cmd.env("PATH", path);
    }
    if let Some(data) = stdin {
        cmd = cmd.stdin(data.to_vec());
    }
    run(host, &cmd, shown, rcs)
}

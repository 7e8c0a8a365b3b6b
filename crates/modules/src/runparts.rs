//! Running scripts inside the target as upstream's `subp.runparts` and
//! `subp.subp(capture=False)` do: every executable in name order, all of
//! them even when some fail, and their output passed on to ours.

use crate::ModuleError;
use ci_host::{Cmd, CmdOutput, Host};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Run `cmd` in the target, hand its output on to our stdout/stderr (it
/// ends up in cloud-init-output.log), and fail on a non-zero exit with
/// upstream's `ProcessExecutionError` text.
pub(crate) fn run_passthrough(host: &Host, cmd: &Cmd) -> Result<(), ModuleError> {
    let out = host.runner().execute(host, cmd).map_err(|e| {
        ModuleError::with_class(
            "ProcessExecutionError",
            exec_error(&cmd.argv, "-", &e.to_string()),
        )
    })?;
    if crate::subp::not_in_target(&out) {
        return Err(ModuleError::with_class(
            "ProcessExecutionError",
            exec_error(
                &cmd.argv,
                "-",
                &crate::subp::missing_program(cmd.argv.first().map_or("", String::as_str)),
            ),
        ));
    }
    pass_on(&out);
    if out.status != 0 {
        return Err(ModuleError::with_class(
            "ProcessExecutionError",
            exec_error(&cmd.argv, &out.status.to_string(), "-"),
        ));
    }
    Ok(())
}

fn pass_on(out: &CmdOutput) {
    // Losing the copy of a script's output must not fail the script.
    if !out.stdout.is_empty() {
        let mut o = std::io::stdout().lock();
        let _ = o.write_all(&out.stdout);
        let _ = o.flush();
    }
    if !out.stderr.is_empty() {
        let mut e = std::io::stderr().lock();
        let _ = e.write_all(&out.stderr);
        let _ = e.flush();
    }
}

/// Upstream's `ProcessExecutionError` message for an uncaptured command.
pub(crate) fn exec_error(argv: &[String], exit_code: &str, reason: &str) -> String {
    let words: Vec<String> = argv.iter().map(|a| ci_pyval::py_quote(a)).collect();
    format!(
        "Unexpected error while running command.\nCommand: [{}]\nExit code: {exit_code}\nReason: {reason}\nStdout: -\nStderr: -",
        words.join(", ")
    )
}

/// Upstream's `subp.runparts(dir, exe_prefix=prefix)`: `dir` is a target
/// path; a missing directory is not an error.
pub(crate) fn runparts(host: &Host, dir: &Path, prefix: &[String]) -> Result<(), ModuleError> {
    runparts_with(host, dir, |target| {
        let mut argv: Vec<String> = prefix.to_vec();
        argv.push(target.to_string_lossy().into_owned());
        run_passthrough(host, &Cmd::new(argv).in_target()).map_err(|e| log::debug!("{e}"))
    })
}

/// `runparts` with a prefix holding a word that is neither text nor bytes
/// (`prefix: [timeout, 30]`): upstream's subp refuses every such command
/// line with a warning before running anything, so each script fails.
/// `shown` is the directory as upstream names it in the warning.
pub(crate) fn runparts_invalid(
    host: &Host,
    dir: &Path,
    shown: &Path,
    prefix: &[serde_json::Value],
) -> Result<(), ModuleError> {
    runparts_with(host, dir, |target| {
        let mut argv = prefix.to_vec();
        let name = target.file_name().unwrap_or_default();
        argv.push(serde_json::Value::String(
            shown.join(name).to_string_lossy().into_owned(),
        ));
        log::warn!(
            "Running invalid command: {}",
            ci_pyval::py_repr(&serde_json::Value::Array(argv))
        );
        Err(())
    })
}

/// The run-parts walk: every executable in name order goes to `run`; all of
/// them run even when some fail, and the failures are counted as upstream
/// counts them.
fn runparts_with(
    host: &Host,
    dir: &Path,
    mut run: impl FnMut(&Path) -> Result<(), ()>,
) -> Result<(), ModuleError> {
    if !host.is_dir(dir) {
        return Ok(());
    }
    let mut failed: Vec<String> = Vec::new();
    let mut attempted = 0usize;
    for name in host.list_dir(dir) {
        let target = dir.join(&name);
        let target_s = target.to_string_lossy().into_owned();
        let meta = std::fs::metadata(host.resolve(&target));
        let is_file = meta.as_ref().is_ok_and(|m| m.is_file());
        let is_exe = meta
            .as_ref()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
        if is_exe {
            attempted += 1;
            if run(&target).is_err() {
                failed.push(name);
            }
        } else if is_file {
            log::warn!(
                "skipping {target_s} as its not executable or the underlying file system is mounted without executable permissions."
            );
        } else {
            log::debug!("Not executing special file [{target_s}]");
        }
    }
    if !failed.is_empty() && attempted > 0 {
        return Err(ModuleError::new(format!(
            "Runparts: {} failures ({}) in {attempted} attempted commands",
            failed.len(),
            failed.join(",")
        )));
    }
    Ok(())
}

/// Upstream's `subp.which` against the target: a path with `/` is checked
/// as is, a bare name is searched in the usual `PATH` directories.
pub(crate) fn target_which(host: &Host, prog: &str) -> Option<String> {
    const PATH: &[&str] = &[
        "/usr/local/sbin",
        "/usr/local/bin",
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
    ];
    let is_exe = |p: &str| {
        std::fs::metadata(host.resolve(p))
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if prog.contains('/') {
        return is_exe(prog).then(|| prog.to_string());
    }
    PATH.iter()
        .map(|d| format!("{d}/{prog}"))
        .find(|p| is_exe(p))
}

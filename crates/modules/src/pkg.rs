//! Package management in the target, shared by every module that installs:
//! upstream's `distro.install_packages`, `update_package_sources` and
//! `package_command`, for every family, and the `subp` wrappers they use.

mod apt;
mod families;
mod snap;
mod spec;

#[cfg(test)]
mod tests;

use crate::{Ctx, ModResult, ModuleError};
use apt::Apt;
use ci_host::Cmd;
use ci_pyval::py_quote;
use families::Tool;
use serde_json::Value;
use spec::{Manager, Package};

/// `subp.subp(cmd, capture=True)`: a non-zero exit fails with upstream's
/// message, which shows the captured output.
pub fn run_captured(ctx: &Ctx, cmd: &Cmd) -> ModResult {
    captured(ctx, cmd, false)
}

/// [`run_captured`] for a command upstream gives as a tuple, which its
/// error message shows in parentheses.
pub fn run_captured_tuple(ctx: &Ctx, cmd: &Cmd) -> ModResult {
    captured(ctx, cmd, true)
}

/// [`run_captured`], giving the command's output.
pub fn run_captured_output(ctx: &Ctx, cmd: &Cmd) -> Result<String, ModuleError> {
    run_captured_streams(ctx, cmd).map(|(out, _)| out)
}

/// [`run_captured`], giving the command's output and error output.
pub fn run_captured_streams(ctx: &Ctx, cmd: &Cmd) -> Result<(String, String), ModuleError> {
    streams(ctx, cmd, &shown(&cmd.argv, false))
}

fn captured(ctx: &Ctx, cmd: &Cmd, tuple: bool) -> ModResult {
    streams(ctx, cmd, &shown(&cmd.argv, tuple)).map(|_| ())
}

/// `subp.subp(script, shell=True)`, captured: `/bin/sh -c script`, whose
/// failure shows the script as the command.
pub fn run_shell_captured(ctx: &Ctx, script: &str) -> ModResult {
    let cmd = Cmd::new(["/bin/sh", "-c", script]).in_target();
    streams(ctx, &cmd, script).map(|_| ())
}

fn streams(ctx: &Ctx, cmd: &Cmd, shown: &str) -> Result<(String, String), ModuleError> {
    missing_program(ctx, &cmd.argv, shown)?;
    let out = ctx
        .host
        .runner()
        .execute(ctx.host, cmd)
        .map_err(|e| exec_error(shown, "-", &e.to_string(), "-", "-"))?;
    if out.status != 0 {
        return Err(exec_error(
            shown,
            &out.status.to_string(),
            "-",
            &indent(&out.stdout_str()),
            &indent(&out.stderr_str()),
        ));
    }
    Ok((out.stdout_str(), out.stderr_str()))
}

/// `subp.subp(cmd, capture=False)`: the output goes to ours; a missing
/// program is upstream's exec failure rather than chroot's exit 127.
pub fn run_uncaptured(ctx: &Ctx, cmd: &Cmd) -> ModResult {
    missing_program(ctx, &cmd.argv, &shown(&cmd.argv, false))?;
    crate::runparts::run_passthrough(ctx.host, cmd)
}

/// A program the target lacks is, for upstream, an exec failure: no exit
/// code, the OS error as the reason.
fn missing_program(ctx: &Ctx, argv: &[String], shown: &str) -> ModResult {
    let prog = argv.first().map(String::as_str).unwrap_or("");
    if !prog.is_empty() && ctx.host.which_target(prog).is_none() {
        return Err(exec_error(
            shown,
            "-",
            &format!("[Errno 2] No such file or directory: b{}", py_quote(prog)),
            "-",
            "-",
        ));
    }
    Ok(())
}

/// Upstream indents every line of captured output but the first.
fn indent(text: &str) -> String {
    text.trim_end_matches('\n').replace('\n', "\n        ")
}

/// The command as upstream's error shows it: Python's repr of the list
/// (or tuple) it was given.
fn shown(argv: &[String], tuple: bool) -> String {
    let words: Vec<String> = argv.iter().map(|a| py_quote(a)).collect();
    let (open, close) = if tuple { ('(', ')') } else { ('[', ']') };
    format!("{open}{}{close}", words.join(", "))
}

fn exec_error(shown: &str, code: &str, reason: &str, out: &str, err: &str) -> ModuleError {
    ModuleError::with_class(
        "ProcessExecutionError",
        format!(
            "Unexpected error while running command.\nCommand: {shown}\nExit code: {code}\nReason: {reason}\nStdout: {out}\nStderr: {err}"
        ),
    )
}

const FAILED: &str = "Failed to install the following packages";
const SEE_LOGS: &str = "See associated package manager logs for more details.";

/// Install packages given by name, as modules that need a tool call
/// upstream's `distro.install_packages([...])`.
pub fn install_packages(ctx: &Ctx, pkgs: &[String]) -> ModResult {
    if pkgs.is_empty() {
        return Ok(());
    }
    install_package_list(ctx, &spec::names(pkgs))
}

/// Upstream's `distro.install_packages(pkglist)` for `packages` entries in
/// every form upstream accepts (names, `[name, version]`, `{apt: [...],
/// snap: [...]}`), with the target's family.
pub fn install_package_list(ctx: &Ctx, pkgs: &[Value]) -> ModResult {
    match families::tool(ctx) {
        Tool::Apt => install_by_manager(ctx, pkgs),
        t => families::install(ctx, t, pkgs),
    }
}

/// The managers Debian's family installs with, in upstream's order.
fn distro_managers(ctx: &Ctx) -> Vec<Manager> {
    let mut m = vec![Manager::Apt];
    if ctx.distro.name == "ubuntu" {
        m.push(Manager::Snap);
    }
    m
}

fn manager_available(ctx: &Ctx, m: Manager, apt: &Apt) -> bool {
    match m {
        Manager::Apt => apt.available(ctx),
        Manager::Snap => snap::available(ctx),
    }
}

fn manager_install(
    ctx: &Ctx,
    m: Manager,
    apt: &Apt,
    pkgs: &[Package],
) -> Result<Vec<String>, ModuleError> {
    match m {
        Manager::Apt => apt.install(ctx, pkgs),
        Manager::Snap => Ok(snap::install(ctx, pkgs)),
    }
}

/// Upstream's base `Distro.install_packages`: each of the distro's
/// managers in turn gets the packages sent to it plus the generic ones
/// the managers before it could not install; managers the distro does not
/// use get the packages sent to them at the end.
fn install_by_manager(ctx: &Ctx, pkgs: &[Value]) -> ModResult {
    let req = spec::parse(pkgs)?;
    let apt = Apt::from_config(ctx)?;
    let managers = distro_managers(ctx);
    let sent_to = |m: Manager| -> Vec<Package> {
        req.by_manager
            .iter()
            .find(|(k, _)| *k == m)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let mut generic = req.generic.clone();
    let mut total_failed: Vec<Package> = Vec::new();
    for &m in &managers {
        let own = sent_to(m);
        let mut to_try = own.clone();
        for p in &generic {
            spec::push_unique(&mut to_try, p.clone());
        }
        total_failed.retain(|p| !to_try.contains(p));
        if !manager_available(ctx, m, &apt) {
            log::debug!("Package manager '{}' not available", m.name());
            for p in to_try {
                spec::push_unique(&mut total_failed, p);
            }
            continue;
        }
        if to_try.is_empty() {
            continue;
        }
        let failed = manager_install(ctx, m, &apt, &to_try)?;
        if !failed.is_empty() {
            log::info!("{FAILED}: {}. {SEE_LOGS}", spec::py_list(&failed));
        }
        let failed: Vec<Package> = failed.into_iter().map(Package::Name).collect();
        generic = failed
            .iter()
            .filter(|p| !own.contains(p))
            .cloned()
            .collect();
        for p in failed {
            spec::push_unique(&mut total_failed, p);
        }
    }
    for (m, pkgs) in &req.by_manager {
        if managers.contains(m) {
            continue;
        }
        for p in manager_install(ctx, *m, &apt, pkgs)? {
            spec::push_unique(&mut total_failed, Package::Name(p));
        }
    }
    if total_failed.is_empty() {
        return Ok(());
    }
    Err(ModuleError::with_class(
        "PackageInstallerError",
        format!("{FAILED}: {}. {SEE_LOGS}", spec::py_set(&total_failed)),
    ))
}

/// Upstream's `distro.update_package_sources(force=...)`. On Debian and
/// Ubuntu each manager's failure is logged, not raised; the other families
/// raise it.
pub fn update_package_sources(ctx: &Ctx, force: bool) -> ModResult {
    let t = families::tool(ctx);
    if t != Tool::Apt {
        return families::update_package_sources(ctx, t, force);
    }
    let apt = Apt::from_config(ctx)?;
    for m in distro_managers(ctx) {
        if !manager_available(ctx, m, &apt) {
            log::debug!(
                "Skipping update for package manager '{}': not available.",
                m.name()
            );
            continue;
        }
        // snap has no sources to refresh.
        if m == Manager::Apt {
            if let Err(e) = apt.update_package_sources(ctx, force) {
                log::error!("Failed to update package using apt: {e}");
            }
        }
    }
    Ok(())
}

/// Upstream's `distro.package_command(command, args, pkgs)`. Debian's
/// handles only `upgrade` (apt's upgrade subcommand, then on Ubuntu
/// `snap refresh`).
pub fn package_command(ctx: &Ctx, command: &str, args: &[String], pkgs: &[Value]) -> ModResult {
    let t = families::tool(ctx);
    if t != Tool::Apt {
        return families::package_command(ctx, t, command, args, pkgs);
    }
    if command != "upgrade" {
        return Err(ModuleError::new(format!(
            "Unable to handle {command} command"
        )));
    }
    Apt::from_config(ctx)?.run(ctx, &[], "upgrade", &[])?;
    if ctx.distro.name == "ubuntu" && snap::available(ctx) {
        snap::upgrade(ctx)?;
    }
    Ok(())
}

/// `distro.package_command("upgrade")`.
pub fn upgrade_packages(ctx: &Ctx) -> ModResult {
    package_command(ctx, "upgrade", &[], &[])
}

/// Upstream's `update-sources` semaphore: `run` once per instance (the
/// mark is taken first and kept when `run` fails), or every time with
/// `force`.
fn update_once(ctx: &Ctx, force: bool, run: impl FnOnce() -> ModResult) -> ModResult {
    use ci_state::sem::{has_run, mark_run, Frequency};
    if force {
        return run();
    }
    let name = "update-sources";
    let done = has_run(ctx.host, ctx.paths, name, Frequency::PerInstance)
        .map_err(|e| ModuleError::new(e.to_string()))?;
    if done {
        log::debug!("{name} already ran (freq=once-per-instance)");
        return Ok(());
    }
    mark_run(ctx.host, ctx.paths, name, Frequency::PerInstance)
        .map_err(|e| ModuleError::new(e.to_string()))?;
    run()
}

//! Package management in the target, shared by every module that installs:
//! upstream's `distro.install_packages` and the commands around it.

use crate::{Ctx, ModResult, ModuleError};
use ci_host::Cmd;
use ci_pyval::py_quote;

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

fn captured(ctx: &Ctx, cmd: &Cmd, tuple: bool) -> ModResult {
    let argv = &cmd.argv;
    missing_program(ctx, argv, tuple)?;
    let out = ctx
        .host
        .runner()
        .execute(ctx.host, cmd)
        .map_err(|e| exec_error(argv, tuple, "-", &e.to_string(), "-", "-"))?;
    if out.status != 0 {
        return Err(exec_error(
            argv,
            tuple,
            &out.status.to_string(),
            "-",
            &indent(&out.stdout_str()),
            &indent(&out.stderr_str()),
        ));
    }
    Ok(())
}

/// `subp.subp(cmd, capture=False)`: the output goes to ours; a missing
/// program is upstream's exec failure rather than chroot's exit 127.
pub fn run_uncaptured(ctx: &Ctx, cmd: &Cmd) -> ModResult {
    missing_program(ctx, &cmd.argv, false)?;
    crate::runparts::run_passthrough(ctx.host, cmd)
}

/// A program the target lacks is, for upstream, an exec failure: no exit
/// code, the OS error as the reason.
fn missing_program(ctx: &Ctx, argv: &[String], tuple: bool) -> ModResult {
    let prog = argv.first().map(String::as_str).unwrap_or("");
    if !prog.is_empty() && ctx.host.which_target(prog).is_none() {
        return Err(exec_error(
            argv,
            tuple,
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

fn exec_error(
    argv: &[String],
    tuple: bool,
    code: &str,
    reason: &str,
    out: &str,
    err: &str,
) -> ModuleError {
    let words: Vec<String> = argv.iter().map(|a| py_quote(a)).collect();
    let (open, close) = if tuple { ('(', ')') } else { ('[', ']') };
    ModuleError::with_class(
        "ProcessExecutionError",
        format!(
            "Unexpected error while running command.\nCommand: {open}{}{close}\nExit code: {code}\nReason: {reason}\nStdout: {out}\nStderr: {err}",
            words.join(", ")
        ),
    )
}

/// Upstream's apt command line (`APT_GET_COMMAND`).
const APT_GET: [&str; 5] = [
    "apt-get",
    "--option=Dpkg::Options::=--force-confold",
    "--option=Dpkg::options::=--force-unsafe-io",
    "--assume-yes",
    "--quiet",
];

/// Install `pkgs` in the target as upstream's distro does: apt on Debian
/// and Ubuntu (the lists updated first, packages apt does not know skipped
/// and reported), and each other family's package manager with upstream's
/// command line. The package lists are refreshed once per instance, as
/// upstream's `update-sources` semaphore does.
pub fn install_packages(ctx: &Ctx, pkgs: &[String]) -> ModResult {
    use ci_distro::Family;
    if pkgs.is_empty() {
        return Ok(());
    }
    let with = |prefix: &[&str]| {
        let mut argv: Vec<String> = prefix.iter().map(|s| s.to_string()).collect();
        argv.extend(pkgs.iter().cloned());
        Cmd::new(argv).in_target()
    };
    match ctx.distro.family {
        Family::Debian => apt_install(ctx, pkgs),
        Family::RedHat if ctx.distro.name == "photon" => {
            update_sources(ctx, &Cmd::new(["tdnf", "-y", "makecache"]).in_target())?;
            // Photon logs a failed installation instead of raising.
            let cmd = with(&["tdnf", "-y", "install"]);
            if let Err(e) = run_captured(ctx, &cmd) {
                log::error!("Error while installing packages: {e}");
            }
            Ok(())
        }
        Family::RedHat => {
            let cmd = if ctx.host.which_target("dnf").is_some() {
                log::debug!("Using DNF for package management");
                with(&["dnf", "-y", "install"])
            } else {
                log::debug!("Using YUM for package management");
                with(&["yum", "-t", "-y", "install"])
            };
            run_uncaptured(ctx, &cmd)
        }
        Family::Suse => run_uncaptured(
            ctx,
            &with(&[
                "zypper",
                "--non-interactive",
                "install",
                "--auto-agree-with-licenses",
            ]),
        ),
        Family::Alpine => {
            update_sources(ctx, &Cmd::new(["apk", "--quiet", "update"]).in_target())?;
            run_uncaptured(ctx, &with(&["apk", "--quiet", "add"]))
        }
        Family::Arch => {
            update_sources(
                ctx,
                &Cmd::new(["pacman", "-Sy", "--quiet", "--noconfirm", "-y"]).in_target(),
            )?;
            run_uncaptured(ctx, &with(&["pacman", "-Sy", "--quiet", "--noconfirm"]))
        }
        Family::Gentoo => {
            update_sources(ctx, &Cmd::new(["emerge", "--quiet", "--sync"]).in_target())?;
            run_uncaptured(ctx, &with(&["emerge", "--quiet"]))
        }
        Family::FreeBsd => {
            let yes = |c: Cmd| c.env("ASSUME_ALWAYS_YES", "YES");
            update_sources(ctx, &yes(Cmd::new(["pkg", "update"]).in_target()))?;
            run_uncaptured(ctx, &yes(with(&["pkg", "install"])))
        }
        Family::OpenBsd => run_uncaptured(ctx, &with(&["pkg_add", "-U"])),
        Family::NetBsd | Family::Other => Err(ModuleError::with_class(
            "PackageInstallerError",
            format!(
                "Installing packages ({}) on {} is not supported by cloud-init-rs yet",
                pkgs.join(", "),
                ctx.distro.name
            ),
        )),
    }
}

/// Upstream refreshes the package lists once per instance (its
/// `update-sources` semaphore).
fn update_sources(ctx: &Ctx, cmd: &Cmd) -> ModResult {
    use ci_state::sem::{has_run, mark_run, Frequency};
    let name = "update-sources";
    let done = has_run(ctx.host, ctx.paths, name, Frequency::PerInstance)
        .map_err(|e| ModuleError::new(e.to_string()))?;
    if done {
        return Ok(());
    }
    // Marked before the run, and kept when it fails, as upstream's lock.
    mark_run(ctx.host, ctx.paths, name, Frequency::PerInstance)
        .map_err(|e| ModuleError::new(e.to_string()))?;
    run_uncaptured(ctx, cmd)
}

fn apt_install(ctx: &Ctx, pkgs: &[String]) -> ModResult {
    if ctx.host.which_target("apt-get").is_none() {
        log::debug!("Package manager 'apt' not available");
        return Err(not_installed(pkgs));
    }
    let mut base: Vec<String> = Vec::new();
    // `apt_get_wrapper` defaults to eatmydata when the target has it.
    if ctx.host.which_target("eatmydata").is_some() {
        base.push("eatmydata".into());
    }
    base.extend(APT_GET.iter().map(|s| s.to_string()));
    let apt = |extra: &[String]| {
        let mut argv = base.clone();
        argv.extend(extra.iter().cloned());
        Cmd::new(argv)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .in_target()
    };
    update_sources(ctx, &apt(&["update".into()]))?;
    let known = ctx
        .host
        .run(&Cmd::new(["apt-cache", "pkgnames"]).in_target())?
        .stdout_str();
    let known: Vec<&str> = known.lines().collect();
    let (available, missing): (Vec<String>, Vec<String>) = pkgs.iter().cloned().partition(|p| {
        known.contains(
            &p.split(['/', '='])
                .next()
                .unwrap_or(p)
                .trim_end_matches(['-', '^']),
        )
    });
    if !missing.is_empty() {
        log::debug!(
            "The following packages were not found by APT so APT will not attempt to install them: {}",
            ci_pyval::py_list(&missing)
        );
    }
    if !available.is_empty() {
        let mut args = vec!["install".to_string()];
        args.extend(available);
        run_uncaptured(ctx, &apt(&args))?;
    }
    if !missing.is_empty() {
        log::info!(
            "Failed to install the following packages: {}. See associated package manager logs for more details.",
            py_set(&missing)
        );
        return Err(not_installed(&missing));
    }
    Ok(())
}

fn py_set(pkgs: &[String]) -> String {
    let items: Vec<String> = pkgs.iter().map(|p| py_quote(p)).collect();
    format!("{{{}}}", items.join(", "))
}

fn not_installed(pkgs: &[String]) -> ModuleError {
    ModuleError::with_class(
        "PackageInstallerError",
        format!(
            "Failed to install the following packages: {}. See associated package manager logs for more details.",
            py_set(pkgs)
        ),
    )
}

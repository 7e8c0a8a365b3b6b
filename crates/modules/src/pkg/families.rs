//! The package commands of the families upstream drives without its
//! package-manager layer: each distro's `package_command`,
//! `install_packages` and `update_package_sources`.

use super::spec;
use super::{run_uncaptured, update_once};
use crate::{Ctx, ModResult, ModuleError};
use ci_distro::Family;
use ci_host::Cmd;
use serde_json::Value;

/// Which command line family a distro uses for packages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    Apt,
    Dnf,
    Tdnf,
    Zypper,
    Apk,
    Pacman,
    Emerge,
    FreeBsdPkg,
    NetBsd,
    OpenBsd,
    Oma,
    Unsupported,
}

pub fn tool(ctx: &Ctx) -> Tool {
    match ctx.distro.family {
        Family::Debian => Tool::Apt,
        Family::RedHat if matches!(ctx.distro.name.as_str(), "photon" | "mariner") => Tool::Tdnf,
        Family::RedHat => Tool::Dnf,
        Family::Suse => Tool::Zypper,
        Family::Alpine => Tool::Apk,
        Family::Arch => Tool::Pacman,
        Family::Gentoo => Tool::Emerge,
        Family::FreeBsd => Tool::FreeBsdPkg,
        Family::NetBsd => Tool::NetBsd,
        Family::OpenBsd => Tool::OpenBsd,
        Family::Other if ctx.distro.name == "aosc" => Tool::Oma,
        Family::Other => Tool::Unsupported,
    }
}

fn unsupported(ctx: &Ctx, what: &str) -> ModuleError {
    ModuleError::with_class(
        "PackageInstallerError",
        format!(
            "{what} on {} is not supported by cloud-init-rs",
            ctx.distro.name
        ),
    )
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The distro's `install_packages` for every family but Debian's.
pub fn install(ctx: &Ctx, t: Tool, pkgs: &[Value]) -> ModResult {
    match t {
        Tool::Dnf | Tool::Tdnf | Tool::Oma => package_command(ctx, t, "install", &[], pkgs),
        Tool::Zypper => package_command(
            ctx,
            t,
            "install",
            &strings(&["--auto-agree-with-licenses"]),
            pkgs,
        ),
        Tool::Apk => {
            update_package_sources(ctx, t, false)?;
            package_command(ctx, t, "add", &[], pkgs)
        }
        Tool::Pacman | Tool::Emerge => {
            update_package_sources(ctx, t, false)?;
            package_command(ctx, t, "", &[], pkgs)
        }
        Tool::FreeBsdPkg | Tool::NetBsd | Tool::OpenBsd => {
            update_package_sources(ctx, t, false)?;
            package_command(ctx, t, "install", &[], pkgs)
        }
        Tool::Apt | Tool::Unsupported => {
            let names = spec::expand(pkgs, "-").unwrap_or_default();
            Err(unsupported(
                ctx,
                &format!("Installing packages ({})", names.join(", ")),
            ))
        }
    }
}

/// The distro's `update_package_sources`: once per instance (or now, with
/// `force`); failures are raised, as these families do not catch them.
pub fn update_package_sources(ctx: &Ctx, t: Tool, force: bool) -> ModResult {
    let command = match t {
        Tool::Dnf | Tool::Tdnf => "makecache",
        Tool::Zypper => "refresh",
        Tool::Apk | Tool::FreeBsdPkg => "update",
        Tool::Pacman => "-y",
        Tool::Emerge => "--sync",
        // NetBSD and OpenBSD have nothing to refresh.
        Tool::NetBsd | Tool::OpenBsd => return Ok(()),
        Tool::Oma => {
            // Upstream hands the string to its runner as the argument list,
            // which calls the command with each letter: a TypeError, after
            // the semaphore is taken; never with `force`.
            return update_once(ctx, false, || {
                Err(ModuleError::with_class(
                    "TypeError",
                    "Distro.package_command() takes from 2 to 4 positional arguments but 8 were given",
                ))
            });
        }
        Tool::Apt | Tool::Unsupported => return Err(unsupported(ctx, "Updating package sources")),
    };
    update_once(ctx, force, || package_command(ctx, t, command, &[], &[]))
}

/// The distro's `package_command(command, args, pkgs)`.
pub fn package_command(
    ctx: &Ctx,
    t: Tool,
    command: &str,
    args: &[String],
    pkgs: &[Value],
) -> ModResult {
    match t {
        Tool::Dnf => {
            let mut argv = if ctx.host.which_target("dnf").is_some() {
                log::debug!("Using DNF for package management");
                strings(&["dnf"])
            } else {
                log::debug!("Using YUM for package management");
                // -t: yum tolerates packages already installed.
                strings(&["yum", "-t"])
            };
            argv.push("-y".into());
            argv.extend(args.iter().cloned());
            argv.push(command.into());
            argv.extend(spec::expand(pkgs, "-")?);
            run_uncaptured(ctx, &Cmd::new(argv).in_target())
        }
        Tool::Tdnf => {
            let mut argv = strings(&["tdnf", "-y"]);
            argv.extend(args.iter().cloned());
            argv.push(command.into());
            argv.extend(spec::expand(pkgs, "-")?);
            photon_exec(ctx, argv);
            Ok(())
        }
        Tool::Zypper => zypper(ctx, command, args, pkgs),
        Tool::Apk => {
            let mut argv = strings(&["apk", "--quiet"]);
            argv.extend(args.iter().cloned());
            if !command.is_empty() {
                argv.push(command.into());
            }
            if command == "upgrade" {
                argv.extend(strings(&["--update-cache", "--available"]));
            }
            argv.extend(spec::expand(pkgs, "-")?);
            run_uncaptured(ctx, &Cmd::new(argv).in_target())
        }
        Tool::Pacman => {
            let mut argv = strings(&["pacman", "-Sy", "--quiet", "--noconfirm"]);
            argv.extend(args.iter().cloned());
            let command = if command == "upgrade" { "-u" } else { command };
            if !command.is_empty() {
                argv.push(command.into());
            }
            argv.extend(spec::expand(pkgs, "-")?);
            run_uncaptured(ctx, &Cmd::new(argv).in_target())
        }
        Tool::Emerge => {
            let mut argv = strings(&["emerge", "--quiet"]);
            if command == "upgrade" {
                argv.extend(strings(&["--update", "world"]));
            } else {
                argv.extend(args.iter().cloned());
                if !command.is_empty() {
                    argv.push(command.into());
                }
                argv.extend(spec::expand(pkgs, "-")?);
            }
            run_uncaptured(ctx, &Cmd::new(argv).in_target())
        }
        Tool::FreeBsdPkg | Tool::NetBsd | Tool::OpenBsd => bsd(ctx, t, command, args, pkgs),
        Tool::Oma => {
            let mut argv = strings(&["oma"]);
            if !command.is_empty() {
                argv.push(command.into());
            }
            argv.push("-y".into());
            // oma takes the entries as they are (no version spelling).
            for p in pkgs {
                match p {
                    Value::String(s) => argv.push(s.clone()),
                    _ => {
                        return Err(ModuleError::with_class(
                            "TypeError",
                            "expected str, bytes or os.PathLike object",
                        ))
                    }
                }
            }
            run_uncaptured(ctx, &Cmd::new(argv).in_target())
        }
        Tool::Apt | Tool::Unsupported => Err(unsupported(ctx, "Package commands")),
    }
}

/// Photon's `exec_cmd`: captured; stderr output or a failure is logged,
/// never raised.
fn photon_exec(ctx: &Ctx, argv: Vec<String>) {
    let shown = ci_pyval::py_list(&argv);
    log::debug!("Attempting to run: {shown}");
    let cmd = Cmd::new(argv).in_target();
    match super::run_captured_streams(ctx, &cmd) {
        Ok((_out, err)) if !err.is_empty() => {
            log::warn!("Running {shown} resulted in stderr output: {err}");
            log::error!("Error while installing packages: {err}");
        }
        Ok(_) => {}
        Err(e) => {
            log::warn!("Command {shown} failed\n{e}");
            log::error!("Error while installing packages: None");
        }
    }
}

/// How SUSE changes packages: zypper, or transactional-update on a btrfs
/// root that has it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum SuseMethod {
    Zypper,
    Transactional,
}

/// Upstream's `_set_update_method`, from the target's mount table.
fn suse_method(ctx: &Ctx) -> (SuseMethod, bool) {
    let mountinfo = ctx
        .host
        .read_to_string("/proc/self/mountinfo")
        .unwrap_or_default();
    let root = mountinfo.lines().rev().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        let mount_point = left.split_whitespace().nth(4)?;
        let mut r = right.split_whitespace();
        let fs_type = r.next()?;
        let dev = r.next()?;
        (mount_point == "/").then(|| (dev.to_string(), fs_type.to_string()))
    });
    let Some((dev, fs_type)) = root else {
        log::info!("Could not determine filesystem type of '/' using zypper");
        return (SuseMethod::Zypper, false);
    };
    let mounts = ctx.host.read_to_string("/proc/mounts").unwrap_or_default();
    let read_only = mounts
        .lines()
        .filter(|m| m.starts_with(&dev))
        .map(|m| m.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.get(1) == Some(&"/"))
        .is_some_and(|f| f.get(3).is_some_and(|o| o.starts_with("ro")));
    let method = if fs_type.eq_ignore_ascii_case("btrfs")
        && ctx.host.exists("/usr/sbin/transactional-update")
    {
        SuseMethod::Transactional
    } else {
        SuseMethod::Zypper
    };
    (method, read_only)
}

fn zypper(ctx: &Ctx, command: &str, args: &[String], pkgs: &[Value]) -> ModResult {
    let (method, read_only) = suse_method(ctx);
    if read_only && method != SuseMethod::Transactional {
        log::error!(
            "Package operation requested but read only root without btrfs and transactional-updata"
        );
        return Ok(());
    }
    let transactional = [
        "transactional-update",
        "--non-interactive",
        "--drop-if-no-change",
    ];
    let mut argv = match method {
        SuseMethod::Zypper => strings(&["zypper", "--non-interactive"]),
        SuseMethod::Transactional => {
            let mut v = strings(&transactional);
            v.push("pkg".into());
            v
        }
    };
    let mut command = if command == "upgrade" {
        "update"
    } else {
        command
    };
    if pkgs.is_empty() && method == SuseMethod::Transactional && command == "update" {
        command = "up";
        argv = strings(&transactional);
    }
    // Refreshing the repositories only writes the read-write part.
    if command == "refresh" {
        argv = strings(&["zypper", "--non-interactive"]);
    }
    argv.push(command.into());
    argv.extend(args.iter().cloned());
    argv.extend(spec::expand(pkgs, "-")?);
    run_uncaptured(ctx, &Cmd::new(argv).in_target())?;
    if method == SuseMethod::Transactional {
        log::info!("To use/activate the installed packages reboot the system");
    }
    Ok(())
}

/// The BSDs' `package_command`: fixed prefixes per operation, with each
/// system's environment.
fn bsd(ctx: &Ctx, t: Tool, command: &str, args: &[String], pkgs: &[Value]) -> ModResult {
    let pkgin = t != Tool::FreeBsdPkg && ctx.host.exists("/usr/pkg/bin/pkgin");
    let prefix: &[&str] = match (t, command) {
        (Tool::FreeBsdPkg, "install") => &["pkg", "install"],
        (Tool::FreeBsdPkg, "remove") => &["pkg", "remove"],
        (Tool::FreeBsdPkg, "update") => &["pkg", "update"],
        (Tool::FreeBsdPkg, "upgrade") => &["pkg", "upgrade"],
        (_, "install") if pkgin => &["pkgin", "-y", "install"],
        (_, "remove") if pkgin => &["pkgin", "-y", "remove"],
        (_, "update") if pkgin => &["pkgin", "-y", "update"],
        (_, "upgrade") if pkgin => &["pkgin", "-y", "full-upgrade"],
        (_, "install") => &["pkg_add", "-U"],
        (_, "remove") => &["pkg_delete"],
        // No update or upgrade without pkgin.
        (_, "update") | (_, "upgrade") => return Ok(()),
        _ => &[],
    };
    let mut argv = strings(prefix);
    argv.extend(args.iter().cloned());
    argv.extend(spec::expand(pkgs, "-")?);
    let mut cmd = Cmd::new(argv).in_target();
    match t {
        Tool::FreeBsdPkg => cmd = cmd.env("ASSUME_ALWAYS_YES", "YES"),
        Tool::NetBsd => {
            let uts = rustix::system::uname();
            let release = uts.release().to_string_lossy();
            let machine = uts.machine().to_string_lossy();
            cmd = cmd.env(
                "PKG_PATH",
                format!("http://cdn.netbsd.org/pub/pkgsrc/packages/NetBSD/{machine}/{release}/All"),
            );
        }
        _ => {}
    }
    if cmd.argv.is_empty() {
        return Ok(());
    }
    run_uncaptured(ctx, &cmd)
}

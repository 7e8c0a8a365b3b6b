//! apt, as upstream's `Apt` package manager drives it: the configured
//! command line (`apt_get_wrapper`, `apt_get_command`,
//! `apt_get_upgrade_subcommand`), `DEBIAN_FRONTEND=noninteractive`, the wait
//! for apt's locks, and the packages apt does not know left out.

use super::spec::{self, Package};
use super::{run_captured_output, run_uncaptured, update_once};
use crate::{Ctx, ModResult, ModuleError};
use ci_host::{Cmd, Host};
use ci_pyval::{is_true, py_str};
use serde_json::Value;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Upstream's `APT_GET_COMMAND`.
pub const APT_GET: [&str; 5] = [
    "apt-get",
    "--option=Dpkg::Options::=--force-confold",
    "--option=Dpkg::options::=--force-unsafe-io",
    "--assume-yes",
    "--quiet",
];

/// Locks apt and dpkg take, in the order apt takes them; only those that
/// exist are waited for. They are the target's (under `--root`, the root's).
pub const LOCK_FILES: [&str; 4] = [
    "/var/lib/dpkg/lock-frontend",
    "/var/lib/dpkg/lock",
    "/var/cache/apt/archives/lock",
    "/var/lib/apt/lists/lock",
];

/// How long upstream waits for apt's locks.
pub const LOCK_WAIT: Duration = Duration::from_secs(30);

/// The clock and lock probe behind the lock wait, so tests need not sleep
/// or hold real locks.
pub trait LockWait {
    fn elapsed(&self) -> Duration;
    fn sleep(&self, d: Duration);
    fn locks_free(&self, host: &Host) -> bool;
}

/// The real wait: wall-clock time, and each existing lock file probed with
/// a non-blocking exclusive lock as apt itself takes them.
pub struct RealWait {
    start: Instant,
}

impl RealWait {
    pub fn new() -> Self {
        RealWait {
            start: Instant::now(),
        }
    }
}

impl LockWait for RealWait {
    fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }
    fn sleep(&self, d: Duration) {
        std::thread::sleep(d)
    }
    fn locks_free(&self, host: &Host) -> bool {
        // Resolved inside the root: an image's lock file that is a link
        // must not make us open (and truncate) a file of this machine.
        LOCK_FILES.iter().all(|l| lock_free(&host.resolve(l)))
    }
}

fn lock_free(path: &std::path::Path) -> bool {
    use rustix::fs::{fcntl_lock, FlockOperation};
    if !path.exists() {
        return true;
    }
    // Upstream opens the lock for writing (truncating it, as apt's lock
    // files are empty) and releases it on close.
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
    {
        Ok(f) => fcntl_lock(&f, FlockOperation::NonBlockingLockExclusive).is_ok(),
        Err(_) => false,
    }
}

/// apt's command line from the config, as upstream's `Apt.from_config`.
pub struct Apt {
    /// The configured `apt_get_command` (upstream's default when unset).
    get_command: Vec<String>,
    /// The wrapper, then `get_command`.
    command: Vec<String>,
    upgrade_subcommand: String,
}

impl Apt {
    /// Read from `system_info`, the distro's own config, as upstream does.
    pub fn from_config(ctx: &Ctx) -> Result<Apt, ModuleError> {
        let sys = &ctx.distro.system_info;
        let wrapper = wrapper(ctx, sys.get("apt_get_wrapper"))?;
        // Upstream 25.1.4 fails with an AttributeError when
        // `apt_get_command` is set; the configured command is used here.
        let get_command: Vec<String> = match sys.get("apt_get_command") {
            Some(Value::Array(a)) if !a.is_empty() => a.iter().map(py_str).collect(),
            Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
            _ => APT_GET.iter().map(|s| s.to_string()).collect(),
        };
        let upgrade_subcommand = match sys.get("apt_get_upgrade_subcommand") {
            None | Some(Value::Null) => "dist-upgrade".to_string(),
            Some(v) => py_str(v),
        };
        let mut command = wrapper;
        command.extend(get_command.iter().cloned());
        Ok(Apt {
            get_command,
            command,
            upgrade_subcommand,
        })
    }

    /// `Apt.available`: the apt-get program is in the target.
    pub fn available(&self, ctx: &Ctx) -> bool {
        let prog = self.get_command.first().map(String::as_str).unwrap_or("");
        ctx.host.which_target(prog).is_some()
    }

    /// The command line for `command` (`upgrade` is the configured upgrade
    /// subcommand) with `args` before it and `pkgs` after it.
    pub fn command_line(&self, args: &[String], command: &str, pkgs: &[String]) -> Cmd {
        let mut argv = self.command.clone();
        argv.extend(args.iter().cloned());
        argv.push(if command == "upgrade" {
            self.upgrade_subcommand.clone()
        } else {
            command.to_string()
        });
        argv.extend(pkgs.iter().cloned());
        Cmd::new(argv)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .in_target()
    }

    /// `Apt.run_package_command`: the command once apt's locks are free.
    pub fn run(&self, ctx: &Ctx, args: &[String], command: &str, pkgs: &[String]) -> ModResult {
        let cmd = self.command_line(args, command, pkgs);
        run_when_unlocked(ctx, &cmd, &RealWait::new(), LOCK_WAIT)
    }

    /// `Apt.update_package_sources`: `apt-get update` once per instance,
    /// or now with `force`.
    pub fn update_package_sources(&self, ctx: &Ctx, force: bool) -> ModResult {
        update_once(ctx, force, || self.run(ctx, &[], "update", &[]))
    }

    /// `Apt.install_packages`: the lists updated, packages apt does not
    /// list left out. Returns the names left out.
    pub fn install(&self, ctx: &Ctx, pkgs: &[Package]) -> Result<Vec<String>, ModuleError> {
        self.update_package_sources(ctx, false)?;
        let spelled: Vec<String> = pkgs.iter().map(|p| p.spelled("=")).collect();
        let known = pkgnames(ctx)?;
        let mut unavailable: Vec<String> = Vec::new();
        for p in &spelled {
            let name = p.split('=').next().unwrap_or(p);
            let base = name.split('/').next().unwrap_or(name);
            if !known.contains(base.trim_end_matches(['-', '^'])) {
                unavailable.push(name.to_string());
            }
        }
        if !unavailable.is_empty() {
            log::debug!(
                "The following packages were not found by APT so APT will not attempt to install them: {}",
                spec::py_list(&unavailable)
            );
        }
        // Upstream compares the spelled packages with the bare names, so a
        // pinned package is attempted even when apt does not list it.
        let to_install: Vec<String> = spelled
            .into_iter()
            .filter(|p| !unavailable.contains(p))
            .collect();
        if !to_install.is_empty() {
            self.run(ctx, &[], "install", &to_install)?;
        }
        Ok(unavailable)
    }
}

/// `get_apt_wrapper`: the prefix for apt-get (eatmydata when the target
/// has it, unless configured otherwise).
fn wrapper(ctx: &Ctx, cfg: Option<&Value>) -> Result<Vec<String>, ModuleError> {
    let (enabled, command): (Value, Vec<String>) = match cfg {
        None | Some(Value::Null) => ("auto".into(), vec!["eatmydata".into()]),
        Some(Value::Object(m)) if m.is_empty() => ("auto".into(), vec!["eatmydata".into()]),
        Some(c) => {
            let enabled = c.get("enabled").cloned().unwrap_or(Value::Null);
            let command = match c.get("command") {
                Some(Value::String(s)) => vec![s.clone()],
                Some(Value::Array(a)) => a.iter().map(py_str).collect(),
                _ => {
                    return Err(ModuleError::with_class(
                        "TypeError",
                        "apt_wrapper command must be a string or list",
                    ))
                }
            };
            (enabled, command)
        }
    };
    let auto = py_str(&enabled).to_lowercase() == "auto"
        && command
            .first()
            .is_some_and(|c| ctx.host.which_target(c).is_some());
    Ok(if is_true(&enabled) || auto {
        command
    } else {
        Vec::new()
    })
}

/// `apt-cache pkgnames`, once per process and target as upstream caches it
/// for the stage.
fn pkgnames(ctx: &Ctx) -> Result<HashSet<String>, ModuleError> {
    static CACHE: Mutex<Option<(PathBuf, HashSet<String>)>> = Mutex::new(None);
    let root = ctx.host.path("/");
    if let Ok(c) = CACHE.lock() {
        if let Some((r, names)) = c.as_ref() {
            if *r == root {
                return Ok(names.clone());
            }
        }
    }
    let out = run_captured_output(ctx, &Cmd::new(["apt-cache", "pkgnames"]).in_target())?;
    let names: HashSet<String> = out.lines().map(str::to_string).collect();
    if let Ok(mut c) = CACHE.lock() {
        *c = Some((root, names.clone()));
    }
    Ok(names)
}

/// Upstream's `_wait_for_apt_command`: wait (up to `timeout`, a second at a
/// time) until no apt lock is held, then run; a failure while another
/// process took a lock meanwhile is waited out too.
pub fn run_when_unlocked(
    ctx: &Ctx,
    cmd: &Cmd,
    wait: &dyn LockWait,
    timeout: Duration,
) -> ModResult {
    log::debug!("Waiting for APT lock");
    while wait.elapsed() < timeout {
        if !wait.locks_free(ctx.host) {
            wait.sleep(Duration::from_secs(1));
            continue;
        }
        log::debug!("APT lock available");
        match run_uncaptured(ctx, cmd) {
            Ok(()) => return Ok(()),
            Err(e) if e.py_class() != "ProcessExecutionError" || wait.locks_free(ctx.host) => {
                return Err(e)
            }
            Err(_) => {
                log::debug!("Another process holds APT lock. Waiting...");
                wait.sleep(Duration::from_secs(1));
            }
        }
    }
    Err(ModuleError::with_class(
        "TimeoutError",
        "Could not get APT lock",
    ))
}

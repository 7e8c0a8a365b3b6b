//! The machine as seen by the agent.
//!
//! Every path the agent touches is an absolute path *on the target system*
//! (`/etc/hosts`), resolved through [`Host::path`] against a root prefix. The
//! same code therefore provisions a real machine (`/`), a mounted image or a
//! test sandbox. External programs go through one [`Runner`] so that every
//! call is logged and can be replaced in unit tests.

mod accounts;
mod fs;
mod inroot;
pub mod random;
mod runner;

pub use accounts::{GroupEntry, UserEntry};
pub use fs::WriteOpts;
pub use inroot::MAX_HOPS;
pub use runner::{
    acts_on_machine, Cmd, CmdError, CmdOutput, RealRunner, RecordingRunner, Runner, Where,
};

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The `PATH` a boot unit gets from systemd, which upstream's commands and
/// ours search inside the target.
pub const TARGET_PATH: &[&str] = &[
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// The target machine: a root directory plus the command runner used on it.
#[derive(Clone)]
pub struct Host {
    root: PathBuf,
    runner: Arc<dyn Runner>,
    /// Under `--root`: whether the target's tools that act on the running
    /// machine (mounts, swap, disks, services, power, routes, kernel
    /// modules) may run. Off unless the system config says so.
    machine_commands: bool,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host").field("root", &self.root).finish()
    }
}

impl Host {
    /// A host rooted at `root` (use `/` for the running system) using real commands.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self::with_runner(root, Arc::new(RealRunner))
    }

    /// A host with a caller-chosen runner (tests record calls instead of running them).
    pub fn with_runner(root: impl Into<PathBuf>, runner: Arc<dyn Runner>) -> Self {
        let root = root.into();
        let root = if root.as_os_str().is_empty() {
            PathBuf::from("/")
        } else {
            root
        };
        Host {
            root,
            runner,
            machine_commands: false,
        }
    }

    /// Under `--root`, let the target's machine-level tools run (see
    /// [`runner::acts_on_machine`]): for a root inside a throwaway container
    /// or VM, or with those tools replaced by stand-ins. Without `--root`
    /// they always run.
    pub fn allow_machine_commands(mut self, yes: bool) -> Self {
        self.machine_commands = yes;
        self
    }

    /// Whether a command that acts on the running machine may run here.
    pub fn runs_machine_commands(&self) -> bool {
        !self.is_sandbox() || self.machine_commands
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// True when the agent works on a directory other than `/`: steps that
    /// would change the running kernel or machine (hostname syscall, mounts,
    /// resizes, network bring-up, service restarts) are skipped and logged.
    pub fn is_sandbox(&self) -> bool {
        self.root != Path::new("/")
    }

    /// Flush the root filesystem to disk (`syncfs`). Single writes are
    /// atomic (renamed into place) but not flushed one by one, which costs
    /// a disk flush per file and, on a first boot, seconds in all; a stage
    /// calls this once at its end instead. Nothing under `--root`, whose
    /// durability is the caller's.
    pub fn sync_root(&self) {
        if self.is_sandbox() {
            return;
        }
        let synced = std::fs::File::open(&self.root)
            .and_then(|d| rustix::fs::syncfs(&d).map_err(std::io::Error::from));
        if let Err(e) = synced {
            log::debug!("Failed to flush {}: {e}", self.root.display());
        }
    }

    /// Map an absolute target path to the path on this machine. `..` cannot
    /// climb above the root. Under a sandbox root, symlinks in the parent
    /// directories are followed *inside* the root (an absolute link such as
    /// `/var/lib/cloud/instance -> /var/lib/cloud/instances/i-1` must not lead
    /// out to this machine's files); the last component is left as it is, so
    /// link operations act on the link itself.
    ///
    /// This is for looking, not writing: the last component may still be a
    /// link the kernel would follow on this machine. Anything that writes,
    /// creates or changes a file uses [`Host::try_resolve`]/[`Host::try_path`]
    /// or the file methods on `Host`. On a chain of too many links the answer
    /// is a path that cannot exist (see `inroot.rs`).
    pub fn path(&self, target: impl AsRef<Path>) -> PathBuf {
        self.map_or_unusable(target.as_ref(), false)
    }

    /// Like [`Host::path`], but also follows a symlink in the last component
    /// inside the root: use it to read what a path points at.
    pub fn resolve(&self, target: impl AsRef<Path>) -> PathBuf {
        self.map_or_unusable(target.as_ref(), true)
    }

    /// Upstream's `subp.which` for a program the target runs (commands
    /// `in_target()` are looked up the same way): the first executable
    /// regular file named `prog` in the target's `PATH` directories, as a
    /// target path. A `prog` with a slash is checked as it is.
    pub fn which_target(&self, prog: &str) -> Option<String> {
        use std::os::unix::fs::PermissionsExt;
        let exe = |p: &str| {
            std::fs::metadata(self.resolve(p))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        };
        if prog.contains('/') {
            return exe(prog).then(|| prog.to_string());
        }
        TARGET_PATH
            .iter()
            .map(|d| format!("{d}/{prog}"))
            .find(|p| exe(p))
    }

    pub fn runner(&self) -> &dyn Runner {
        self.runner.as_ref()
    }

    /// Run a command on this host; see [`Cmd`] for where it runs.
    pub fn run(&self, cmd: &Cmd) -> Result<CmdOutput, CmdError> {
        self.runner.run(self, cmd)
    }

    /// The kernel command line: `DEBUG_PROC_CMDLINE` (as upstream) wins, then
    /// `<root>/proc/cmdline`.
    pub fn kernel_cmdline(&self) -> String {
        if let Ok(v) = std::env::var("DEBUG_PROC_CMDLINE") {
            return v;
        }
        self.read_to_string("/proc/cmdline")
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    }

    /// The seconds-since-boot field of `<root>/proc/uptime`, as text. A
    /// sandbox root without one shares this machine's kernel, so this
    /// machine's `/proc/uptime` answers instead. Without /proc at all (a
    /// bare chroot, an early boot) the kernel's boot clock, which is what
    /// that field shows: with 0 every stage would look never started.
    pub fn uptime_text(&self) -> Option<String> {
        let first = |s: String| s.split_whitespace().next().map(str::to_string);
        match self.read_to_string("/proc/uptime") {
            Ok(s) => first(s),
            Err(_) if self.is_sandbox() => std::fs::read_to_string("/proc/uptime")
                .ok()
                .and_then(first)
                .or_else(boot_clock_text),
            Err(_) => boot_clock_text(),
        }
    }

    /// Seconds since boot (see [`Host::uptime_text`]; 0.0 if unreadable).
    pub fn uptime(&self) -> f64 {
        self.uptime_text()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    }

    /// A DMI field from `<root>/sys/class/dmi/id/<key>`, trimmed; `None` if
    /// absent or empty. Keys use the sysfs names (`sys_vendor`,
    /// `product_name`, `product_serial`, `product_uuid`, `chassis_asset_tag`).
    pub fn dmi(&self, key: &str) -> Option<String> {
        let v = self
            .read_to_string(format!("/sys/class/dmi/id/{key}"))
            .ok()?;
        let v = v.trim().to_string();
        (!v.is_empty()).then_some(v)
    }

    /// True when the agent runs as root (owner of `/proc/self` is our euid).
    pub fn running_as_root() -> bool {
        // The effective uid itself: /proc may not be mounted (a bare chroot).
        rustix::process::geteuid().is_root()
    }
}

/// `CLOCK_BOOTTIME` as `/proc/uptime` prints it (seconds, two decimals).
#[cfg(target_os = "linux")]
fn boot_clock_text() -> Option<String> {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Boottime);
    let secs = t.tv_sec as f64 + t.tv_nsec as f64 / 1e9;
    (secs > 0.0).then(|| format!("{secs:.2}"))
}

#[cfg(not(target_os = "linux"))]
fn boot_clock_text() -> Option<String> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn boot_clock_matches_proc_uptime() {
        let Ok(proc) = std::fs::read_to_string("/proc/uptime") else {
            return;
        };
        let proc: f64 = proc.split_whitespace().next().unwrap().parse().unwrap();
        let clock: f64 = boot_clock_text().unwrap().parse().unwrap();
        assert!((clock - proc).abs() < 5.0, "{clock} vs {proc}");
    }

    #[test]
    fn path_stays_under_root() {
        let h = Host::new("/tmp/r");
        assert_eq!(h.path("/etc/hosts"), PathBuf::from("/tmp/r/etc/hosts"));
        assert_eq!(h.path("/../../etc"), PathBuf::from("/tmp/r/etc"));
        assert_eq!(h.path("/a/../b"), PathBuf::from("/tmp/r/b"));
        assert!(h.is_sandbox());
        assert!(!Host::new("/").is_sandbox());
        assert_eq!(Host::new("/").path("/etc/x"), PathBuf::from("/etc/x"));
    }

    #[test]
    fn which_target_looks_in_the_roots_path_only() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let h = Host::new(d.path());
        // `sh` exists on this machine but not in the empty root.
        assert_eq!(h.which_target("sh"), None);
        h.write_atomic("/usr/bin/tool", b"#!/bin/sh\n", &WriteOpts::mode(0o755))
            .unwrap();
        h.write_atomic("/usr/local/sbin/tool", b"", &WriteOpts::mode(0o644))
            .unwrap();
        // Not executable: skipped, as a shell would.
        assert_eq!(h.which_target("tool").as_deref(), Some("/usr/bin/tool"));
        std::fs::set_permissions(
            h.path("/usr/local/sbin/tool"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        assert_eq!(
            h.which_target("tool").as_deref(),
            Some("/usr/local/sbin/tool")
        );
        assert_eq!(
            h.which_target("/usr/bin/tool").as_deref(),
            Some("/usr/bin/tool")
        );
        assert_eq!(h.which_target("/usr/bin/none"), None);
    }

    #[test]
    fn absolute_links_resolve_inside_the_root() {
        let d = tempfile::tempdir().unwrap();
        let h = Host::new(d.path());
        h.write_atomic(
            "/var/lib/cloud/instances/i-1/sem/x",
            b"1",
            &WriteOpts::default(),
        )
        .unwrap();
        h.symlink("/var/lib/cloud/instances/i-1", "/var/lib/cloud/instance")
            .unwrap();
        assert_eq!(
            h.path("/var/lib/cloud/instance/sem/x"),
            d.path().join("var/lib/cloud/instances/i-1/sem/x")
        );
        assert_eq!(
            h.read_to_string("/var/lib/cloud/instance/sem/x").unwrap(),
            "1"
        );
        assert_eq!(
            h.path("/var/lib/cloud/instance"),
            d.path().join("var/lib/cloud/instance")
        );
        assert_eq!(
            h.resolve("/var/lib/cloud/instance"),
            d.path().join("var/lib/cloud/instances/i-1")
        );
        assert!(h.is_dir("/var/lib/cloud/instance"));
        assert_eq!(
            h.list_dir("/var/lib/cloud/instance"),
            vec!["sem".to_string()]
        );
    }

    #[test]
    fn reads_proc_and_dmi_under_root() {
        let d = tempfile::tempdir().unwrap();
        let h = Host::new(d.path());
        h.write_atomic("/proc/uptime", b"12.34 5.00\n", &WriteOpts::default())
            .unwrap();
        h.write_atomic(
            "/sys/class/dmi/id/product_serial",
            b"ds=nocloud;i=abc\n",
            &WriteOpts::default(),
        )
        .unwrap();
        assert!((h.uptime() - 12.34).abs() < 1e-9);
        assert_eq!(h.dmi("product_serial").as_deref(), Some("ds=nocloud;i=abc"));
        assert_eq!(h.dmi("sys_vendor"), None);
    }
}

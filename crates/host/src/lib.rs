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
pub use runner::{Cmd, CmdError, CmdOutput, RealRunner, RecordingRunner, Runner, Where};

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The target machine: a root directory plus the command runner used on it.
#[derive(Clone)]
pub struct Host {
    root: PathBuf,
    runner: Arc<dyn Runner>,
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
        Host { root, runner }
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
    /// machine's `/proc/uptime` answers instead.
    pub fn uptime_text(&self) -> Option<String> {
        let first = |s: String| s.split_whitespace().next().map(str::to_string);
        match self.read_to_string("/proc/uptime") {
            Ok(s) => first(s),
            Err(_) if self.is_sandbox() => {
                std::fs::read_to_string("/proc/uptime").ok().and_then(first)
            }
            Err(_) => None,
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
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata("/proc/self")
            .map(|m| m.uid() == 0)
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

//! Shared helpers for sandbox runs of the real binaries on a copy of a
//! minimal Debian root (tools/mkroot.sh).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_cloud-init");
pub const CLOUD_ID: &str = env!("CARGO_BIN_EXE_cloud-id");

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn is_root() -> bool {
    ci_host::Host::running_as_root()
}

/// The pristine Debian root, or `None` (with a note) when this machine
/// cannot run sandbox tests. In CI (root, CI=true) a missing root is a failure.
pub fn debian_root() -> Option<PathBuf> {
    if !is_root() {
        eprintln!("note: sandbox test skipped: needs root (useradd --root, chroot)");
        return None;
    }
    match std::env::var_os("CIRS_DEBIAN_ROOT") {
        Some(p) if Path::new(&p).join(".complete").exists() => Some(PathBuf::from(p)),
        _ => {
            let out = Command::new("bash")
                .arg(repo().join("tools/mkroot.sh"))
                .output()
                .ok()?;
            let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim().to_string());
            if out.status.success() && p.join(".complete").exists() {
                return Some(p);
            }
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must be able to build the Debian root: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            eprintln!("note: sandbox test skipped: no Debian root (tools/mkroot.sh failed)");
            None
        }
    }
}

/// Where sandbox roots are copied: `CIRS_SCRATCH` when set (tools/test.sh
/// mounts a tmpfs there, because hundreds of 200 MB copies to disk were most of
/// the differential harness's time), else /var/tmp.
pub fn scratch() -> PathBuf {
    std::env::var_os("CIRS_SCRATCH")
        .filter(|s| Path::new(s).is_dir())
        .map_or_else(|| PathBuf::from("/var/tmp"), PathBuf::from)
}

/// A temporary directory under [`scratch`] holding a copy of `base` as `root`
/// (removed with the directory).
pub fn copy_root(base: &Path, prefix: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(scratch())
        .unwrap();
    let root = dir.path().join("root");
    let st = Command::new("cp")
        .arg("-a")
        .arg(base)
        .arg(&root)
        .status()
        .unwrap();
    assert!(st.success(), "copying {}", base.display());
    (dir, root)
}

/// A fresh copy of the Debian root with our Debian cloud.cfg, a
/// `datasource_list: [ NoCloud, None ]` drop-in and the given seed files.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new(base: &Path, seed: &[(&str, &[u8])]) -> Sandbox {
        let (dir, _root) = copy_root(base, "cirs-sandbox-");
        let sb = Sandbox { dir };
        sb.write(
            "/etc/cloud/cloud.cfg",
            &std::fs::read(repo().join("dist/debian/cloud.cfg")).unwrap(),
        );
        sb.write(
            "/etc/cloud/cloud.cfg.d/05_logging.cfg",
            &std::fs::read(repo().join("dist/debian/05_logging.cfg")).unwrap(),
        );
        sb.write(
            "/etc/cloud/cloud.cfg.d/90-test.cfg",
            b"datasource_list: [ NoCloud, None ]\n",
        );
        sb.write("/proc/cmdline", b"root=/dev/vda1 ro console=ttyS0\n");
        sb.write("/proc/uptime", b"12.34 10.00\n");
        for (name, data) in seed {
            sb.write(&format!("/var/lib/cloud/seed/nocloud/{name}"), data);
        }
        sb
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn path(&self, p: &str) -> PathBuf {
        self.root().join(p.trim_start_matches('/'))
    }

    pub fn write(&self, p: &str, data: &[u8]) {
        let full = self.path(p);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, data).unwrap();
    }

    pub fn read(&self, p: &str) -> String {
        std::fs::read_to_string(self.path(p)).unwrap_or_default()
    }

    pub fn ci(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .arg("--root")
            .arg(self.root())
            .args(args)
            .env_remove("CLOUD_CFG")
            .env_remove("DEBUG_PROC_CMDLINE")
            .output()
            .unwrap()
    }

    /// The four boot stages in order; returns each stage's exit code.
    pub fn boot(&self) -> Vec<i32> {
        [
            vec!["init", "--local"],
            vec!["init"],
            vec!["modules", "--mode", "config"],
            vec!["modules", "--mode", "final"],
        ]
        .iter()
        .map(|a| {
            let out = self.ci(a);
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!err.contains("panicked"), "stage {a:?} panicked: {err}");
            out.status.code().unwrap_or(-1)
        })
        .collect()
    }

    pub fn status_json(&self) -> (serde_json::Value, i32) {
        let out = self.ci(&["status", "--format", "json"]);
        let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("status json: {e}: {}", String::from_utf8_lossy(&out.stdout))
        });
        (v, out.status.code().unwrap_or(-1))
    }

    pub fn log(&self) -> String {
        self.read("/var/log/cloud-init.log")
    }
}

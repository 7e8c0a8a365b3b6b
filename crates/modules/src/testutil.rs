//! A temp-root environment for module tests.

use crate::{Ctx, InstanceInfo};
use ci_distro::Distro;
use ci_host::{Host, RecordingRunner, WriteOpts};
use ci_state::Paths;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

pub(crate) struct TestEnv {
    // Keeps the temp root alive as long as the environment.
    _dir: tempfile::TempDir,
    pub host: Host,
    pub rec: Arc<RecordingRunner>,
    pub cfg: Value,
    pub distro: Distro,
    pub paths: Paths,
    pub instance: InstanceInfo,
    pub args: Vec<String>,
}

impl TestEnv {
    /// Debian-family by default; `system_info.distro` in `cfg` changes that.
    pub fn new(cfg: Value) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let rec = Arc::new(RecordingRunner::new());
        let host = Host::with_runner(dir.path(), rec.clone());
        let mut sys = cfg.clone();
        if sys.get("system_info").is_none() {
            sys["system_info"] = serde_json::json!({"distro": "debian"});
        }
        let distro = Distro::from_config(&sys);
        TestEnv {
            _dir: dir,
            host,
            rec,
            cfg,
            distro,
            paths: Paths::default().with_instance("i-test"),
            instance: InstanceInfo {
                instance_id: "i-test".into(),
                ..Default::default()
            },
            args: Vec::new(),
        }
    }

    pub fn ctx(&self, name: &'static str) -> Ctx<'_> {
        Ctx {
            name,
            host: &self.host,
            cfg: &self.cfg,
            distro: &self.distro,
            paths: &self.paths,
            instance: &self.instance,
            args: &self.args,
            version: "25.1.4",
            uptime: 12.5,
        }
    }

    pub fn write(&self, path: &str, content: &str) {
        self.host
            .write_atomic(path, content.as_bytes(), &WriteOpts::default())
            .unwrap();
    }

    pub fn write_mode(&self, path: &str, content: &str, mode: u32) {
        self.host
            .write_atomic(path, content.as_bytes(), &WriteOpts::mode(mode))
            .unwrap();
    }

    pub fn read(&self, path: &str) -> String {
        self.host.read_to_string(path).unwrap()
    }

    pub fn mode(&self, path: &str) -> u32 {
        std::fs::metadata(self.host.path(path))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    }
}

/// Captures log records for assertions on warnings.
pub(crate) mod logcap {
    use std::sync::{Mutex, Once};

    static RECORDS: Mutex<Vec<(std::thread::ThreadId, log::Level, String)>> =
        Mutex::new(Vec::new());
    static INIT: Once = Once::new();

    struct Cap;
    impl log::Log for Cap {
        fn enabled(&self, _: &log::Metadata) -> bool {
            true
        }
        fn log(&self, r: &log::Record) {
            if let Ok(mut v) = RECORDS.lock() {
                v.push((std::thread::current().id(), r.level(), r.args().to_string()));
            }
        }
        fn flush(&self) {}
    }

    pub fn init() {
        INIT.call_once(|| {
            let _ = log::set_boxed_logger(Box::new(Cap));
            log::set_max_level(log::LevelFilter::Trace);
        });
    }

    /// Warnings (and above) logged by this test's thread so far.
    pub fn warnings() -> Vec<String> {
        let me = std::thread::current().id();
        RECORDS
            .lock()
            .map(|v| {
                v.iter()
                    .filter(|(t, l, _)| *t == me && *l <= log::Level::Warn)
                    .map(|(_, _, m)| m.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every message logged by this test's thread so far.
    pub fn all() -> Vec<String> {
        let me = std::thread::current().id();
        RECORDS
            .lock()
            .map(|v| {
                v.iter()
                    .filter(|(t, _, _)| *t == me)
                    .map(|(_, _, m)| m.clone())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A temp root holding the host's `/bin/sh` and the libraries it links,
/// so commands can really run through `chroot`. `None` when not root or
/// when the shell's libraries cannot be found.
pub(crate) fn chroot_root() -> Option<tempfile::TempDir> {
    if !Host::running_as_root() {
        return None;
    }
    let dir = tempfile::tempdir().ok()?;
    let sh = std::fs::canonicalize("/bin/sh").ok()?;
    let out = std::process::Command::new("ldd").arg(&sh).output().ok()?;
    let mut files = vec![sh.clone()];
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let path = line
            .split_whitespace()
            .find(|w| w.starts_with('/'))
            .map(std::path::PathBuf::from);
        if let Some(p) = path {
            files.push(p);
        }
    }
    for f in &files {
        let dest = dir.path().join(f.strip_prefix("/").ok()?);
        std::fs::create_dir_all(dest.parent()?).ok()?;
        std::fs::copy(f, &dest).ok()?;
    }
    // Make the shell reachable as /bin/sh whatever it resolved to.
    let bin_sh = dir.path().join("bin/sh");
    if !bin_sh.exists() {
        std::fs::create_dir_all(dir.path().join("bin")).ok()?;
        std::fs::copy(&sh, &bin_sh).ok()?;
    }
    // Loader paths recorded by ldd may go through /lib64 → usr/lib64 links.
    for l in ["lib64", "lib"] {
        let p = dir.path().join(l);
        let canon = std::fs::canonicalize(format!("/{l}")).ok();
        if let Some(c) = canon {
            if c != std::path::Path::new("/").join(l) && !p.exists() {
                let inner = dir.path().join(c.strip_prefix("/").ok()?);
                std::fs::create_dir_all(&inner).ok()?;
                std::os::unix::fs::symlink(c.strip_prefix("/").ok()?, &p).ok()?;
            }
        }
    }
    let ok = std::process::Command::new("chroot")
        .arg(dir.path())
        .args(["/bin/sh", "-c", "true"])
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(dir)
}

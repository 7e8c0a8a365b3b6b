//! Block devices: find them by filesystem type or label with `blkid`, and
//! read files from one by mounting it read-only for the duration of a call.

use crate::error::SourceError;
use ci_host::{Cmd, Host};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// Whether datasources may probe and mount block devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceScan {
    /// Probe on the running system (root `/`); skip under `--root DIR`,
    /// where the host's devices are not the target's.
    #[default]
    Auto,
    /// Probe and mount through the host runner whatever the root
    /// (a caller that knows the devices belong to the target).
    Always,
    Never,
}

impl DeviceScan {
    pub(crate) fn enabled(self, host: &Host) -> bool {
        match self {
            DeviceScan::Auto => !host.is_sandbox(),
            DeviceScan::Always => true,
            DeviceScan::Never => false,
        }
    }
}

/// Upstream's `find_devs_with(criteria)`: `blkid -t<criteria> -odevice`,
/// exit 0 or 2 (nothing found) accepted; no blkid means no devices.
pub(crate) fn find_devs_with(host: &Host, criteria: &str) -> Result<Vec<String>, SourceError> {
    let cmd = Cmd::new([
        "blkid".to_string(),
        format!("-t{criteria}"),
        "-odevice".to_string(),
    ]);
    let out = match host.runner().execute(host, &cmd) {
        Ok(out) => out,
        Err(ci_host::CmdError::Spawn { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            return Ok(Vec::new())
        }
        Err(e) => return Err(e.into()),
    };
    if out.status != 0 && out.status != 2 {
        return Err(ci_host::CmdError::Failed {
            cmd: cmd.display(),
            status: out.status,
            stderr: out.stderr_str().trim().to_string(),
        }
        .into());
    }
    Ok(out
        .stdout_str()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect())
}

/// Device → mount point (target paths) from `<root>/proc/mounts`.
pub(crate) fn mounts(host: &Host) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let Ok(text) = host.read_to_string("/proc/mounts") else {
        return out;
    };
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let [dev, mp, _fstype, _opts, _freq, _passno] = words[..] {
            out.insert(dev.to_string(), mp.replace("\\040", " "));
        }
    }
    log::debug!("Fetched {} mounts from proc", out.len());
    out
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum MountError {
    #[error("Failed mounting {dev} to {dir} due to: {reason}")]
    Failed {
        dev: String,
        dir: String,
        reason: String,
    },
    #[error("cannot create a mount point in {dir}: {source}")]
    TempDir {
        dir: String,
        #[source]
        source: std::io::Error,
    },
}

/// Upstream's `mount_cb`: use the device's existing mount point if it has
/// one, else `mount -o ro -t auto DEV TMPDIR`, call `f` with the directory,
/// then `umount TMPDIR`.
pub(crate) fn with_mounted<T>(
    host: &Host,
    dev: &str,
    f: impl FnOnce(&Path) -> T,
) -> Result<T, MountError> {
    let real = canonical_device(host, dev);
    if let Some(mp) = mounts(host).get(&real) {
        return Ok(f(&host.path(mp)));
    }
    let tmp = make_mount_dir(host)?;
    let tmp_s = tmp.display().to_string();
    let cmd = Cmd::new(["mount", "-o", "ro", "-t", "auto", dev, tmp_s.as_str()]);
    if let Err(e) = host.run(&cmd) {
        log::debug!(
            "Failed to mount device: '{dev}' with type: 'auto' using mount command: '{}', which caused exception: {e}",
            cmd.argv.join(" ")
        );
        let _ = std::fs::remove_dir(&tmp);
        return Err(MountError::Failed {
            dev: dev.to_string(),
            dir: tmp_s,
            reason: e.to_string(),
        });
    }
    let result = f(&tmp);
    if let Err(e) = host.run(&Cmd::new(["umount", tmp_s.as_str()])) {
        log::warn!("Failed unmounting {tmp_s}: {e}");
    }
    let _ = std::fs::remove_dir(&tmp);
    Ok(result)
}

/// `os.path.realpath(dev)` within the root, as a target path.
fn canonical_device(host: &Host, dev: &str) -> String {
    let Ok(real) = std::fs::canonicalize(host.path(dev)) else {
        return dev.to_string();
    };
    match real.strip_prefix(host.root()) {
        Ok(rel) => format!("/{}", rel.display()),
        Err(_) => dev.to_string(),
    }
}

/// A fresh directory under `/run/cloud-init/tmp` (as root) or `$TMPDIR`,
/// like upstream's `temp_utils.tempdir`.
fn make_mount_dir(host: &Host) -> Result<PathBuf, MountError> {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let parent = if Host::running_as_root() || host.is_sandbox() {
        host.path("/run/cloud-init/tmp")
    } else {
        std::env::temp_dir()
    };
    let dir = parent.join(format!(
        "tmp-mnt-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let err = |source| MountError::TempDir {
        dir: parent.display().to_string(),
        source,
    };
    std::fs::create_dir_all(&parent).map_err(err)?;
    std::fs::create_dir(&dir).map_err(err)?;
    Ok(dir)
}

//! Block devices: find them by filesystem type or label with `blkid`, and
//! read files from one by mounting it read-only for the duration of a call.

use crate::error::SourceError;
use ci_host::{Cmd, Host};
use std::collections::{BTreeMap, HashMap};
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

/// Every block device `blkid` knows, with its tags (`DEVNAME`, `TYPE`,
/// `LABEL`, `LABEL_FATBOOT`, ...), from one `blkid -o export` run.
///
/// Upstream runs `blkid -t<criteria>` once per criteria; each run probes
/// every device again, which costs a noticeable part of the local stage on
/// slow (emulated) machines. One probe answers all the criteria of a search.
#[derive(Debug, Clone, Default)]
pub(crate) struct BlockDevices {
    devices: Vec<HashMap<String, String>>,
}

impl BlockDevices {
    /// Probe once; exit status 2 (nothing found) and a missing blkid mean no
    /// devices.
    pub(crate) fn probe(host: &Host) -> Result<BlockDevices, SourceError> {
        let cmd = Cmd::new(["blkid", "-o", "export"]);
        let Some(text) = run_blkid(host, &cmd)? else {
            return Ok(BlockDevices::default());
        };
        let mut devices = Vec::new();
        let mut current: HashMap<String, String> = HashMap::new();
        for line in text.lines().map(str::trim) {
            if line.is_empty() {
                if !current.is_empty() {
                    devices.push(std::mem::take(&mut current));
                }
                continue;
            }
            if let Some((k, v)) = line.split_once('=') {
                current.insert(k.to_string(), unescape_export(v));
            }
        }
        if !current.is_empty() {
            devices.push(current);
        }
        devices.retain(|d| d.contains_key("DEVNAME"));
        Ok(BlockDevices { devices })
    }

    /// Devices whose tag equals the value in `criteria` (`TAG=value`, as
    /// `blkid -t` takes it), in blkid's order.
    pub(crate) fn with(&self, criteria: &str) -> Vec<String> {
        let Some((tag, want)) = criteria.split_once('=') else {
            return Vec::new();
        };
        self.devices
            .iter()
            .filter(|d| d.get(tag).is_some_and(|v| v == want))
            .filter_map(|d| d.get("DEVNAME").cloned())
            .collect()
    }
}

/// `blkid -o export` escapes spaces and specials with a backslash.
fn unescape_export(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

/// Run a blkid command: `None` when blkid is missing, stdout on exit 0 or 2.
fn run_blkid(host: &Host, cmd: &Cmd) -> Result<Option<String>, SourceError> {
    let out = match host.runner().execute(host, cmd) {
        Ok(out) => out,
        Err(ci_host::CmdError::Spawn { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            return Ok(None)
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
    Ok(Some(out.stdout_str()))
}

/// Device → mount point (target paths) from `<root>/proc/mounts`.
pub(crate) fn mounts(host: &Host) -> HashMap<String, String> {
    let out = read_mounts(host);
    log::debug!("Fetched {} mounts from proc", out.len());
    out
}

fn read_mounts(host: &Host) -> HashMap<String, String> {
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
    out
}

/// Open a seed device for reading without blocking on it: a FIFO or a
/// socket planted at the device's path is refused, not waited on.
fn open_device(p: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(p)?;
    let kind = f.metadata()?.file_type();
    if !(kind.is_block_device() || kind.is_file()) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "neither a block device nor a regular file",
        ));
    }
    Ok(f)
}

/// A seed read from a device: the files (`None` when a required one is
/// missing).
pub(crate) type SeedFiles = Option<BTreeMap<String, Vec<u8>>>;

/// The seed files of `dev` read straight from its FAT filesystem
/// ([`crate::fatseed`]), when it is not mounted and holds one this reader
/// understands; `None` leaves the device to [`with_mounted`].
pub(crate) fn read_fat_seed(
    host: &Host,
    dev: &str,
    required: &[&str],
    optional: &[&str],
) -> Option<SeedFiles> {
    let real = canonical_device(host, dev);
    if read_mounts(host).contains_key(&real) {
        return None;
    }
    let names: Vec<&str> = required.iter().chain(optional).copied().collect();
    let read = host
        .try_resolve(&real)
        .and_then(|p| open_device(&p))
        .map_err(|e| crate::fatseed::FatError::Io(e.to_string()))
        .and_then(|f| crate::fatseed::read_root_files(&f, &names));
    let files = match read {
        Ok(files) => files,
        Err(e) => {
            log::debug!("Not reading {dev} without mounting it: {e}");
            return None;
        }
    };
    log::debug!(
        "Read {} seed files from the FAT filesystem on {dev} without mounting it",
        files.len()
    );
    let missing: Vec<&str> = required
        .iter()
        .filter(|n| !files.contains_key(**n))
        .copied()
        .collect();
    if !missing.is_empty() {
        log::debug!("{dev}: Missing required files: {}", missing.join(","));
        return Some(None);
    }
    Some(Some(files))
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
        return Ok(f(&host.resolve(mp)));
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
    match host.canonical(dev) {
        Ok(real) if host.resolve(&real).exists() => real.display().to_string(),
        _ => dev.to_string(),
    }
}

/// A fresh directory under `/run/cloud-init/tmp` (as root) or `$TMPDIR`,
/// like upstream's `temp_utils.tempdir`.
fn make_mount_dir(host: &Host) -> Result<PathBuf, MountError> {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let parent = if Host::running_as_root() || host.is_sandbox() {
        // Resolved inside the root, the last component included: the mount
        // point must not be created (or mounted on) through an image's link.
        const RUN_TMP: &str = "/run/cloud-init/tmp";
        host.try_resolve(RUN_TMP)
            .map_err(|source| MountError::TempDir {
                dir: RUN_TMP.to_string(),
                source,
            })?
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

#[cfg(test)]
mod tests {
    use super::*;
    use ci_host::RecordingRunner;
    use std::sync::Arc;

    #[test]
    fn one_probe_answers_every_criteria() {
        let d = tempfile::tempdir().unwrap();
        let rec = Arc::new(RecordingRunner::new());
        rec.answer(
            "blkid",
            0,
            b"DEVNAME=/dev/vda1\nLABEL=rootfs\nTYPE=ext4\n\n\
              DEVNAME=/dev/vdb\nLABEL_FATBOOT=cidata\nLABEL=CIDATA\nTYPE=vfat\n\n\
              DEVNAME=/dev/sr0\nLABEL=my\\ seed\nTYPE=iso9660\n",
        );
        let host = Host::with_runner(d.path(), rec.clone());
        let probe = BlockDevices::probe(&host).unwrap();
        assert_eq!(probe.with("TYPE=vfat"), ["/dev/vdb"]);
        assert_eq!(probe.with("LABEL=CIDATA"), ["/dev/vdb"]);
        assert!(probe.with("LABEL=cidata").is_empty());
        assert_eq!(probe.with("LABEL_FATBOOT=cidata"), ["/dev/vdb"]);
        assert_eq!(probe.with("LABEL=my seed"), ["/dev/sr0"]);
        assert!(probe.with("garbage").is_empty());
        assert_eq!(rec.lines(), ["blkid -o export"]);
    }

    #[test]
    fn nothing_found_is_empty_and_failure_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let rec = Arc::new(RecordingRunner::new());
        rec.answer("blkid", 2, b"");
        let host = Host::with_runner(d.path(), rec);
        assert!(BlockDevices::probe(&host)
            .unwrap()
            .with("TYPE=vfat")
            .is_empty());
        let rec = Arc::new(RecordingRunner::new());
        rec.answer("blkid", 4, b"");
        let host = Host::with_runner(d.path(), rec);
        assert!(BlockDevices::probe(&host).is_err());
    }
}

//! What `mounts` reads about the machine, each read the way upstream reads
//! it but through the target root (the mount table of a path is
//! [`crate::blockdev::get_mount_info`]): `/proc/mounts`, `/proc/meminfo`,
//! `/proc/swaps`, free space (statvfs) and the kernel release. Commands go
//! through [`subp`], which fails with upstream's `ProcessExecutionError` text.
//!
//! Under `--root` the sandbox's `/proc` is usually absent: then nothing is
//! found, and the callers behave as upstream does when it finds nothing.

use crate::ModuleError;
use ci_distro::Distro;
use ci_host::{CmdOutput, Host};

/// The Python class name of a failed command, as the status shows it.
pub(crate) const EXEC_ERROR: &str = "ProcessExecutionError";

/// The mount points of upstream's `util.mounts()`: `/proc/mounts`, else
/// the output of `mount`. Upstream keys them by device, so a device
/// mounted twice counts with its last mount point only.
pub(crate) fn mounted_points(host: &Host) -> Vec<String> {
    let (lines, from_proc) = match host.read_to_string("/proc/mounts") {
        Ok(t) => (t, true),
        Err(_) => match subp(host, &["mount"]) {
            Ok(out) => (out.stdout_str(), false),
            Err(e) => {
                log::warn!("Failed fetching mount points");
                log::debug!("{e}");
                return Vec::new();
            }
        },
    };
    let mut by_dev: Vec<(String, String)> = Vec::new();
    for line in lines.lines() {
        let (dev, mp) = if from_proc {
            match line.split_whitespace().collect::<Vec<_>>()[..] {
                [dev, mp, _, _, _, _] => (dev.to_string(), mp.to_string()),
                _ => continue,
            }
        } else {
            match mount_cmd_point(line) {
                Some(found) => found,
                None => continue,
            }
        };
        let mp = mp.replace("\\040", " ");
        match by_dev.iter_mut().find(|(d, _)| *d == dev) {
            Some(slot) => slot.1 = mp,
            None => by_dev.push((dev, mp)),
        }
    }
    by_dev.into_iter().map(|(_, mp)| mp).collect()
}

/// The mount point of a `mount(8)` line in the form upstream's
/// `util.mounts()` accepts: `/dev/DEV on /MNT (A, B, C)` (the BSD form; the
/// Linux `type T (opts)` form has no `, ` groups and is skipped, as upstream
/// skips it). The mount point runs to the last ` (` that still leaves such
/// a group, as the greedy pattern would.
fn mount_cmd_point(line: &str) -> Option<(String, String)> {
    let (dev, rest) = line.split_once(" on ")?;
    if !dev.starts_with("/dev/") || dev.len() == 5 || dev.contains(char::is_whitespace) {
        return None;
    }
    if !rest.starts_with('/') {
        return None;
    }
    let body = rest.strip_suffix(')')?;
    let group_ok = |inner: &str| {
        let Some((a, tail)) = inner.split_once(", ") else {
            return false;
        };
        !a.is_empty()
            && tail
                .rmatch_indices(", ")
                .any(|(i, _)| i > 0 && i + 2 < tail.len())
    };
    body.match_indices(" (")
        .map(|(i, _)| i)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .find(|&i| i > 0 && group_ok(&body[i + 2..]))
        .map(|i| (dev.to_string(), body[..i].to_string()))
}

/// Upstream's `subp.subp(argv)` (captured) inside the target: a command
/// that cannot start or exits non-zero fails with the text of upstream's
/// `ProcessExecutionError`.
pub(crate) fn subp(host: &Host, argv: &[&str]) -> Result<CmdOutput, ModuleError> {
    crate::blockdev::subp(host, argv, &[], None, &[0])
        .map_err(|e| ModuleError::with_class(EXEC_ERROR, e.text))
}

/// `/proc/meminfo`'s `MemTotal` in bytes, as upstream's
/// `util.read_meminfo()["total"]`. `Ok(None)`: the file cannot be read
/// (upstream's `IOError`); `Err`: it can, but upstream would raise on it.
pub(crate) fn mem_total(host: &Host) -> Result<Option<u64>, ModuleError> {
    let Ok(text) = host.read_to_string("/proc/meminfo") else {
        return Ok(None);
    };
    let mut total = None;
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let (key, value, unit) = match words[..] {
            [k, v, u] => (k, v, u),
            [k, v] => (k, v, "B"),
            _ => {
                let n = words.len();
                let msg = if n < 2 {
                    format!("not enough values to unpack (expected 2, got {n})")
                } else {
                    "too many values to unpack (expected 2)".to_string()
                };
                return Err(ModuleError::with_class("ValueError", msg));
            }
        };
        if key != "MemTotal:" {
            continue;
        }
        let mult: u64 = match unit {
            "kB" => 1 << 10,
            "mB" => 1 << 20,
            "gB" => 1 << 30,
            "B" => 1,
            other => {
                return Err(ModuleError::with_class(
                    "KeyError",
                    ci_pyval::py_quote(other),
                ))
            }
        };
        let n: u64 = value.parse().map_err(|_| {
            ModuleError::with_class(
                "ValueError",
                format!(
                    "invalid literal for int() with base 10: {}",
                    ci_pyval::py_quote(value)
                ),
            )
        })?;
        total = Some(n.saturating_mul(mult));
    }
    match total {
        Some(t) => Ok(Some(t)),
        None => Err(ModuleError::with_class("KeyError", "'total'")),
    }
}

/// Free bytes on the filesystem holding `dir` (`f_frsize * f_bfree`).
pub(crate) fn avail_bytes(host: &Host, dir: &str) -> Result<u64, ModuleError> {
    let st = rustix::fs::statvfs(host.resolve(dir)).map_err(|e| {
        let e = std::io::Error::from(e);
        ModuleError::with_class("OSError", crate::pyerr::os_error_str(&e, dir))
    })?;
    Ok(st.f_frsize.saturating_mul(st.f_bfree))
}

/// `(major, minor)` of the running kernel, as upstream's
/// `util.kernel_version()`; the target shares this kernel even under
/// `--root`. `None` when the release is not `N.N...`.
pub(crate) fn kernel_version() -> Option<(u32, u32)> {
    let uts = rustix::system::uname();
    let release = uts.release().to_string_lossy().into_owned();
    let mut it = release.split('.');
    let major = it.next()?.parse().ok()?;
    let minor = it.next()?.parse().ok()?;
    Some((major, minor))
}

/// Upstream's `distro.uses_systemd()`: `/run/systemd/system` is a
/// directory (not through a link); Alpine never uses systemd.
pub(crate) fn uses_systemd(host: &Host, distro: &Distro) -> bool {
    if distro.family == ci_distro::Family::Alpine {
        return false;
    }
    std::fs::symlink_metadata(host.path("/run/systemd/system")).is_ok_and(|m| m.is_dir())
}

/// `os.path.exists` of a target path (a relative one is taken from `/`,
/// the working directory of a boot stage).
pub(crate) fn exists(host: &Host, path: &str) -> bool {
    host.exists(absolute(path))
}

pub(crate) fn absolute(path: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    }
}

/// `os.path.realpath` inside the target.
pub(crate) fn realpath(host: &Host, path: &str) -> String {
    let p = absolute(path);
    host.canonical(&p)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or(p)
}

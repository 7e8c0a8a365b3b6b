//! `resizefs`: grow the root filesystem to fill its (possibly just grown)
//! partition with the filesystem's own tool, found from the mount table.
//! `resize_rootfs: noblock` leaves the resize running in the background.

use crate::blockdev::{self, py_tuple, subp, subp_shown, MountInfo, NodeKind};
use crate::{Ctx, ModResult, ModuleError};
use ci_pyval::{is_true_with, py_str};
use serde_json::Value;

const NOBLOCK: &str = "noblock";

/// `resize_rootfs` as upstream reads it: the argument, else `str()` of the
/// key, else `True` (a bool, which prints as `True`).
fn setting(ctx: &Ctx) -> Value {
    if let Some(a) = ctx.args.first() {
        return Value::String(a.clone());
    }
    match ctx.cfg.get("resize_rootfs") {
        Some(v) => Value::String(py_str(v)),
        None => Value::Bool(true),
    }
}

pub fn handle(ctx: &Ctx) -> ModResult {
    let resize_root = setting(ctx);
    let enabled = match &resize_root {
        Value::Bool(b) => *b,
        Value::String(s) => !s.is_empty() && is_true_with(&resize_root, &[NOBLOCK]),
        _ => false,
    };
    if !enabled {
        log::debug!("Skipping module named {}, resizing disabled", ctx.name);
        return Ok(());
    }
    let noblock = resize_root.as_str() == Some(NOBLOCK);
    let mut resize_what = "/".to_string();
    let Some(MountInfo {
        dev,
        fstype,
        mount_point,
        ..
    }) = blockdev::get_mount_info(ctx.host, ctx.distro, &resize_what)
    else {
        if ctx.host.is_sandbox() {
            // Upstream in a chroot warns here; under --root the target's
            // root filesystem is not mounted on this machine, so there is
            // nothing to resize and nothing the user can fix.
            log::info!(
                "Could not determine filesystem type of {resize_what}: under --root {} the target's mount table is not known",
                ctx.host.root().display()
            );
        } else {
            log::warn!("Could not determine filesystem type of {resize_what}");
        }
        return Ok(());
    };
    let mut container: Option<bool> = None;
    let mut is_container =
        || *container.get_or_insert_with(|| blockdev::is_container(ctx.host, ctx.distro));
    let mut devpth = dev;
    if fstype == "zfs" {
        let zpool = devpth.split('/').next().unwrap_or_default().to_string();
        let Some(d) = zpool_device(ctx, &zpool, is_container()) else {
            return Ok(());
        };
        devpth = d;
        resize_what = zpool;
    }
    let info = format!("dev={devpth} mnt_point={mount_point} path={resize_what}");
    log::debug!("resize_info: {info}");
    let Some(devpth) = writable_device_path(ctx, &devpth, &info, is_container())? else {
        return Ok(());
    };
    if can_skip_resize(ctx, &fstype, &devpth)? {
        log::debug!("Skip resize filesystem type {fstype} for {resize_what}");
        return Ok(());
    }
    let Some(resize_cmd) = resize_command(ctx, &fstype, &resize_what, &devpth)? else {
        log::warn!("Not resizing unknown filesystem type {fstype} for {resize_what}");
        return Ok(());
    };
    log::debug!(
        "Resizing {resize_what} ({fstype}) using {}",
        resize_cmd.join(" ")
    );
    if noblock {
        start_in_background(ctx, &resize_cmd);
    } else {
        do_resize(ctx, &resize_cmd)?;
    }
    let action = if noblock {
        "Resizing (via forking)"
    } else {
        "Resized"
    };
    log::debug!(
        "{action} root filesystem (type={fstype}, val={})",
        py_str(&resize_root)
    );
    Ok(())
}

fn do_resize(ctx: &Ctx, cmd: &[String]) -> ModResult {
    let argv: Vec<&str> = cmd.iter().map(String::as_str).collect();
    let shown = py_tuple(cmd);
    subp_shown(ctx.host, &argv, &shown, &[], None, &[0]).map_err(|e| {
        log::warn!("Failed to resize filesystem (cmd={shown})");
        log::debug!("{e}");
        ModuleError::with_class("ProcessExecutionError", e.text)
    })?;
    Ok(())
}

/// Upstream forks a child that runs the resize while the boot goes on. Ours
/// has the target's shell start it detached, so it outlives the stage; its
/// failure is not reported back (upstream's child logs it to the same log).
fn start_in_background(ctx: &Ctx, cmd: &[String]) {
    let mut argv: Vec<&str> = vec!["sh", "-c", "\"$@\" </dev/null >/dev/null 2>&1 &", "sh"];
    argv.extend(cmd.iter().map(String::as_str));
    match subp(ctx.host, &argv, &[], None, &[0]) {
        Ok(_) => log::debug!("Forked child who will run callback do_resize"),
        Err(e) => {
            log::warn!("Failed forking and calling callback do_resize");
            log::debug!("{e}");
        }
    }
}

/// Upstream's `get_device_info_from_zpool`: the ONLINE disk of the pool.
fn zpool_device(ctx: &Ctx, zpool: &str, container: bool) -> Option<String> {
    let log_warn = |m: String| {
        if container {
            log::debug!("{m}")
        } else {
            log::warn!("{m}")
        }
    };
    if !ctx.host.exists("/dev/zfs") {
        log::debug!("Cannot get zpool info, no /dev/zfs");
        return None;
    }
    let out = match subp(ctx.host, &["zpool", "status", zpool], &[], None, &[0]) {
        Ok(o) => o,
        Err(e) => {
            log_warn(format!("Unable to get zpool status of {zpool}: {e}"));
            return None;
        }
    };
    let (status, err) = (out.stdout_str(), out.stderr_str());
    if !err.is_empty() {
        log::info!("zpool status returned error: [{err}] for zpool [{zpool}]");
        return None;
    }
    for line in status.split('\n') {
        if line.contains("ONLINE") && !line.contains(zpool) && !line.contains("state") {
            let disk = line
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
            log::debug!("found zpool \"{zpool}\" on disk {disk}");
            return Some(disk);
        }
    }
    log_warn(format!(
        "No zpool found: [{zpool}]: out: [{status}] err: {err}"
    ));
    None
}

/// Upstream's `maybe_get_writable_device_path`: the device to resize, or
/// `None` (logged) when it is not a device node this system can resize.
fn writable_device_path(
    ctx: &Ctx,
    devpath: &str,
    info: &str,
    container: bool,
) -> Result<Option<String>, ModuleError> {
    let host = ctx.host;
    let mut devpath = devpath.to_string();
    if devpath == "/dev/root" && !host.exists(&devpath) && !container {
        let cmdline = blockdev::cmdline(host, container);
        let Some(d) = blockdev::rootdev_from_cmdline(host, ctx.distro, &cmdline) else {
            log::warn!("Unable to find device '/dev/root'");
            return Ok(None);
        };
        log::debug!("Converted /dev/root to '{d}' per kernel cmdline");
        devpath = d;
    }
    if devpath == "overlayroot" {
        log::debug!("Not attempting to resize devpath '{devpath}': {info}");
        return Ok(None);
    }
    if devpath.starts_with("gpt/") {
        log::debug!("We have a gpt label - just go ahead");
        return Ok(Some(devpath));
    }
    if !devpath.starts_with("/dev/") && !host.exists(&devpath) {
        let full = format!("/dev/{}", devpath.trim_start_matches('/'));
        log::debug!("'{devpath}' doesn't appear to be a valid device path. Trying '{full}'");
        devpath = full;
    }
    match blockdev::stat_node(host, &devpath) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if container {
                log::debug!("Device '{devpath}' did not exist in container. cannot resize: {info}");
            } else {
                log::warn!("Device '{devpath}' did not exist. cannot resize: {info}");
            }
            Ok(None)
        }
        Err(e) => Err(ModuleError::with_class(
            "OSError",
            crate::pyerr::os_error_str(&e, &devpath),
        )),
        Ok(NodeKind::Other) => {
            if container {
                log::debug!(
                    "device '{devpath}' not a block device in container. cannot resize: {info}"
                );
            } else {
                log::warn!("device '{devpath}' not a block device. cannot resize: {info}");
            }
            Ok(None)
        }
        Ok(NodeKind::Device) => Ok(Some(devpath)),
    }
}

/// UFS asks `growfs -N` first: its "not larger" answer means nothing to do;
/// any other failure is the module's.
fn can_skip_resize(ctx: &Ctx, fstype: &str, devpth: &str) -> Result<bool, ModuleError> {
    if !fstype.to_lowercase().starts_with("ufs") {
        return Ok(false);
    }
    match subp(ctx.host, &["growfs", "-N", devpth], &[], None, &[0]) {
        Ok(_) => Ok(false),
        Err(e)
            if e.stderr.starts_with("growfs: requested size")
                && e.stderr
                    .contains("is not larger than the current filesystem size") =>
        {
            Ok(true)
        }
        Err(e) => Err(ModuleError::with_class("ProcessExecutionError", e.text)),
    }
}

/// The resize command for a filesystem type (by prefix, as upstream's
/// table), `None` for a type upstream does not know.
fn resize_command(
    ctx: &Ctx,
    fstype: &str,
    what: &str,
    devpth: &str,
) -> Result<Option<Vec<String>>, ModuleError> {
    let fs = fstype.to_lowercase();
    let v = |a: &[&str]| Some(a.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    Ok(if fs.starts_with("btrfs") {
        Some(btrfs_command(ctx, what)?)
    } else if fs.starts_with("ext") {
        v(&["resize2fs", devpth])
    } else if fs.starts_with("xfs") {
        v(&["xfs_growfs", what])
    } else if fs.starts_with("ufs") {
        v(&["growfs", "-y", what])
    } else if fs.starts_with("zfs") {
        v(&["zpool", "online", "-e", what, devpth])
    } else if fs.starts_with("hammer2") {
        v(&["hammer2", "growfs", what])
    } else if fs.starts_with("bcachefs") {
        v(&["bcachefs", "device", "resize", devpth])
    } else {
        None
    })
}

/// btrfs: a read-only `/` is resized through snapper's `.snapshots`
/// subvolume; btrfs-progs 5.10 and later queue the resize (`--enqueue`)
/// behind a running exclusive operation.
fn btrfs_command(ctx: &Ctx, mount_point: &str) -> Result<Vec<String>, ModuleError> {
    let opts = blockdev::get_mount_info(ctx.host, ctx.distro, mount_point)
        .map(|m| m.options)
        .ok_or_else(|| {
            ModuleError::with_class("TypeError", "'NoneType' object is not subscriptable")
        })?;
    let read_write = opts.split(',').next() == Some("rw");
    let snapshots = format!("{mount_point}/.snapshots");
    let target = if !read_write && ctx.host.is_dir(&snapshots) {
        snapshots
    } else {
        mount_point.to_string()
    };
    let out = subp(ctx.host, &["btrfs", "--version"], &[], None, &[0])
        .map_err(|e| ModuleError::with_class("ProcessExecutionError", e.text))?;
    let text = out.stdout_str();
    let first = text.split('\n').next().unwrap_or_default();
    let ver = first.rsplit('v').next().unwrap_or_default().trim();
    let mut cmd: Vec<String> = vec!["btrfs".into(), "filesystem".into(), "resize".into()];
    if version_at_least(ver, &[5, 10])? {
        cmd.push("--enqueue".into());
    }
    cmd.push("max".into());
    cmd.push(target);
    Ok(cmd)
}

/// Upstream's `Version.from_str(v) >= Version(*min)`.
fn version_at_least(v: &str, min: &[i64]) -> Result<bool, ModuleError> {
    Ok(crate::util::PyVersion::parse(v)? >= crate::util::PyVersion::from_parts(min))
}

#[cfg(test)]
mod tests;

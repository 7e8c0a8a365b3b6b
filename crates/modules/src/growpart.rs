//! `growpart`: grow the partitions holding the configured mount points (by
//! default `/`) to fill their disks, with `growpart` (cloud-utils), FreeBSD's
//! `growfs` service or `gpart`. Partitions under device-mapper are handled as
//! upstream does: a LUKS volume is resized with the one-time key upstream's
//! installer leaves in `/cc_growpart_keydata`; other mapped devices (LVM)
//! are left alone with a note.

use crate::blockdev::{self, ExecError, NodeKind};
use crate::{Ctx, ModResult, ModuleError};
use ci_distro::Family;
use ci_pyval::{is_false, py_str};
use serde_json::{json, Value};

mod luks;
mod resizers;

use resizers::Resizer;

const GROWROOT_DISABLED: &str = "/etc/growroot-disabled";

/// Upstream's `RESIZE` outcome of one device entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Skipped,
    Changed,
    NoChange,
    Failed,
}

impl Action {
    fn word(self) -> &'static str {
        match self {
            Action::Skipped => "SKIPPED",
            Action::Changed => "CHANGED",
            Action::NoChange => "NOCHANGE",
            Action::Failed => "FAILED",
        }
    }
}

/// One reported line: (entry in `devices`, outcome, message).
pub(crate) type Outcome = (String, Action, String);

pub fn handle(ctx: &Ctx) -> ModResult {
    let default = json!({"mode": "auto", "devices": ["/"], "ignore_growroot_disabled": false});
    let mycfg = match ctx.cfg.as_object().and_then(|m| m.get("growpart")) {
        Some(v) => v.clone(),
        None => {
            log::debug!(
                "No 'growpart' entry in cfg.  Using default: {{'mode': 'auto', 'devices': ['/'], 'ignore_growroot_disabled': False}}"
            );
            default
        }
    };
    let Some(map) = mycfg.as_object() else {
        log::warn!("'growpart' in config was not a dict");
        return Ok(());
    };
    let mode = map.get("mode").cloned().unwrap_or_else(|| json!("auto"));
    if is_false(&mode) {
        if mode != json!("off") {
            crate::ugutil::deprecate(
                &format!("Growpart's 'mode' key with value '{}'", py_str(&mode)),
                "22.2",
                "Use 'off' instead.",
            );
        }
        log::debug!("growpart disabled: mode={}", py_str(&mode));
        return Ok(());
    }
    let ignore = map
        .get("ignore_growroot_disabled")
        .cloned()
        .unwrap_or(Value::Bool(false));
    if is_false(&ignore) && ctx.host.resolve(GROWROOT_DISABLED).is_file() {
        log::debug!("growpart disabled: {GROWROOT_DISABLED} exists");
        log::debug!("use ignore_growroot_disabled to ignore");
        return Ok(());
    }
    let devices: Vec<Value> = match map.get("devices") {
        None => vec![json!("/")],
        Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(other) => vec![other.clone()],
    };
    if devices.is_empty() {
        log::debug!("growpart: empty device list");
        return Ok(());
    }
    let resizer = match resizers::factory(ctx, &mode, &devices) {
        Ok(r) => r,
        Err(e) => {
            log::debug!(
                "growpart unable to find resizer for '{}': {}",
                py_str(&mode),
                e
            );
            if mode != json!("auto") {
                return Err(e);
            }
            return Ok(());
        }
    };
    let resized = resize_devices(ctx, &resizer, devices)?;
    for (entry, action, msg) in resized {
        if action == Action::Changed {
            log::info!("'{entry}' resized: {msg}");
        } else {
            log::debug!("'{entry}' {}: {msg}", action.word());
        }
    }
    Ok(())
}

/// Upstream's `devent2dev`: a `/dev/...` entry as is, anything else the
/// device of the mount holding it (`/dev/root` through `root=`).
/// The inner error is a skipped entry; the outer one fails the module.
fn devent2dev(
    ctx: &Ctx,
    devent: &str,
) -> Result<Result<(String, Option<String>), String>, ModuleError> {
    if devent.starts_with("/dev/") {
        return Ok(Ok((devent.to_string(), None)));
    }
    let Some(mi) = blockdev::get_mount_info(ctx.host, ctx.distro, devent) else {
        // Upstream's message is missing its f-string; the text is as it logs.
        return Ok(Err("Could not determine device of '%s' % dev_ent".into()));
    };
    let mut dev = mi.dev;
    if dev == "/dev/root" && !blockdev::is_container(ctx.host, ctx.distro) {
        let cmdline = blockdev::cmdline(ctx.host, false);
        match blockdev::rootdev_from_cmdline(ctx.host, ctx.distro, &cmdline) {
            Some(d) => dev = d,
            // Upstream then asks `os.path.exists(None)`, which raises.
            None => {
                return Err(ModuleError::with_class(
                    "TypeError",
                    "stat: path should be string, bytes, os.PathLike or integer, not NoneType",
                ))
            }
        }
    }
    Ok(Ok((dev, Some(mi.fstype))))
}

/// A device entry that is not a string: upstream calls `.startswith` on it.
fn not_a_string(v: &Value) -> ModuleError {
    ModuleError::with_class(
        "AttributeError",
        format!(
            "'{}' object has no attribute 'startswith'",
            ci_pyval::py_type(v)
        ),
    )
}

/// Upstream's `resize_devices`: every entry in order; a partition under a
/// LUKS mapping is grown before the mapping itself.
fn resize_devices(
    ctx: &Ctx,
    resizer: &Resizer,
    devices: Vec<Value>,
) -> Result<Vec<Outcome>, ModuleError> {
    let mut queue: std::collections::VecDeque<Value> = devices.into();
    let mut info: Vec<Outcome> = Vec::new();
    while let Some(devval) = queue.pop_front() {
        let Value::String(devent) = &devval else {
            return Err(not_a_string(&devval));
        };
        let devent = devent.clone();
        let (blockdev, fs) = match devent2dev(ctx, &devent)? {
            Ok(v) => v,
            Err(e) => {
                info.push((
                    devent,
                    Action::Skipped,
                    format!("unable to convert to device: {e}"),
                ));
                continue;
            }
        };
        log::debug!("growpart found fs={}", fs.as_deref().unwrap_or("None"));
        if fs.as_deref() == Some("zfs") && matches!(resizer, Resizer::GrowFs) {
            info.push(resizers::call(
                ctx,
                resizer,
                &devent,
                None,
                None,
                &blockdev,
                fs.as_deref(),
            )?);
            continue;
        }
        match blockdev::stat_node(ctx.host, &blockdev) {
            Err(e) => {
                info.push((
                    devent,
                    Action::Skipped,
                    format!(
                        "stat of '{blockdev}' failed: {}",
                        crate::pyerr::os_error_str(&e, &blockdev)
                    ),
                ));
                continue;
            }
            Ok(NodeKind::Other) => {
                info.push((
                    devent,
                    Action::Skipped,
                    format!("device '{blockdev}' not a block device"),
                ));
                continue;
            }
            Ok(NodeKind::Device) => {}
        }
        if let Some(underlying) = blockdev::get_mapped_device(ctx.host, ctx.distro, &blockdev) {
            match luks::mapped(ctx, &blockdev, &underlying, &info) {
                Ok(luks::Mapped::PartitionFirst(partition)) => {
                    queue.push_front(devval.clone());
                    queue.push_front(Value::String(partition));
                }
                Ok(luks::Mapped::Done(action, msg)) => info.push((devent, action, msg)),
                Err(e) => info.push((
                    devent,
                    Action::Failed,
                    format!("Resizing encrypted device ({blockdev}) failed: {e}"),
                )),
            }
            continue;
        }
        let (disk, ptnum) = match blockdev::device_part_info(ctx.host, ctx.distro, &blockdev) {
            Ok(v) => v,
            Err(e) => {
                info.push((
                    devent,
                    Action::Skipped,
                    format!("device_part_info({blockdev}) failed: {}", e.0),
                ));
                continue;
            }
        };
        info.push(resizers::call(
            ctx,
            resizer,
            &devent,
            Some(&disk),
            Some(&ptnum),
            &blockdev,
            fs.as_deref(),
        )?);
    }
    Ok(info)
}

/// Upstream's `get_size`: the size of the device by seeking to its end;
/// `None` when it does not exist (a ZFS dataset asks `zpool`). Other
/// errors are the module's failure, as upstream lets them through.
fn get_size(ctx: &Ctx, path: &str, fs: Option<&str>) -> Result<Option<u64>, ModuleError> {
    use std::io::{Seek, SeekFrom};
    let opened = ctx.host.try_resolve(path).and_then(std::fs::File::open);
    match opened {
        Ok(mut f) => f
            .seek(SeekFrom::End(0))
            .map(Some)
            .map_err(|e| ModuleError::with_class("OSError", crate::pyerr::os_error_str(&e, path))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if fs == Some("zfs") {
                Ok(zfs_size(ctx, path))
            } else {
                Ok(None)
            }
        }
        Err(e) => Err(ModuleError::with_class(
            "OSError",
            crate::pyerr::os_error_str(&e, path),
        )),
    }
}

fn zfs_size(ctx: &Ctx, dataset: &str) -> Option<u64> {
    let zpool = dataset.split('/').next().unwrap_or_default();
    match blockdev::subp(
        ctx.host,
        &["zpool", "get", "-Hpovalue", "size", zpool],
        &[],
        None,
        &[0],
    ) {
        Ok(out) => out.stdout_str().trim().parse().ok(),
        Err(e) => {
            log::debug!("Failed: zpool get size {zpool}: {e}");
            None
        }
    }
}

/// Upstream logs a failed command with `util.logexc`: a warning.
fn logexc(msg: String, e: &ExecError) {
    log::warn!("{msg}");
    log::debug!("{e}");
}

/// The family's service command for FreeBSD's `growfs` (`onestart` only
/// exists in FreeBSD's service table; elsewhere upstream's lookup fails).
fn growfs_service_argv(ctx: &Ctx) -> Result<Vec<&'static str>, ModuleError> {
    match ctx.distro.family {
        Family::FreeBsd => Ok(vec!["service", "growfs", "onestart"]),
        _ => Err(ModuleError::with_class("KeyError", "onestart")),
    }
}

#[cfg(test)]
mod tests;

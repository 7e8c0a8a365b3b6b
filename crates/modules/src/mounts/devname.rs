//! Turning the first field of a mount entry into the device the target
//! really has, as upstream's `sanitize_devname` does: metadata names
//! (`ephemeral0`, `swap`, `ami`, `root`, `ebsN`) through the datasource,
//! short kernel names (`sdb`, `xvdc1`, `sr0`) under `/dev`, a dotted
//! partition (`sdb.2`), and the block-device check in the root's `/sys`.

use super::sys::{exists, realpath};
use crate::Ctx;
use ci_pyval::py_str;
use serde_json::Value;

/// Upstream's `is_meta_device_name`.
pub(crate) fn is_meta_device_name(name: &str) -> bool {
    if matches!(name, "ami" | "root" | "swap") {
        return true;
    }
    ["ephemeral", "ebs"]
        .iter()
        .any(|p| name.starts_with(p) && !name.contains(':'))
}

/// `server:/path` and the like (`^.+:.*`).
pub(crate) fn is_network_device(name: &str) -> bool {
    name.find(':').is_some_and(|i| i > 0)
}

/// `^([x]{0,1}[shv]d[a-z][0-9]*|sr[0-9]+)$`.
pub(crate) fn is_short_device_name(name: &str) -> bool {
    if let Some(n) = name.strip_prefix("sr") {
        return !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit());
    }
    let rest = name.strip_prefix('x').unwrap_or(name);
    let b = rest.as_bytes();
    b.len() >= 3
        && matches!(b[0], b's' | b'h' | b'v')
        && b[1] == b'd'
        && b[2].is_ascii_lowercase()
        && b[3..].iter().all(u8::is_ascii_digit)
}

/// The `device_aliases` mapping, as upstream reads it with `.get()`.
pub(crate) enum Aliases<'a> {
    None,
    Map(&'a serde_json::Map<String, Value>),
    /// A value without `.get()`: upstream fails with this message when it
    /// first needs the mapping.
    Invalid(String),
}

impl<'a> Aliases<'a> {
    pub(crate) fn from_cfg(v: Option<&'a Value>) -> Self {
        match v {
            None => Aliases::None,
            Some(Value::Object(m)) => Aliases::Map(m),
            Some(v) if !ci_pyval::truthy(v) => Aliases::None,
            Some(v) => Aliases::Invalid(format!(
                "'{}' object has no attribute 'get'",
                ci_pyval::py_type(v)
            )),
        }
    }
}

/// Why a name could not be sanitized in a way upstream raises on.
pub(crate) type SanitizeError = crate::ModuleError;

/// Upstream's `sanitize_devname`: the device path, or `None` when the
/// name maps to nothing that exists as a block device in the target.
pub(crate) fn sanitize_devname(
    ctx: &Ctx,
    startname: &str,
    aliases: &Aliases,
) -> Result<Option<String>, SanitizeError> {
    log::debug!("Attempting to determine the real name of {startname}");
    let mut devname = startname.to_string();
    if devname == "ephemeral" {
        devname = "ephemeral0".into();
        log::debug!("Adjusted mount option from ephemeral to ephemeral0");
    }
    if is_network_device(startname) {
        return Ok(Some(startname.to_string()));
    }
    let (mut device_path, partition) = match devname.rsplit_once('.') {
        Some((d, p)) => (d.to_string(), Some(p.to_string())),
        None => (devname.clone(), None),
    };
    let orig = device_path.clone();
    match aliases {
        Aliases::None => {}
        Aliases::Invalid(msg) => {
            return Err(crate::ModuleError::with_class(
                "AttributeError",
                msg.clone(),
            ))
        }
        Aliases::Map(m) => {
            if let Some(v) = m.get(&device_path) {
                device_path = py_str(v);
            }
            if orig != device_path {
                log::debug!("Mapped device alias {orig} to {device_path}");
            }
        }
    }
    if is_meta_device_name(&device_path) {
        let found = crate::ds_devices::device_name_to_device(ctx, &device_path)
            .map_err(|msg| crate::ModuleError::with_class("AttributeError", msg))?;
        let Some(found) = found.filter(|d| !d.is_empty()) else {
            return Ok(None);
        };
        device_path = if found.starts_with('/') {
            found
        } else {
            format!("/dev/{found}")
        };
        log::debug!("Mapped metadata name {orig} to {device_path}");
    } else if is_short_device_name(startname) {
        device_path = format!("/dev/{device_path}");
    }
    let partition_path = match &partition {
        None => nth_partition(ctx, &device_path, "1"),
        Some(n) => match nth_partition(ctx, &device_path, n) {
            Some(p) => Some(p),
            None => return Ok(None),
        },
    };
    if is_block_device(ctx, &device_path, partition_path.as_deref()) {
        return Ok(Some(partition_path.unwrap_or(device_path)));
    }
    Ok(None)
}

/// Upstream's `_get_nth_partition_for_device`: `DEVn`, `DEVpn` or
/// `DEV-partn`, whichever exists first.
fn nth_partition(ctx: &Ctx, device: &str, n: &str) -> Option<String> {
    [
        format!("{device}{n}"),
        format!("{device}p{n}"),
        format!("{device}-part{n}"),
    ]
    .into_iter()
    .find(|p| exists(ctx.host, p))
}

fn basename(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

/// Upstream's `_is_block_device`: the device (and partition) names
/// under the target's `/sys/block`.
fn is_block_device(ctx: &Ctx, device: &str, partition: Option<&str>) -> bool {
    let dev = realpath(ctx.host, device);
    let mut sys = format!("/sys/block/{}", basename(&dev));
    if let Some(p) = partition {
        let part = realpath(ctx.host, p);
        sys = format!("{sys}/{}", basename(&part));
    }
    ctx.host.exists(sys)
}

//! The `mounts` entries as upstream reshapes them before they become fstab
//! lines: device names sanitized, `null` fields and missing trailing
//! fields taken from `mount_default_fields`, the default `ephemeral0` and
//! `swap` entries added, entries without a mount point dropped (with
//! every earlier entry for the same device), and the `comment=cloudconfig`
//! marker added to the options.
//!
//! Fields stay JSON values until the end because upstream keeps whatever
//! `mount_default_fields` holds (a `null`, a number) and fails only when
//! the line is joined; that failure is upstream's `TypeError`.

use super::devname::{sanitize_devname, Aliases};
use crate::{Ctx, ModuleError};
use ci_pyval::{py_str, py_type};
use serde_json::Value;
use std::collections::HashMap;

pub(crate) const MNT_COMMENT: &str = "comment=cloudconfig";

/// One entry: `[fs_spec, fs_file, fs_vfstype, fs_mntops, fs_freq, fs_passno]`.
pub(crate) type Entry = Vec<Value>;

fn index_error() -> ModuleError {
    ModuleError::with_class("IndexError", "list index out of range")
}

/// `mount_default_fields` as upstream indexes and slices it.
pub(crate) enum Defaults {
    List(Vec<Value>),
    /// Indexing or slicing fails with this exception.
    Broken(&'static str, String),
    /// A mapping: indexing looks an int key up.
    Map,
}

impl Defaults {
    pub(crate) fn from_value(v: &Value) -> Self {
        match v {
            Value::Array(a) => Defaults::List(a.clone()),
            // A string indexes and slices into its characters.
            Value::String(s) => {
                Defaults::List(s.chars().map(|c| Value::String(c.to_string())).collect())
            }
            Value::Object(_) => Defaults::Map,
            other => Defaults::Broken(
                "TypeError",
                format!("'{}' object is not subscriptable", py_type(other)),
            ),
        }
    }

    /// `default_fields[index]`.
    fn at(&self, index: usize) -> Result<Value, ModuleError> {
        match self {
            Defaults::List(l) => l.get(index).cloned().ok_or_else(index_error),
            Defaults::Broken(class, msg) => Err(ModuleError::with_class(class, msg.clone())),
            Defaults::Map => Err(ModuleError::with_class("KeyError", index.to_string())),
        }
    }

    /// `default_fields[from:]`.
    fn tail(&self, from: usize) -> Result<Vec<Value>, ModuleError> {
        match self {
            Defaults::List(l) => Ok(l.get(from..).map(<[Value]>::to_vec).unwrap_or_default()),
            Defaults::Broken(class, msg) => Err(ModuleError::with_class(class, msg.clone())),
            Defaults::Map => Err(ModuleError::with_class(
                "KeyError",
                format!("slice({from}, None, None)"),
            )),
        }
    }
}

/// Upstream's `sanitized_devname_is_valid`.
fn devname_is_valid(
    original: &str,
    sanitized: Option<&str>,
    fstab_devs: &HashMap<String, String>,
) -> bool {
    if sanitized != Some(original) {
        log::debug!("changed {original} => {}", sanitized.unwrap_or("None"));
    }
    match sanitized {
        None => {
            log::debug!("Ignoring nonexistent default named mount {original}");
            false
        }
        Some(s) => match fstab_devs.get(s) {
            Some(line) => {
                log::debug!("Device {s} already defined in fstab: {line}");
                false
            }
            None => true,
        },
    }
}

/// Upstream's `sanitize_mounts_configuration`.
pub(crate) fn sanitize(
    ctx: &Ctx,
    mounts: &[Value],
    fstab_devs: &HashMap<String, String>,
    aliases: &Aliases,
    defaults: &Defaults,
) -> Result<Vec<Entry>, ModuleError> {
    let mut out = Vec::new();
    for item in mounts {
        let Value::Array(line) = item else {
            log::warn!("Mount option not a list, ignoring: {}", py_str(item));
            continue;
        };
        let first = line.first().ok_or_else(index_error)?;
        let start = py_str(first);
        let sanitized = sanitize_devname(ctx, &start, aliases)?;
        let mut entry: Entry = line.clone();
        if devname_is_valid(&start, sanitized.as_deref(), fstab_devs) {
            if let Some(s) = sanitized {
                entry[0] = Value::String(s);
            }
        }
        for (i, tok) in entry.iter_mut().enumerate() {
            let new = match &*tok {
                Value::Null => defaults.at(i)?,
                other => Value::String(py_str(other)),
            };
            *tok = new;
        }
        let tail = defaults.tail(entry.len())?;
        entry.extend(tail);
        out.push(entry);
    }
    Ok(out)
}

/// Upstream's `add_default_mounts_to_cfg`: `ephemeral0` on `/mnt` and the
/// `swap` device, when the datasource names them, they exist and nothing
/// else (fstab or the config) has them already.
pub(crate) fn add_defaults(
    ctx: &Ctx,
    mounts: Vec<Entry>,
    mount_options: &str,
    fstab_devs: &HashMap<String, String>,
    aliases: &Aliases,
) -> Result<Vec<Entry>, ModuleError> {
    let defaults: [[&str; 6]; 2] = [
        ["ephemeral0", "/mnt", "auto", mount_options, "0", "2"],
        ["swap", "none", "swap", "sw", "0", "0"],
    ];
    let mut out = mounts.clone();
    for def in defaults {
        let start = def[0];
        let sanitized = sanitize_devname(ctx, start, aliases)?;
        if !devname_is_valid(start, sanitized.as_deref(), fstab_devs) {
            continue;
        }
        let Some(dev) = sanitized else { continue };
        let dev = Value::String(dev);
        if mounts.iter().any(|m| m.first() == Some(&dev)) {
            log::debug!("Not including {start}, already previously included");
            continue;
        }
        let mut entry: Entry = def.iter().map(|s| Value::String(s.to_string())).collect();
        entry[0] = dev;
        out.push(entry);
    }
    Ok(out)
}

/// Upstream's `remove_nonexistent_devices`: an entry whose mount point is
/// `null` removes itself and every earlier entry for the same device.
pub(crate) fn remove_nonexistent(mounts: Vec<Entry>) -> Result<Vec<Entry>, ModuleError> {
    let mut kept = Vec::new();
    let mut deny: Vec<Value> = Vec::new();
    for line in mounts.into_iter().rev() {
        let first = line.first().cloned().ok_or_else(index_error)?;
        let second = line.get(1).ok_or_else(index_error)?;
        if second.is_null() || deny.contains(&first) {
            log::debug!("Skipping nonexistent device named {}", py_str(&first));
            deny.push(first);
        } else {
            kept.push(line);
        }
    }
    kept.reverse();
    Ok(kept)
}

/// Upstream's `add_comment`: the marker appended to the options field.
pub(crate) fn add_comment(mounts: Vec<Entry>) -> Result<Vec<Entry>, ModuleError> {
    mounts
        .into_iter()
        .map(|mut e| {
            let opts = e.get(3).ok_or_else(index_error)?;
            e[3] = Value::String(format!("{},{MNT_COMMENT}", py_str(opts)));
            Ok(e)
        })
        .collect()
}

/// `"\t".join(entry)`: every field must be text by now.
pub(crate) fn join(entry: &[Value]) -> Result<String, ModuleError> {
    let mut fields = Vec::with_capacity(entry.len());
    for (i, v) in entry.iter().enumerate() {
        match v {
            Value::String(s) => fields.push(s.as_str()),
            other => {
                return Err(ModuleError::with_class(
                    "TypeError",
                    format!(
                        "sequence item {i}: expected str instance, {} found",
                        py_type(other)
                    ),
                ))
            }
        }
    }
    Ok(fields.join("\t"))
}

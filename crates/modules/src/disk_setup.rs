//! `disk_setup` and `fs_setup`: partition disks (MBR through sfdisk, GPT
//! through sgdisk) and make file systems on them, leaving alone what is
//! already there unless told to overwrite. Device names go through
//! `device_aliases` and the datasource's names (`ephemeral0`) first; a
//! failure on one disk or file system is a warning and the next one is
//! tried, as upstream does.
//!
//! The tools are upstream's (lsblk, blkid, sfdisk, sgdisk, blockdev,
//! partprobe, udevadm, wipefs, mkfs.*), run inside the target, so the
//! module is Linux-only as upstream's is in practice.

// The datasource's device names (`mounts` needs the same lookup).
mod layout;
mod mkfs;
mod mkpart;
mod probe;
mod subp;

use crate::{Ctx, ModResult, ModuleError};
use ci_pyval::{py_repr, py_str, py_type};
use serde_json::{Map, Value};

pub fn handle(ctx: &Ctx) -> ModResult {
    let aliases = ctx
        .get("device_aliases")
        .cloned()
        .unwrap_or_else(|| Value::Object(Map::new()));
    let tformer = |cand: &str| alias_to_device(ctx, &aliases, cand);

    if let Some(Value::Object(disks)) = ctx.get("disk_setup") {
        let mut disks: Vec<(String, Value)> =
            disks.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        update_disk_setup_devices(&mut disks, &tformer)?;
        log::debug!("Partitioning disks: {}", py_repr(&to_object(&disks)));
        for (disk, definition) in &disks {
            if !definition.is_object() {
                log::warn!("Invalid disk definition for {disk}");
                continue;
            }
            if let Err(e) = mkpart::mkpart(ctx.host, disk, definition) {
                log::warn!("Failed partitioning operation\n{e}");
            }
        }
    }

    if let Some(Value::Array(filesystems)) = ctx.get("fs_setup") {
        log::debug!(
            "setting up filesystems: {}",
            py_repr(&Value::Array(filesystems.clone()))
        );
        let mut filesystems = filesystems.clone();
        update_fs_setup_devices(&mut filesystems, &tformer)?;
        for definition in &filesystems {
            let Value::Object(fs) = definition else {
                log::warn!("Invalid file system definition: {}", py_str(definition));
                continue;
            };
            if let Err(e) = mkfs::mkfs(ctx.host, fs) {
                log::warn!("Failed during filesystem operation\n{e}");
            }
        }
    }
    Ok(())
}

fn to_object(entries: &[(String, Value)]) -> Value {
    Value::Object(entries.iter().cloned().collect())
}

/// Upstream's `alias_to_device`: `device_aliases` first, then the
/// datasource's own name for the (aliased) device; the alias itself when
/// the datasource does not know it.
fn alias_to_device(ctx: &Ctx, aliases: &Value, cand: &str) -> Result<Option<String>, ModuleError> {
    let Value::Object(aliases) = aliases else {
        return Err(ModuleError::with_class(
            "AttributeError",
            format!("'{}' object has no attribute 'get'", py_type(aliases)),
        ));
    };
    let name = aliases.get(cand).filter(|v| !v.is_null()).map(py_str);
    let lookup = name.as_deref().filter(|n| !n.is_empty()).unwrap_or(cand);
    let found = crate::ds_devices::device_name_to_device(ctx, lookup).map_err(module_error)?;
    Ok(found.filter(|f| !f.is_empty()).or(name))
}

fn module_error(msg: String) -> ModuleError {
    let class = if msg.contains("object has no attribute") {
        "AttributeError"
    } else {
        "RuntimeError"
    };
    ModuleError::with_class(class, msg)
}

type Tformer<'a> = dyn Fn(&str) -> Result<Option<String>, ModuleError> + 'a;

/// Upstream's `update_disk_setup_devices`: rename each entry to its device;
/// a renamed entry moves to the end (replacing one already named so) and
/// remembers its name in `_origname`.
fn update_disk_setup_devices(
    disks: &mut Vec<(String, Value)>,
    tformer: &Tformer,
) -> Result<(), ModuleError> {
    let names: Vec<String> = disks.iter().map(|(k, _)| k.clone()).collect();
    for origname in names {
        let Some(transformed) = tformer(&origname)? else {
            continue;
        };
        if transformed == origname {
            continue;
        }
        if let Some(i) = disks.iter().position(|(k, _)| *k == transformed) {
            log::info!("Replacing {origname} in disk_setup for translation of {transformed}");
            disks.remove(i);
        }
        let Some(i) = disks.iter().position(|(k, _)| *k == origname) else {
            return Err(ModuleError::with_class("KeyError", origname));
        };
        let (_, mut value) = disks.remove(i);
        if let Value::Object(m) = &mut value {
            m.insert("_origname".into(), Value::String(origname.clone()));
        }
        disks.push((transformed.clone(), value));
        log::debug!("updated disk_setup device entry '{origname}' to '{transformed}'");
    }
    Ok(())
}

/// `util.expand_dotted_devname`: `ephemeral0.1` -> (`ephemeral0`, `1`).
fn expand_dotted_devname(dotted: &str) -> (String, Option<String>) {
    match dotted.rsplit_once('.') {
        Some((dev, part)) => (dev.to_string(), Some(part.to_string())),
        None => (dotted.to_string(), None),
    }
}

/// Upstream's `update_fs_setup_devices`: resolve each entry's `device`; a
/// dotted `<dev>.<N>` sets `partition` to N (over any `partition` key).
fn update_fs_setup_devices(
    filesystems: &mut [Value],
    tformer: &Tformer,
) -> Result<(), ModuleError> {
    for definition in filesystems.iter_mut() {
        let Value::Object(def) = definition else {
            log::warn!("entry in disk_setup not a dict: {}", py_str(definition));
            continue;
        };
        let origname = match def.get("device") {
            None | Some(Value::Null) => continue,
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(ModuleError::with_class(
                    "AttributeError",
                    format!("'{}' object has no attribute 'rsplit'", py_type(other)),
                ))
            }
        };
        let (dev, part) = expand_dotted_devname(&origname);
        if let Some(tformed) = tformer(&dev)? {
            log::debug!(
                "{origname} is mapped to disk={tformed} part={}",
                part.as_deref().unwrap_or("None")
            );
            def.insert("_origname".into(), Value::String(origname.clone()));
            def.insert("device".into(), Value::String(tformed));
        }
        let Some(part) = part.filter(|p| !p.is_empty()) else {
            continue;
        };
        if let Some(old) = def.get("partition").cloned() {
            log::warn!(
                "Partition '{part}' from dotted device name '{origname}' overrides 'partition' key in {}",
                py_repr(&Value::Object(def.clone()))
            );
            def.insert("_partition".into(), old);
        }
        def.insert("partition".into(), Value::String(part));
    }
    Ok(())
}

#[cfg(test)]
mod tests;

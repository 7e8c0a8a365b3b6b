//! The datasource's `device_name_to_device`: what `ephemeral0`, `swap`,
//! `root` and friends name on this instance. Only some datasources know;
//! the others (NoCloud, None, AliYun, ...) answer nothing. `disk_setup`
//! and `mounts` both ask it.

use crate::Ctx;
use ci_pyval::py_str;
use serde_json::Value;

/// Azure's resource disk, as its udev rules name it.
const AZURE_RESOURCE_DISK: &str = "/dev/disk/cloud/azure_resource";
/// SmartOS (Joyent) KVM instances get their ephemeral disk second.
const SMARTOS_EPHEMERAL: &str = "/dev/vdb";

/// Upstream's `cloud.device_name_to_device(name)`. The error is `str()` of
/// the `AttributeError` upstream raises when a configured `disk_aliases`
/// is not a mapping.
pub(crate) fn device_name_to_device(ctx: &Ctx, name: &str) -> Result<Option<String>, String> {
    match ctx.instance.datasource_name.as_str() {
        // Upstream's Azure on the BSDs names the resource disk by probing
        // geom; only the Linux path is known here.
        "Azure" => disk_alias(ctx, &["Azure"], AZURE_RESOURCE_DISK, name),
        // The SmartOS datasource calls itself Joyent but reads its config
        // from `datasource.SmartOS` too.
        "Joyent" => disk_alias(ctx, &["Joyent", "SmartOS"], SMARTOS_EPHEMERAL, name),
        "Ec2" => Ok(ec2_device(ctx, name)),
        "OpenStack" | "ConfigDrive" => Ok(openstack_device(ctx, name)),
        _ => Ok(None),
    }
}

/// `ds_cfg["disk_aliases"].get(name)`: the datasource's config sections
/// merged over its built-in `{"ephemeral0": default}` (earlier sections win).
fn disk_alias(
    ctx: &Ctx,
    sections: &[&str],
    default: &str,
    name: &str,
) -> Result<Option<String>, String> {
    for section in sections {
        let aliases = ctx
            .get("datasource")
            .and_then(|d| d.get(section))
            .and_then(|s| s.get("disk_aliases"));
        match aliases {
            None | Some(Value::Null) => continue,
            Some(Value::Object(m)) => {
                if let Some(v) = m.get(name) {
                    return Ok((!v.is_null()).then(|| py_str(v)));
                }
            }
            Some(other) => {
                return Err(format!(
                    "'{}' object has no attribute 'get'",
                    ci_pyval::py_type(other)
                ))
            }
        }
    }
    Ok((name == "ephemeral0").then(|| default.to_string()))
}

/// `os.path.exists(path)` inside the target.
fn exists(ctx: &Ctx, path: &str) -> bool {
    ctx.host.exists(under_root(path, "/"))
}

/// `path` when absolute, else `prefix` + `path`.
fn under_root(path: &str, prefix: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{prefix}{path}")
    }
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Upstream's `_remap_device`: metadata says `sdb`, the kernel may call it
/// `vdb`, `xvdb` or `vtbb`.
fn remap_device(ctx: &Ctx, short: &str) -> Option<String> {
    let rest = short.strip_prefix("sd")?;
    ["vd", "xvd", "vtb"]
        .iter()
        .map(|to| format!("/dev/{to}{rest}"))
        .find(|cand| exists(ctx, cand))
}

/// Ec2's lookup in the metadata's `block-device-mapping`.
fn ec2_device(ctx: &Ctx, name: &str) -> Option<String> {
    let bdm = ctx.instance.metadata.get("block-device-mapping")?;
    let Value::Object(bdm) = bdm else {
        log::debug!("block-device-mapping not a dictionary: '{}'", py_str(bdm));
        return None;
    };
    let mut found = None;
    for (ent, dev) in bdm {
        if ent == name {
            found = Some(py_str(dev));
            break;
        }
        // Eucalyptus names it `ephemeral`.
        if ent == "ephemeral" && name == "ephemeral0" {
            found = Some(py_str(dev));
        }
    }
    let Some(ofound) = found else {
        log::debug!("Unable to convert {name} to a device");
        return None;
    };
    let full = under_root(&ofound, "/dev/");
    if exists(ctx, &full) {
        return Some(full);
    }
    if let Some(r) = remap_device(ctx, basename(&full)) {
        log::debug!("Remapped device name {full} => {r}");
        return Some(r);
    }
    // t1.micro lists an ephemeral0 that never exists (LP: #744019).
    if name == "ephemeral0" {
        return None;
    }
    Some(ofound)
}

/// Upstream's `_validate_device_name`: the device if it exists (under
/// `/dev` when relative), else its `sd` -> `vd`/`xvd`/`vtb` remapping.
fn validate_device_name(ctx: &Ctx, device: Option<String>) -> Option<String> {
    let device = device.filter(|d| !d.is_empty())?;
    let device = under_root(&device, "/dev/");
    if exists(ctx, &device) {
        return Some(device);
    }
    let r = remap_device(ctx, basename(&device))?;
    log::debug!("Remapped device name {device} => {r}");
    Some(r)
}

/// OpenStack and ConfigDrive: the EC2-style mapping first (when the
/// datasource kept EC2 metadata), then a file system labelled with the
/// name (`TYPE=swap` for `swap`).
fn openstack_device(ctx: &Ctx, name: &str) -> Option<String> {
    if name.is_empty() {
        return None;
    }
    let mut names = vec![name.to_string()];
    if name == "root" {
        names.insert(0, "ami".into());
    }
    if name == "ami" {
        names.push("root".into());
    }
    log::debug!(
        "Using ec2 style lookup to find device {}",
        ci_pyval::py_list(&names)
    );
    let ec2_md = ctx.instance.metadata.get("ec2_metadata");
    let by_ec2 = names.iter().find_map(|n| {
        let dev = ec2_md
            .and_then(|m| m.get("block-device-mapping"))
            .and_then(|b| b.get(n.as_str()))
            .map(py_str);
        validate_device_name(ctx, dev)
    });
    let found = by_ec2.or_else(|| {
        log::debug!(
            "Using openstack style lookup to find device {}",
            ci_pyval::py_list(&names)
        );
        names
            .iter()
            .find_map(|n| validate_device_name(ctx, find_dev_by_label(ctx, n)))
    })?;
    log::debug!("Mapped {name} to device {found}");
    Some(found)
}

/// The first device `blkid` finds with the label `name` (the swap type
/// for `swap`); nothing when `blkid` is missing or fails.
fn find_dev_by_label(ctx: &Ctx, name: &str) -> Option<String> {
    // Upstream's BSD variants look in geom, which is not known here.
    if ctx.distro.is_bsd() {
        return None;
    }
    let criteria = if name == "swap" {
        "-tTYPE=swap".to_string()
    } else {
        format!("-tLABEL={name}")
    };
    if ctx.host.is_sandbox() && ctx.host.which_target("blkid").is_none() {
        return None;
    }
    let cmd = ci_host::Cmd::new(["blkid", criteria.as_str(), "-odevice"]).in_target();
    let out = ctx.host.runner().execute(ctx.host, &cmd).ok()?;
    if out.status != 0 && out.status != 2 {
        return None;
    }
    out.stdout_str()
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests;

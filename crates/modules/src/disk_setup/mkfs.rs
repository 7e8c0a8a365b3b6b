//! One `fs_setup` entry (upstream's `mkfs`): find the device or partition
//! to format, skip it when the wanted file system is there already, and run
//! `mkfs.<fs>` (or the entry's own `cmd`).

use super::mkpart::assert_and_settle_device;
use super::probe::{check_fs, device_type, enumerate_disk};
use super::subp::{is_block_device, realpath, subp, subp_shell, which, PyResult};
use ci_host::Host;
use ci_pyval::{py_list, py_repr, py_str, truthy};
use serde_json::{Map, Value};

/// Python `==` between a string lsblk/blkid printed (or nothing) and a
/// config value.
fn same(found: Option<&str>, wanted: &Value) -> bool {
    match (found, wanted) {
        (None, Value::Null) => true,
        (Some(f), Value::String(w)) => f == w,
        _ => false,
    }
}

/// Upstream's `lookup_force_flag`.
pub(crate) fn force_flag(fs: &str) -> &'static str {
    let lower = fs.to_lowercase();
    if lower.contains("ext") {
        return "-F";
    }
    match lower.as_str() {
        "btrfs" | "xfs" | "reiserfs" | "swap" => "-f",
        _ => {
            log::warn!("Force flag for {fs} is unknown.");
            ""
        }
    }
}

/// Upstream's `find_device_node`: `(device, reuse)`.
fn find_device_node(
    host: &Host,
    device: &str,
    fs_type: &Value,
    label: &Value,
    label_match: bool,
    replace_fs: &Value,
) -> PyResult<(Option<String>, bool)> {
    let label = if label.is_null() {
        Value::String(String::new())
    } else {
        label.clone()
    };
    let mut raw_device_used = false;
    for d in enumerate_disk(host, device, false)? {
        let name = d.name.as_deref().unwrap_or("None");
        let fstype = d.fstype.as_deref();
        if same(fstype, replace_fs) && !label_match {
            return Ok((Some(format!("/dev/{name}")), false));
        }
        if same(fstype, fs_type) && (!label_match || same(d.label.as_deref(), &label)) {
            return Ok((Some(format!("/dev/{name}")), true));
        }
        let kind = d.kind.as_deref();
        if matches!(kind, Some("disk") | Some("part")) {
            let has_fs = fstype.is_some_and(|f| !f.is_empty());
            if kind != Some("disk") || has_fs {
                raw_device_used = true;
            }
            if kind != Some("disk") && !has_fs {
                return Ok((Some(format!("/dev/{name}")), false));
            }
        }
    }
    if !raw_device_used {
        return Ok((Some(device.to_string()), false));
    }
    log::warn!("Failed to find device during available device search.");
    Ok((None, false))
}

/// Python's `str(v)` for the `%(name)s` substitutions.
fn py_text(v: &Value) -> String {
    py_str(v)
}

/// `cmd % {"label": ..., "filesystem": ..., "device": ...}`.
fn render_cmd(cmd: &Value, vars: &[(&str, String, Value)]) -> PyResult<String> {
    let Some(tmpl) = cmd.as_str() else {
        return Err(format!(
            "unsupported operand type(s) for %: '{}' and 'dict'",
            ci_pyval::py_type(cmd)
        ));
    };
    let mut out = String::new();
    let mut chars = tmpl.chars().peekable();
    let mut used_named = false;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some('(') => {
                let mut key = String::new();
                loop {
                    match chars.next() {
                        Some(')') => break,
                        Some(k) => key.push(k),
                        None => return Err("incomplete format key".into()),
                    }
                }
                let conv = chars.next().ok_or("incomplete format")?;
                let (_, text, raw) = vars
                    .iter()
                    .find(|(k, _, _)| *k == key)
                    .ok_or_else(|| ci_pyval::py_quote(&key))?;
                match conv {
                    's' => out.push_str(text),
                    'r' => out.push_str(&py_repr(raw)),
                    other => {
                        return Err(format!(
                            "unsupported format character '{other}' (0x{:x})",
                            other as u32
                        ))
                    }
                }
                used_named = true;
            }
            Some('s') => {
                // A bare `%s` takes the whole mapping, unless a named one
                // already did.
                if used_named {
                    return Err("not enough arguments for format string".into());
                }
                let mut m = Map::new();
                for (k, _, raw) in vars {
                    m.insert(k.to_string(), raw.clone());
                }
                out.push_str(&py_repr(&Value::Object(m)));
            }
            Some(other) => {
                return Err(format!(
                    "unsupported format character '{other}' (0x{:x})",
                    other as u32
                ))
            }
            None => return Err("incomplete format".into()),
        }
    }
    Ok(out)
}

/// `list.extend(extra_opts)`: a list adds its items, a string its letters.
fn extend_opts(cmd: &mut Vec<String>, opts: &Value) -> PyResult<()> {
    match opts {
        Value::Array(a) => cmd.extend(a.iter().map(py_str)),
        Value::String(s) => cmd.extend(s.chars().map(|c| c.to_string())),
        Value::Object(m) => cmd.extend(m.keys().cloned()),
        other => {
            return Err(format!(
                "'{}' object is not iterable",
                ci_pyval::py_type(other)
            ))
        }
    }
    Ok(())
}

fn get<'a>(cfg: &'a Map<String, Value>, key: &str) -> &'a Value {
    cfg.get(key).unwrap_or(&Value::Null)
}

pub(crate) fn mkfs(host: &Host, cfg: &Map<String, Value>) -> PyResult<()> {
    let label = get(cfg, "label");
    let partition = cfg
        .get("partition")
        .map_or_else(|| "any".to_string(), py_str);
    let fs_type = get(cfg, "filesystem");
    let fs_cmd = cfg.get("cmd").cloned().unwrap_or(Value::Array(vec![]));
    let fs_opts = cfg
        .get("extra_opts")
        .cloned()
        .unwrap_or(Value::Array(vec![]));
    let fs_replace = cfg.get("replace_fs").cloned().unwrap_or(Value::Bool(false));
    let overwrite = cfg.get("overwrite").is_some_and(truthy);
    let label_text = py_text(label);

    let device = assert_and_settle_device(host, get(cfg, "device"))?;
    let mut device = realpath(host, &device);
    log::debug!("Checking {device} against default devices");

    let is_digits = !partition.is_empty() && partition.chars().all(|c| c.is_ascii_digit());
    if partition.is_empty() || is_digits {
        if is_digits {
            // nvme0n1 -> nvme0n1p1, as the kernel names partitions.
            if device.ends_with(|c: char| c.is_ascii_digit()) {
                device.push('p');
            }
            device.push_str(&partition);
            if !is_block_device(host, &device) {
                // Upstream's message names no path (its format has no argument).
                log::warn!("Path %s does not exist or is not a block device");
                return Ok(());
            }
            log::debug!("Manual request of partition {partition} for {device}");
        }
        log::debug!("Checking device {device}");
        let found = check_fs(host, &device)?;
        log::debug!(
            "Device '{device}' has check_label='{}' check_fstype={}",
            found.label.as_deref().unwrap_or("None"),
            found.fstype.as_deref().unwrap_or("None")
        );
        if same(found.label.as_deref(), label) && same(found.fstype.as_deref(), fs_type) {
            log::debug!("Existing file system found at {device}");
            if !overwrite {
                log::debug!("Device {device} has required file system");
                return Ok(());
            }
            log::debug!("Destroying filesystem on {device}");
        } else {
            log::debug!("Device {device} is cleared for formatting");
        }
    } else if matches!(partition.to_lowercase().as_str(), "auto" | "any") {
        let odevice = device.clone();
        log::debug!("Identifying device to create {label_text} filesystem on");
        let label_match = partition.to_lowercase() != "any";
        let (found, reuse) =
            find_device_node(host, &device, fs_type, label, label_match, &fs_replace)?;
        log::debug!(
            "Automatic device for {odevice} identified as {}",
            found.as_deref().unwrap_or("None")
        );
        if reuse {
            log::debug!("Found filesystem match, skipping formatting.");
            return Ok(());
        }
        let Some(found) = found else {
            log::debug!(
                "No device available that matches request. Skipping fs creation for {}",
                py_repr(&Value::Object(cfg.clone()))
            );
            return Ok(());
        };
        if truthy(&fs_replace) {
            log::debug!("Replacing file system on {found} as instructed.");
        }
        device = found;
    } else if partition.to_lowercase() == "none" {
        log::debug!("Using the raw device to place filesystem {label_text} on");
    } else {
        log::debug!("Error in device identification handling.");
        return Ok(());
    }

    log::debug!(
        "File system type '{}' with label '{label_text}' will be created on {device}",
        py_text(fs_type)
    );
    if device.is_empty() {
        log::warn!("Device is not known: {device}");
        return Ok(());
    }
    if !truthy(fs_type) && !truthy(&fs_cmd) {
        return Err(format!(
            "No way to create filesystem '{label_text}'. fs_type or fs_cmd must be set."
        ));
    }

    if truthy(&fs_cmd) {
        let vars = [
            ("label", label_text.clone(), label.clone()),
            ("filesystem", py_text(fs_type), fs_type.clone()),
            ("device", device.clone(), Value::String(device.clone())),
        ];
        let text = render_cmd(&fs_cmd, &vars)?;
        if overwrite {
            log::warn!("fs_setup:overwrite ignored because cmd was specified: {text}");
        }
        if truthy(&fs_opts) {
            log::warn!("fs_setup:extra_opts ignored because cmd was specified: {text}");
        }
        log::debug!("Creating file system {label_text} on {device}");
        subp_shell(host, &text).map_err(|e| format!("Failed to exec of '{text}':\n{e}"))?;
        return Ok(());
    }

    let fs = py_text(fs_type);
    let Some(mkfs_cmd) =
        which(host, &format!("mkfs.{fs}")).or_else(|| which(host, &format!("mk{fs}")))
    else {
        log::warn!("Cannot create fstype '{fs}'.  No mkfs.{fs} command");
        return Ok(());
    };
    let mut cmd = vec![mkfs_cmd];
    if truthy(label) {
        cmd.push("-L".into());
        cmd.push(label_text.clone());
    }
    if overwrite || device_type(host, &device)?.as_deref() == Some("disk") {
        let flag = force_flag(&fs);
        if !flag.is_empty() {
            cmd.push(flag.into());
        }
    }
    if truthy(&fs_opts) {
        extend_opts(&mut cmd, &fs_opts)?;
    }
    cmd.push(device.clone());
    log::debug!("Creating file system {label_text} on {device}");
    subp(host, &cmd, None, None, &[0])
        .map_err(|e| format!("Failed to exec of '{}':\n{e}", py_list(&cmd)))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn force_flags_per_fs() {
        assert_eq!(force_flag("ext4"), "-F");
        assert_eq!(force_flag("EXT3"), "-F");
        assert_eq!(force_flag("xfs"), "-f");
        assert_eq!(force_flag("btrfs"), "-f");
        assert_eq!(force_flag("swap"), "-f");
        assert_eq!(force_flag("vfat"), "");
    }

    fn vars() -> Vec<(&'static str, String, Value)> {
        vec![
            ("label", "fs1".into(), json!("fs1")),
            ("filesystem", "ext4".into(), json!("ext4")),
            ("device", "/dev/sdb1".into(), json!("/dev/sdb1")),
        ]
    }

    #[test]
    fn cmd_templates_like_percent_format() {
        let t = json!("mkfs -t %(filesystem)s -L %(label)s %(device)s");
        assert_eq!(
            render_cmd(&t, &vars()).unwrap(),
            "mkfs -t ext4 -L fs1 /dev/sdb1"
        );
        assert_eq!(render_cmd(&json!("a %% b"), &vars()).unwrap(), "a % b");
        assert_eq!(
            render_cmd(&json!("%s %(label)s"), &vars()).unwrap(),
            "{'label': 'fs1', 'filesystem': 'ext4', 'device': '/dev/sdb1'} fs1"
        );
        assert_eq!(
            render_cmd(&json!("%(label)s %s"), &vars()).unwrap_err(),
            "not enough arguments for format string"
        );
        assert_eq!(
            render_cmd(&json!("x %(nope)s"), &vars()).unwrap_err(),
            "'nope'"
        );
        assert_eq!(
            render_cmd(&json!(["mkfs"]), &vars()).unwrap_err(),
            "unsupported operand type(s) for %: 'list' and 'dict'"
        );
    }

    #[test]
    fn extra_opts_extend_like_a_list() {
        let mut c = vec!["mkfs.ext4".to_string()];
        extend_opts(&mut c, &json!(["-i", 1024])).unwrap();
        assert_eq!(c, ["mkfs.ext4", "-i", "1024"]);
        let mut c = Vec::new();
        extend_opts(&mut c, &json!("-q")).unwrap();
        assert_eq!(c, ["-", "q"]);
    }
}

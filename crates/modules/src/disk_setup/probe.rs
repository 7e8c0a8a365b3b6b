//! What is on a disk, asked the way upstream asks: `lsblk --pairs` for the
//! device tree, `blkid` for a file system signature, `sfdisk -l` and
//! `sgdisk -p` for the partition table, `blockdev` for the size.

use super::subp::{argv, subp, udevadm_settle, value_splitter, which, PyResult};
use ci_host::Host;
use ci_pyval::{py_str, py_type};
use serde_json::Value;

/// One `lsblk --pairs` line. Fields lsblk did not print stay `None`; the
/// ones it printed empty are `Some("")` (upstream compares them that way).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct BlockEntry {
    pub name: Option<String>,
    pub kind: Option<String>,
    pub fstype: Option<String>,
    pub label: Option<String>,
}

/// Upstream's `enumerate_disk`.
pub(crate) fn enumerate_disk(host: &Host, device: &str, nodeps: bool) -> PyResult<Vec<BlockEntry>> {
    let mut cmd = argv(&[
        "lsblk",
        "--pairs",
        "--output",
        "NAME,TYPE,FSTYPE,LABEL",
        device,
    ]);
    if nodeps {
        cmd.push("--nodeps".into());
    }
    let info = subp(host, &cmd, None, None, &[0])
        .map_err(|e| format!("Failed during disk check for {device}\n{e}"))?;
    let mut entries = Vec::new();
    for line in info.trim().lines().filter(|l| !l.trim().is_empty()) {
        let mut e = BlockEntry::default();
        for (key, value) in value_splitter(line, 0)? {
            match key.to_lowercase().as_str() {
                "name" => e.name = Some(value),
                "type" => e.kind = Some(value),
                "fstype" => e.fstype = Some(value),
                "label" => e.label = Some(value),
                _ => {}
            }
        }
        entries.push(e);
    }
    Ok(entries)
}

/// Upstream's `device_type`: the lower-cased TYPE of the device itself.
pub(crate) fn device_type(host: &Host, device: &str) -> PyResult<Option<String>> {
    match enumerate_disk(host, device, true)?.into_iter().next() {
        None => Ok(None),
        Some(e) => match e.kind {
            Some(k) => Ok(Some(k.to_lowercase())),
            None => Err("'NoneType' object has no attribute 'lower'".into()),
        },
    }
}

/// Upstream's `is_device_valid` (a whole disk; a failed query is a warning).
pub(crate) fn is_device_valid(host: &Host, device: &str) -> bool {
    match device_type(host, device) {
        Ok(t) => t.as_deref() == Some("disk"),
        Err(_) => {
            log::warn!("Query against device {device} failed");
            false
        }
    }
}

/// Label, type and UUID `blkid` finds on `device` (upstream's `check_fs`).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct FsInfo {
    pub label: Option<String>,
    pub fstype: Option<String>,
    pub uuid: Option<String>,
}

pub(crate) fn check_fs(host: &Host, device: &str) -> PyResult<FsInfo> {
    let cmd = argv(&["blkid", "-c", "/dev/null", device]);
    let out = subp(host, &cmd, None, None, &[0, 2])
        .map_err(|e| format!("Failed during disk check for {device}\n{e}"))?;
    let mut info = FsInfo::default();
    if !out.is_empty() && py_splitlines_count(&out) == 1 {
        for (key, value) in value_splitter(&out, 1)? {
            match key.to_lowercase().as_str() {
                "label" => info.label = Some(value),
                "type" => info.fstype = Some(value),
                "uuid" => info.uuid = Some(value),
                _ => {}
            }
        }
    }
    Ok(info)
}

fn py_splitlines_count(s: &str) -> usize {
    s.lines().count()
}

/// Upstream's `is_disk_used`: children in the tree, or a file system.
pub(crate) fn is_disk_used(host: &Host, device: &str) -> PyResult<bool> {
    if enumerate_disk(host, device, false)?.len() > 1 {
        return Ok(true);
    }
    Ok(check_fs(host, device)?
        .fstype
        .is_some_and(|t| !t.is_empty()))
}

/// Upstream's `get_hdd_size`: bytes / sector size, as a float.
pub(crate) fn get_hdd_size(host: &Host, device: &str) -> PyResult<f64> {
    let run = |flag: &str| {
        subp(host, &argv(&["blockdev", flag, device]), None, None, &[0])
            .map_err(|e| format!("Failed to get {device} size\n{e}"))
    };
    let bytes = run("--getsize64")?;
    let sector = run("--getss")?;
    let bytes = py_int(&bytes)?;
    let sector = py_int(&sector)?;
    if sector == 0 {
        return Err("division by zero".into());
    }
    Ok(bytes as f64 / sector as f64)
}

/// Python's `int(text)` for a tool's output.
fn py_int(text: &str) -> PyResult<i128> {
    let t = text.trim().replace('_', "");
    t.parse::<i128>().map_err(|_| {
        format!(
            "invalid literal for int() with base 10: {}",
            ci_pyval::py_quote(text)
        )
    })
}

/// Upstream's `read_parttbl`: have the kernel reread the table (partprobe
/// when the target has it, else blockdev), between two udev settles. A
/// failed reread is only logged.
pub(crate) fn read_parttbl(host: &Host, device: &str) -> PyResult<()> {
    let probe = if which(host, "partprobe").is_some() {
        argv(&["partprobe", device])
    } else {
        argv(&["blockdev", "--rereadpt", device])
    };
    udevadm_settle(host)?;
    if let Err(e) = subp(host, &probe, None, None, &[0]) {
        log::warn!("Failed reading the partition table {e}");
    }
    udevadm_settle(host)
}

/// Type labels of the partitions `sfdisk -l` lists (upstream's
/// `check_partition_mbr_layout`); the layout goes to sfdisk's stdin as
/// Python prints it.
fn mbr_found_layout(host: &Host, device: &str, layout: &Value) -> PyResult<Vec<Option<String>>> {
    read_parttbl(host, device)?;
    let cmd = argv(&["sfdisk", "-l", device]);
    let out = subp(
        host,
        &cmd,
        Some(format!("{}\n", py_str(layout))),
        None,
        &[0],
    )
    .map_err(|e| format!("Error running partition command on {device}\n{e}"))?;
    Ok(parse_sfdisk_list(&out, device))
}

pub(crate) fn parse_sfdisk_list(out: &str, device: &str) -> Vec<Option<String>> {
    let mut found = Vec::new();
    for line in out.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(first) = words.first() else { continue };
        if !first.contains(device) {
            continue;
        }
        let last = words.last().map(|w| w.to_lowercase()).unwrap_or_default();
        if last == "extended" || last == "empty" {
            continue;
        }
        let label = words[1..]
            .iter()
            .rev()
            .find(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_digit()))
            .map(|w| w.to_string());
        found.push(label);
    }
    found
}

/// Type codes `sgdisk -p` lists (upstream's `check_partition_gpt_layout`),
/// `8300` shortened to `83` as users write it.
fn gpt_found_layout(host: &Host, device: &str) -> PyResult<Vec<Option<String>>> {
    let cmd = argv(&["sgdisk", "-p", device]);
    let out = subp(host, &cmd, None, Some(("LANG", "C")), &[0])
        .map_err(|e| format!("Error running partition command on {device}\n{e}"))?;
    parse_sgdisk_print(&out).map(|v| v.into_iter().map(Some).collect())
}

pub(crate) fn parse_sgdisk_print(out: &str) -> PyResult<Vec<String>> {
    let mut lines = out.lines();
    for line in lines.by_ref() {
        if line.trim().starts_with("Number") {
            break;
        }
    }
    let mut codes = Vec::new();
    for line in lines {
        let words: Vec<&str> = line.split_whitespace().collect();
        let code = words.get(5).ok_or("list index out of range")?;
        let code = if code.chars().count() == 4 && code.ends_with("00") {
            code.chars().take(2).collect()
        } else {
            code.to_string()
        };
        codes.push(code);
    }
    Ok(codes)
}

/// Upstream's `check_partition_layout`: does the table on the disk already
/// have the requested partitions (count, and types where given)?
pub(crate) fn check_partition_layout(
    host: &Host,
    table_type: &str,
    device: &str,
    layout: &Value,
) -> PyResult<bool> {
    let found = match table_type {
        "gpt" => gpt_found_layout(host, device)?,
        "mbr" => mbr_found_layout(host, device, layout)?,
        _ => return Err("Unable to determine table type".into()),
    };
    let found_repr = py_opt_list(&found);
    log::debug!(
        "called check_partition_{table_type}_layout({device}, {}), returned: {found_repr}",
        py_str(layout)
    );
    layout_matches(layout, &found)
}

fn py_opt_list(items: &[Option<String>]) -> String {
    let words: Vec<String> = items
        .iter()
        .map(|i| match i {
            Some(s) => ci_pyval::py_quote(s),
            None => "None".into(),
        })
        .collect();
    format!("[{}]", words.join(", "))
}

pub(crate) fn layout_matches(layout: &Value, found: &[Option<String>]) -> PyResult<bool> {
    if let Value::Bool(b) = layout {
        return Ok(*b && !found.is_empty());
    }
    let wanted: Vec<Option<String>> = match layout {
        Value::Array(a) => a
            .iter()
            .map(|x| match x {
                Value::Array(p) if p.len() > 1 => Some(py_str(&p[1])),
                _ => None,
            })
            .collect(),
        Value::String(s) => s.chars().map(|_| None).collect(),
        Value::Object(m) => m.iter().map(|_| None).collect(),
        other => return Err(format!("object of type '{}' has no len()", py_type(other))),
    };
    if let Value::Array(a) = layout {
        // `x[1]` of a one-element list is an IndexError upstream.
        if a.iter()
            .any(|x| matches!(x, Value::Array(p) if p.len() < 2))
            && wanted.len() == found.len()
        {
            return Err("list index out of range".into());
        }
    }
    if wanted.len() != found.len() {
        return Ok(false);
    }
    let wanted_repr: Vec<String> = wanted
        .iter()
        .map(|w| w.as_deref().map_or("None".into(), ci_pyval::py_quote))
        .collect();
    log::debug!(
        "Layout types=[{}]. Found types={}",
        wanted_repr.join(", "),
        py_opt_list(found)
    );
    for (w, f) in wanted.iter().zip(found) {
        if let Some(w) = w {
            if f.as_deref().unwrap_or("None") != w {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SFDISK_L: &str = "Disk /dev/sdb: 10 GiB, 10737418240 bytes, 20971520 sectors
Units: sectors of 1 * 512 = 512 bytes
Disklabel type: dos

Device     Boot   Start      End  Sectors Size Id Type
/dev/sdb1          2048 10487807 10485760   5G 83 Linux
/dev/sdb2      10487808 20971519 10483712   5G 82 Linux swap / Solaris
";

    const SGDISK_P: &str = "Disk /dev/sdc: 20971520 sectors, 10.0 GiB
Logical sector size: 512 bytes

Number  Start (sector)    End (sector)  Size       Code  Name
   1            2048        10487807   5.0 GiB     8300  Linux filesystem
   2        10487808        20971486   5.0 GiB     8200  Linux swap
";

    #[test]
    fn sfdisk_list_types() {
        assert_eq!(
            parse_sfdisk_list(SFDISK_L, "/dev/sdb"),
            vec![Some("83".to_string()), Some("82".to_string())]
        );
        assert!(parse_sfdisk_list(SFDISK_L, "/dev/sdc").is_empty());
    }

    #[test]
    fn sgdisk_codes_shortened() {
        assert_eq!(parse_sgdisk_print(SGDISK_P).unwrap(), vec!["83", "82"]);
        assert_eq!(parse_sgdisk_print("").unwrap(), Vec::<String>::new());
        assert_eq!(
            parse_sgdisk_print("Number x\n\n").unwrap_err(),
            "list index out of range"
        );
    }

    #[test]
    fn layout_matching_as_upstream() {
        let found = vec![Some("83".to_string()), Some("82".to_string())];
        assert!(layout_matches(&json!(true), &found).unwrap());
        assert!(!layout_matches(&json!(true), &[]).unwrap());
        assert!(layout_matches(&json!([50, 50]), &found).unwrap());
        assert!(layout_matches(&json!([50, [50, 82]]), &found).unwrap());
        assert!(!layout_matches(&json!([[50, 82], 50]), &found).unwrap());
        assert!(!layout_matches(&json!([100]), &found).unwrap());
        assert_eq!(
            layout_matches(&json!(5), &found).unwrap_err(),
            "object of type 'int' has no len()"
        );
    }
}

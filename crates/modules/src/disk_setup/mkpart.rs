//! One `disk_setup` entry: check the disk, then write an MBR table with
//! sfdisk or a GPT one with sgdisk (upstream's `mkpart`), or wipe it
//! (`layout: remove`).

use super::layout::{gpt_layout, mbr_layout, sgdisk_typecode, GptPart};
use super::probe::{
    check_fs, check_partition_layout, enumerate_disk, get_hdd_size, is_device_valid, is_disk_used,
    read_parttbl,
};
use super::subp::{argv, exists, realpath, subp, udevadm_settle, PyResult};
use ci_host::Host;
use ci_pyval::{py_str, truthy};
use serde_json::Value;

/// Upstream's `assert_and_settle_device`: the device must exist (after one
/// udev settle at most); then settle again so udev's database is current.
pub(crate) fn assert_and_settle_device(host: &Host, device: &Value) -> PyResult<String> {
    let Some(dev) = device.as_str() else {
        return Err(format!(
            "stat: path should be string, bytes, os.PathLike or integer, not {}",
            ci_pyval::py_type(device)
        ));
    };
    if !exists(host, dev) {
        udevadm_settle(host)?;
        if !exists(host, dev) {
            return Err(format!(
                "Device {dev} did not exist and was not created with a udevadm settle."
            ));
        }
    }
    udevadm_settle(host)?;
    Ok(dev.to_string())
}

pub(crate) fn mkpart(host: &Host, device: &str, definition: &Value) -> PyResult<()> {
    let device = assert_and_settle_device(host, &Value::String(device.to_string()))?;
    let device = realpath(host, &device);
    log::debug!("Checking values for {device} definition");
    let overwrite = definition.get("overwrite").is_some_and(truthy);
    let layout = definition
        .get("layout")
        .cloned()
        .unwrap_or(Value::Bool(false));
    let table_type = definition
        .get("table_type")
        .map_or_else(|| "mbr".to_string(), py_str);
    log::debug!("Checking against default devices");
    if !truthy(&layout) {
        log::debug!("Device is not to be partitioned, skipping");
        return Ok(());
    }
    log::debug!("Checking if device {device} is a valid device");
    if !is_device_valid(host, &device) {
        return Err(format!("Device {device} is not a disk device!"));
    }
    if layout
        .as_str()
        .is_some_and(|l| l.to_lowercase() == "remove")
    {
        log::debug!("Instructed to remove partition table entries");
        return purge_disk(host, &device);
    }
    log::debug!("Checking if device layout matches");
    if check_partition_layout(host, &table_type, &device, &layout)? {
        log::debug!("Device partitioning layout matches");
        return Ok(());
    }
    log::debug!("Checking if device is safe to partition");
    if !overwrite && (is_disk_used(host, &device)? || is_filesystem(host, &device)?) {
        log::debug!("Skipping partitioning on configured device {device}");
        return Ok(());
    }
    log::debug!("Checking for device size of {device}");
    let size = get_hdd_size(host, &device)?;
    log::debug!("Calculating partition layout");
    match table_type.as_str() {
        "mbr" => {
            let def = mbr_layout(size, &layout)?;
            log::debug!("   Layout is: {def}");
            log::debug!("Creating partition table on {device}");
            exec_mkpart_mbr(host, &device, &def)?;
        }
        "gpt" => {
            let def = gpt_layout(size, &layout)?;
            log::debug!("   Layout is: {}", gpt_repr(&def));
            log::debug!("Creating partition table on {device}");
            exec_mkpart_gpt(host, &device, &def)?;
        }
        _ => return Err("Unable to determine table type".into()),
    }
    log::debug!("Partition table created for {device}");
    Ok(())
}

fn is_filesystem(host: &Host, device: &str) -> PyResult<bool> {
    Ok(check_fs(host, device)?
        .fstype
        .is_some_and(|t| !t.is_empty()))
}

/// The GPT layout as upstream's debug line prints it.
fn gpt_repr(parts: &[GptPart]) -> String {
    let word = |s: &str| {
        if s == "0" {
            "0".to_string()
        } else {
            ci_pyval::py_quote(s)
        }
    };
    let items: Vec<String> = parts
        .iter()
        .map(|p| {
            let t = p.ptype.as_deref().map_or("None".into(), ci_pyval::py_quote);
            format!("({t}, [{}, {}])", word(&p.start), word(&p.end))
        })
        .collect();
    format!("[{}]", items.join(", "))
}

fn exec_mkpart_mbr(host: &Host, device: &str, layout: &str) -> PyResult<()> {
    let cmd = argv(&["sfdisk", "--force", device]);
    subp(host, &cmd, Some(format!("{layout}\n")), None, &[0])
        .map_err(|e| format!("Failed to partition device {device}\n{e}"))?;
    read_parttbl(host, device)
}

fn exec_mkpart_gpt(host: &Host, device: &str, layout: &[GptPart]) -> PyResult<()> {
    let run = |words: Vec<String>| {
        subp(host, &words, None, None, &[0]).inspect_err(|_| {
            log::warn!("Failed to partition device {device}");
        })
    };
    run(argv(&["sgdisk", "-Z", device]))?;
    for (i, part) in layout.iter().enumerate() {
        let index = i + 1;
        let range = format!("{index}:{}:{}", part.start, part.end);
        run(argv(&["sgdisk", "-n", &range, device]))?;
        if let Some(t) = &part.ptype {
            let code = format!("{index}:{}", sgdisk_typecode(t));
            run(argv(&["sgdisk", "-t", &code, device]))?;
        }
    }
    read_parttbl(host, device)
}

/// Upstream's `purge_disk`: wipe the signatures of everything below the
/// disk, then zero the first and last MiB of the disk itself.
fn purge_disk(host: &Host, device: &str) -> PyResult<()> {
    for d in enumerate_disk(host, device, false)? {
        let kind = d.kind.as_deref().unwrap_or("");
        if kind == "disk" || kind == "crypt" {
            continue;
        }
        let name = d.name.as_deref().map_or("None".to_string(), str::to_string);
        log::info!("Purging filesystem on /dev/{name}");
        let cmd = argv(&["wipefs", "--all", &format!("/dev/{name}")]);
        subp(host, &cmd, None, None, &[0])
            .map_err(|_| format!("Failed FS purge of /dev/{name}"))?;
    }
    purge_disk_ptable(host, device)
}

const WIPE_LEN: u64 = 1024 * 1024;

fn purge_disk_ptable(host: &Host, device: &str) -> PyResult<()> {
    use std::io::{Seek, SeekFrom, Write};
    let os_err = |e: std::io::Error| crate::pyerr::os_error_str(&e, device);
    let path = host.try_resolve(device).map_err(os_err)?;
    // Under --root a device node in the image names a device of this
    // machine: only a plain file (an image) may be written there.
    if host.is_sandbox() && !std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
        log::info!("Not wiping {device}: not a regular file inside the root");
        return read_parttbl(host, device);
    }
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .map_err(os_err)?;
    let zeros = vec![0u8; WIPE_LEN as usize];
    f.write_all(&zeros).map_err(os_err)?;
    f.seek(SeekFrom::End(-(WIPE_LEN as i64))).map_err(os_err)?;
    f.write_all(&zeros).map_err(os_err)?;
    f.flush().map_err(os_err)?;
    drop(f);
    read_parttbl(host, device)
}

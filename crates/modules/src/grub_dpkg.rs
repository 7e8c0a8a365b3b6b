//! `grub_dpkg`: preseed grub's install devices through
//! `debconf-set-selections` so package upgrades reinstall the boot loader
//! on the right disk (Debian and Ubuntu). The device is probed with
//! `grub-probe` and named by its `/dev/disk/by-id` link when udev has one;
//! EFI machines (`/sys/firmware/efi` in the target) get the grub-efi key.

use crate::subp;
use crate::{Ctx, ModResult, ModuleError};
use ci_host::Host;
use ci_pyval::{is_false, py_str, py_type, translate_bool, truthy};
use serde_json::{Map, Value};

pub fn handle(ctx: &Ctx) -> ModResult {
    let raw = ctx
        .get("grub_dpkg")
        .or_else(|| ctx.get("grub-dpkg"))
        .filter(|v| truthy(v));
    let empty = Map::new();
    let mycfg = match raw {
        None => &empty,
        Some(Value::Object(m)) => m,
        Some(other) => {
            return Err(ModuleError::with_class(
                "AttributeError",
                format!("'{}' object has no attribute 'get'", py_type(other)),
            ))
        }
    };
    let enabled = mycfg.get("enabled").cloned().unwrap_or(Value::Bool(false));
    if is_false(&enabled) {
        log::debug!(
            "{} disabled by config grub_dpkg/enabled={}",
            ctx.name,
            py_str(&enabled)
        );
        return Ok(());
    }
    let dconf_sel = get_debconf_config(ctx.host, mycfg)?;
    log::debug!("Setting grub debconf-set-selections with '{dconf_sel}'");
    let argv = vec!["debconf-set-selections".to_string()];
    let shown = subp::shown_list(&argv);
    if let Err(e) = subp::capture(ctx.host, &argv, &shown, Some(dconf_sel.as_bytes()), &[0]) {
        log::warn!("Failed to run debconf-set-selections for grub_dpkg: {e}");
    }
    Ok(())
}

/// Booted through EFI: the firmware directory exists in the target.
fn is_efi_booted(host: &Host) -> bool {
    host.exists("/sys/firmware/efi")
}

/// Upstream's `get_debconf_config`: the selections for grub-efi or grub-pc.
fn get_debconf_config(host: &Host, mycfg: &Map<String, Value>) -> Result<String, ModuleError> {
    if is_efi_booted(host) {
        let idevs = match mycfg.get("grub-efi/install_devices") {
            Some(v) => py_str(v),
            None => fetch_idevs(host)?,
        };
        return Ok(format!("grub-pc grub-efi/install_devices string {idevs}\n"));
    }
    let idevs = match mycfg.get("grub-pc/install_devices") {
        Some(v) => py_str(v),
        None => fetch_idevs(host)?,
    };
    let idevs_empty = match mycfg.get("grub-pc/install_devices_empty") {
        None | Some(Value::Null) => idevs.is_empty(),
        Some(Value::Bool(b)) => *b,
        Some(v) => translate_bool(v, &[]),
    };
    Ok(format!(
        "grub-pc grub-pc/install_devices string {idevs}\ngrub-pc grub-pc/install_devices_empty boolean {idevs_empty}\n"
    ))
}

/// Upstream's `fetch_idevs`: the disk (or, on EFI, the partition) holding
/// the boot files, preferring its first `/dev/disk/by-id` name; empty when
/// nothing usable is found.
fn fetch_idevs(host: &Host) -> Result<String, ModuleError> {
    let (probe_target, probe_mount) = if is_efi_booted(host) {
        ("device", "/boot/efi")
    } else {
        ("disk", "/boot")
    };
    let argv: Vec<String> = ["grub-probe", "-t", probe_target, probe_mount]
        .map(String::from)
        .to_vec();
    let disk = match subp::capture(host, &argv, &subp::shown_list(&argv), None, &[0]) {
        Ok(out) => out.stdout_str().trim().to_string(),
        Err(e) if e.exit_code.is_none() => {
            log::debug!("'grub-probe' not found in $PATH");
            String::new()
        }
        Err(e) if e.stderr.contains("failed to get canonical path") => {
            log::debug!("grub-probe 'failed to get canonical path'");
            String::new()
        }
        Err(e) => return Err(ModuleError::with_class("ProcessExecutionError", e.text)),
    };
    if disk.is_empty() || !host.exists(&disk) {
        return Ok(String::new());
    }
    let argv: Vec<String> = ["udevadm", "info", "--root", "--query=symlink", &disk]
        .map(String::from)
        .to_vec();
    let devices: Vec<String> =
        match subp::capture(host, &argv, &subp::shown_list(&argv), None, &[0]) {
            Ok(out) => out
                .stdout_str()
                .split_whitespace()
                .map(String::from)
                .collect(),
            Err(e) => {
                log::warn!("udevadm DEVLINKS symlink query failed for disk='{disk}'");
                log::debug!("{e}");
                Vec::new()
            }
        };
    log::debug!("considering these device symlinks: {}", devices.join(","));
    let mut devices: Vec<String> = devices
        .into_iter()
        .filter(|d| d.contains("disk/by-id"))
        .collect();
    log::debug!(
        "filtered to these disk/by-id symlinks: {}",
        devices.join(",")
    );
    devices.sort();
    let idevs = devices.into_iter().next().unwrap_or(disk);
    log::debug!("selected {idevs}");
    Ok(idevs)
}

#[cfg(test)]
mod tests;

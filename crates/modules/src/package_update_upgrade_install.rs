//! `package_update_upgrade_install`: refresh the package lists, upgrade,
//! install `packages`, and reboot when an upgrade or install left the
//! reboot-required marker and the config asks for it.

use crate::{pkg, Ctx, ModResult, ModuleError};
use ci_host::Cmd;
use ci_pyval::{py_repr, py_str, translate_bool};
use serde_json::Value;
use std::time::Duration;

/// Markers a package leaves when the machine must reboot.
const REBOOT_FILES: [&str; 2] = ["/var/run/reboot-required", "/run/reboot-needed"];
const REBOOT_CMD: &str = "/sbin/reboot";

pub fn handle(ctx: &Ctx) -> ModResult {
    handle_with(ctx, &|d| std::thread::sleep(d))
}

/// `handle` with the wait after the reboot command given, for tests.
pub(crate) fn handle_with(ctx: &Ctx, sleep: &dyn Fn(Duration)) -> ModResult {
    // The old apt_* spellings count as much as the new ones.
    let update = any_true(ctx, &["apt_update", "package_update"]);
    let upgrade = any_true(ctx, &["package_upgrade", "apt_upgrade"]);
    let reboot_if_required = any_true(
        ctx,
        &["apt_reboot_if_required", "package_reboot_if_required"],
    );
    let pkglist = option_list(ctx.get("packages"));

    let mut errors: Vec<ModuleError> = Vec::new();
    if update || upgrade {
        if let Err(e) = pkg::update_package_sources(ctx, false) {
            logexc("Package update failed", &e);
            errors.push(e);
        }
    }
    if upgrade {
        if let Err(e) = pkg::upgrade_packages(ctx) {
            logexc("Package upgrade failed", &e);
            errors.push(e);
        }
    }
    if !pkglist.is_empty() {
        if let Err(e) = pkg::install_package_list(ctx, &pkglist) {
            let shown = py_repr(&Value::Array(pkglist.clone()));
            logexc(
                &format!("Failure when attempting to install packages: {shown}"),
                &e,
            );
            errors.push(e);
        }
    }
    let marker = REBOOT_FILES.iter().find(|f| is_file(ctx, f));
    if let (true, true, Some(marker)) = (upgrade || !pkglist.is_empty(), reboot_if_required, marker)
    {
        log::info!("***WARNING*** Rebooting after upgrade or install per {marker}");
        if let Err(e) = fire_reboot(ctx, sleep) {
            logexc("Requested reboot did not happen!", &e);
            errors.push(e);
        }
    }
    match errors.pop() {
        None => Ok(()),
        Some(last) => {
            log::warn!(
                "{} failed with exceptions, re-raising the last one",
                errors.len() + 1
            );
            Err(last)
        }
    }
}

/// `util.logexc`: the message as a warning, the exception for debugging.
fn logexc(msg: &str, e: &ModuleError) {
    log::warn!("{msg}");
    log::debug!("{}: {e}", e.py_class());
}

/// `util.get_cfg_option_bool` over several keys: any true one wins.
fn any_true(ctx: &Ctx, keys: &[&str]) -> bool {
    keys.iter()
        .any(|k| ctx.get(k).is_some_and(|v| translate_bool(v, &[])))
}

/// `util.get_cfg_option_list(cfg, "packages", [])`.
fn option_list(v: Option<&Value>) -> Vec<Value> {
    match v {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(Value::String(s)) => vec![Value::String(s.clone())],
        Some(other) => vec![Value::String(py_str(other))],
    }
}

fn is_file(ctx: &Ctx, path: &str) -> bool {
    ctx.host.exists(path) && !ctx.host.is_dir(path)
}

/// Upstream's `_fire_reboot`: run the reboot command, then wait for the
/// reboot (1, 2, 4, ... 32 seconds) and fail when still running.
fn fire_reboot(ctx: &Ctx, sleep: &dyn Fn(Duration)) -> ModResult {
    log::logger().flush();
    pkg::run_captured(ctx, &Cmd::new([REBOOT_CMD]).in_target())?;
    let mut wait = 1;
    let mut elapsed = 0;
    for _ in 0..6 {
        sleep(Duration::from_secs(wait));
        elapsed += wait;
        wait *= 2;
        log::debug!("Rebooted, but still running after {elapsed} seconds");
    }
    Err(ModuleError::new(format!(
        "Reboot did not happen after {elapsed} seconds!"
    )))
}

#[cfg(test)]
mod tests;

//! `fan`: write the Ubuntu FAN networking config and (re)start the
//! `ubuntu-fan` service with it, installing the package when `fanctl` is
//! missing.

use crate::subp::{run as run_cmd, shown_list};
use crate::{Ctx, ModResult, ModuleError};
use ci_distro::ServiceAction;
use ci_host::WriteOpts;
use ci_pyval::{py_str, truthy};

const DEFAULT_CONFIG_PATH: &str = "/etc/network/fan";
const SERVICE: &str = "ubuntu-fan";

pub fn handle(ctx: &Ctx) -> ModResult {
    let fan = ctx.get("fan").filter(|v| truthy(v));
    let config = fan.and_then(|f| f.get("config")).filter(|v| truthy(v));
    let Some(config) = config else {
        log::debug!("{}: no 'fan' config entry. disabling", ctx.name);
        return Ok(());
    };
    let config = py_str(config);
    let path = fan
        .and_then(|f| f.get("config_path"))
        .filter(|v| !v.is_null())
        .map_or_else(|| DEFAULT_CONFIG_PATH.to_string(), py_str);

    write(ctx, &path, &config)?;
    if ctx.host.which_target("fanctl").is_none() {
        crate::pkg::install_packages(ctx, &[SERVICE.to_string()])?;
    }
    stop_update_start(ctx, &path, config)
}

fn write(ctx: &Ctx, path: &str, content: &str) -> ModResult {
    ctx.host
        .write_atomic(path, content.as_bytes(), &WriteOpts::mode(0o644))
        .map_err(|e| ModuleError::with_class("OSError", crate::pyerr::os_error_str(&e, path)))
}

/// Stop the service, rewrite the config (newline-terminated), start and
/// enable it. A failed stop or start is only warned about.
fn stop_update_start(ctx: &Ctx, path: &str, mut content: String) -> ModResult {
    let stop_failed = match service(ctx, ServiceAction::Stop) {
        Ok(()) => false,
        Err(e) => {
            log::warn!("failed to stop {SERVICE}: {e}");
            true
        }
    };
    if !content.ends_with('\n') {
        content.push('\n');
    }
    write(ctx, path, &content)?;
    match service(ctx, ServiceAction::Start) {
        Ok(()) if stop_failed => log::warn!("success: {SERVICE} started"),
        Ok(()) => {}
        Err(e) => log::warn!("failed to start {SERVICE}: {e}"),
    }
    service(ctx, ServiceAction::Enable)
}

fn service(ctx: &Ctx, action: ServiceAction) -> ModResult {
    let cmd = ctx.distro.service_cmd(ctx.host, action, SERVICE, &[]);
    let shown = shown_list(&cmd.argv);
    run_cmd(ctx.host, &cmd, &shown, &[0])
        .map(|_| ())
        .map_err(|e| ModuleError::with_class("ProcessExecutionError", e.text))
}

#[cfg(test)]
mod tests;

//! `spacewalk`: installs `rhn-setup` and, unless `rhn-profile-sync` shows
//! the system already registered, registers it with `rhnreg_ks` against
//! `spacewalk.server` (with the optional proxy and activation key), under
//! the datasource's fully qualified hostname as profile name.

use crate::hostname_util::get_hostname_fqdn;
use crate::{Ctx, ModResult, ModuleError};
use ci_host::Cmd;
use ci_pyval::{py_list, py_str, py_type, truthy};
use serde_json::{Map, Value};
use std::io::Write;

const REQUIRED_PACKAGES: [&str; 1] = ["rhn-setup"];
const CA_CERT_PATH: &str = "/usr/share/rhn/RHN-ORG-TRUSTED-SSL-CERT";

pub fn handle(ctx: &Ctx) -> ModResult {
    let Some(cfg) = ctx.get("spacewalk") else {
        log::debug!(
            "Skipping module named {}, no 'spacewalk' key in configuration",
            ctx.name
        );
        return Ok(());
    };
    let Value::Object(cfg) = cfg else {
        return Err(ModuleError::with_class(
            "AttributeError",
            format!("'{}' object has no attribute 'get'", py_type(cfg)),
        ));
    };
    let server = match cfg.get("server") {
        Some(s) if truthy(s) => py_str(s),
        _ => {
            log::debug!(
                "Skipping module named {}, 'spacewalk/server' key was not found in configuration",
                ctx.name
            );
            return Ok(());
        }
    };
    let pkgs: Vec<String> = REQUIRED_PACKAGES.iter().map(|s| s.to_string()).collect();
    crate::pkg::install_packages(ctx, &pkgs)?;
    if is_registered(ctx)? {
        return Ok(());
    }
    let profile = profile_name(ctx);
    log::info!("Registering using `rhnreg_ks` profile '{profile}' into server '{server}'");
    let mut argv = vec![
        "rhnreg_ks".to_string(),
        "--serverUrl".into(),
        format!("https://{server}/XMLRPC"),
        "--profilename".into(),
        profile,
    ];
    let set = |k: &str| cfg.get(k).filter(|v| truthy(v)).map(py_str);
    if let Some(proxy) = set("proxy") {
        argv.extend(["--proxy".to_string(), proxy]);
    }
    argv.extend(["--sslCACert".to_string(), CA_CERT_PATH.to_string()]);
    if let Some(key) = set("activation_key") {
        argv.extend(["--activationkey".to_string(), key]);
    }
    match run(ctx, &argv)? {
        0 => Ok(()),
        code => Err(failed(&argv, code)),
    }
}

/// `rhn-profile-sync` succeeds on a registered system and exits 1 on one
/// that is not; anything else (the tool missing included) fails the module.
fn is_registered(ctx: &Ctx) -> Result<bool, ModuleError> {
    let argv = vec!["rhn-profile-sync".to_string(), "--verbose".to_string()];
    match run(ctx, &argv)? {
        0 => Ok(true),
        1 => Ok(false),
        code => Err(failed(&argv, code)),
    }
}

/// The datasource's hostname with its domain (upstream's
/// `datasource.get_hostname(fqdn=True)`): the config's `hostname`/`fqdn`
/// keys play no part, so they are left out of the lookup.
fn profile_name(ctx: &Ctx) -> String {
    let bare = Value::Object(Map::new());
    let ds_ctx = Ctx { cfg: &bare, ..*ctx };
    get_hostname_fqdn(&ds_ctx).fqdn
}

/// Runs `argv` in the target with its output passed on (upstream's
/// `capture=False`) and returns the exit code; a program that cannot start
/// is upstream's exec failure.
fn run(ctx: &Ctx, argv: &[String]) -> Result<i32, ModuleError> {
    let shown = py_list(argv);
    let prog = argv.first().map(String::as_str).unwrap_or_default();
    let not_started = |reason: &str| {
        ModuleError::with_class(
            "ProcessExecutionError",
            crate::pyerr::process_error(&shown, None, None, None, reason),
        )
    };
    if ctx.host.which_target(prog).is_none() {
        return Err(not_started(&crate::subp::missing_program(prog)));
    }
    let cmd = Cmd::new(argv.iter().cloned()).in_target();
    let out = ctx
        .host
        .runner()
        .execute(ctx.host, &cmd)
        .map_err(|e| not_started(&e.to_string()))?;
    // Losing our copy of the tool's output must not fail the module.
    let _ = std::io::stdout().lock().write_all(&out.stdout);
    let _ = std::io::stderr().lock().write_all(&out.stderr);
    Ok(out.status)
}

fn failed(argv: &[String], code: i32) -> ModuleError {
    ModuleError::with_class(
        "ProcessExecutionError",
        crate::pyerr::process_error(&py_list(argv), Some(code), None, None, "-"),
    )
}

#[cfg(test)]
mod tests;

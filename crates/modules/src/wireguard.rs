//! `wireguard`: write WireGuard interface configs, bring the interfaces up
//! through `wg-quick@<name>`, and run readiness probes. The tools are
//! installed when `wg` is missing and the kernel module loaded when `lsmod`
//! does not list it.

use crate::{Ctx, ModResult, ModuleError};
use ci_distro::ServiceAction;
use ci_host::{Cmd, CmdOutput, Host, WriteOpts};
use ci_pyval::{py_quote, py_str, py_type};
use serde_json::{Map, Value};

const REQUIRED_KEYS: [&str; 3] = ["config_path", "content", "name"];
const CONFIG_MODE: u32 = 0o600;
/// Below this kernel, the module comes from DKMS (the `wireguard` package).
const MIN_KERNEL_VERSION: (u32, u32) = (5, 6);

pub fn handle(ctx: &Ctx) -> ModResult {
    let Some(section) = ctx.get("wireguard") else {
        log::debug!(
            "Skipping module named {}, no 'wireguard' configuration found",
            ctx.name
        );
        return Ok(());
    };
    log::debug!("Found Wireguard section in config");

    maybe_install_packages(ctx)?;
    load_kernel_module(ctx.host)?;

    for wg_int in interfaces(section)? {
        let wg_int = match &wg_int {
            Value::Object(m) => m,
            other => {
                return Err(ModuleError::with_class(
                    "AttributeError",
                    format!("'{}' object has no attribute 'keys'", py_type(other)),
                ))
            }
        };
        validate_interface(wg_int)?;
        let name = wg_int
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let path = wg_int
            .get("config_path")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let content = wg_int
            .get("content")
            .and_then(Value::as_str)
            .unwrap_or_default();
        write_config(ctx.host, name, path, content)?;
        enable(ctx, name)?;
    }

    match section.get("readinessprobe").filter(|v| !v.is_null()) {
        Some(probes) => {
            let probes = probe_list(probes)?;
            run_probes(ctx.host, &probes)
        }
        None => {
            log::debug!("Skipping readinessprobe - no checks defined");
            Ok(())
        }
    }
}

/// `wg_section["interfaces"]`, iterated as Python would.
fn interfaces(section: &Value) -> Result<Vec<Value>, ModuleError> {
    let Value::Object(m) = section else {
        return Err(ModuleError::with_class(
            "TypeError",
            format!("'{}' object is not subscriptable", py_type(section)),
        ));
    };
    match m.get("interfaces") {
        None => Err(ModuleError::with_class("KeyError", "interfaces")),
        Some(Value::Array(a)) => Ok(a.clone()),
        Some(Value::Object(o)) => Ok(o.keys().map(|k| Value::String(k.clone())).collect()),
        Some(other) => Err(ModuleError::with_class(
            "TypeError",
            format!("'{}' object is not iterable", py_type(other)),
        )),
    }
}

/// Upstream's `supplemental_schema_validation`.
fn validate_interface(wg_int: &Map<String, Value>) -> ModResult {
    let mut errors = Vec::new();
    let missing: Vec<&str> = REQUIRED_KEYS
        .iter()
        .copied()
        .filter(|k| !wg_int.contains_key(*k))
        .collect();
    if !missing.is_empty() {
        errors.push(format!(
            "Missing required wg:interfaces keys: {}",
            missing.join(", ")
        ));
    }
    let mut keys: Vec<&String> = wg_int.keys().collect();
    keys.sort();
    for key in keys {
        if REQUIRED_KEYS.contains(&key.as_str()) {
            let value = &wg_int[key.as_str()];
            if !value.is_string() {
                errors.push(format!(
                    "Expected a string for wg:interfaces:{key}. Found {}",
                    py_str(value)
                ));
            }
        }
    }
    if errors.is_empty() {
        return Ok(());
    }
    Err(ModuleError::with_class(
        "ValueError",
        format!(
            "Invalid wireguard interface configuration:\n{}",
            errors.join("\n")
        ),
    ))
}

fn write_config(host: &Host, name: &str, path: &str, content: &str) -> ModResult {
    log::debug!("Configuring Wireguard interface {name}");
    log::debug!("Writing wireguard config to file {path}");
    host.write_atomic(path, content.as_bytes(), &WriteOpts::mode(CONFIG_MODE))
        .map_err(|e| {
            ModuleError::new(format!(
                "Failure writing Wireguard configuration file {path}:\n{}",
                crate::pyerr::os_error_str(&e, path)
            ))
        })
}

fn enable(ctx: &Ctx, name: &str) -> ModResult {
    let unit = format!("wg-quick@{name}");
    for (action, say) in [
        (
            ServiceAction::Enable,
            format!("Enabling wg-quick@{name} at boot"),
        ),
        (
            ServiceAction::Restart,
            format!("Bringing up interface wg-quick@{name}"),
        ),
    ] {
        log::debug!("{say}");
        let cmd = ctx.distro.service_cmd(ctx.host, action, &unit, &[]);
        let shown = py_list(&cmd.argv);
        subp(ctx.host, cmd, &shown).map_err(|e| {
            ModuleError::new(format!(
                "Failed enabling/starting Wireguard interface(s):\n{e}"
            ))
        })?;
    }
    Ok(())
}

/// `readinessprobe` entries, checked as upstream does (its position count
/// only advances on a bad entry).
fn probe_list(probes: &Value) -> Result<Vec<String>, ModuleError> {
    let items: Vec<Value> = match probes {
        Value::Array(a) => a.clone(),
        Value::String(s) => s.chars().map(|c| Value::String(c.to_string())).collect(),
        Value::Object(o) => o.keys().map(|k| Value::String(k.clone())).collect(),
        other => {
            return Err(ModuleError::with_class(
                "TypeError",
                format!("'{}' object is not iterable", py_type(other)),
            ))
        }
    };
    let mut errors = Vec::new();
    let mut pos = 0;
    for c in &items {
        if !c.is_string() {
            errors.push(format!(
                "Expected a string for readinessprobe at {pos}. Found {}",
                py_str(c)
            ));
            pos += 1;
        }
    }
    if !errors.is_empty() {
        return Err(ModuleError::with_class(
            "ValueError",
            format!("Invalid readinessProbe commands:\n{}", errors.join("\n")),
        ));
    }
    Ok(items.iter().map(py_str).collect())
}

fn run_probes(host: &Host, probes: &[String]) -> ModResult {
    let mut errors = Vec::new();
    for c in probes {
        log::debug!("Running readinessprobe: '{c}'");
        if let Err(e) = subp(host, shell(c), c) {
            errors.push(format!("{c}: {e}"));
        }
    }
    if errors.is_empty() {
        return Ok(());
    }
    Err(ModuleError::new(format!(
        "Failed running readinessprobe command:\n{}",
        errors.join("\n")
    )))
}

fn maybe_install_packages(ctx: &Ctx) -> ModResult {
    if ctx.host.which_target("wg").is_some() {
        return Ok(());
    }
    let mut packages = vec!["wireguard-tools".to_string()];
    if kernel_version().is_some_and(|v| v < MIN_KERNEL_VERSION) {
        packages.push("wireguard".into());
    }
    if let Err(e) = crate::pkg::update_package_sources(ctx, false) {
        log::warn!("Package update failed");
        return Err(e);
    }
    if let Err(e) = crate::pkg::install_packages(ctx, &packages) {
        log::warn!("Failed to install wireguard-tools");
        return Err(e);
    }
    Ok(())
}

/// The running kernel's `(major, minor)`, as upstream's `util.kernel_version`
/// (the kernel is the machine's, not the root's).
fn kernel_version() -> Option<(u32, u32)> {
    let uts = rustix::system::uname();
    let release = uts.release().to_string_lossy().into_owned();
    let mut it = release.split('.');
    let major = it.next()?.parse().ok()?;
    let minor = it
        .next()?
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    Some((major, minor))
}

fn load_kernel_module(host: &Host) -> ModResult {
    let res = subp(host, shell("lsmod"), "lsmod").and_then(|out| {
        if out.stdout_str().trim().contains("wireguard") {
            return Ok(());
        }
        log::debug!("Loading wireguard kernel module");
        subp(host, shell("modprobe wireguard"), "modprobe wireguard").map(|_| ())
    });
    res.map_err(|e| {
        log::warn!("Could not load wireguard module:\n{e}");
        ModuleError::with_class("ProcessExecutionError", e)
    })
}

/// `subp(cmd, shell=True)`.
fn shell(cmd: &str) -> Cmd {
    Cmd::new(["/bin/sh", "-c", cmd]).in_target()
}

fn py_list(argv: &[String]) -> String {
    let words: Vec<String> = argv.iter().map(|a| py_quote(a)).collect();
    format!("[{}]", words.join(", "))
}

/// `subp.subp(..., capture=True)`; `Err` is `str(ProcessExecutionError)`,
/// which shows the command as `shown`.
fn subp(host: &Host, cmd: Cmd, shown: &str) -> Result<CmdOutput, String> {
    let not_started = |reason: String| {
        format!(
            "Unexpected error while running command.\nCommand: {shown}\nExit code: -\nReason: {reason}\nStdout: -\nStderr: -"
        )
    };
    let prog = cmd.argv.first().map(String::as_str).unwrap_or_default();
    // Under --root a missing program would be chroot's failure; answer as
    // the target's exec would.
    if host.which_target(prog).is_none() {
        return Err(not_started(format!(
            "[Errno 2] No such file or directory: b{}",
            py_quote(prog)
        )));
    }
    let out = host
        .runner()
        .execute(host, &cmd)
        .map_err(|e| not_started(e.to_string()))?;
    if out.status == 0 {
        return Ok(out);
    }
    let indent = |s: String| s.trim_end_matches('\n').replace('\n', "\n        ");
    Err(format!(
        "Unexpected error while running command.\nCommand: {shown}\nExit code: {}\nReason: -\nStdout: {}\nStderr: {}",
        out.status,
        indent(out.stdout_str()),
        indent(out.stderr_str())
    ))
}

#[cfg(test)]
mod tests;

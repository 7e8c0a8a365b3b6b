//! `set_hostname` (once per instance) and `update_hostname` (every boot).
//!
//! `set_hostname` remembers what it set in `data/set-hostname` and does
//! nothing while hostname and fqdn stay the same. `update_hostname` keeps
//! `data/previous-hostname` and leaves the system name alone once someone
//! else changed it after us.

use crate::hostname_util::{
    self, apply_hostname, get_hostname_fqdn, read_store, system_store, write_store, HostOpts,
    HostnameConf, Store,
};
use crate::{pyerr, Ctx, ModResult, ModuleError};
use ci_host::{Host, WriteOpts};
use ci_pyval::cfg_bool;
use serde_json::{json, Value};
use std::io;

pub fn handle(ctx: &Ctx) -> ModResult {
    if cfg_bool(ctx.cfg, "preserve_hostname", false) {
        log::debug!(
            "Configuration option 'preserve_hostname' is set, not setting the hostname in module {}",
            ctx.name
        );
        return Ok(());
    }
    let opts = HostOpts::from_ctx(ctx);
    let hf = get_hostname_fqdn(ctx);
    let prev_fn = ctx.paths.data_file("set-hostname");
    let prev: Value = match ctx.host.read_optional(&prev_fn)? {
        Some(b) if !b.is_empty() => serde_json::from_slice(&b)
            .map_err(|e| ModuleError::new(format!("{}: not valid JSON: {e}", prev_fn.display())))?,
        _ => Value::Null,
    };
    let same = prev.get("hostname").and_then(Value::as_str) == Some(hf.hostname.as_str())
        && prev.get("fqdn").and_then(Value::as_str) == Some(hf.fqdn.as_str());
    if same {
        log::debug!("No hostname changes. Skipping set_hostname");
        return Ok(());
    }
    if hf.is_default && hf.hostname == "localhost" {
        log::debug!("Hostname is localhost. Let other services handle this.");
        return Ok(());
    }
    log::debug!("Setting the hostname to {} ({})", hf.fqdn, hf.hostname);
    if let Err(e) = set_hostname(ctx, &hf.hostname, &hf.fqdn, &opts) {
        let msg = format!(
            "Failed to set the hostname to {} ({})",
            hf.fqdn, hf.hostname
        );
        log::warn!("{msg}");
        return Err(ModuleError::with_class(
            "SetHostnameError",
            format!("{msg}: {e}"),
        ));
    }
    let text = ci_state::pyjson::json_dumps(&json!({"fqdn": hf.fqdn, "hostname": hf.hostname}));
    ctx.host.write_atomic(
        &prev_fn,
        format!("{text}\n").as_bytes(),
        &WriteOpts::mode(0o644),
    )?;
    Ok(())
}

/// Upstream's `distro.set_hostname`; the error is the text upstream puts
/// after the colon of its `SetHostnameError`.
fn set_hostname(ctx: &Ctx, hostname: &str, fqdn: &str, opts: &HostOpts) -> Result<(), String> {
    let Ok(Store::File(path)) = system_store(ctx) else {
        return hostname_util::set_hostname(ctx, hostname, fqdn, opts).map_err(|e| e.to_string());
    };
    // A hostname file is written here to keep its io error, which upstream
    // shows as `str(OSError)` on the target's path.
    let name = opts.select(hostname, fqdn);
    write_hostname_conf(ctx.host, &path, name, opts.create_hostname_file)
        .map_err(|e| pyerr::os_error_str(&e, &path))?;
    apply_hostname(ctx, name);
    Ok(())
}

/// Upstream's `_write_hostname` for a `HostnameConf` file: a file that
/// cannot be read or parsed is started afresh, unless
/// `create_hostname_file` is off.
fn write_hostname_conf(host: &Host, path: &str, hostname: &str, create: bool) -> io::Result<()> {
    let read = host
        .read_to_string(path)
        .ok()
        .and_then(|t| HostnameConf::parse(&t).ok());
    let mut conf = match read {
        Some(c) => c,
        None if !create => {
            log::info!("create_hostname_file is False; hostname file not created");
            return Ok(());
        }
        None => HostnameConf::parse("").map_err(io::Error::other)?,
    };
    conf.set_hostname(hostname);
    host.write_atomic(path, conf.render().as_bytes(), &WriteOpts::mode(0o644))
}

pub fn handle_update(ctx: &Ctx) -> ModResult {
    if cfg_bool(ctx.cfg, "preserve_hostname", false) {
        log::debug!(
            "Configuration option 'preserve_hostname' is set, not updating the hostname in module {}",
            ctx.name
        );
        return Ok(());
    }
    let opts = HostOpts::from_ctx(ctx);
    let hf = get_hostname_fqdn(ctx);
    if hf.is_default && hf.hostname == "localhost" {
        log::debug!("Hostname is localhost. Let other services handle this.");
        return Ok(());
    }
    log::debug!("Updating hostname to {} ({})", hf.fqdn, hf.hostname);
    update_hostname(ctx, &hf.hostname, &hf.fqdn, &opts).inspect_err(|_| {
        log::warn!(
            "Failed to update the hostname to {} ({})",
            hf.fqdn,
            hf.hostname
        );
    })
}

/// Upstream's `distro.update_hostname`.
fn update_hostname(ctx: &Ctx, applying: &str, fqdn: &str, opts: &HostOpts) -> ModResult {
    let hostname = opts.select(applying, fqdn).to_string();
    let sys = system_store(ctx)?;
    let prev_path = ctx.paths.data_file("previous-hostname");
    let prev_path = prev_path.to_string_lossy().into_owned();
    let prev_store = sys.previous(&prev_path, ctx.distro.family);
    if sys == Store::RcConf {
        // Upstream reads rc.conf unguarded: a missing one fails the module.
        crate::bsd_rc::get(ctx.host, "hostname")?;
    }
    let prev = if ctx.host.exists(&prev_path) {
        read_store(ctx, &prev_store)
    } else {
        None
    };
    let sys_name = read_store(ctx, &sys);
    let mut update: Vec<&Store> = Vec::new();
    if prev.as_deref() != Some(hostname.as_str()) {
        update.push(&prev_store);
    }
    let sys_changes = match &sys_name {
        None => true,
        Some(s) => prev.as_deref() == Some(s.as_str()) && *s != hostname,
    };
    if sys_changes {
        update.push(&sys);
    }
    if let (Some(s), Some(p)) = (&sys_name, &prev) {
        if s != p {
            log::info!(
                "{prev_path} differs from {}, assuming user maintained hostname.",
                sys.file()
            );
            return Ok(());
        }
    }
    log::debug!(
        "Attempting to update hostname to {hostname} in {} files",
        update.len()
    );
    for store in &update {
        if let Err(e) = write_store(ctx, store, &hostname, opts) {
            log::warn!("Failed to write hostname {hostname} to {}", store.file());
            log::debug!("{e}");
        }
    }
    if sys_changes {
        apply_hostname(ctx, applying);
    }
    Ok(())
}

#[cfg(test)]
mod tests;

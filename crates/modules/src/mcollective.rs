//! `mcollective`: install the mcollective package, merge `conf` into
//! `/etc/mcollective/server.cfg` (certificates go to their own files and
//! turn on the ssl security provider), keep the previous file as `.old`,
//! and restart the service, as upstream does.

mod configobj;

use crate::{Ctx, ModResult, ModuleError};
use ci_host::{Cmd, WriteOpts};
use ci_pyval::{py_str, py_type};
use configobj::{ConfigObj, Val};
use serde_json::Value;

const PUBCERT_FILE: &str = "/etc/mcollective/ssl/server-public.pem";
const PRICERT_FILE: &str = "/etc/mcollective/ssl/server-private.pem";
const SERVER_CFG: &str = "/etc/mcollective/server.cfg";

pub fn handle(ctx: &Ctx) -> ModResult {
    let Some(mcfg) = ctx.get("mcollective") else {
        log::debug!(
            "Skipping module named {}, no 'mcollective' key in configuration",
            ctx.name
        );
        return Ok(());
    };
    crate::pkg::install_packages(ctx, &["mcollective".to_string()])?;
    if let Some(conf) = mcfg.get("conf") {
        configure(ctx, conf)?;
    }
    crate::pkg::run_uncaptured(
        ctx,
        &Cmd::new(["service", "mcollective", "restart"]).in_target(),
    )
}

fn configure(ctx: &Ctx, conf: &Value) -> ModResult {
    let host = ctx.host;
    let mut cfg = match host.read(SERVER_CFG) {
        Ok(bytes) => ConfigObj::parse(&String::from_utf8_lossy(&bytes))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            log::debug!("Did not find file {SERVER_CFG} (starting with an empty config)");
            ConfigObj::default()
        }
        Err(e) => return Err(e.into()),
    };
    let Some(conf) = conf.as_object() else {
        return Err(ModuleError::with_class(
            "AttributeError",
            format!("'{}' object has no attribute 'items'", py_type(conf)),
        ));
    };
    let ssl = |cfg: &mut ConfigObj, key: &str, file: &str| {
        cfg.main.set(key, Val::Str(file.to_string()));
        cfg.main.set("securityprovider", Val::Str("ssl".into()));
    };
    for (name, value) in conf {
        match name.as_str() {
            "public-cert" => {
                host.write_atomic(
                    PUBCERT_FILE,
                    py_str(value).as_bytes(),
                    &WriteOpts::mode(0o644),
                )?;
                ssl(&mut cfg, "plugin.ssl_server_public", PUBCERT_FILE);
            }
            "private-cert" => {
                host.write_atomic(
                    PRICERT_FILE,
                    py_str(value).as_bytes(),
                    &WriteOpts::mode(0o600),
                )?;
                ssl(&mut cfg, "plugin.ssl_server_private", PRICERT_FILE);
            }
            _ => match value {
                Value::String(s) => cfg.main.set(name, Val::Str(s.clone())),
                Value::Object(items) => {
                    if let Some(section) = cfg.main.section_mut(name) {
                        for (k, v) in items {
                            set_value(section, k, v);
                        }
                    }
                }
                other => cfg.main.set(name, Val::Str(py_str(other))),
            },
        }
    }
    // The previous file, content and mode, stays beside the new one.
    if let Ok(old) = host.read(SERVER_CFG) {
        let mode = std::fs::metadata(host.resolve(SERVER_CFG))
            .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o7777)
            .unwrap_or(0o644);
        host.write_atomic(format!("{SERVER_CFG}.old"), &old, &WriteOpts::mode(mode))?;
    }
    host.write_atomic(SERVER_CFG, cfg.render().as_bytes(), &WriteOpts::mode(0o644))?;
    Ok(())
}

/// A value inside a section as configobj stores it: a mapping is a
/// subsection, a list a list value, anything else its `str()`.
fn set_value(section: &mut configobj::Section, key: &str, v: &Value) {
    match v {
        Value::Object(items) => {
            // Assigning a mapping makes a new subsection.
            section.set(key, Val::Section(configobj::Section::default()));
            if let Some(sub) = section.section_mut(key) {
                for (k, v) in items {
                    set_value(sub, k, v);
                }
            }
        }
        Value::Array(items) => section.set(key, Val::List(items.iter().map(py_str).collect())),
        other => section.set(key, Val::Str(py_str(other))),
    }
}

#[cfg(test)]
mod tests;

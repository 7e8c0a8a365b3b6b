//! `landscape`: install `landscape-client` and register it with
//! `landscape-config`, the `client` settings merged over the built-in
//! defaults and the existing `/etc/landscape/client.conf` (later wins),
//! passed as `--key value` flags in key order.

use crate::lxd::run_in_target;
use crate::pyerr::process_error;
use crate::{Ctx, ModResult, ModuleError};
use ci_pyval::{py_repr, py_str, py_type};
use serde_json::Value;
use std::collections::BTreeMap;

const CLIENT_CONF: &str = "/etc/landscape/client.conf";
/// The defaults of the stock `client.conf` upstream starts from.
const BUILTIN_CLIENT: [(&str, &str); 4] = [
    ("log_level", "info"),
    ("url", "https://landscape.canonical.com/message-system"),
    ("ping_url", "http://landscape.canonical.com/ping"),
    ("data_path", "/var/lib/landscape/client"),
];

pub fn handle(ctx: &Ctx) -> ModResult {
    let cfg = match ctx.get("landscape") {
        None => return Ok(()),
        Some(Value::Object(m)) => m,
        Some(other) => {
            return Err(ModuleError::new(format!(
                "'landscape' key existed in config, but not a dictionary type, is a {} instead",
                py_type(other)
            )))
        }
    };
    if cfg.is_empty() {
        return Ok(());
    }
    crate::pkg::install_packages(ctx, &["landscape-client".to_string()])?;

    let existing = ctx
        .host
        .read_to_string(CLIENT_CONF)
        .map(|t| parse_client_section(&t))
        .unwrap_or_default();
    let client = merge_client(&existing, cfg.get("client"))?;

    let is_registered: Vec<String> = ["landscape-config", "--silent", "--is-registered"]
        .map(String::from)
        .to_vec();
    // Exit 5 means "not registered yet"; 0 that there is nothing to do.
    match run_in_target(ctx, &is_registered, &[], None, &[5]) {
        Ok(_) => {}
        Err(e) if e.exit_code == Some(0) => {
            log::warn!("Client already registered to Landscape");
            return Ok(());
        }
        Err(e) => return Err(failure(&e.text)),
    }
    let mut args: Vec<Value> = vec!["landscape-config".into(), "--silent".into()];
    for (key, value) in &client {
        args.push(Value::String(format!("--{}", key.replace('_', "-"))));
        args.push(value.clone());
    }
    // Upstream hands the raw values to subp, which refuses anything but text.
    if args.iter().any(|a| !a.is_string()) {
        let shown = py_repr(&Value::Array(args));
        let reason = format!("Running invalid command: {shown}");
        log::warn!("{reason}");
        return Err(failure(&process_error(&shown, None, None, None, &reason)));
    }
    let argv: Vec<String> = args.iter().map(py_str).collect();
    match run_in_target(ctx, &argv, &[], None, &[0]) {
        Ok(_) => Ok(()),
        Err(e) => Err(failure(&e.text)),
    }
}

fn failure(text: &str) -> ModuleError {
    let msg = format!("Failure registering client:\n{text}");
    log::warn!("{msg}");
    ModuleError::new(msg)
}

/// The `[client]` section: built-in defaults, then the file's values,
/// then the user's, sorted by key.
pub(crate) fn merge_client(
    existing: &BTreeMap<String, String>,
    user: Option<&Value>,
) -> Result<BTreeMap<String, Value>, ModuleError> {
    let mut client: BTreeMap<String, Value> = BUILTIN_CLIENT
        .iter()
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect();
    for (k, v) in existing {
        client.insert(k.clone(), Value::String(v.clone()));
    }
    match user {
        None => {}
        Some(Value::Object(m)) => {
            for (k, v) in m {
                client.insert(k.clone(), v.clone());
            }
        }
        Some(other) => {
            return Err(ModuleError::with_class(
                "AttributeError",
                format!("'{}' object has no attribute 'items'", py_type(other)),
            ))
        }
    }
    Ok(client)
}

/// The `[client]` keys of a ConfigObj file: `key = value` lines, quotes
/// around a value removed, `#` comments skipped.
pub(crate) fn parse_client_section(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut in_client = false;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with('[') {
            in_client = line.trim_matches(|c| c == '[' || c == ']').trim() == "client";
            continue;
        }
        if !in_client {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        out.insert(k.trim().to_string(), unquote(v.trim()));
    }
    out
}

fn unquote(v: &str) -> String {
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|r| r.split(q).next()) {
            if v.len() >= 2 {
                return inner.to_string();
            }
        }
    }
    // An unquoted value ends at an inline comment.
    v.split(" #").next().unwrap_or(v).trim().to_string()
}

#[cfg(test)]
mod tests;

//! `zypper_add_repo`: `zypper.config` settings appended to
//! `/etc/zypp/zypp.conf`, and one `<id>.repo` file per entry of
//! `zypper.repos` in the repos directory (`config.reposdir`, default
//! `/etc/zypp/repos.d/`), laid out as Python's `configobj` writes it.
//! Existing repo files are never replaced.

use crate::yum_add_repo::py_join;
use crate::{Ctx, ModResult, ModuleError};
use ci_host::WriteOpts;
use ci_pyval::{py_str, py_type, truthy};
use serde_json::{Map, Value};

const ZYPP_CONF: &str = "/etc/zypp/zypp.conf";
const DEFAULT_DIR: &str = "/etc/zypp/repos.d/";

pub fn handle(ctx: &Ctx) -> ModResult {
    let section = match ctx.get("zypper") {
        Some(v) if truthy(v) => v,
        _ => {
            log::debug!(
                "Skipping module named {}, no 'zypper' relevant configuration found",
                ctx.name
            );
            return Ok(());
        }
    };
    let repos = match section.get("repos") {
        Some(v) if truthy(v) => v,
        _ => {
            log::debug!(
                "Skipping module named {}, no 'repos' configuration found",
                ctx.name
            );
            return Ok(());
        }
    };
    let empty = Value::Object(Map::new());
    let config = section.get("config").unwrap_or(&empty);
    let base = match config.get("reposdir") {
        Some(v) => py_str(v),
        None => DEFAULT_DIR.to_string(),
    };
    write_zypp_config(ctx, config)?;
    write_repos(ctx, repos, &base)
}

/// The settings go after the file's current content, under a marker line;
/// `configdir` cannot be moved and is refused with a warning.
fn write_zypp_config(ctx: &Ctx, config: &Value) -> ModResult {
    if !truthy(config) {
        return Ok(());
    }
    let Value::Object(settings) = config else {
        return Err(ModuleError::with_class(
            "AttributeError",
            format!("'{}' object has no attribute 'items'", py_type(config)),
        ));
    };
    let current = match ctx.host.read_optional(ZYPP_CONF)? {
        Some(b) => String::from_utf8_lossy(&b).into_owned(),
        None => {
            return Err(crate::pyerr::os_error(
                &std::io::Error::from_raw_os_error(2),
                ZYPP_CONF,
            ))
        }
    };
    let mut added = vec!["# Added via cloud.cfg".to_string()];
    for (setting, value) in settings {
        if setting == "configdir" {
            log::warn!(
                "Changing the location of the zypper configuration is not supported, skipping \"configdir\" setting"
            );
            continue;
        }
        if truthy(value) {
            added.push(format!("{setting}={}", py_str(value)));
        }
    }
    let text = if added.len() > 1 {
        current + &added.join("\n")
    } else {
        current
    };
    ctx.host
        .write_atomic(ZYPP_CONF, text.as_bytes(), &WriteOpts::mode(0o644))?;
    Ok(())
}

fn write_repos(ctx: &Ctx, repos: &Value, base: &str) -> ModResult {
    let Value::Array(repos) = repos else {
        return Err(ModuleError::with_class(
            "TypeError",
            format!("'{}' object is not a list of repos", py_type(repos)),
        ));
    };
    // Keyed by the id as given (not the file name), in the order given.
    let mut valid: Vec<(String, String, Map<String, Value>)> = Vec::new();
    for (index, entry) in repos.iter().enumerate() {
        let empty = Map::new();
        let fields = entry.as_object().unwrap_or(&empty);
        // Upstream lists the missing keys from a set, whose order varies
        // by run when both are missing; this is one of its orders.
        let missing: Vec<&str> = ["id", "baseurl"]
            .into_iter()
            .filter(|k| !fields.contains_key(*k))
            .collect();
        if !missing.is_empty() {
            log::warn!(
                "Repo config at index {index} is missing required config keys: {}",
                missing.join(",")
            );
            continue;
        }
        let id = match fields.get("id") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(ModuleError::with_class(
                    "AttributeError",
                    format!("'{}' object has no attribute 'replace'", py_type(other)),
                ))
            }
            None => continue,
        };
        let path = py_join(base, &format!("{}.repo", id.replace(' ', "_")));
        if ctx.host.exists(&path) {
            log::info!("Skipping repo {id}, file {path} already exists!");
            continue;
        }
        if valid.iter().any(|(v, _, _)| *v == id) {
            log::info!("Skipping repo {id}, file {path} already pending!");
            continue;
        }
        let mut cfg = Map::new();
        for (k, v) in fields {
            if !k.is_empty() && k != "id" {
                cfg.insert(k.to_lowercase().trim().replace('-', "_"), v.clone());
            }
        }
        for field in ["enabled", "autorefresh"] {
            if !cfg.contains_key(field) {
                cfg.insert(field.into(), Value::String("1".into()));
            }
        }
        valid.push((id, path, cfg));
    }
    for (id, path, cfg) in &valid {
        let text = render(id, cfg)?;
        ctx.host
            .write_atomic(path, text.as_bytes(), &WriteOpts::mode(0o644))?;
    }
    Ok(())
}

/// A value before quoting: booleans as 1/0 (what zypp prefers), list items
/// on continuation lines, the rest as Python's `str()`.
fn format_value(v: &Value) -> Result<String, ModuleError> {
    match v {
        Value::Bool(b) => Ok(u8::from(*b).to_string()),
        Value::Array(items) => {
            let mut parts = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                // Upstream joins the formatted items as text; a boolean
                // item comes out as a number and the join fails.
                if matches!(item, Value::Bool(_)) {
                    return Err(ModuleError::with_class(
                        "TypeError",
                        format!("sequence item {i}: expected str instance, int found"),
                    ));
                }
                parts.push(format_value(item)?);
            }
            Ok(parts.join("\n    "))
        }
        other => Ok(py_str(other)),
    }
}

/// The section as `configobj` writes it: `[id]`, then `key = value`, with
/// its quoting rules, lines joined without a final newline.
fn render(id: &str, cfg: &Map<String, Value>) -> Result<String, ModuleError> {
    let mut lines = vec![format!("[{}]", quote(id, false)?)];
    for (k, v) in cfg {
        lines.push(format!(
            "{} = {}",
            quote(k, false)?,
            quote(&format_value(v)?, true)?
        ));
    }
    Ok(lines.join("\n"))
}

/// `configobj`'s quoting of a key (`multiline` false) or value: none when
/// it is safe, single or double quotes around blanks at the ends, commas
/// and `#`, triple quotes around line breaks or both quote kinds.
fn quote(value: &str, multiline: bool) -> Result<String, ModuleError> {
    if value.is_empty() {
        return Ok("\"\"".into());
    }
    let has_sq = value.contains('\'');
    let has_dq = value.contains('"');
    let need_triple = multiline && ((has_sq && has_dq) || value.contains('\n'));
    let hash_triple = multiline && !need_triple && has_sq && has_dq && value.contains('#');
    let unsafe_quote = || {
        ModuleError::with_class(
            "ConfigObjError",
            format!("Value \"{value}\" cannot be safely quoted."),
        )
    };
    let single = || {
        if has_sq && has_dq {
            Err(unsafe_quote())
        } else if has_dq {
            Ok(format!("'{value}'"))
        } else {
            Ok(format!("\"{value}\""))
        }
    };
    if !need_triple && !hash_triple {
        if value.contains('\n') {
            return Err(unsafe_quote());
        }
        const WSPACE_PLUS: &str = " \r\n\x0b\t'\"";
        let edge = |c: Option<char>| c.is_some_and(|c| WSPACE_PLUS.contains(c));
        if edge(value.chars().next()) || edge(value.chars().last()) || value.contains(',') {
            return single();
        }
        if value.contains('#') {
            return single();
        }
        return Ok(value.to_string());
    }
    match (value.contains("\"\"\""), value.contains("'''")) {
        (true, true) => Err(unsafe_quote()),
        (false, _) => Ok(format!("'''{value}'''")),
        (true, false) => Ok(format!("\"\"\"{value}\"\"\"")),
    }
}

#[cfg(test)]
mod tests;

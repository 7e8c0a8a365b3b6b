//! `yum_add_repo`: one `<id>.repo` file per entry of `yum_repos`, in
//! `yum_repo_dir` (default `/etc/yum.repos.d/`), written in the INI form
//! Python's `ConfigParser` gives it. An existing file is never replaced.

use crate::{Ctx, ModResult, ModuleError};
use ci_host::WriteOpts;
use ci_pyval::{py_quote, py_str, py_type};
use serde_json::{Map, Value};

const DEFAULT_DIR: &str = "/etc/yum.repos.d/";
/// One of these makes a repository usable; without any it is skipped.
const REQUIRED: [&str; 3] = ["baseurl", "metalink", "mirrorlist"];

pub fn handle(ctx: &Ctx) -> ModResult {
    let repos = match ctx.get("yum_repos") {
        Some(v) if ci_pyval::truthy(v) => v,
        _ => {
            log::debug!(
                "Skipping module named {}, no 'yum_repos' configuration found",
                ctx.name
            );
            return Ok(());
        }
    };
    let Value::Object(repos) = repos else {
        return Err(ModuleError::with_class(
            "AttributeError",
            format!("'{}' object has no attribute 'items'", py_type(repos)),
        ));
    };
    let base = repo_dir(ctx.cfg);
    // Canonical id -> (file, normalised config), in the order given.
    let mut pending: Vec<(String, String, Map<String, Value>)> = Vec::new();
    for (repo_id, repo_cfg) in repos {
        let canon = canonical_id(repo_id);
        let path = py_join(&base, &format!("{canon}.repo"));
        if ctx.host.exists(&path) {
            log::info!("Skipping repo {repo_id}, file {path} already exists!");
            continue;
        }
        if pending.iter().any(|(c, _, _)| *c == canon) {
            log::info!("Skipping repo {repo_id}, file {path} already pending!");
            continue;
        }
        let cfg = normalise_keys(repo_cfg)?;
        if REQUIRED.iter().all(|k| !cfg.contains_key(*k)) {
            log::warn!(
                "Repository {repo_id} should contain atleast one of the following configuration entries: {}, skipping!",
                REQUIRED.join(", ")
            );
            continue;
        }
        pending.push((canon, path, cfg));
    }
    for (canon, path, cfg) in &pending {
        let stamp = ci_state::timefmt::rfc2822(ci_state::timefmt::now_epoch());
        let text = format!(
            "# Created by cloud-init on {stamp}\n{}",
            render(canon, cfg)?
        );
        ctx.host
            .write_atomic(path, text.as_bytes(), &WriteOpts::mode(0o644))?;
    }
    Ok(())
}

/// Upstream's `get_cfg_option_str(cfg, "yum_repo_dir", default)`.
fn repo_dir(cfg: &Value) -> String {
    match cfg.get("yum_repo_dir") {
        None => DEFAULT_DIR.to_string(),
        Some(v) => py_str(v),
    }
}

/// `os.path.join(dir, name)`: a name starting with `/` replaces the
/// directory. Relative results are taken from `/`, cloud-init's working
/// directory.
pub(crate) fn py_join(dir: &str, name: &str) -> String {
    let joined = if name.starts_with('/') || dir.is_empty() {
        name.to_string()
    } else if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    };
    if joined.starts_with('/') {
        joined
    } else {
        format!("/{joined}")
    }
}

/// Repository ids take `-` where the user wrote a blank.
fn canonical_id(id: &str) -> String {
    id.replace(' ', "-")
}

/// Keys lower-cased, trimmed, `-` turned into `_`; keys that end up empty
/// are dropped. A null entry is an empty one.
fn normalise_keys(v: &Value) -> Result<Map<String, Value>, ModuleError> {
    let mut out = Map::new();
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let k = k.to_lowercase().trim().replace('-', "_");
                if !k.is_empty() {
                    out.insert(k, v.clone());
                }
            }
        }
        v if !ci_pyval::truthy(v) => {}
        other => {
            return Err(ModuleError::with_class(
                "AttributeError",
                format!("'{}' object has no attribute 'items'", py_type(other)),
            ))
        }
    }
    Ok(out)
}

/// How a value reads in a repo file: booleans as 1/0 (what yum prefers),
/// lists one item per line, everything else as Python's `str()`.
fn format_value(v: &Value) -> String {
    match v {
        Value::Bool(b) => u8::from(*b).to_string(),
        Value::Array(items) => items
            .iter()
            .map(format_value)
            .collect::<Vec<_>>()
            .join("\n"),
        other => py_str(other),
    }
}

/// The section as `ConfigParser.write` lays it out: `key = value`, lines
/// after the first of a value indented with a tab, a blank line after.
fn render(section: &str, cfg: &Map<String, Value>) -> Result<String, ModuleError> {
    if section == "DEFAULT" {
        return Err(ModuleError::with_class(
            "ValueError",
            format!("Invalid section name: {}", py_quote(section)),
        ));
    }
    let mut out = format!("[{section}]\n");
    for (k, v) in cfg {
        let value = format_value(v);
        check_interpolation(&value)?;
        out.push_str(&format!("{k} = {}\n", value.replace('\n', "\n\t")));
    }
    out.push('\n');
    Ok(out)
}

/// `ConfigParser`'s interpolation refuses a `%` that is neither `%%` nor
/// `%(name)s`, before anything is written.
fn check_interpolation(value: &str) -> Result<(), ModuleError> {
    let stripped = value.replace("%%", "");
    let mut rest = stripped.as_str();
    let mut kept = String::new();
    while let Some(i) = rest.find("%(") {
        let after = &rest[i + 2..];
        match after.find(')') {
            Some(close) if close > 0 && after[close + 1..].starts_with('s') => {
                kept.push_str(&rest[..i]);
                rest = &after[close + 2..];
            }
            _ => {
                kept.push_str(&rest[..i + 2]);
                rest = after;
            }
        }
    }
    kept.push_str(rest);
    match kept.find('%') {
        None => Ok(()),
        Some(pos) => Err(ModuleError::with_class(
            "ValueError",
            format!(
                "invalid interpolation syntax in {} at position {}",
                py_quote(value),
                kept[..pos].chars().count()
            ),
        )),
    }
}

#[cfg(test)]
mod tests;

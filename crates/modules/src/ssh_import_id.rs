//! `ssh_import_id`: fetch public keys with the `ssh-import-id` tool, run as
//! each user: the default user gets the top-level `ssh_import_id` list,
//! other users their own `ssh_import_id`. With a module-list argument the
//! first word is the user and the rest the ids.
//!
//! The tool is looked up in the target; when it is missing while the
//! config names ids anywhere, the module warns and does nothing (upstream
//! still counts it as run). Commands run inside the target.

use crate::runparts::{run_passthrough, target_which};
use crate::ugutil;
use crate::{Ctx, ModResult, ModuleError};
use ci_host::Cmd;
use ci_pyval::{py_list, py_str, truthy};
use log::{debug, error, warn};
use serde_json::Value;

const KEY: &str = "ssh_import_id";
const TOOL: &str = "ssh-import-id";

pub fn handle(ctx: &Ctx) -> ModResult {
    // Upstream searches the whole config, `system_info` included.
    if !key_in_nested(ctx.cfg, KEY) && !key_in_nested(&ctx.distro.system_info, KEY) {
        debug!("Skipping module named ssh_import_id, no 'ssh_import_id' directives found.");
        return Ok(());
    }
    if target_which(ctx.host, TOOL).is_none() {
        warn!(
            "ssh-import-id is not installed, but module ssh_import_id is configured. Skipping module."
        );
        return Ok(());
    }
    if let Some((user, ids)) = ctx.args.split_first() {
        return import_ids(ctx, user, ids);
    }

    let (users, _groups) = ugutil::normalize_users_groups(ctx.cfg, ctx.distro)?;
    let mut first_error: Option<ModuleError> = None;
    for (user, user_cfg) in &users {
        let is_default = user_cfg.get("default").is_some_and(truthy);
        let raw: Vec<Value> = if is_default {
            cfg_option_list(ctx.cfg.get(KEY))
        } else {
            let Some(v) = user_cfg.get(KEY) else {
                debug!("User {user} is not configured for ssh_import_id");
                continue;
            };
            match uniq_merge_one(v) {
                Some(items) => items,
                None => {
                    debug!("User {user} is not correctly configured for ssh_import_id");
                    continue;
                }
            }
        };
        let ids: Vec<String> = dedup(raw).iter().map(py_str).collect();
        if ids.is_empty() {
            continue;
        }
        if let Err(e) = import_ids(ctx, user, &ids) {
            warn!("ssh-import-id failed for: {user} {}", py_list(&ids));
            debug!("{e}");
            first_error.get_or_insert(e);
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Run the tool as `user` through sudo (or doas) inside the target.
fn import_ids(ctx: &Ctx, user: &str, ids: &[String]) -> ModResult {
    if user.is_empty() || ids.is_empty() {
        debug!("empty user({user}) or ids({}). not importing", py_list(ids));
        return Ok(());
    }
    if ctx.host.user(user).is_none() {
        return Err(ModuleError::with_class(
            "KeyError",
            format!("getpwnam(): name not found: {}", ci_pyval::py_quote(user)),
        ));
    }
    let mut argv: Vec<String> = if target_which(ctx.host, "sudo").is_some() {
        vec![
            "sudo".into(),
            "--preserve-env=https_proxy".into(),
            "-Hu".into(),
            user.into(),
        ]
    } else if target_which(ctx.host, "doas").is_some() {
        vec!["doas".into(), "-u".into(), user.into()]
    } else {
        error!("Neither sudo nor doas available! Unable to import SSH ids.");
        return Ok(());
    };
    argv.push(TOOL.into());
    argv.extend(ids.iter().cloned());
    debug!("Importing SSH ids for user {user}.");
    run_passthrough(ctx.host, &Cmd::new(argv).in_target()).map_err(|e| {
        warn!("Failed to run command to import {user} SSH ids");
        ModuleError::with_class("ProcessExecutionError", e.to_string())
    })
}

/// Upstream's `is_key_in_nested_dict`: the key in this mapping, in nested
/// mappings, or in mappings that are items of lists at any mapping level.
fn key_in_nested(v: &Value, key: &str) -> bool {
    let Value::Object(m) = v else {
        return false;
    };
    m.iter().any(|(k, v)| {
        k == key
            || match v {
                Value::Object(_) => key_in_nested(v, key),
                Value::Array(items) => items.iter().any(|i| key_in_nested(i, key)),
                _ => false,
            }
    })
}

/// Upstream's `get_cfg_option_list` on a present key: a list as is, `null`
/// empty, anything else a one-item list.
fn cfg_option_list(v: Option<&Value>) -> Vec<Value> {
    match v {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(other) => vec![other.clone()],
    }
}

/// Upstream's `uniq_merge(value)` before deduplication: a string is split
/// on commas, a list is its items, a mapping its keys; anything else makes
/// upstream raise (`None`).
fn uniq_merge_one(v: &Value) -> Option<Vec<Value>> {
    match v {
        Value::String(s) => Some(
            s.trim()
                .split(',')
                .filter(|p| !p.is_empty())
                .map(|p| Value::String(p.to_string()))
                .collect(),
        ),
        Value::Array(a) => Some(a.clone()),
        Value::Object(m) => Some(m.keys().map(|k| Value::String(k.clone())).collect()),
        _ => None,
    }
}

fn dedup(items: Vec<Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for i in items {
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

#[cfg(test)]
mod tests;

//! `scripts_vendor`, `scripts_per_once`, `scripts_per_boot`,
//! `scripts_per_instance` and `scripts_user`: run-parts over one script
//! directory each, inside the target.

use crate::runparts::{runparts, runparts_invalid};
use crate::{Ctx, ModResult, ModuleError};
use ci_pyval::binary::{decode, text};
use ci_pyval::{py_repr, py_str, py_type};
use serde_json::Value;
use std::path::{Path, PathBuf};

pub fn handle_vendor(ctx: &Ctx) -> ModResult {
    let dir = ctx.paths.instance_scripts_dir().join("vendor");
    let shown = ctx.paths.instance_link().join("scripts").join("vendor");
    if !ctx.host.is_dir(&dir) {
        return Ok(());
    }
    if let Some(words) = invalid_prefix(ctx.cfg) {
        return runparts_invalid(ctx.host, &dir, &shown, &words)
            .inspect_err(|_| warn_failed(ctx, "vendor", &shown));
    }
    match vendor_prefix(ctx.cfg) {
        Ok(prefix) => run(ctx, "vendor", &dir, &shown, &prefix),
        // Upstream checks the prefix inside the step it reports on.
        Err(e) => {
            warn_failed(ctx, "vendor", &shown);
            Err(e)
        }
    }
}

pub fn handle_per_once(ctx: &Ctx) -> ModResult {
    per(ctx, "per-once")
}

pub fn handle_per_boot(ctx: &Ctx) -> ModResult {
    per(ctx, "per-boot")
}

pub fn handle_per_instance(ctx: &Ctx) -> ModResult {
    per(ctx, "per-instance")
}

pub fn handle_user(ctx: &Ctx) -> ModResult {
    let dir = ctx.paths.instance_scripts_dir();
    let shown = ctx.paths.instance_link().join("scripts");
    run(ctx, "scripts", &dir, &shown, &[])
}

fn per(ctx: &Ctx, kind: &str) -> ModResult {
    let dir: PathBuf = ctx.paths.scripts_dir(kind);
    run(ctx, kind, &dir, &dir, &[])
}

/// `shown` is the path upstream names in its warning (it runs the
/// `instance` link; we run the instance dir it points to).
fn run(ctx: &Ctx, subdir: &str, dir: &Path, shown: &Path, prefix: &[String]) -> ModResult {
    runparts(ctx.host, dir, prefix).inspect_err(|_| warn_failed(ctx, subdir, shown))
}

fn warn_failed(ctx: &Ctx, subdir: &str, shown: &Path) {
    log::warn!(
        "Failed to run module {} ({subdir} in {})",
        ctx.name,
        shown.display()
    );
}

/// A list prefix with a word that is neither text nor bytes (a YAML number,
/// boolean, null, list or mapping): upstream's subp refuses the command.
fn invalid_prefix(cfg: &Value) -> Option<Vec<Value>> {
    let words = cfg.get("vendor_data")?.get("prefix")?.as_array()?;
    let invalid = words
        .iter()
        .any(|w| text(w).is_none() && decode(w).is_none());
    invalid.then(|| words.clone())
}

/// `vendor_data.prefix`: a string or a list of words put before each script.
fn vendor_prefix(cfg: &Value) -> Result<Vec<String>, ModuleError> {
    let Some(v) = cfg.get("vendor_data").filter(|v| v.is_object()) else {
        return Ok(Vec::new());
    };
    match v.get("prefix") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(v) if text(v).is_some() => Ok(vec![py_str(v)]),
        Some(Value::Array(a)) => a.iter().map(prefix_word).collect(),
        Some(other) => Err(ModuleError::with_class(
            "TypeError",
            format!(
                "exe_prefix must be None, str, or list (got {})",
                py_type(other)
            ),
        )),
    }
}

/// One word of a list prefix. Upstream passes bytes to the command line
/// as they are; our command lines are text, so bytes that are not UTF-8
/// fail the module, naming the key.
fn prefix_word(v: &Value) -> Result<String, ModuleError> {
    match decode(v) {
        Some(b) => String::from_utf8(b).map_err(|_| {
            ModuleError::new(format!(
                "vendor_data.prefix: {} is bytes that are not UTF-8 and cannot be put on a command line",
                py_repr(v)
            ))
        }),
        None => Ok(py_str(v)),
    }
}

#[cfg(test)]
mod tests;

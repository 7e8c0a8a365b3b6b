//! `scripts_vendor`, `scripts_per_once`, `scripts_per_boot`,
//! `scripts_per_instance` and `scripts_user`: run-parts over one script
//! directory each, inside the target.

use crate::runparts::runparts;
use crate::{Ctx, ModResult, ModuleError};
use ci_pyval::{py_str, py_type};
use serde_json::Value;
use std::path::{Path, PathBuf};

pub fn handle_vendor(ctx: &Ctx) -> ModResult {
    let dir = ctx.paths.instance_scripts_dir().join("vendor");
    let shown = ctx.paths.instance_link().join("scripts").join("vendor");
    if !ctx.host.is_dir(&dir) {
        return Ok(());
    }
    let prefix = vendor_prefix(ctx.cfg)?;
    run(ctx, "vendor", &dir, &shown, &prefix)
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
    runparts(ctx.host, dir, prefix).inspect_err(|_| {
        log::warn!(
            "Failed to run module {} ({subdir} in {})",
            ctx.name,
            shown.display()
        );
    })
}

/// `vendor_data.prefix`: a string or a list of words put before each script.
fn vendor_prefix(cfg: &Value) -> Result<Vec<String>, ModuleError> {
    let Some(v) = cfg.get("vendor_data").filter(|v| v.is_object()) else {
        return Ok(Vec::new());
    };
    match v.get("prefix") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(a)) => Ok(a.iter().map(py_str).collect()),
        Some(other) => Err(ModuleError::new(format!(
            "exe_prefix must be None, str, or list (got {})",
            py_type(other)
        ))),
    }
}

#[cfg(test)]
mod tests;

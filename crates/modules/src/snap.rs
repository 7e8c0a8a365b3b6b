//! `snap`: once snapd has seeded, acknowledge the configured assertions
//! (written to the instance's `snapd.assertions`, then `snap ack`) and run
//! the configured snap commands, collecting their failures.

use crate::{pkg, Ctx, ModResult, ModuleError};
use ci_host::{Cmd, WriteOpts};
use ci_pyval::{py_list, py_str, truthy};
use serde_json::Value;

pub fn handle(ctx: &Ctx) -> ModResult {
    let cfgin = ctx.get("snap").cloned().unwrap_or(Value::Null);
    if !truthy(&cfgin) {
        log::debug!(
            "Skipping module named {}, no 'snap' key in configuration",
            ctx.name
        );
        return Ok(());
    }
    let Value::Object(cfgin) = cfgin else {
        return Err(ModuleError::with_class(
            "AttributeError",
            format!(
                "'{}' object has no attribute 'get'",
                ci_pyval::py_type(&cfgin)
            ),
        ));
    };
    wait_for_snap_seeded(ctx)?;
    add_assertions(ctx, cfgin.get("assertions").unwrap_or(&Value::Null))?;
    run_commands(ctx, cfgin.get("commands").unwrap_or(&Value::Null))
}

/// `util.wait_for_snap_seeded`: once per machine, wait for snapd's seeding
/// when the target has snap.
fn wait_for_snap_seeded(ctx: &Ctx) -> ModResult {
    use ci_state::sem::{has_run, mark_run, Frequency};
    let name = "snap-seeded";
    let done = has_run(ctx.host, ctx.paths, name, Frequency::Once)
        .map_err(|e| ModuleError::new(e.to_string()))?;
    if done {
        log::debug!("{name} already ran (freq=once)");
        return Ok(());
    }
    mark_run(ctx.host, ctx.paths, name, Frequency::Once)
        .map_err(|e| ModuleError::new(e.to_string()))?;
    if ctx.host.which_target("snap").is_none() {
        log::debug!("Skipping snap wait, no snap command present");
        return Ok(());
    }
    pkg::run_captured(
        ctx,
        &Cmd::new(["snap", "wait", "system", "seed.loaded"]).in_target(),
    )
}

/// Upstream's `add_assertions`: every assertion joined by newlines into
/// one file, acknowledged at once.
fn add_assertions(ctx: &Ctx, assertions: &Value) -> ModResult {
    if !truthy(assertions) {
        return Ok(());
    }
    log::debug!("Importing user-provided snap assertions");
    let items: Vec<&Value> = match assertions {
        Value::Object(m) => m.values().collect(),
        Value::Array(a) => a.iter().collect(),
        other => {
            return Err(ModuleError::with_class(
                "TypeError",
                format!(
                    "assertion parameter was not a list or dict: {}",
                    py_str(other)
                ),
            ))
        }
    };
    let mut texts = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match item {
            Value::String(s) => texts.push(s.as_str()),
            other => {
                return Err(ModuleError::with_class(
                    "TypeError",
                    format!(
                        "sequence item {i}: expected str instance, {} found",
                        ci_pyval::py_type(other)
                    ),
                ))
            }
        }
    }
    let combined = texts.join("\n");
    for t in &texts {
        let head: Vec<&str> = t.split('\n').take(2).collect();
        log::debug!("Snap acking: {}", py_list(&head));
    }
    let shown = ctx.paths.instance_link().join("snapd.assertions");
    ctx.host.write_atomic(
        ctx.paths.instance_file("snapd.assertions"),
        combined.as_bytes(),
        &WriteOpts::mode(0o644),
    )?;
    pkg::run_captured(
        ctx,
        &Cmd::new([
            "snap".to_string(),
            "ack".into(),
            shown.display().to_string(),
        ])
        .in_target(),
    )
}

/// One configured command: an argument list, or a shell command line.
enum SnapCmd {
    Argv(Vec<String>),
    Shell(String),
}

/// Upstream's `run_commands`: every command run (a mapping's in key
/// order), failures collected and raised together.
fn run_commands(ctx: &Ctx, commands: &Value) -> ModResult {
    if !truthy(commands) {
        return Ok(());
    }
    log::debug!("Running user-provided snap commands");
    let list: Vec<Value> = match commands {
        Value::Object(m) => {
            let mut entries: Vec<(&String, &Value)> = m.iter().collect();
            // YAML's integer keys arrive as text: order them as numbers.
            if entries.iter().all(|(k, _)| k.parse::<i64>().is_ok()) {
                entries.sort_by_key(|(k, _)| k.parse::<i64>().unwrap_or_default());
            } else {
                entries.sort_by(|a, b| a.0.cmp(b.0));
            }
            entries.into_iter().map(|(_, v)| v.clone()).collect()
        }
        Value::Array(a) => a.clone(),
        other => {
            return Err(ModuleError::with_class(
                "TypeError",
                format!(
                    "commands parameter was not a list or dict: {}",
                    py_str(other)
                ),
            ))
        }
    };
    let mut failures: Vec<String> = Vec::new();
    for cmd in prepend_base_command("snap", &list)? {
        let res = match &cmd {
            SnapCmd::Argv(argv) => pkg::run_captured(ctx, &Cmd::new(argv.clone()).in_target()),
            SnapCmd::Shell(line) => pkg::run_shell_captured(ctx, line),
        };
        if let Err(e) = res {
            failures.push(e.to_string());
        }
    }
    if failures.is_empty() {
        return Ok(());
    }
    let msg = format!("Failures running snap commands:\n{}", py_list(&failures));
    log::warn!("{msg}");
    Err(ModuleError::new(msg))
}

/// Upstream's `subp.prepend_base_command`: lists get `base` put first
/// (unless it is there, or the first item is null, which is dropped);
/// strings not starting with it are warned about; anything else fails.
fn prepend_base_command(base: &str, commands: &[Value]) -> Result<Vec<SnapCmd>, ModuleError> {
    let mut warnings = Vec::new();
    let mut errors = Vec::new();
    let mut fixed = Vec::new();
    for command in commands {
        match command {
            Value::Array(a) => {
                let mut argv: Vec<String> = Vec::with_capacity(a.len() + 1);
                match a.first() {
                    Some(Value::Null) => argv.extend(a[1..].iter().map(py_str)),
                    Some(Value::String(s)) if s == base => argv.extend(a.iter().map(py_str)),
                    _ => {
                        argv.push(base.to_string());
                        argv.extend(a.iter().map(py_str));
                    }
                }
                fixed.push(SnapCmd::Argv(argv));
            }
            Value::String(s) => {
                if !s.starts_with(&format!("{base} ")) {
                    warnings.push(s.clone());
                }
                fixed.push(SnapCmd::Shell(s.clone()));
            }
            other => errors.push(py_str(other)),
        }
    }
    if !warnings.is_empty() {
        log::warn!(
            "Non-{base} commands in {base} config:\n{}",
            warnings.join("\n")
        );
    }
    if !errors.is_empty() {
        return Err(ModuleError::with_class(
            "TypeError",
            format!(
                "Invalid {base} config. These commands are not a string or list:\n{}",
                errors.join("\n")
            ),
        ));
    }
    Ok(fixed)
}

#[cfg(test)]
mod tests;

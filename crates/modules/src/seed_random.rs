//! `seed_random`: add entropy from `random_seed.data` and the metadata's
//! `random_seed` to the seed file, then optionally run a seeding command.

use crate::runparts::{run_passthrough, target_which};
use crate::write_files::{b64decode, decode_content};
use crate::{Ctx, ModResult, ModuleError};
use ci_host::{Cmd, Host, WriteOpts};
use ci_pyval::{py_repr, py_str, truthy};
use serde_json::{json, Value};
use std::io::Write;

pub fn handle(ctx: &Ctx) -> ModResult {
    let empty = json!({});
    let mycfg = match ctx.get("random_seed") {
        Some(v @ Value::Object(_)) => v,
        _ => &empty,
    };
    let seed_path = mycfg
        .get("file")
        .map(py_str)
        .unwrap_or_else(|| "/dev/urandom".to_string());
    let mut seed: Vec<u8> = Vec::new();
    if let Some(data) = mycfg.get("data").filter(|d| truthy(d)) {
        seed.extend(decode(data, mycfg.get("encoding"))?);
    }
    if let Some(md) = ctx.instance.metadata.get("random_seed") {
        seed.extend(metadata_seed(md));
    }
    if !seed.is_empty() {
        log::debug!(
            "{}: adding {} bytes of random seed entropy to {seed_path}",
            ctx.name,
            seed.len()
        );
        append(ctx.host, &seed_path, &seed)?;
    }
    let command = mycfg.get("command").filter(|c| truthy(c));
    let required = mycfg.get("command_required").is_some_and(truthy);
    seed_command(ctx, command, required, &seed_path).map_err(|e| match e {
        SeedError::Value(msg) => {
            log::warn!(
                "handling random command [{}] failed: {msg}",
                command.map(py_repr).unwrap_or_else(|| "None".into())
            );
            ModuleError::new(msg)
        }
        SeedError::Run(e) => e,
    })
}

fn decode(data: &Value, encoding: Option<&Value>) -> Result<Vec<u8>, ModuleError> {
    let text = py_str(data).into_bytes();
    let enc = match encoding {
        None | Some(Value::Null) => String::new(),
        Some(v) => py_str(v).to_lowercase(),
    };
    match enc.as_str() {
        "" | "raw" => Ok(text),
        "base64" | "b64" => b64decode(&text).map_err(ModuleError::new),
        // Upstream's decomp_gzip raises its DecompressionError.
        "gzip" | "gz" => decode_content(&text, Some(&json!("gzip")))
            .map_err(|e| ModuleError::with_class("DecompressionError", e)),
        _ => Err(ModuleError::new(format!(
            "Unknown random_seed encoding: {}",
            encoding.map(py_str).unwrap_or_default()
        ))),
    }
}

/// Append to the seed file. `/dev/urandom` on a live system is a device:
/// write to it plainly (a device cannot be fsynced or replaced).
fn append(host: &Host, path: &str, data: &[u8]) -> ModResult {
    let local = host.try_resolve(path)?;
    let special = std::fs::metadata(&local).is_ok_and(|m| !m.is_file());
    if special {
        let mut f = host.open_append(path, 0o644)?;
        f.write_all(data)?;
        return Ok(());
    }
    host.append(path, data, &WriteOpts::mode(0o644))?;
    Ok(())
}

enum SeedError {
    Value(String),
    Run(ModuleError),
}

fn seed_command(
    ctx: &Ctx,
    command: Option<&Value>,
    required: bool,
    seed_path: &str,
) -> Result<(), SeedError> {
    let argv: Vec<String> = match command {
        None if required => {
            return Err(SeedError::Value(
                "no command found but required=true".into(),
            ))
        }
        None => {
            log::debug!("no command provided");
            return Ok(());
        }
        Some(Value::Array(a)) => a.iter().map(py_str).collect(),
        Some(other) => vec![py_str(other)],
    };
    let Some(prog) = argv.first() else {
        return Ok(());
    };
    if target_which(ctx.host, prog).is_none() {
        if required {
            return Err(SeedError::Value(format!(
                "command '{prog}' not found but required=true"
            )));
        }
        log::debug!("command '{prog}' not found for seed_command");
        return Ok(());
    }
    let cmd = Cmd::new(argv)
        .in_target()
        .env("RANDOM_SEED_FILE", seed_path);
    run_passthrough(ctx.host, &cmd).map_err(SeedError::Run)
}

/// The metadata's `random_seed`: text as is; binary seeds are kept in the
/// instance data as `ci-b64:<base64>` (upstream's JSON form for bytes), so
/// they are decoded back to the bytes upstream would write.
fn metadata_seed(md: &Value) -> Vec<u8> {
    use base64::Engine;
    let text = py_str(md);
    match text.strip_prefix("ci-b64:") {
        Some(b64) => base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap_or_else(|_| text.clone().into_bytes()),
        None => text.into_bytes(),
    }
}

#[cfg(test)]
mod tests;

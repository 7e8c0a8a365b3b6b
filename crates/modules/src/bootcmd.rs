//! `bootcmd`: run the `bootcmd` list as one shell script early on every
//! boot, with `INSTANCE_ID` in its environment.

use crate::runparts::run_passthrough;
use crate::shellify::shellify;
use crate::{Ctx, ModResult, ModuleError};
use ci_host::{Cmd, WriteOpts};
use std::path::PathBuf;

pub fn handle(ctx: &Ctx) -> ModResult {
    let Some(cmds) = ctx.get("bootcmd") else {
        log::debug!(
            "Skipping module named {}, no 'bootcmd' key in configuration",
            ctx.name
        );
        return Ok(());
    };
    let content = shellify(cmds).map_err(|e| {
        log::warn!("Failed to shellify bootcmd: {e}");
        ModuleError::new(e)
    })?;
    // Upstream's temporary file lives in /run/cloud-init/tmp (root's tmp
    // dir); it must be inside the target so the shell there can read it.
    let tmp_dir = ctx.paths.run_dir.join("tmp");
    if !ctx.host.is_dir(&tmp_dir) {
        ctx.host.create_dir_all(&tmp_dir, 0o755)?;
        ctx.host.set_mode(&tmp_dir, 0o1777)?;
    }
    let script = tmp_dir.join(temp_name()?);
    ctx.host
        .write_atomic(&script, content.as_bytes(), &WriteOpts::mode(0o600))?;
    let mut cmd =
        Cmd::new(["/bin/sh".to_string(), script.to_string_lossy().into_owned()]).in_target();
    if !ctx.instance.instance_id.is_empty() {
        cmd = cmd.env("INSTANCE_ID", ctx.instance.instance_id.clone());
    }
    let result = run_passthrough(ctx.host, &cmd);
    if let Err(e) = ctx.host.remove_file(&script) {
        log::debug!("could not remove {}: {e}", script.display());
    }
    result.inspect_err(|_| log::warn!("Failed to run bootcmd module {}", ctx.name))
}

/// `tmpXXXXXXXX.sh` with eight random characters, as Python's tempfile
/// names it: the directory is world-writable, so the name must not be
/// guessable in advance.
fn temp_name() -> Result<PathBuf, ModuleError> {
    const CHARS: &str = "abcdefghijklmnopqrstuvwxyz0123456789_";
    let tag = ci_host::random::pick_chars(CHARS, 8)
        .map_err(|e| ModuleError::new(format!("cannot name the bootcmd script: {e}")))?;
    Ok(PathBuf::from(format!("tmp{tag}.sh")))
}

#[cfg(test)]
mod tests;

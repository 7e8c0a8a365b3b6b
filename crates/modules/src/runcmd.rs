//! `runcmd`: turn the `runcmd` list into `instances/<iid>/scripts/runcmd`,
//! which `scripts_user` runs later in the boot.

use crate::shellify::shellify;
use crate::{Ctx, ModResult, ModuleError};
use ci_host::WriteOpts;
use ci_pyval::py_repr;

pub fn handle(ctx: &Ctx) -> ModResult {
    let Some(cmds) = ctx.get("runcmd") else {
        log::debug!(
            "Skipping module named {}, no 'runcmd' key in configuration",
            ctx.name
        );
        return Ok(());
    };
    let out_fn = ctx.paths.instance_scripts_dir().join("runcmd");
    let fail = || {
        ModuleError::new(format!(
            "Failed to shellify {} into file {}",
            py_repr(cmds),
            out_fn.display()
        ))
    };
    let content = shellify(cmds).map_err(|e| {
        log::debug!("{e}");
        fail()
    })?;
    ctx.host
        .write_atomic(&out_fn, content.as_bytes(), &WriteOpts::mode(0o700))
        .map_err(|e| {
            log::debug!("{e}");
            fail()
        })?;
    Ok(())
}

#[cfg(test)]
mod tests;

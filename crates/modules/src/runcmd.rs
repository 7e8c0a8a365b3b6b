//! `runcmd`: turn the `runcmd` list into `instances/<iid>/scripts/runcmd`,
//! which `scripts_user` runs later in the boot.

use crate::shellify::shellify;
use crate::{Ctx, ModResult, ModuleError};
use ci_host::WriteOpts;
use ci_pyval::py_str;

pub fn handle(ctx: &Ctx) -> ModResult {
    let Some(cmds) = ctx.get("runcmd") else {
        log::debug!(
            "Skipping module named {}, no 'runcmd' key in configuration",
            ctx.name
        );
        return Ok(());
    };
    let out_fn = ctx.paths.instance_scripts_dir().join("runcmd");
    // Upstream formats the value with `str()`: a string shows bare, bytes
    // as `b'...'`; and re-raises with the class of what failed (shellify's
    // TypeError, the write's OSError).
    let fail = |class: &'static str| {
        ModuleError::with_class(
            class,
            format!(
                "Failed to shellify {} into file {}",
                py_str(cmds),
                out_fn.display()
            ),
        )
    };
    let content = shellify(cmds).map_err(|e| {
        log::debug!("{e}");
        fail("TypeError")
    })?;
    ctx.host
        .write_atomic(&out_fn, content.as_bytes(), &WriteOpts::mode(0o700))
        .map_err(|e| {
            log::debug!("{e}");
            fail("OSError")
        })?;
    Ok(())
}

#[cfg(test)]
mod tests;

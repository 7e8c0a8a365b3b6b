//! Upstream's executable temp directories (`distro.get_tmp_exec_path`,
//! `temp_utils.tempdir(needs_exe=True)`), for modules that unpack and run
//! a helper in the target: growpart's FreeBSD resizer, ubuntu_drivers'
//! debconf template.

use crate::{Ctx, ModuleError};
use ci_pyval::py_quote;

/// Upstream's `distro.get_tmp_exec_path`: `/var/tmp/cloud-init` unless it
/// is on a `noexec` mount. Its mount must be known: upstream unpacks the
/// answer and fails with a `TypeError` when there is none.
pub(crate) fn tmp_exec_path(ctx: &Ctx) -> Result<String, ModuleError> {
    let dir = "/var/tmp/cloud-init";
    if has_noexec(ctx, dir)? {
        return Ok(format!("{}/cloud-init/clouddir", ctx.distro.usr_lib_exec()));
    }
    Ok(dir.to_string())
}

pub(crate) fn has_noexec(ctx: &Ctx, path: &str) -> Result<bool, ModuleError> {
    let mi = crate::blockdev::get_mount_info(ctx.host, ctx.distro, path).ok_or_else(|| {
        ModuleError::with_class("TypeError", "cannot unpack non-iterable NoneType object")
    })?;
    Ok(mi.options.split(',').any(|o| o == "noexec"))
}

/// Upstream's `temp_utils.tempdir(dir=..., needs_exe=True)`: the parent is
/// made world-writable and sticky when created; the directory itself is
/// private and removed afterwards by the caller.
pub(crate) fn make_exec_tempdir(ctx: &Ctx, parent: &str) -> Result<String, ModuleError> {
    if !ctx.host.is_dir(parent) {
        ctx.host.create_dir_all(parent, 0o755)?;
        ctx.host.set_mode(parent, 0o1777)?;
    }
    if has_noexec(ctx, parent)? {
        log::warn!("Requested temporal dir with exe permission `{parent}` is mounted as noexec");
    }
    for _ in 0..100 {
        let name = ci_host::random::pick_chars("abcdefghijklmnopqrstuvwxyz0123456789_", 8)
            .map_err(|e| ModuleError::new(e.to_string()))?;
        let dir = format!("{parent}/tmp{name}");
        if ctx.host.lexists(&dir) {
            continue;
        }
        ctx.host.create_dir_all(&dir, 0o700)?;
        ctx.host.set_mode(&dir, 0o700)?;
        return Ok(dir);
    }
    Err(ModuleError::with_class(
        "FileExistsError",
        format!(
            "No usable temporary directory name found in {}",
            py_quote(parent)
        ),
    ))
}

//! `timezone`: point `/etc/localtime` at the zoneinfo file and record the
//! zone where the distro family keeps it.

use crate::hostname_util::uses_systemd;
use crate::{Ctx, ModResult, ModuleError};
use ci_distro::Family;
use ci_host::{Host, WriteOpts};
use ci_pyval::py_str;
use std::os::unix::fs::PermissionsExt;

const ZONE_DIR: &str = "/usr/share/zoneinfo";
const LOCALTIME: &str = "/etc/localtime";

pub fn handle(ctx: &Ctx) -> ModResult {
    let tz = match ctx.args.first() {
        Some(a) => Some(a.clone()),
        None => ctx.get("timezone").map(py_str),
    };
    let Some(tz) = tz.filter(|t| !t.is_empty()) else {
        log::debug!(
            "Skipping module named {}, no 'timezone' specified",
            ctx.name
        );
        return Ok(());
    };
    set_timezone(ctx, &tz)
}

fn set_timezone(ctx: &Ctx, tz: &str) -> ModResult {
    let tz_file = find_tz_file(ctx.host, tz)?;
    let host = ctx.host;
    match ctx.distro.family {
        Family::RedHat | Family::Suse if uses_systemd(host) => {
            host.remove_file(LOCALTIME)?;
            host.symlink(&tz_file, LOCALTIME)?;
        }
        Family::RedHat | Family::Suse => {
            crate::sysconfig::update(host, "/etc/sysconfig/clock", "ZONE", tz, ctx.version)?;
            copy(host, &tz_file, LOCALTIME)?;
        }
        _ => set_etc_timezone(host, tz, &tz_file)?,
    }
    Ok(())
}

/// Upstream's `_find_tz_file`: the zone must be a file under the target's
/// zoneinfo directory.
fn find_tz_file(host: &Host, tz: &str) -> Result<String, ModuleError> {
    let tz_file = std::path::Path::new(ZONE_DIR).join(tz);
    let tz_file = tz_file.to_string_lossy().into_owned();
    if !host.resolve(&tz_file).is_file() {
        return Err(ModuleError::with_class(
            "OSError",
            format!("Invalid timezone {tz}, no file found at {tz_file}"),
        ));
    }
    Ok(tz_file)
}

/// Upstream's `set_etc_timezone`: `/etc/timezone` holds the name;
/// `/etc/localtime` becomes a link unless it is a regular file already, in
/// which case the zone data is copied over it.
fn set_etc_timezone(host: &Host, tz: &str, tz_file: &str) -> ModResult {
    host.write_atomic(
        "/etc/timezone",
        format!("{}\n", tz.trim_end()).as_bytes(),
        &WriteOpts::mode(0o644),
    )?;
    let is_link =
        std::fs::symlink_metadata(host.path(LOCALTIME)).is_ok_and(|m| m.file_type().is_symlink());
    if is_link || !host.lexists(LOCALTIME) {
        host.symlink(tz_file, LOCALTIME)?;
    } else {
        copy(host, tz_file, LOCALTIME)?;
    }
    Ok(())
}

/// `shutil.copy`: content and permission bits.
fn copy(host: &Host, from: &str, to: &str) -> ModResult {
    let data = host.read(from)?;
    let mode = std::fs::metadata(host.resolve(from))
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(0o644);
    host.write_atomic(to, &data, &WriteOpts::mode(mode))?;
    Ok(())
}

#[cfg(test)]
mod tests;

//! The three ways upstream grows a partition, how `auto` picks one, and
//! how a resize is reported.

use super::{get_size, growfs_service_argv, logexc, Action, Outcome};
use crate::blockdev::{subp, ExecError};
use crate::tmpexec::{make_exec_tempdir, tmp_exec_path};
use crate::{Ctx, ModuleError};
use ci_pyval::py_str;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resizer {
    /// cloud-utils' `growpart`.
    GrowPart,
    /// FreeBSD's `growfs` rc service (root only).
    GrowFs,
    /// FreeBSD's `gpart`.
    Gpart,
}

/// Upstream's `RESIZERS`, in the order `auto` tries them.
const ORDER: [(&str, Resizer); 3] = [
    ("growpart", Resizer::GrowPart),
    ("growfs", Resizer::GrowFs),
    ("gpart", Resizer::Gpart),
];

/// `growpart --help` mentions `--update` only in cloud-utils' version
/// (upstream's `--update\s+`).
fn mentions_update(help: &str) -> bool {
    help.match_indices("--update").any(|(i, m)| {
        help[i + m.len()..]
            .chars()
            .next()
            .is_some_and(char::is_whitespace)
    })
}

fn available(ctx: &Ctx, r: Resizer, devices: &[Value]) -> bool {
    match r {
        Resizer::GrowPart => subp(
            ctx.host,
            &["growpart", "--help"],
            &[("LANG", "C")],
            None,
            &[0],
        )
        .is_ok_and(|out| mentions_update(&out.stdout_str())),
        Resizer::GrowFs => {
            ctx.host.resolve("/etc/rc.d/growfs").is_file()
                && devices.len() == 1
                && devices[0] == Value::String("/".into())
        }
        Resizer::Gpart => subp(
            ctx.host,
            &["gpart", "help"],
            &[("LANG", "C")],
            None,
            &[0, 1],
        )
        .is_ok_and(|out| out.stderr_str().contains("gpart recover ")),
    }
}

/// Upstream's `resizer_factory`: the first available resizer for `auto`,
/// else the named one if it is available.
pub(crate) fn factory(ctx: &Ctx, mode: &Value, devices: &[Value]) -> Result<Resizer, ModuleError> {
    if mode.as_str() == Some("auto") {
        return ORDER
            .iter()
            .map(|(_, r)| *r)
            .find(|r| available(ctx, *r, devices))
            .ok_or_else(|| ModuleError::with_class("ValueError", "No resizers available"));
    }
    let Some(r) = ORDER
        .iter()
        .find(|(name, _)| mode.as_str() == Some(*name))
        .map(|(_, r)| *r)
    else {
        return Err(ModuleError::with_class(
            "TypeError",
            format!("unknown resize mode {}", py_str(mode)),
        ));
    };
    if available(ctx, r, devices) {
        return Ok(r);
    }
    Err(ModuleError::with_class(
        "ValueError",
        format!("mode {} not available", py_str(mode)),
    ))
}

type Sizes = (Option<u64>, Option<u64>);

/// A resize: the sizes before and after, or the failed command (upstream's
/// `ResizeFailedException`); other errors fail the module.
fn resize(
    ctx: &Ctx,
    r: Resizer,
    disk: Option<&str>,
    ptnum: Option<&str>,
    partdev: &str,
    fs: Option<&str>,
) -> Result<Result<Sizes, ExecError>, ModuleError> {
    let disk_s = disk.unwrap_or("None");
    let ptnum_s = ptnum.unwrap_or("None");
    match r {
        Resizer::GrowPart => {
            let before = get_size(ctx, partdev, fs)?;
            let parent = tmp_exec_path(ctx)?;
            let tmpd = make_exec_tempdir(ctx, &parent)?;
            let result = grow_with_growpart(ctx, &tmpd, disk_s, ptnum_s);
            // Upstream removes the directory whatever happened.
            if let Err(e) = ctx.host.remove_dir_all(&tmpd) {
                log::debug!("removing {tmpd}: {e}");
            }
            match result? {
                Ok(true) => Ok(Ok((before, get_size(ctx, partdev, fs)?))),
                Ok(false) => Ok(Ok((before, before))),
                Err(e) => Ok(Err(e)),
            }
        }
        Resizer::GrowFs => {
            let before = get_size(ctx, partdev, fs)?;
            let argv = growfs_service_argv(ctx)?;
            if let Err(e) = subp(ctx.host, &argv, &[], None, &[0]) {
                logexc("Failed: service growfs onestart".into(), &e);
                return Ok(Err(e));
            }
            Ok(Ok((before, get_size(ctx, partdev, fs)?)))
        }
        Resizer::Gpart => {
            if let Err(e) = subp(ctx.host, &["gpart", "recover", disk_s], &[], None, &[0]) {
                logexc(format!("Failed: gpart recover {disk_s}"), &e);
                return Ok(Err(e));
            }
            let before = get_size(ctx, partdev, fs)?;
            if let Err(e) = subp(
                ctx.host,
                &["gpart", "resize", "-i", ptnum_s, disk_s],
                &[],
                None,
                &[0],
            ) {
                logexc(format!("Failed: gpart resize -i {ptnum_s} {disk_s}"), &e);
                return Ok(Err(e));
            }
            Ok(Ok((before, get_size(ctx, partdev, fs)?)))
        }
    }
}

/// `growpart --dry-run` first: exit 1 means there is nothing to grow
/// (`Ok(false)`); then the real call (`Ok(true)`).
fn grow_with_growpart(
    ctx: &Ctx,
    tmpd: &str,
    disk: &str,
    ptnum: &str,
) -> Result<Result<bool, ExecError>, ModuleError> {
    let growpart_tmp = format!("{tmpd}/growpart");
    if !ctx.host.lexists(&growpart_tmp) {
        ctx.host.create_dir_all(&growpart_tmp, 0o700)?;
        ctx.host.set_mode(&growpart_tmp, 0o700)?;
    }
    let env = [("LANG", "C"), ("TMPDIR", growpart_tmp.as_str())];
    if let Err(e) = subp(
        ctx.host,
        &["growpart", "--dry-run", disk, ptnum],
        &env,
        None,
        &[0],
    ) {
        if e.exit_code != Some(1) {
            logexc(
                format!("Failed growpart --dry-run for ({disk}, {ptnum})"),
                &e,
            );
            return Ok(Err(e));
        }
        return Ok(Ok(false));
    }
    if let Err(e) = subp(ctx.host, &["growpart", disk, ptnum], &env, None, &[0]) {
        logexc(format!("Failed: growpart {disk} {ptnum}"), &e);
        return Ok(Err(e));
    }
    Ok(Ok(true))
}

fn size_str(v: Option<u64>) -> String {
    v.map(|n| n.to_string()).unwrap_or_else(|| "None".into())
}

/// Upstream's `_call_resizer`: resize one entry and word the outcome.
pub(crate) fn call(
    ctx: &Ctx,
    r: &Resizer,
    devent: &str,
    disk: Option<&str>,
    ptnum: Option<&str>,
    blockdev: &str,
    fs: Option<&str>,
) -> Result<Outcome, ModuleError> {
    let disk_s = disk.unwrap_or("None");
    let ptnum_s = ptnum.unwrap_or("None");
    // Upstream's wording uses the (disk, ptnum) form only in this case.
    let by_disk = disk.is_some() && ptnum.is_none();
    let out = match resize(ctx, *r, disk, ptnum, blockdev, fs)? {
        Ok((old, new)) if old == new => (
            Action::NoChange,
            format!("no change necessary ({disk_s}, {ptnum_s})"),
        ),
        Ok((old, new)) if old.is_none() || new.is_none() => {
            let msg = if by_disk {
                format!("changed ({disk_s}, {ptnum_s}) size, new size is unknown")
            } else {
                format!("changed ({blockdev}) size, new size is unknown")
            };
            (Action::Changed, msg)
        }
        Ok((old, new)) => {
            let (o, n) = (size_str(old), size_str(new));
            let msg = if by_disk {
                format!("changed ({disk_s}, {ptnum_s}) from {o} to {n}")
            } else {
                format!("changed ({blockdev}) from {o} to {n}")
            };
            (Action::Changed, msg)
        }
        Err(e) => (
            Action::Failed,
            format!("failed to resize: disk={disk_s}, ptnum={ptnum_s}: {e}"),
        ),
    };
    Ok((devent.to_string(), out.0, out.1))
}

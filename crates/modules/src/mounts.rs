//! `mounts`: the fstab entries of the `mounts` key (and the datasource's
//! `ephemeral0`/`swap` devices), marked `comment=cloudconfig` so the next
//! run replaces them, a swap file from the `swap` key, then `swapon -a`,
//! `mount -a` and systemd's `daemon-reload`, in upstream's order.

mod devname;
mod entries;
mod swap;
mod sys;

use crate::{Ctx, ModResult, ModuleError};
use ci_host::WriteOpts;
use ci_pyval::{py_list, py_repr};
use entries::{Defaults, Entry, MNT_COMMENT};
use serde_json::{json, Value};
use std::collections::HashMap;

const FSTAB_PATH: &str = "/etc/fstab";

/// Mount options of the default entries where systemd runs the boot:
/// wait for the network stage, never fail the boot.
const SYSTEMD_OPTIONS: &str = "defaults,nofail,x-systemd.after=cloud-init-network.service,_netdev";
const OTHER_OPTIONS: &str = "defaults,nobootwait";

pub fn handle(ctx: &Ctx) -> ModResult {
    let systemd = sys::uses_systemd(ctx.host, ctx.distro);
    let mount_options = if systemd {
        SYSTEMD_OPTIONS
    } else {
        OTHER_OPTIONS
    };
    let default_fields = match ctx.get("mount_default_fields") {
        Some(v) => v.clone(),
        None => json!([null, null, "auto", mount_options, "0", "2"]),
    };
    let mounts = ctx.get("mounts").cloned().unwrap_or_else(|| json!([]));
    log::debug!("mounts configuration is {}", py_repr(&mounts));

    let fstab = parse_fstab(ctx)?;
    let aliases = devname::Aliases::from_cfg(ctx.get("device_aliases"));
    let defaults = Defaults::from_value(&default_fields);

    let items = crate::util::py_iter(&mounts)?;
    let cfg = entries::sanitize(ctx, &items, &fstab.devs, &aliases, &defaults)?;
    let cfg = entries::add_defaults(ctx, cfg, mount_options, &fstab.devs, &aliases)?;
    let cfg = entries::remove_nonexistent(cfg)?;
    let mut cfg = entries::add_comment(cfg)?;

    let swapcfg = ctx.get("swap").cloned().unwrap_or_else(|| json!({}));
    if let Some(file) = swap::handle_swapcfg(ctx, &swapcfg) {
        cfg.push(
            [file.as_str(), "none", "swap", "sw", "0", "0"]
                .iter()
                .map(|s| Value::String(s.to_string()))
                .collect(),
        );
    }
    if cfg.is_empty() {
        // Nothing configured at all: old cloudconfig lines stay too.
        log::debug!("No modifications to fstab needed");
        return Ok(());
    }
    let cfg_lines = cfg
        .iter()
        .map(|e| entries::join(e))
        .collect::<Result<Vec<_>, _>>()?;
    let dirs: Vec<String> = cfg
        .iter()
        .filter_map(|e| e.get(1).and_then(Value::as_str))
        .filter(|d| d.starts_with('/'))
        .map(str::to_string)
        .collect();
    for d in &dirs {
        if !ctx.host.is_dir(d) && ctx.host.create_dir_all(d, 0o755).is_err() {
            log::warn!("Failed to make '{d}' config-mount");
        }
    }

    let ops = fstab_changes(&cfg_lines, &fstab.removed);
    let mut lines = fstab.lines;
    lines.extend(cfg_lines);
    let contents = format!("{}\n", lines.join("\n"));
    ctx.host
        .write_atomic(FSTAB_PATH, contents.as_bytes(), &WriteOpts::mode(0o644))
        .map_err(|e| {
            ModuleError::with_class("OSError", crate::pyerr::os_error_str(&e, FSTAB_PATH))
        })?;
    if ops.is_empty() {
        log::debug!("No changes to /etc/fstab made.");
    } else {
        log::debug!("Changes to fstab: {}", py_list(&ops));
    }

    activate_swap_if_needed(ctx, &cfg)?;
    mount_if_needed(ctx, systemd, !ops.is_empty(), &dirs)
}

/// `/etc/fstab` split as upstream's `parse_fstab`.
struct Fstab {
    /// Lines kept as they are (blank lines are dropped).
    lines: Vec<String>,
    /// First field → the whole line.
    devs: HashMap<String, String>,
    /// Lines of an earlier run (`comment=cloudconfig`), replaced now.
    removed: Vec<String>,
}

fn parse_fstab(ctx: &Ctx) -> Result<Fstab, ModuleError> {
    let mut fstab = Fstab {
        lines: Vec::new(),
        devs: HashMap::new(),
        removed: Vec::new(),
    };
    if !ctx.host.exists(FSTAB_PATH) {
        return Ok(fstab);
    }
    let text = ctx.host.read_to_string(FSTAB_PATH).map_err(|e| {
        ModuleError::with_class("OSError", crate::pyerr::os_error_str(&e, FSTAB_PATH))
    })?;
    for line in text.lines() {
        if line.contains(MNT_COMMENT) {
            fstab.removed.push(line.to_string());
            continue;
        }
        if let Some(first) = line.split_whitespace().next() {
            fstab.devs.insert(first.to_string(), line.to_string());
            fstab.lines.push(line.to_string());
        }
    }
    Ok(fstab)
}

/// The `- old` / `+ new` summary upstream logs (tabs shown as spaces);
/// empty when the cloudconfig lines are the same as last time.
fn fstab_changes(adds: &[String], drops: &[String]) -> Vec<String> {
    let adds: Vec<String> = adds.iter().map(|l| l.replace('\t', " ")).collect();
    let drops: Vec<String> = drops.iter().map(|l| l.replace('\t', " ")).collect();
    let mut ops: Vec<String> = drops
        .iter()
        .filter(|d| !adds.contains(d))
        .map(|d| format!("- {d}"))
        .collect();
    ops.extend(
        adds.iter()
            .filter(|a| !drops.contains(a))
            .map(|a| format!("+ {a}")),
    );
    ops
}

/// `swapon -a` when any entry is swap.
fn activate_swap_if_needed(ctx: &Ctx, cfg: &[Entry]) -> ModResult {
    if cfg
        .iter()
        .any(|e| e.get(2).and_then(Value::as_str) == Some("swap"))
    {
        sys::subp(ctx.host, &["swapon", "-a"])?;
    }
    Ok(())
}

/// `mount -a` (and `systemctl daemon-reload` under systemd) when fstab
/// changed or a configured mount point is not mounted yet.
fn mount_if_needed(ctx: &Ctx, systemd: bool, changed: bool, dirs: &[String]) -> ModResult {
    let needed = changed || {
        let mounted = sys::mounted_points(ctx.host);
        dirs.iter().any(|d| !mounted.contains(d))
    };
    if needed {
        sys::subp(ctx.host, &["mount", "-a"])?;
        if systemd {
            sys::subp(ctx.host, &["systemctl", "daemon-reload"])?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;

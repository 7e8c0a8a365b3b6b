//! `debconf_selections`: every set fed to `debconf-set-selections` in the
//! order of their names; installed packages among those preseeded are
//! reconfigured where upstream knows how to unconfigure them (only
//! cloud-init itself), the others are reported.

use super::{facts, Ctx};
use crate::{subp, ModResult, ModuleError};
use ci_host::Cmd;
use ci_pyval::{py_list, py_str, truthy};
use serde_json::{Map, Value};

pub(super) fn apply(ctx: &Ctx, apt: &Map<String, Value>) -> ModResult {
    let sets = match apt.get("debconf_selections") {
        Some(v) if truthy(v) => v,
        _ => {
            log::debug!("debconf_selections was not set in config");
            return Ok(());
        }
    };
    let Value::Object(sets) = sets else {
        return Err(ModuleError::with_class(
            "AttributeError",
            format!(
                "'{}' object has no attribute 'keys'",
                ci_pyval::py_type(sets)
            ),
        ));
    };
    let mut names: Vec<&String> = sets.keys().collect();
    names.sort();
    let texts: Vec<String> = names.iter().map(|k| py_str(&sets[k.as_str()])).collect();
    let mut selections = texts.join("\n");
    if !selections.ends_with('\n') {
        selections.push('\n');
    }
    let cmd = Cmd::new(["debconf-set-selections"])
        .stdin(selections.into_bytes())
        .in_target();
    run(ctx, &cmd)?;

    let mut preseeded: Vec<String> = Vec::new();
    for text in sets.values().map(py_str) {
        for line in text.lines() {
            if line.starts_with('#') {
                continue;
            }
            let pkg = line
                .split(|c: char| c == ':' || c.is_whitespace())
                .next()
                .unwrap_or("")
                .to_string();
            if !preseeded.contains(&pkg) {
                preseeded.push(pkg);
            }
        }
    }
    let installed = facts::installed_packages(ctx)?;
    log::debug!("pkgs_cfgd: {}", py_list(&preseeded));
    let need: Vec<String> = preseeded
        .into_iter()
        .filter(|p| installed.contains(p))
        .collect();
    if need.is_empty() {
        log::debug!("no need for reconfig");
        return Ok(());
    }
    reconfigure(ctx, &need)
}

fn run(ctx: &Ctx, cmd: &Cmd) -> ModResult {
    let shown = subp::shown_list(&cmd.argv);
    let res = if ctx.host.which_target(&cmd.argv[0]).is_none() {
        Err(subp::not_started(
            &shown,
            &subp::missing_program(&cmd.argv[0]),
        ))
    } else {
        subp::run(ctx.host, cmd, &shown, &[0])
    };
    res.map(|_| ())
        .map_err(|e| ModuleError::with_class("ProcessExecutionError", e.text))
}

/// Upstream's `dpkg_reconfigure`: cloud-init's own dpkg-written config
/// files are removed before it is reconfigured; other packages cannot be
/// unconfigured and are reported.
fn reconfigure(ctx: &Ctx, pkgs: &[String]) -> ModResult {
    let mut unhandled = Vec::new();
    let mut to_config = Vec::new();
    for pkg in pkgs {
        if pkg == "cloud-init" {
            log::debug!("unconfiguring {pkg}");
            clean_cloud_init(ctx)?;
            to_config.push(pkg.clone());
        } else {
            unhandled.push(pkg.clone());
        }
    }
    if !unhandled.is_empty() {
        // Upstream's order comes from a Python set (random per process);
        // sorted here so the message is stable.
        unhandled.sort();
        log::warn!(
            "The following packages were installed and preseeded, but cannot be unconfigured: {}",
            py_list(&unhandled)
        );
    }
    if !to_config.is_empty() {
        let mut argv = vec![
            "dpkg-reconfigure".to_string(),
            "--frontend=noninteractive".into(),
        ];
        argv.extend(to_config);
        run(ctx, &Cmd::new(argv).in_target())?;
    }
    Ok(())
}

fn clean_cloud_init(ctx: &Ctx) -> ModResult {
    let dir = "/etc/cloud/cloud.cfg.d";
    let files: Vec<String> = ctx
        .host
        .list_dir(dir)
        .into_iter()
        .filter(|f| f.contains("dpkg"))
        .map(|f| format!("{dir}/{f}"))
        .collect();
    log::debug!("cleaning cloud-init config from: {}", py_list(&files));
    for f in files {
        ctx.host.remove_file(&f)?;
    }
    Ok(())
}

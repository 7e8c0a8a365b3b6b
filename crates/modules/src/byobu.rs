//! `byobu`: turn byobu's launch-at-login on or off for the default user
//! (`byobu-launcher-install`/`-uninstall` as that user) and/or system-wide
//! (the `byobu/launch-by-default` debconf answer, then reconfiguring the
//! package), all in one shell command as upstream runs it.

use crate::ugutil::{extract_default, normalize_users_groups};
use crate::{Ctx, ModResult, ModuleError};
use ci_host::Cmd;
use ci_pyval::py_str;

const VALID: &[&str] = &[
    "enable-user",
    "enable-system",
    "enable",
    "disable-user",
    "disable-system",
    "disable",
];

pub fn handle(ctx: &Ctx) -> ModResult {
    let value = match ctx.args.first() {
        Some(a) => a.clone(),
        None => ctx.get("byobu_by_default").map(py_str).unwrap_or_default(),
    };
    if value.is_empty() {
        log::debug!(
            "Skipping module named {}, no 'byobu' values found",
            ctx.name
        );
        return Ok(());
    }
    if ctx.host.which_target("byobu").is_none() {
        crate::pkg::install_packages(ctx, &["byobu".to_string()])?;
    }
    let value = match value.as_str() {
        "user" | "system" => format!("enable-{value}"),
        _ => value,
    };
    if !VALID.contains(&value.as_str()) {
        log::warn!("Unknown value {value} for byobu_by_default");
    }
    let Some(shcmd) = shell_command(ctx, &value)? else {
        return Ok(());
    };
    log::debug!("Setting byobu to {value}");
    let cmd = Cmd::new([
        "/bin/sh".to_string(),
        "-c".into(),
        format!("X=0; {shcmd} exit $X"),
    ])
    .in_target();
    crate::runparts::run_passthrough(ctx.host, &cmd)
}

/// The middle of upstream's `X=0; ... exit $X` script: every step that
/// fails adds one to the exit code. `None` when there is nothing to do.
fn shell_command(ctx: &Ctx, value: &str) -> Result<Option<String>, ModuleError> {
    let mut mod_user = value.ends_with("-user");
    let mut mod_sys = value.ends_with("-system");
    let (bl_inst, dc_val) = if value.starts_with("enable") {
        mod_sys = true;
        ("install", "byobu byobu/launch-by-default boolean true")
    } else {
        if value == "disable" {
            mod_user = true;
            mod_sys = true;
        }
        ("uninstall", "byobu byobu/launch-by-default boolean false")
    };
    let mut shcmd = String::new();
    if mod_user {
        let (users, _groups) = normalize_users_groups(ctx.cfg, ctx.distro)?;
        match extract_default(&users) {
            Some((user, _)) if !user.is_empty() => {
                shcmd.push_str(&format!(
                    " sudo -Hu \"{user}\" byobu-launcher-{bl_inst} || X=$(($X+1)); "
                ));
            }
            _ => log::warn!(
                "No default byobu user provided, can not launch {bl_inst} for the default user"
            ),
        }
    }
    if mod_sys {
        shcmd.push_str(&format!(
            "echo \"{dc_val}\" | debconf-set-selections && dpkg-reconfigure byobu --frontend=noninteractive || X=$(($X+1)); "
        ));
    }
    Ok((!shcmd.is_empty()).then_some(shcmd))
}

#[cfg(test)]
mod tests;

//! `disable_ec2_metadata`: block the instance metadata address with a
//! reject route, through `ip` when the target has it, else the BSD-style
//! `route` (chosen, as upstream does, by the presence of `ifconfig`). The
//! command runs in the target, never on the machine under `--root`.

use crate::{Ctx, ModResult};
use ci_host::Cmd;
use ci_pyval::cfg_bool;

const REJECT_CMD_IF: &[&str] = &["route", "add", "-host", "169.254.169.254", "reject"];
const REJECT_CMD_IP: &[&str] = &["ip", "route", "add", "prohibit", "169.254.169.254"];

pub fn handle(ctx: &Ctx) -> ModResult {
    if !cfg_bool(ctx.cfg, "disable_ec2_metadata", false) {
        log::debug!(
            "Skipping module named {}, disabling the ec2 route not enabled",
            ctx.name
        );
        return Ok(());
    }
    let reject_cmd = if ctx.host.which_target("ip").is_some() {
        REJECT_CMD_IP
    } else if ctx.host.which_target("ifconfig").is_some() {
        REJECT_CMD_IF
    } else {
        log::error!(
            "Neither \"route\" nor \"ip\" command found, unable to manipulate routing table"
        );
        return Ok(());
    };
    crate::runparts::run_passthrough(ctx.host, &Cmd::new(reject_cmd.iter().copied()).in_target())
}

#[cfg(test)]
mod tests;

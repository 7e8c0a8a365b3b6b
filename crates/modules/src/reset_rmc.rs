//! `reset_rmc`: on IBM Power machines with RSCT installed, give the node
//! a new RMC identity after cloning: stop RMC (`rmcctrl -z`), reconfigure
//! the RSCT subsystems (`recfgct`) and check that `/etc/ct_node_id`
//! changed. Without the RSCT tools in the target it does nothing.

use crate::subp;
use crate::{Ctx, ModResult, ModuleError};

const RSCT_PATH: &str = "/opt/rsct/install/bin";
const RMCCTRL: &str = "rmcctrl";
const RECFGCT: &str = "recfgct";
const NODE_ID_FILE: &str = "/etc/ct_node_id";

pub fn handle(ctx: &Ctx) -> ModResult {
    if ctx.instance.datasource_name == "None" {
        log::debug!("Skipping creation of new ct_node_id node");
        return Ok(());
    }
    if !ctx.host.resolve(RSCT_PATH).is_dir() {
        log::debug!("module disabled, RSCT_PATH not present");
        return Ok(());
    }
    reset_rmc(ctx)
}

fn reset_rmc(ctx: &Ctx) -> ModResult {
    log::debug!("Attempting to reset RMC.");
    let before = get_node_id(ctx)?;
    log::debug!("Node ID at beginning of module: {before}");
    run(ctx, &[RMCCTRL, "-z"], "Failed to stop the RMC subsystem.")?;
    let out = run(
        ctx,
        &[RECFGCT],
        "Failed to reconfigure the RSCT subsystems.",
    )?;
    log::debug!("{}", out.trim());
    let after = get_node_id(ctx)?;
    log::debug!("Node ID at end of module: {after}");
    if after == before {
        let msg = "New node ID did not get generated.";
        log::error!("{msg}");
        return Err(ModuleError::new(msg));
    }
    Ok(())
}

/// The first line of the node id file; a missing file is upstream's
/// logged-and-raised `OSError`.
fn get_node_id(ctx: &Ctx) -> Result<String, ModuleError> {
    match ctx.host.read(NODE_ID_FILE) {
        Ok(data) => {
            let text = String::from_utf8_lossy(&data);
            Ok(text.split('\n').next().unwrap_or_default().to_string())
        }
        Err(e) => {
            log::warn!("Failed to get node ID from file {NODE_ID_FILE}.");
            Err(crate::pyerr::os_error(&e, NODE_ID_FILE))
        }
    }
}

/// Runs an RSCT tool with the RSCT directory first on `PATH`, as upstream
/// does; a failure is warned about with `failure` and fails the module.
fn run(ctx: &Ctx, argv: &[&str], failure: &str) -> Result<String, ModuleError> {
    let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
    let shown = subp::shown_list(&argv);
    match subp::capture_in(ctx.host, &argv, &shown, None, &[0], Some(RSCT_PATH)) {
        Ok(out) => Ok(out.stdout_str()),
        Err(e) => {
            log::warn!("{failure}");
            Err(ModuleError::with_class("ProcessExecutionError", e.text))
        }
    }
}

#[cfg(test)]
mod tests;

//! `ubuntu_autoinstall`: the `autoinstall` key belongs to the Ubuntu
//! installer; cloud-init only checks (besides the schema) that an
//! installer snap is there to read it.

use crate::lxd::{pee, run_in_target, wait_for_snap_seeded};
use crate::{Ctx, ModResult};

const LIVE_INSTALLER_SNAPS: [&str; 2] = ["subiquity", "ubuntu-desktop-installer"];

pub fn handle(ctx: &Ctx) -> ModResult {
    wait_for_snap_seeded(ctx)?;
    let out = run_in_target(ctx, &["snap".into(), "list".into()], &[], None, &[0]).map_err(pee)?;
    let snaps = out.stdout_str();
    // The last installer found is the one named, as upstream's loop does.
    let present = LIVE_INSTALLER_SNAPS
        .iter()
        .rev()
        .find(|s| snaps.contains(*s));
    match present {
        None => log::warn!(
            "Skipping autoinstall module. Expected one of the Ubuntu installer snap packages to be present: {}",
            LIVE_INSTALLER_SNAPS.join(", ")
        ),
        Some(snap) => {
            log::debug!("Valid autoinstall schema. Config will be processed by {snap}")
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;

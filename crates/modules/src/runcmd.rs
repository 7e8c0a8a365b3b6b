//! `runcmd`: not built yet.

use crate::{Ctx, ModResult};

pub fn handle(_ctx: &Ctx) -> ModResult {
    Ok(())
}

//! `set_hostname` and `update_hostname`: not built yet.

use crate::{Ctx, ModResult};

pub fn handle(_ctx: &Ctx) -> ModResult {
    Ok(())
}

pub fn handle_update(_ctx: &Ctx) -> ModResult {
    Ok(())
}

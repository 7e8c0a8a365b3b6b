//! `write_files`: not built yet.

use crate::{Ctx, ModResult};

pub fn handle(_ctx: &Ctx) -> ModResult {
    Ok(())
}

pub fn handle_deferred(_ctx: &Ctx) -> ModResult {
    Ok(())
}

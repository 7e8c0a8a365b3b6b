//! `scripts_*` modules: not built yet.

use crate::{Ctx, ModResult};

pub fn handle_vendor(_ctx: &Ctx) -> ModResult {
    Ok(())
}
pub fn handle_per_once(_ctx: &Ctx) -> ModResult {
    Ok(())
}
pub fn handle_per_boot(_ctx: &Ctx) -> ModResult {
    Ok(())
}
pub fn handle_per_instance(_ctx: &Ctx) -> ModResult {
    Ok(())
}
pub fn handle_user(_ctx: &Ctx) -> ModResult {
    Ok(())
}

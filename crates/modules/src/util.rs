//! Config-reading helpers the stage runner (crates/cli) reaches through
//! this crate.

pub use ci_pyval::{loose_bool as is_true, str_list};

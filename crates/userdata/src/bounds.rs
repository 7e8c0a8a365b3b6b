//! Bounds on every way user-data can grow while it is processed.
//!
//! Upstream sets none, so a small blob (a gzip bomb, a JSON patch whose
//! `copy` operations double the document, a template that loops or joins
//! without end) could exhaust memory or time before the default user got
//! its meta-data keys. Each bound is a budget for one blob (user-data,
//! vendor-data or vendor-data2), so splitting a bomb into many MIME parts
//! does not multiply it. Going over a bound is reported like any invalid
//! part, with a message naming the bound; see `docs/compat.md`.

/// Largest total of bytes that gunzip (of the blob and of gzip parts) and
/// `#include` bodies may add for one blob. Providers cap raw user-data
/// between 16 KiB and 1 MiB; 64 MiB leaves any real gzip'd payload room
/// while keeping a bomb well inside a small VM's memory.
pub const MAX_EXPANDED_BYTES: u64 = 64 * 1024 * 1024;

/// Largest total of bytes that JSON-patch `copy` operations may add to the
/// merged cloud-config of one blob. `add` and `replace` values are paid for
/// by the patch text itself; only `copy` can grow the document faster than
/// its input. Real patches copy a few keys, never megabytes.
pub const JSONP_MAX_COPIED_BYTES: u64 = 16 * 1024 * 1024;

/// minijinja fuel for all `## template: jinja` parts of one blob. One fuel
/// is about one VM instruction (data produced costs 1/64 fuel per byte);
/// 5 million runs out in about a quarter of a second (release build, one
/// shared core), while a template looping over two thousand items to
/// write `write_files` entries uses under 5 % of it.
pub const JINJA_FUEL: u64 = 5_000_000;

/// Largest rendered output of all templates of one blob.
pub const JINJA_MAX_OUTPUT_BYTES: u64 = 16 * 1024 * 1024;

/// Why a budget refused: the message names the bound and what hit it.
pub(crate) fn exceeded(what: &str, bound: &str, limit: u64) -> String {
    format!(
        "{what} exceeds {} (bound {bound}); input rejected",
        human(limit)
    )
}

/// `64 MiB` for whole MiB counts, else the byte count.
pub(crate) fn human(n: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else {
        format!("{n} bytes")
    }
}

/// What is left of the per-blob budgets.
#[derive(Debug, Clone)]
pub(crate) struct Budget {
    pub expanded_left: u64,
    pub copied_left: u64,
    pub jinja: JinjaBudget,
}

/// What templates of one blob may still spend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JinjaBudget {
    pub fuel: u64,
    pub output: u64,
}

impl Default for JinjaBudget {
    fn default() -> Self {
        JinjaBudget {
            fuel: JINJA_FUEL,
            output: JINJA_MAX_OUTPUT_BYTES,
        }
    }
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            expanded_left: MAX_EXPANDED_BYTES,
            copied_left: JSONP_MAX_COPIED_BYTES,
            jinja: JinjaBudget::default(),
        }
    }
}

impl Budget {
    /// Charges `n` expanded bytes; `Err` names the bound.
    pub fn charge_expanded(&mut self, n: u64, what: &str) -> Result<(), String> {
        match self.expanded_left.checked_sub(n) {
            Some(left) => {
                self.expanded_left = left;
                Ok(())
            }
            None => {
                self.expanded_left = 0;
                Err(exceeded(what, "MAX_EXPANDED_BYTES", MAX_EXPANDED_BYTES))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_bound() {
        assert_eq!(human(64 * 1024 * 1024), "64 MiB");
        assert_eq!(human(1000), "1000 bytes");
        let mut b = Budget::default();
        assert!(b.charge_expanded(MAX_EXPANDED_BYTES, "gzip").is_ok());
        let e = b.charge_expanded(1, "gzip").unwrap_err();
        assert_eq!(
            e,
            "gzip exceeds 64 MiB (bound MAX_EXPANDED_BYTES); input rejected"
        );
    }
}

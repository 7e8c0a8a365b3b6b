//! Upstream's deprecation notices (`lifecycle.deprecate`).
//!
//! Upstream logs them at its own DEPRECATED level (35, between WARNING and
//! ERROR), which counts as a recoverable error in status.json. The `log`
//! crate has no such level, so they go out as warnings with target
//! `DEPRECATED:lifecycle.py`; ci-state's logger maps that prefix back to
//! `DEPRECATED` and prints the file name after it.

pub(crate) const TARGET: &str = "DEPRECATED:lifecycle.py";

/// `"<what> is deprecated in <since> and scheduled to be removed in <since+5y>. <extra>"`.
pub(crate) fn message(what: &str, since: &str, extra: &str) -> String {
    let removal = since
        .split_once('.')
        .and_then(|(y, m)| y.parse::<u32>().ok().map(|y| format!("{}.{m}", y + 5)))
        .unwrap_or_else(|| "a future version".to_string());
    let mut msg =
        format!("{what} is deprecated in {since} and scheduled to be removed in {removal}.");
    if !extra.is_empty() {
        msg.push(' ');
        msg.push_str(extra.trim());
    }
    msg
}

thread_local! {
    /// Notices already logged. Upstream logs each notice once per process
    /// (each one counts as a recoverable error in status.json); a stage runs
    /// its search on one thread, and per-thread keeps tests independent.
    static LOGGED: std::cell::RefCell<std::collections::HashSet<String>> =
        std::cell::RefCell::new(std::collections::HashSet::new());
}

/// Log the notice unless this thread has logged the same one already.
pub(crate) fn deprecate(what: &str, since: &str, extra: &str) {
    let msg = message(what, since, extra);
    let first = LOGGED.with(|l| l.borrow_mut().insert(msg.clone()));
    if first {
        log::warn!(target: TARGET, "{msg}");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn message_matches_upstream() {
        // As printed by the oracle for a NoCloud seed with `network-interfaces`.
        assert_eq!(
            super::message(
                "Eni network configuration in NoCloud",
                "24.3",
                "You can use network v1 or network v2 instead"
            ),
            "Eni network configuration in NoCloud is deprecated in 24.3 and scheduled to be removed in 29.3. You can use network v1 or network v2 instead"
        );
    }
}

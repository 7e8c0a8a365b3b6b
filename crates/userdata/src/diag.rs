//! Collects upstream's WARNING records (and raised errors) while also
//! logging them, so callers both see and can report them.

#[derive(Debug, Default)]
pub(crate) struct Diag {
    pub warnings: Vec<String>,
    pub errors: Vec<String>,
}

impl Diag {
    pub fn warn(&mut self, msg: impl Into<String>) {
        let msg = msg.into();
        log::warn!("{msg}");
        self.warnings.push(msg);
    }

    pub fn error(&mut self, msg: impl Into<String>) {
        let msg = msg.into();
        log::error!("{msg}");
        self.errors.push(msg);
    }
}

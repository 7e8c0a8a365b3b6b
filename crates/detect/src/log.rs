//! ds-identify's log: lines gathered in memory and appended in one write at
//! the end (the file is on tmpfs, and one write is cheaper than many).

/// Collected `ds-identify.log` lines plus what goes to stderr.
#[derive(Debug, Clone, Default)]
pub struct DiLog {
    level: u8,
    text: String,
    stderr: Vec<String>,
}

impl DiLog {
    pub fn new(level: u8) -> Self {
        DiLog {
            level,
            ..DiLog::default()
        }
    }

    /// Upstream `debug LEVEL msg`: kept when LEVEL <= DEBUG_LEVEL.
    pub fn debug(&mut self, lvl: u8, msg: impl AsRef<str>) {
        if lvl <= self.level {
            self.raw(msg);
        }
    }

    /// A line logged regardless of the level (the facts dump).
    pub fn raw(&mut self, msg: impl AsRef<str>) {
        self.text.push_str(msg.as_ref());
        self.text.push('\n');
    }

    /// Upstream `warn`: logged at level 0 and printed to stderr.
    pub fn warn(&mut self, msg: impl AsRef<str>) {
        let line = format!("WARN: {}", msg.as_ref());
        self.debug(0, &line);
        self.stderr.push(line);
    }

    /// Upstream `error`: logged at level 0 and printed to stderr.
    pub fn error(&mut self, msg: impl AsRef<str>) {
        let line = format!("ERROR: {}", msg.as_ref());
        self.debug(0, &line);
        self.stderr.push(line);
    }

    /// A line for stderr only.
    pub fn stderr_only(&mut self, line: impl Into<String>) {
        self.stderr.push(line.into());
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn stderr(&self) -> &[String] {
        &self.stderr
    }
}

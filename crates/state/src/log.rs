//! The log in upstream's format (`YYYY-mm-dd HH:MM:SS,mmm - file[LEVEL]: msg`,
//! UTC), so `cloud-init analyze` and people's scrapers read ours. WARNING
//! and above also go to stderr (upstream's console handler) and are
//! captured per stage for status.json's `recoverable_errors`.
//!
//! Only our own records are logged at upstream's levels. Dependencies
//! (ureq, its HTTP stack and rustls) describe every request at DEBUG and dump the
//! bytes on the wire at TRACE, which carries user-data, passwords in it and
//! the IMDSv2 token; of theirs only warnings and errors get through.

pub mod perms;

use crate::timefmt;
use log::{Level, LevelFilter, Log, Metadata, Record};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Target prefix that marks a record as upstream's DEPRECATED level (35,
/// between WARNING and ERROR); see [`deprecated`].
const DEPRECATED_TARGET: &str = "DEPRECATED:";

/// Crate names of this project: the libraries are `ci_*`; the binaries
/// (`cloud-init`, `cloud-id`, `cloud-init-per`, `cloud-init-generator`)
/// log under their own crate names.
fn is_own_crate(krate: &str) -> bool {
    krate.starts_with("ci_") || krate == "cloud_id" || krate.starts_with("cloud_init")
}

/// Whether a record is ours: a module path in one of our crates, or a
/// label we set ourselves (`handlers.py`, `DEPRECATED:schema.py`, ...).
fn is_own_target(target: &str) -> bool {
    let target = target.strip_prefix(DEPRECATED_TARGET).unwrap_or(target);
    if target.ends_with(".py") || target == "deprecated" {
        return true;
    }
    is_own_crate(target.split("::").next().unwrap_or(target))
}

/// Whether a record reaches the log file, the console and the capture:
/// ours at DEBUG and above (upstream's file handler; TRACE is not logged),
/// a dependency's at WARNING and above only.
pub fn accepts(target: &str, level: Level) -> bool {
    if is_own_target(target) {
        level <= Level::Debug
    } else {
        level <= Level::Warn
    }
}

static CAPTURE: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());
static STDERR_ON: AtomicBool = AtomicBool::new(false);

/// Writes the log file (DEBUG and up) and WARNING-and-up to stderr.
pub struct CiLogger {
    file: Mutex<Option<File>>,
    stderr: bool,
    /// `--debug`: every record goes to stderr too, not only WARNING and up.
    debug_stderr: bool,
    clock: Box<dyn Fn() -> f64 + Send + Sync>,
}

impl CiLogger {
    /// Log to `file` (a path on this machine, e.g. `host.path("/var/log/cloud-init.log")`),
    /// created 0640 or narrowed to at most 0640; `None` logs to stderr only.
    pub fn new(file: Option<&Path>, stderr: bool) -> std::io::Result<CiLogger> {
        let file = match file {
            Some(p) => Some(open_log(p)?),
            None => None,
        };
        Ok(CiLogger {
            file: Mutex::new(file),
            stderr,
            debug_stderr: false,
            clock: Box::new(timefmt::now_epoch),
        })
    }

    /// Also print DEBUG and INFO records to stderr (`cloud-init --debug`).
    pub fn with_debug_stderr(mut self, on: bool) -> CiLogger {
        self.debug_stderr = on;
        self
    }

    /// Use another source of epoch seconds for timestamps (tests, replays).
    pub fn with_clock(mut self, clock: Box<dyn Fn() -> f64 + Send + Sync>) -> CiLogger {
        self.clock = clock;
        self
    }

    /// Another handle on the open log file (to change its owner once the
    /// logger is installed; see [`perms::apply`]).
    pub fn file_handle(&self) -> Option<File> {
        let f = self.file.lock().ok()?;
        f.as_ref()?.try_clone().ok()
    }

    /// Make this the `log` crate's logger (once per process).
    pub fn install(self) -> Result<(), log::SetLoggerError> {
        STDERR_ON.store(self.stderr, Ordering::Relaxed);
        log::set_boxed_logger(Box::new(self))?;
        // Nothing at TRACE is kept, so the records are not even formatted.
        log::set_max_level(LevelFilter::Debug);
        Ok(())
    }
}

fn open_log(p: &Path) -> std::io::Result<File> {
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent)?;
    }
    // The caller resolved the path inside the root; a link found here now
    // would be followed on this machine.
    if std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "{}: is a symbolic link; not logging through it",
                p.display()
            ),
        ));
    }
    let f = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o640)
        .open(p)?;
    let mode = f.metadata()?.permissions().mode() & 0o7777;
    if mode & !0o640 != 0 {
        f.set_permissions(std::fs::Permissions::from_mode(mode & 0o640))?;
    }
    Ok(f)
}

/// The `%(filename)s` shown for a record: a target that is already a file
/// name (`handlers.py`, `log_util.py`) verbatim, else the last `::` segment
/// of the module path plus `.py` (`ci_modules::runcmd` → `runcmd.py`).
pub fn file_label(target: &str) -> String {
    if target.ends_with(".py") {
        return target.to_string();
    }
    let last = target.rsplit("::").next().unwrap_or(target);
    format!("{last}.py")
}

/// Upstream's level names.
pub fn level_name(level: Level) -> &'static str {
    match level {
        Level::Error => "ERROR",
        Level::Warn => "WARNING",
        Level::Info => "INFO",
        Level::Debug => "DEBUG",
        Level::Trace => "TRACE",
    }
}

/// One log line without the newline.
pub fn format_line(epoch: f64, file: &str, level: &str, msg: &str) -> String {
    format!("{} - {file}[{level}]: {msg}", timefmt::asctime(epoch))
}

impl Log for CiLogger {
    fn enabled(&self, m: &Metadata) -> bool {
        accepts(m.target(), m.level())
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let (level, target) = match record.target().strip_prefix(DEPRECATED_TARGET) {
            Some(t) => ("DEPRECATED", t),
            None => (level_name(record.level()), record.target()),
        };
        let msg = record.args().to_string();
        let line = format_line((self.clock)(), &file_label(target), level, &msg);
        if let Ok(mut f) = self.file.lock() {
            if let Some(f) = f.as_mut() {
                // Logging must never fail the boot.
                let _ = writeln!(f, "{line}");
            }
        }
        let is_warning = record.level() <= Level::Warn;
        if (is_warning && self.stderr) || self.debug_stderr {
            let _ = writeln!(std::io::stderr(), "{line}");
        }
        // A dependency's warning (ureq, rustls) is logged, never counted as
        // one of the boot's recoverable errors.
        if is_warning && is_own_target(record.target()) {
            if let Ok(mut c) = CAPTURE.lock() {
                c.push((level.to_string(), msg));
            }
        }
    }

    fn flush(&self) {
        if let Ok(mut f) = self.file.lock() {
            if let Some(f) = f.as_mut() {
                let _ = f.flush();
            }
        }
    }
}

/// Forget captured records (call when a stage starts).
pub fn start_capture() {
    if let Ok(mut c) = CAPTURE.lock() {
        c.clear();
    }
}

/// Captured WARNING/DEPRECATED/ERROR/CRITICAL messages since the last call,
/// as status.json's `recoverable_errors` (`{"WARNING": [...], ...}`).
pub fn take_captured() -> BTreeMap<String, Vec<String>> {
    let records = CAPTURE
        .lock()
        .map(|mut c| std::mem::take(&mut *c))
        .unwrap_or_default();
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (level, msg) in records {
        out.entry(level).or_default().push(msg);
    }
    out
}

/// Log at upstream's DEPRECATED level (counts as a recoverable error).
/// `file` is the label shown (`file_label` rules).
pub fn deprecated(file: &str, msg: &str) {
    let target = format!("{DEPRECATED_TARGET}{file}");
    log::logger().log(
        &Record::builder()
            .level(Level::Warn)
            .target(&target)
            .args(format_args!("{msg}"))
            .build(),
    );
}

/// The stage banner `cloud-init analyze` keys on:
/// `Cloud-init v. <ver> running '<action>' at <RFC2822>. Up <uptime> seconds.`
/// `action` is `init-local`, `init`, `modules:config`, `modules:final` or
/// `single`; `uptime` is the first field of `/proc/uptime` verbatim.
pub fn banner(version: &str, action: &str, epoch: f64, uptime: &str) -> String {
    format!(
        "Cloud-init v. {version} running '{action}' at {}. Up {uptime} seconds.",
        timefmt::rfc2822(epoch)
    )
}

/// Log the stage banner (DEBUG, from `log_util.py` as upstream) and write it
/// to stderr as upstream does. `epoch` is now ([`timefmt::now_epoch`]).
/// Returns the text.
pub fn log_banner(version: &str, action: &str, uptime: &str, epoch: f64) -> String {
    let msg = banner(version, action, epoch, uptime);
    log::debug!(target: "log_util.py", "{msg}");
    if STDERR_ON.load(Ordering::Relaxed) {
        let _ = writeln!(std::io::stderr(), "{msg}");
    }
    msg
}

/// The first field of `<root>/proc/uptime`, as upstream prints it (`??` if unreadable).
pub fn uptime_text(host: &ci_host::Host) -> String {
    host.uptime_text().unwrap_or_else(|| "??".to_string())
}

/// Result of a reporting event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventResult {
    Success,
    Warn,
    Fail,
}

impl EventResult {
    pub fn as_str(self) -> &'static str {
        match self {
            EventResult::Success => "SUCCESS",
            EventResult::Warn => "WARN",
            EventResult::Fail => "FAIL",
        }
    }
}

/// `start: <name>: <desc>` (DEBUG, `handlers.py`). Names: `init-local`,
/// `init-network`, `modules-config`, `modules-final`, children
/// `init-local/check-cache`, `modules-config/config-runcmd`, ...
pub fn event_start(name: &str, desc: &str) {
    log::debug!(target: "handlers.py", "start: {name}: {desc}");
}

/// `finish: <name>: <SUCCESS|WARN|FAIL>: <desc>` (DEBUG, `handlers.py`).
pub fn event_finish(name: &str, result: EventResult, desc: &str) {
    log::debug!(target: "handlers.py", "finish: {name}: {}: {desc}", result.as_str());
}

/// [`config_logfiles`] of a merged configuration: its `def_log_file`
/// (default `/var/log/cloud-init.log`) and the files its `output` targets
/// name (a string, a list, or a map per stage).
pub fn config_logfiles_of(host: &ci_host::Host, cfg: &serde_json::Value) -> Vec<PathBuf> {
    use serde_json::Value;
    let outputs: Vec<String> = match cfg.get("output") {
        Some(Value::Object(m)) => m
            .values()
            .flat_map(|v| match v {
                Value::String(s) => vec![s.clone()],
                Value::Array(a) => a
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect(),
                Value::Object(o) => o
                    .values()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect(),
                _ => Vec::new(),
            })
            .collect(),
        _ => Vec::new(),
    };
    config_logfiles(
        host,
        cfg.get("def_log_file")
            .and_then(Value::as_str)
            .or(Some("/var/log/cloud-init.log")),
        &outputs,
    )
}

/// Log files to delete for `clean --logs` (`util.get_config_logfiles`):
/// `def_log_file`, the file of each `output` target (`>> F`, `> F`,
/// `| tee -a F`) and their rotated siblings (`F*` regular files), on the
/// target; deduplicated, sorted.
pub fn config_logfiles(
    host: &ci_host::Host,
    def_log_file: Option<&str>,
    outputs: &[String],
) -> Vec<PathBuf> {
    let mut logs: Vec<String> = Vec::new();
    if let Some(f) = def_log_file.filter(|f| !f.is_empty()) {
        logs.push(f.to_string());
    }
    for fmt in outputs {
        let rest = if let Some(r) = fmt.strip_prefix('|') {
            r
        } else if fmt.starts_with('>') {
            fmt.trim_start_matches('>')
        } else {
            continue;
        };
        let target = rest.trim_start();
        let parts: Vec<&str> = target.split_whitespace().collect();
        if parts.len() == 1 {
            logs.push(target.to_string());
        } else if parts.len() >= 3 && parts[..2] == ["tee", "-a"] {
            logs.push(parts[2].to_string());
        }
    }
    let mut all: Vec<PathBuf> = logs.iter().map(PathBuf::from).collect();
    for log in &logs {
        let p = Path::new(log);
        let (Some(dir), Some(name)) = (p.parent(), p.file_name()) else {
            continue;
        };
        let name = name.to_string_lossy();
        for sib in host.list_dir(dir) {
            if sib.starts_with(name.as_ref()) && sib != name {
                let full = dir.join(&sib);
                if host.resolve(&full).is_file() {
                    all.push(full);
                }
            }
        }
    }
    all.sort();
    all.dedup();
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_lines() {
        assert_eq!(file_label("handlers.py"), "handlers.py");
        assert_eq!(file_label("ci_modules::users_groups"), "users_groups.py");
        assert_eq!(file_label("ci_state"), "ci_state.py");
        assert_eq!(
            format_line(1_748_772_001.5, "util.py", "WARNING", "x"),
            "2025-06-01 10:00:01,500 - util.py[WARNING]: x"
        );
        assert_eq!(
            banner("25.1.4", "modules:config", 1_748_772_004.0, "7.20"),
            "Cloud-init v. 25.1.4 running 'modules:config' at Sun, 01 Jun 2025 10:00:04 +0000. Up 7.20 seconds."
        );
    }

    fn record_to(logger: &CiLogger, target: &str, level: Level, msg: &str) {
        logger.log(
            &Record::builder()
                .level(level)
                .target(target)
                .args(format_args!("{msg}"))
                .build(),
        );
    }

    #[test]
    fn dependencies_below_warning_never_reach_the_log() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("cloud-init.log");
        let logger = CiLogger::new(Some(&path), false)
            .unwrap()
            .with_clock(Box::new(|| 1_748_772_001.0));
        for (target, level, msg) in [
            ("ureq_proto::util", Level::Trace, "dep-trace PW-Secret"),
            (
                "ureq::unversioned::transport::tcp",
                Level::Debug,
                "dep-debug",
            ),
            ("ureq_proto::client", Level::Info, "dep-info"),
            // rustls (TLS for ci_http) narrates handshakes at DEBUG/TRACE.
            ("rustls::client::hs", Level::Debug, "tls-debug"),
            ("rustls::conn", Level::Trace, "tls-trace"),
            ("rustls::common_state", Level::Info, "tls-info"),
            ("rustls::conn", Level::Warn, "dep-warn"),
            ("ureq::run", Level::Error, "dep-error"),
            ("ci_sources::ec2::client", Level::Debug, "ours-debug"),
            ("ci_sources::ec2::client", Level::Trace, "ours-trace"),
            ("cloud_init", Level::Debug, "bin-debug"),
            ("handlers.py", Level::Debug, "label-debug"),
            ("DEPRECATED:schema.py", Level::Warn, "deprecated-label"),
        ] {
            record_to(&logger, target, level, msg);
        }
        logger.flush();
        let text = std::fs::read_to_string(&path).unwrap();
        let kept: Vec<&str> = text
            .lines()
            .map(|l| l.rsplit(": ").next().unwrap_or(l))
            .collect();
        assert_eq!(
            kept,
            [
                "dep-warn",
                "dep-error",
                "ours-debug",
                "bin-debug",
                "label-debug",
                "deprecated-label"
            ],
            "{text}"
        );
        assert!(text.contains("conn.py[WARNING]: dep-warn"), "{text}");
        assert!(!accepts("ci_info", Level::Trace));
        assert!(accepts("cloud_init_per", Level::Debug));
        assert!(!accepts("cloudy::x", Level::Info));
        assert!(!logger.enabled(
            &Metadata::builder()
                .target("ureq_proto::util")
                .level(Level::Debug)
                .build()
        ));
    }

    #[test]
    fn logfiles_from_config() {
        let d = tempfile::tempdir().unwrap();
        let h = ci_host::Host::new(d.path());
        let w = ci_host::WriteOpts::default();
        h.write_atomic("/var/log/cloud-init.log", b"", &w).unwrap();
        h.write_atomic("/var/log/cloud-init.log.1", b"", &w)
            .unwrap();
        h.write_atomic("/var/log/cloud-init-output.log", b"", &w)
            .unwrap();
        let got = config_logfiles(
            &h,
            Some("/var/log/cloud-init.log"),
            &[
                "| tee -a /var/log/cloud-init-output.log".into(),
                ">> /var/log/my.log".into(),
                "| logger -t x".into(),
            ],
        );
        let got: Vec<String> = got.iter().map(|p| p.display().to_string()).collect();
        assert_eq!(
            got,
            [
                "/var/log/cloud-init-output.log",
                "/var/log/cloud-init.log",
                "/var/log/cloud-init.log.1",
                "/var/log/my.log"
            ]
        );
    }
}

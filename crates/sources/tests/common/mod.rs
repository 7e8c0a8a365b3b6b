//! Shared test helpers: a log capture and root builders.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ci_host::{Host, WriteOpts};
use std::cell::RefCell;
use std::path::Path;
use std::sync::Once;

thread_local! {
    static RECORDS: RefCell<Vec<(log::Level, String, String)>> = const { RefCell::new(Vec::new()) };
}

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, r: &log::Record) {
        RECORDS.with(|v| {
            v.borrow_mut()
                .push((r.level(), r.target().to_string(), r.args().to_string()))
        });
    }
    fn flush(&self) {}
}

/// Start capturing this thread's log records (and forget earlier ones).
pub fn capture() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let _ = log::set_boxed_logger(Box::new(Capture));
        log::set_max_level(log::LevelFilter::Trace);
    });
    RECORDS.with(|v| v.borrow_mut().clear());
}

pub fn records() -> Vec<(log::Level, String, String)> {
    RECORDS.with(|v| v.borrow().clone())
}

/// Messages at WARNING or above (upstream's "recoverable errors").
pub fn warnings() -> Vec<String> {
    records()
        .into_iter()
        .filter(|(l, _, _)| *l <= log::Level::Warn)
        .map(|(_, _, m)| m)
        .collect()
}

pub fn messages() -> Vec<String> {
    records().into_iter().map(|(_, _, m)| m).collect()
}

pub fn write(host: &Host, path: &str, content: &str) {
    host.write_atomic(path, content.as_bytes(), &WriteOpts::default())
        .unwrap();
}

pub fn write_real(dir: &Path, name: &str, content: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(name), content).unwrap();
}

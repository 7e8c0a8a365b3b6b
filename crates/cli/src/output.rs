//! Upstream's `output:` setting sends each stage's stdout and stderr through
//! `| tee -a /var/log/cloud-init-output.log`. A shell pipeline would write to
//! the *host's* log even under `--root`, so we start our own tee: this binary
//! again, in a copy-only mode, reading a pipe that becomes the stage's stdout
//! and stderr, and writing to the stage's original stdout and to the log file
//! this process opened inside the root. The stage itself goes on at once (no
//! second start-up and config load on the boot's critical path), and child
//! processes (scripts) inherit the pipe, as they inherit upstream's tee. A
//! process still holding the pipe when the stage exits keeps the tee alive,
//! as with upstream.

use ci_host::{Host, WriteOpts};
use serde_json::Value;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Set for the stage's own children: a `cloud-init` they run does not add
/// a second tee to the same log.
const MARK: &str = "CLOUD_INIT_RS_OUTPUT_REDIRECTED";
/// Set only for the tee process: copy stdin to stdout and stderr, then exit.
const TEE_MODE: &str = "CLOUD_INIT_RS_TEE";
/// How long a finishing stage waits for its tee to drain the pipe. Longer
/// only when a process the stage left running still holds the pipe.
const DRAIN_WAIT: Duration = Duration::from_secs(2);

/// Where one stream goes: append to or truncate a target file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sink {
    pub path: String,
    pub append: bool,
}

/// Parse one upstream output target: `| tee -a FILE`, `| tee FILE`,
/// `>> FILE`, `> FILE`. Other pipelines are not supported (logged).
pub fn parse_target(spec: &str) -> Option<Sink> {
    let s = spec.trim();
    if let Some(rest) = s.strip_prefix('|') {
        let words: Vec<&str> = rest.split_whitespace().collect();
        return match words.as_slice() {
            ["tee", "-a", path] => Some(Sink {
                path: path.to_string(),
                append: true,
            }),
            ["tee", path] => Some(Sink {
                path: path.to_string(),
                append: false,
            }),
            _ => {
                log::debug!("output pipeline {s:?} is not supported; output not redirected");
                None
            }
        };
    }
    if let Some(path) = s.strip_prefix(">>") {
        return Some(Sink {
            path: path.trim().to_string(),
            append: true,
        });
    }
    s.strip_prefix('>').map(|path| Sink {
        path: path.trim().to_string(),
        append: false,
    })
}

/// The output target for a stage (`init`, `config`, `final`), from the
/// `output` config: a stage key or `all`; a string, `{output, error}` or a list.
pub fn stage_target(cfg: &Value, stage: &str) -> Option<Sink> {
    let out = cfg.get("output")?;
    let entry = out.get(stage).or_else(|| out.get("all"))?;
    let spec = match entry {
        Value::String(s) => s.clone(),
        Value::Array(a) => a.first()?.as_str()?.to_string(),
        Value::Object(m) => m.get("output")?.as_str()?.to_string(),
        _ => return None,
    };
    parse_target(&spec)
}

/// The running tee and the stage's original stdout and stderr.
struct Tee {
    child: Child,
    out: OwnedFd,
    err: OwnedFd,
}

static TEE: Mutex<Option<Tee>> = Mutex::new(None);

/// When this process is the tee ([`TEE_MODE`]): copy stdin to stdout (the
/// console) and stderr (the log file) until every writer is gone, and
/// return the exit code. `None` for every other run.
pub fn tee_mode() -> Option<i32> {
    std::env::var_os(TEE_MODE)?;
    let mut input = std::io::stdin().lock();
    let mut console = std::io::stdout().lock();
    let mut log = std::io::stderr().lock();
    let mut buf = [0u8; 8192];
    loop {
        match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let chunk = buf.get(..n).unwrap_or_default();
                // A console that went away must not stop the log.
                let _ = console.write_all(chunk).and_then(|()| console.flush());
                let _ = log.write_all(chunk);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    Some(0)
}

/// Send this process's stdout and stderr through a tee to `sink` (a path
/// inside the host's root), unless an outer stage already does. Called
/// while the process has one thread, before the logger starts. On any
/// failure the output stays where it was.
pub fn start_tee(host: &Host, sink: &Sink) {
    if std::env::var_os(MARK).is_some() {
        return;
    }
    match spawn_tee(host, sink) {
        Ok(tee) => {
            if let Ok(mut slot) = TEE.lock() {
                *slot = Some(tee);
            }
            std::env::set_var(MARK, "1");
        }
        Err(e) => eprintln!("cloud-init: output not copied to {}: {e}", sink.path),
    }
}

fn spawn_tee(host: &Host, sink: &Sink) -> std::io::Result<Tee> {
    if !sink.append {
        host.write_atomic(&sink.path, b"", &WriteOpts::mode(0o640))?;
    }
    let file: File = host.open_append(&sink.path, 0o640)?;
    let exe = std::env::current_exe()?;
    let (reader, writer) = std::io::pipe()?;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    let mut cmd = Command::new(exe);
    cmd.env(TEE_MODE, "1")
        .stdin(Stdio::from(reader))
        .stdout(Stdio::inherit())
        .stderr(Stdio::from(file));
    let spawned = cmd.spawn();
    // The command holds the pipe's read end and the log file; the tee alone
    // should.
    drop(cmd);
    let child = spawned?;
    // Copies above the standard descriptors, closed on exec: the stage's
    // children get the pipe, not the console.
    let out = rustix::io::fcntl_dupfd_cloexec(std::io::stdout(), 3)?;
    let err = rustix::io::fcntl_dupfd_cloexec(std::io::stderr(), 3)?;
    rustix::stdio::dup2_stdout(&writer)?;
    rustix::stdio::dup2_stderr(&writer)?;
    Ok(Tee { child, out, err })
}

/// Give the stage's stdout and stderr back and let the tee drain what is
/// left, so that the log is complete when the command returns. A process
/// still holding the pipe after [`DRAIN_WAIT`] keeps the tee running.
pub fn finish() {
    let Some(mut tee) = TEE.lock().ok().and_then(|mut slot| slot.take()) else {
        return;
    };
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    let _ = rustix::stdio::dup2_stdout(&tee.out);
    let _ = rustix::stdio::dup2_stderr(&tee.err);
    let deadline = Instant::now() + DRAIN_WAIT;
    while Instant::now() < deadline {
        match tee.child.try_wait() {
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_upstream_forms() {
        let cfg = json!({"output": {"all": "| tee -a /var/log/cloud-init-output.log"}});
        assert_eq!(
            stage_target(&cfg, "init"),
            Some(Sink {
                path: "/var/log/cloud-init-output.log".into(),
                append: true
            })
        );
        let cfg = json!({"output": {"init": {"output": "> /var/log/x.log", "error": "&1"}, "all": ">> /a"}});
        assert_eq!(stage_target(&cfg, "init").map(|s| s.append), Some(false));
        assert_eq!(
            stage_target(&cfg, "final").map(|s| s.path),
            Some("/a".to_string())
        );
        assert_eq!(parse_target("| logger -t x"), None);
        assert_eq!(stage_target(&json!({}), "init"), None);
    }
}

//! Upstream's `output:` setting sends each stage's stdout and stderr through
//! `| tee -a /var/log/cloud-init-output.log`. A shell pipeline would write to
//! the *host's* log even under `--root`, so we do it ourselves: the stage
//! re-runs itself as a child with both streams on one pipe, and this process
//! copies the pipe to its own stdout/stderr and to the log file under the root.
//! Child processes (scripts) inherit the pipe, as they inherit upstream's tee.

use ci_host::{Host, WriteOpts};
use serde_json::Value;
use std::io::{Read, Write};
use std::process::{Command, Stdio};

const MARK: &str = "CLOUD_INIT_RS_OUTPUT_REDIRECTED";

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

/// If the stage's output goes to a file and we have not redirected yet,
/// re-run this command as a child with its output piped through us and
/// return its exit code; `None` means "carry on in this process".
pub fn redirect_through_child(host: &Host, sink: &Sink) -> Option<i32> {
    if std::env::var_os(MARK).is_some() {
        return None;
    }
    let exe = std::env::current_exe().ok()?;
    let (mut reader, writer) = std::io::pipe().ok()?;
    let writer2 = writer.try_clone().ok()?;
    let mut cmd = Command::new(exe);
    if let Some(socket) = crate::notify::socket() {
        cmd.env("NOTIFY_SOCKET", socket);
    }
    let spawned = cmd
        .args(std::env::args_os().skip(1))
        .env(MARK, "1")
        .stdin(Stdio::inherit())
        .stdout(writer)
        .stderr(writer2)
        .spawn();
    // The command holds the pipe's write ends: without dropping it the
    // read below would never see the end of the child's output.
    drop(cmd);
    let mut child = spawned.ok()?;
    let opts = WriteOpts::mode(0o640);
    if !sink.append {
        let _ = host.write_atomic(&sink.path, b"", &opts);
    }
    let mut buf = [0u8; 8192];
    let mut out = std::io::stdout();
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let chunk = buf.get(..n).unwrap_or_default();
                let _ = out.write_all(chunk);
                let _ = out.flush();
                let _ = host.append(&sink.path, chunk, &opts);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    let status = child.wait().ok()?;
    Some(status.code().unwrap_or(1))
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

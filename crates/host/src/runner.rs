//! One way to run external programs, so every call is logged and tests can
//! record calls instead of running them.

use crate::Host;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// Where a command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Where {
    /// The program of the machine the agent runs on; the caller passes root
    /// options itself (`useradd --root DIR`, `ssh-keygen -f DIR/...`).
    Host,
    /// Inside the target: `chroot ROOT` first when the root is not `/`.
    Target,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    pub argv: Vec<String>,
    pub stdin: Option<Vec<u8>>,
    pub env: Vec<(String, String)>,
    pub place: Where,
    /// Text to log instead of argv (for commands that carry secrets).
    pub redacted: Option<String>,
}

impl Cmd {
    pub fn new<I, S>(argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Cmd {
            argv: argv.into_iter().map(Into::into).collect(),
            stdin: None,
            env: Vec::new(),
            place: Where::Host,
            redacted: None,
        }
    }

    pub fn in_target(mut self) -> Self {
        self.place = Where::Target;
        self
    }

    pub fn stdin(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(data.into());
        self
    }

    pub fn env(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }

    pub fn redact(mut self, shown: impl Into<String>) -> Self {
        self.redacted = Some(shown.into());
        self
    }

    /// The command line as logged.
    pub fn display(&self) -> String {
        match &self.redacted {
            Some(r) => r.clone(),
            None => format!("{:?}", self.argv),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CmdOutput {
    pub status: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl CmdOutput {
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CmdError {
    #[error("command {cmd} could not start: {source}")]
    Spawn {
        cmd: String,
        #[source]
        source: std::io::Error,
    },
    #[error("command {cmd} exited {status}: {stderr}")]
    Failed {
        cmd: String,
        status: i32,
        stderr: String,
    },
    #[error("empty command")]
    Empty,
}

impl CmdError {
    /// Short stable reason for status reporting.
    pub fn reason(&self) -> &'static str {
        match self {
            CmdError::Spawn { .. } => "command-not-started",
            CmdError::Failed { .. } => "command-failed",
            CmdError::Empty => "command-empty",
        }
    }
}

/// Tools that act on the running kernel, its devices, services, network or
/// power rather than on files: run inside a `--root` target with `chroot`
/// they would still change this machine.
const MACHINE_TOOLS: &[&str] = &[
    "mount",
    "umount",
    "swapon",
    "swapoff",
    "mkswap",
    "sfdisk",
    "sgdisk",
    "parted",
    "partprobe",
    "partx",
    "wipefs",
    "blockdev",
    "growpart",
    "gpart",
    "resize2fs",
    "xfs_growfs",
    "btrfs",
    "zpool",
    "zfs",
    "growfs",
    "cryptsetup",
    "dmsetup",
    "udevadm",
    "systemctl",
    "service",
    "invoke-rc.d",
    "rc-service",
    "rc-update",
    "rcctl",
    "shutdown",
    "reboot",
    "poweroff",
    "halt",
    "modprobe",
    "ip",
    "route",
    "ifconfig",
    "wg",
    "wg-quick",
    "setupcon",
    "setup-keymap",
    "localectl",
    "hwclock",
    "sysctl",
    "raspi-config",
    "rpi-usb-gadget",
];

/// Whether `argv` runs one of the machine-level tools (`mkfs*` included),
/// by the base name of its program.
pub fn acts_on_machine(argv: &[String]) -> bool {
    let Some(prog) = argv.first() else {
        return false;
    };
    let name = prog.rsplit('/').next().unwrap_or(prog);
    name.starts_with("mkfs") || name.starts_with("mke2fs") || MACHINE_TOOLS.contains(&name)
}

pub trait Runner: Send + Sync {
    /// Run and capture; a non-zero exit is not an error here.
    fn execute(&self, host: &Host, cmd: &Cmd) -> Result<CmdOutput, CmdError>;

    /// Run and require exit 0.
    fn run(&self, host: &Host, cmd: &Cmd) -> Result<CmdOutput, CmdError> {
        let out = self.execute(host, cmd)?;
        if out.status != 0 {
            return Err(CmdError::Failed {
                cmd: cmd.display(),
                status: out.status,
                stderr: out.stderr_str().trim().to_string(),
            });
        }
        Ok(out)
    }
}

/// Runs programs for real.
pub struct RealRunner;

impl Runner for RealRunner {
    fn execute(&self, host: &Host, cmd: &Cmd) -> Result<CmdOutput, CmdError> {
        if cmd.place == Where::Target && !host.runs_machine_commands() && acts_on_machine(&cmd.argv)
        {
            // chroot isolates files only: these would mount, format, route,
            // restart or power off this machine, not the target.
            log::info!(
                "Not running {} under --root {}: it acts on the running machine (--machine-commands runs it)",
                cmd.display(),
                host.root().display()
            );
            return Ok(CmdOutput::default());
        }
        let mut argv: Vec<String> = Vec::new();
        if cmd.place == Where::Target && host.is_sandbox() {
            argv.push("chroot".into());
            argv.push(host.root().to_string_lossy().into_owned());
        }
        argv.extend(cmd.argv.iter().cloned());
        let (prog, args) = argv.split_first().ok_or(CmdError::Empty)?;
        log::debug!(
            "Running command {} with allowed return codes [0]",
            cmd.display()
        );
        let mut c = Command::new(prog);
        c.args(args)
            .stdin(if cmd.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &cmd.env {
            c.env(k, v);
        }
        let spawn_err = |source| CmdError::Spawn {
            cmd: cmd.display(),
            source,
        };
        let mut child = c.spawn().map_err(spawn_err)?;
        if let (Some(data), Some(mut stdin)) = (&cmd.stdin, child.stdin.take()) {
            // A child that exits without reading its input is not our error.
            let _ = stdin.write_all(data);
        }
        let out = child.wait_with_output().map_err(spawn_err)?;
        Ok(CmdOutput {
            status: exit_code(&out.status),
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }
}

fn exit_code(st: &std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0))
}

/// Records every command and answers with a scripted result (tests).
#[derive(Default)]
pub struct RecordingRunner {
    calls: Mutex<Vec<Cmd>>,
    /// (argv[0], status, stdout) answers; the first matching wins, else 0.
    answers: Mutex<Vec<(String, i32, Vec<u8>)>>,
}

impl RecordingRunner {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn answer(&self, prog: &str, status: i32, stdout: &[u8]) {
        if let Ok(mut a) = self.answers.lock() {
            a.push((prog.to_string(), status, stdout.to_vec()));
        }
    }

    pub fn calls(&self) -> Vec<Cmd> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Every recorded argv joined by spaces, for simple assertions.
    pub fn lines(&self) -> Vec<String> {
        self.calls().iter().map(|c| c.argv.join(" ")).collect()
    }
}

impl Runner for RecordingRunner {
    fn execute(&self, _host: &Host, cmd: &Cmd) -> Result<CmdOutput, CmdError> {
        let prog = cmd.argv.first().cloned().ok_or(CmdError::Empty)?;
        if let Ok(mut c) = self.calls.lock() {
            c.push(cmd.clone());
        }
        let answers = self.answers.lock().map(|a| a.clone()).unwrap_or_default();
        let (status, stdout) = answers
            .into_iter()
            .find(|(p, _, _)| *p == prog)
            .map(|(_, s, o)| (s, o))
            .unwrap_or((0, Vec::new()));
        Ok(CmdOutput {
            status,
            stdout,
            stderr: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn real_runner_captures_and_fails() {
        let h = Host::new("/");
        let out = h
            .run(&Cmd::new(["sh", "-c", "cat; echo err >&2"]).stdin("hi"))
            .unwrap();
        assert_eq!(out.stdout_str(), "hi");
        let err = h.run(&Cmd::new(["sh", "-c", "exit 3"])).unwrap_err();
        assert!(matches!(err, CmdError::Failed { status: 3, .. }));
        let err = h.run(&Cmd::new(["/nonexistent/prog"])).unwrap_err();
        assert_eq!(err.reason(), "command-not-started");
    }

    #[test]
    fn machine_tools_do_not_run_under_a_root_unless_allowed() {
        let d = tempfile::tempdir().unwrap();
        let h = Host::new(d.path());
        for argv in [
            vec!["mount", "-a"],
            vec!["/sbin/swapon", "-a"],
            vec!["mkfs.ext4", "/dev/vdb1"],
            vec!["shutdown", "-r", "now"],
        ] {
            // Skipped: nothing in the empty root could have run.
            let out = h.run(&Cmd::new(argv.clone()).in_target()).unwrap();
            assert_eq!(out, CmdOutput::default(), "{argv:?}");
        }
        // Files-only tools still run (and fail here: the root is empty).
        assert!(h.run(&Cmd::new(["useradd", "bob"]).in_target()).is_err());
        // Allowed: the target's mount is looked for, and is not there.
        let h = h.allow_machine_commands(true);
        assert!(h.run(&Cmd::new(["mount", "-a"]).in_target()).is_err());
        assert!(Host::new("/").runs_machine_commands());
        assert!(!acts_on_machine(&["useradd".to_string()]));
        assert!(!acts_on_machine(&[]));
    }

    #[test]
    fn recording_runner_records() {
        let r = Arc::new(RecordingRunner::new());
        r.answer("false", 1, b"");
        let h = Host::with_runner("/tmp/x", r.clone());
        h.run(&Cmd::new(["useradd", "bob"])).unwrap();
        assert!(h.run(&Cmd::new(["false"])).is_err());
        assert_eq!(r.lines(), vec!["useradd bob", "false"]);
    }
}

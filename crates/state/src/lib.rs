//! The on-disk state shared between stages and boots: `/var/lib/cloud`,
//! `/run/cloud-init`, semaphores, status/result/instance-data JSON, logs.

mod b64;
pub mod clean;
pub mod cloud_id;
pub mod identity;
pub mod instance;
pub mod instance_data;
pub mod known_problems;
pub mod log;
/// Python-compatible JSON text; it lives in ci_pyval, beside `repr`.
pub use ci_pyval::pyjson;
pub mod query;
pub mod sem;
pub mod stage_lock;
pub mod status;
pub mod status_file;
pub mod timefmt;

mod paths;

pub use paths::Paths;

/// What a command produced: the text for stdout and stderr and the exit
/// code. `logged` lists messages already sent through the `log` crate
/// (upstream logs them; the CLI must not print them again).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CmdOutput {
    pub stdout: String,
    pub stderr: String,
    pub exit_code: i32,
    pub logged: Vec<String>,
}

impl CmdOutput {
    pub fn ok(stdout: &str) -> CmdOutput {
        CmdOutput {
            stdout: stdout.to_string(),
            ..CmdOutput::default()
        }
    }

    /// Exit 1 with `stderr` text.
    pub fn error(stderr: String) -> CmdOutput {
        CmdOutput {
            stderr,
            exit_code: 1,
            ..CmdOutput::default()
        }
    }

    pub fn with_code(mut self, code: i32) -> CmdOutput {
        self.exit_code = code;
        self
    }
}

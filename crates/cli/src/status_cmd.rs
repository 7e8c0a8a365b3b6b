//! `cloud-init status`: upstream's report and `--wait`.

use crate::cmds::status_env;
use ci_host::Host;
use ci_state::status::{self, StatusEnv};
use ci_state::Paths;
use clap::{Args, ValueEnum};
use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Tabular,
    Json,
    Yaml,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Specify output format for cloud-id (default: tabular).
    #[arg(long = "format", value_enum, default_value = "tabular")]
    pub format: Format,
    /// Report long format of statuses including run stage name and error messages.
    #[arg(short = 'l', long = "long")]
    pub long: bool,
    /// Block waiting on cloud-init to complete.
    #[arg(short = 'w', long = "wait")]
    pub wait: bool,
}

/// `cloud-init status [--format F] [--long] [--wait]`.
pub(crate) fn run(host: &Host, paths: &Paths, a: StatusArgs) -> i32 {
    let (uses_systemd, cmdline, env_k, sd) = status_env(host, a.wait);
    let env = StatusEnv {
        uses_systemd,
        cmdline,
        env_kernel_cmdline: env_k,
        systemd: &sd,
    };
    let format = match a.format {
        Format::Tabular => status::Format::Tabular,
        Format::Json => status::Format::Json,
        Format::Yaml => status::Format::Yaml,
    };
    let args = status::StatusArgs {
        format,
        long: a.long,
        wait: a.wait,
    };
    let mut streamed = false;
    let out = status::run_status(
        host,
        paths,
        &env,
        args,
        &mut || std::thread::sleep(std::time::Duration::from_millis(250)),
        &mut |dot| {
            streamed = true;
            print!("{dot}");
            let _ = std::io::stdout().flush();
        },
    );
    let stdout = if streamed {
        out.stdout.trim_start_matches('.').to_string()
    } else {
        out.stdout
    };
    print!("{stdout}");
    eprint!("{}", out.stderr);
    out.exit_code
}

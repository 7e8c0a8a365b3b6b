//! `cloud-init status`: upstream's report and `--wait`, which ours ends
//! on a boot that cannot finish and, with `--timeout SECONDS`, after that
//! long with exit code [`status::TIMEOUT_EXIT_CODE`] (see
//! `ci_state::status` for the exact rules).

use crate::cmds::status_env;
use ci_host::Host;
use ci_state::status::{self, StatusEnv, Systemctl};
use ci_state::Paths;
use clap::{Args, ValueEnum};
use std::io::Write;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Tabular,
    Json,
    Yaml,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Specify output format for cloud-id.
    #[arg(long = "format", value_enum, default_value = "tabular")]
    pub format: Format,
    /// Report long format of statuses including run stage name and error messages.
    #[arg(short = 'l', long = "long")]
    pub long: bool,
    /// Block waiting on cloud-init to complete.
    #[arg(short = 'w', long = "wait")]
    pub wait: bool,
    /// With --wait: give up after SECONDS (a decimal number), print the
    /// status as it is then and exit with code 124. Without it, --wait
    /// still ends when cloud-init is done, failed, is disabled or found no
    /// datasource.
    #[arg(long = "timeout", value_name = "SECONDS", requires = "wait", value_parser = parse_seconds)]
    pub timeout: Option<f64>,
}

/// A non-negative, finite number of seconds.
fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("{s:?} is not a number of seconds (e.g. 30 or 0.5)")),
    }
}

/// `cloud-init status [--format F] [--long] [--wait [--timeout S]]`, with
/// known problems read from `log_file` (the configured `def_log_file`, a
/// path in the root).
pub(crate) fn run_with_log(host: &Host, paths: &Paths, a: StatusArgs, log_file: &str) -> i32 {
    let start = Instant::now();
    let (uses_systemd, cmdline, env_k, _) = status_env(host, a.wait);
    let deadline = a
        .timeout
        .and_then(|t| start.checked_add(Duration::from_secs_f64(t.min(1e9))));
    let sd = Systemctl {
        host,
        wait: a.wait,
        deadline,
    };
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
    let opts = status::WaitOpts {
        timeout: a.timeout,
        log_file,
    };
    let out = status::run_status_with(
        host,
        paths,
        &env,
        args,
        opts,
        &mut || start.elapsed().as_secs_f64(),
        // Upstream's 0.25 s poll, cut short so a timeout is kept to the poll.
        &mut || {
            let poll = Duration::from_millis(250);
            let left = deadline.map_or(poll, |d| d.saturating_duration_since(Instant::now()));
            std::thread::sleep(poll.min(left));
        },
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

//! `cloud-init analyze {blame,show,dump,boot,plot}`: upstream 25.1.4's log
//! reports (options, messages and exit codes as upstream) plus our SVG plot.

use ci_analyze::boot::BootProbe;
use ci_analyze::{plot, records, Loaded};
use ci_host::{Cmd, Host};
use ci_state::Paths;
use clap::{Args, Subcommand};
use serde_json::Value;
use std::fs::File;
use std::io::{Read, Write};

/// The log every subcommand reads unless `-i` says otherwise (inside `--root`).
const DEFAULT_LOG: &str = "/var/log/cloud-init.log";
/// Input read at most by blame/show/dump/boot.
const MAX_INPUT: u64 = 256 << 20;
/// Input read at most by plot.
const MAX_PLOT_INPUT: u64 = 64 << 20;

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    #[command(subcommand)]
    pub command: AnalyzeCmd,
}

#[derive(Debug, Subcommand)]
pub enum AnalyzeCmd {
    /// Print list of executed stages ordered by time to init
    Blame(IoArgs),
    /// Print list of in-order events during execution
    Show(ShowArgs),
    /// Dump cloud-init events in JSON format
    Dump(IoArgs),
    /// Print list of boot times for kernel and cloud-init
    Boot(IoArgs),
    /// Write an SVG timeline of the most recent boot (cloud-init-rs)
    ///
    /// One SVG of the most recent boot in the log (from its last init-local
    /// start): the stages (init-local, init-network, modules-config,
    /// modules-final) as bars, every module and datasource step nested under
    /// its stage with name and duration, failed steps outlined in red, and
    /// every WARNING line marked at its time and listed below. Self-contained:
    /// no scripts, no external resources. Logs over 64 MiB are refused; at
    /// most 4000 steps and 200 warnings are drawn. Not in upstream.
    Plot(IoArgs),
}

#[derive(Debug, Args)]
pub struct IoArgs {
    /// specify where to read input. [default: /var/log/cloud-init.log, inside --root; - for stdin]
    #[arg(short = 'i', long = "infile", value_name = "INFILE")]
    pub infile: Option<String>,
    /// specify where to write output. (- for stdout)
    #[arg(
        short = 'o',
        long = "outfile",
        value_name = "OUTFILE",
        default_value = "-"
    )]
    pub outfile: String,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// specify formatting of output.
    #[arg(short = 'f', long = "format", value_name = "PRINT_FORMAT", default_value = records::SHOW_FORMAT)]
    pub print_format: String,
    #[command(flatten)]
    pub io: IoArgs,
}

pub(crate) fn run(host: &Host, _paths: &Paths, _cfg: &Value, a: AnalyzeArgs) -> i32 {
    match a.command {
        AnalyzeCmd::Blame(io) => text_report(host, &io, |l| records::blame(&l.events()?)),
        AnalyzeCmd::Show(s) => text_report(host, &s.io, |l| {
            records::show(&l.events()?, &s.print_format)
        }),
        AnalyzeCmd::Dump(io) => text_report(host, &io, |l| Ok(l.dump())),
        AnalyzeCmd::Boot(io) => boot(host, &io),
        AnalyzeCmd::Plot(io) => plot_cmd(host, &io),
    }
}

/// Opened input and output, as upstream's `configure_io`: the input is
/// opened first, then the output (created or truncated), then read.
struct Io {
    name: String,
    input: Box<dyn Read>,
    out: Option<File>,
}

fn open_io(host: &Host, io: &IoArgs) -> Result<Io, i32> {
    let cannot = |what: &str| {
        eprintln!("Cannot open file {what}");
        1
    };
    let (name, input): (String, Box<dyn Read>) = match io.infile.as_deref() {
        Some("-") => ("<stdin>".into(), Box::new(std::io::stdin())),
        given => {
            let path = match given {
                Some(p) => std::path::PathBuf::from(p),
                None => host.resolve(DEFAULT_LOG),
            };
            let shown = path.display().to_string();
            if path.is_dir() {
                return Err(cannot(&shown));
            }
            match File::open(&path) {
                Ok(f) => (shown, Box::new(f)),
                Err(_) => return Err(cannot(&shown)),
            }
        }
    };
    let out = if io.outfile == "-" {
        None
    } else {
        match File::create(&io.outfile) {
            Ok(f) => Some(f),
            Err(_) => return Err(cannot(&io.outfile)),
        }
    };
    Ok(Io { name, input, out })
}

/// The whole input as text (newlines translated as Python's text mode
/// does), or the exit code after upstream's message for an empty input.
fn read_text(io: &mut Io, limit: u64) -> Result<String, i32> {
    let mut buf = Vec::new();
    if let Err(e) = io.input.by_ref().take(limit + 1).read_to_end(&mut buf) {
        eprintln!("Cannot read file {}: {e}", io.name);
        return Err(1);
    }
    if buf.len() as u64 > limit {
        eprintln!(
            "Cannot analyze {}: larger than {} MiB",
            io.name,
            limit >> 20
        );
        return Err(1);
    }
    let text = match String::from_utf8(buf) {
        Ok(t) => t,
        Err(e) => {
            eprintln!(
                "WARNING: {} is not valid UTF-8; undecodable bytes are read as U+FFFD",
                io.name
            );
            String::from_utf8_lossy(e.as_bytes()).into_owned()
        }
    };
    if ci_analyze::py::strip(&text).is_empty() {
        eprintln!("Empty file {}", io.name);
        return Err(1);
    }
    Ok(ci_analyze::py::universal_newlines(&text))
}

fn write_out(io: &mut Io, text: &str) -> i32 {
    let res = match io.out.as_mut() {
        Some(f) => f.write_all(text.as_bytes()).and_then(|()| f.flush()),
        None => {
            let mut so = std::io::stdout().lock();
            so.write_all(text.as_bytes()).and_then(|()| so.flush())
        }
    };
    match res {
        Ok(()) => 0,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            eprintln!("Cannot write output: {e}");
            1
        }
    }
}

fn load(io: &mut Io, limit: u64) -> Result<Loaded, i32> {
    let text = read_text(io, limit)?;
    let loaded = ci_analyze::load(&text, ci_analyze::current_year());
    for _ in 0..loaded.skipped {
        eprintln!("Skipping invalid entry");
    }
    Ok(loaded)
}

fn text_report(
    host: &Host,
    args: &IoArgs,
    report: impl FnOnce(&Loaded) -> Result<String, ci_analyze::AnalyzeError>,
) -> i32 {
    let mut io = match open_io(host, args) {
        Ok(io) => io,
        Err(code) => return code,
    };
    let loaded = match load(&mut io, MAX_INPUT) {
        Ok(l) => l,
        Err(code) => return code,
    };
    match report(&loaded) {
        Ok(text) => write_out(&mut io, &text),
        Err(e) => {
            eprintln!("Error: cannot analyze {}: {e}", io.name);
            1
        }
    }
}

/// `analyze boot` on this machine. Under `--root` the target is not the
/// running system, so its kernel and systemd times are unknown and the
/// report is upstream's "not supported" one.
struct MachineProbe<'a> {
    host: &'a Host,
}

impl BootProbe for MachineProbe<'_> {
    fn uses_systemd(&self) -> bool {
        !self.host.is_sandbox() && ci_state::status::uses_systemd(self.host)
    }

    fn is_container(&self) -> bool {
        if let Ok(out) = self
            .host
            .run(&Cmd::new(["systemd-detect-virt", "--quiet", "--container"]))
        {
            return out.status == 0;
        }
        self.host.resolve("/run/systemd/container").exists()
            || std::fs::read("/proc/1/environ")
                .is_ok_and(|e| e.split(|b| *b == 0).any(|v| v.starts_with(b"container=")))
    }

    fn now(&self) -> f64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    }

    fn uptime(&self) -> f64 {
        self.host.uptime()
    }

    fn systemctl_show(&self, unit: Option<&str>, property: &str) -> Result<String, String> {
        let mut argv = vec!["systemctl".to_string(), "show".into()];
        argv.extend(unit.map(str::to_string));
        argv.extend(["-p".into(), property.to_string()]);
        match self.host.run(&Cmd::new(argv)) {
            Ok(out) if !out.stderr.is_empty() => Err(out.stderr_str()),
            Ok(out) => Ok(out.stdout_str()),
            Err(e) => Err(e.to_string()),
        }
    }
}

fn boot(host: &Host, args: &IoArgs) -> i32 {
    let mut io = match open_io(host, args) {
        Ok(io) => io,
        Err(code) => return code,
    };
    let probe = MachineProbe { host };
    // Upstream asks systemd before it reads the log.
    let timestamps = ci_analyze::boot::timestamps(&probe);
    let _ = std::io::stdout().write_all(timestamps.4.as_bytes());
    let loaded = match load(&mut io, MAX_INPUT) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let events = match loaded.events() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("Error: cannot analyze {}: {e}", io.name);
            return 1;
        }
    };
    let report = ci_analyze::boot::report(timestamps, &events);
    let code = write_out(&mut io, &report.text);
    if code != 0 {
        return code;
    }
    // Upstream's handler returns the status word, which sys.exit prints
    // to stderr with exit code 1 — on success too.
    eprintln!("{}", report.status.word());
    1
}

fn plot_cmd(host: &Host, args: &IoArgs) -> i32 {
    let mut io = match open_io(host, args) {
        Ok(io) => io,
        Err(code) => return code,
    };
    let text = match read_text(&mut io, MAX_PLOT_INPUT) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let tl = plot::timeline(&text, ci_analyze::current_year());
    if tl.spans.is_empty() {
        eprintln!(
            "WARNING: no cloud-init events in {}; the plot is empty",
            io.name
        );
    }
    let svg = plot::render(&tl, &io.name);
    write_out(&mut io, &svg)
}

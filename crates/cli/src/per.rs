//! `cloud-init-per {once,always,instance} NAME CMD...`: run CMD at most once
//! per frequency, remembered by a `bootper.<name>.<freq>` semaphore.

use ci_config::load::{load_config, LoadOptions};
use ci_host::{Cmd, Host, WriteOpts};
use ci_state::sem;
use std::path::PathBuf;

const USAGE: &str = "Usage: cloud-init-per [--root DIR] frequency name cmd [ arg1 [ arg2 [ ... ] ]\n   run cmd with arguments provided.\n\n   This utility can make it easier to use boothooks or bootcmd\n   on a per \"once\" or \"always\" basis.\n\n   If frequency is:\n      * once: run only once (do not re-run for new instance-id)\n      * instance: run only the first boot for a given instance-id\n      * always: run every boot\n";

/// The command line as a clap definition, for the man page, the shell
/// completions and the `--help` tests. Parsing stays by hand (see
/// [`parse`]): upstream's shell script takes `--root` only first and hands
/// everything after NAME to CMD untouched, `-h` included, which clap's
/// parser would not do byte for byte.
pub fn command() -> clap::Command {
    use clap::builder::PossibleValue;
    use clap::{Arg, ArgAction, Command};
    Command::new("cloud-init-per")
        .about("Run a command at most once per boot, per instance or ever")
        .long_about(
            "Run CMD with its arguments unless it already ran for FREQUENCY under NAME, \
             remembered by a semaphore file (/var/lib/cloud/sem/bootper.NAME.FREQUENCY, or \
             the instance's sem directory for 'instance'). Handy in bootcmd and boothooks, \
             which run on every boot. The exit code is CMD's.",
        )
        .override_usage("cloud-init-per [--root DIR] FREQUENCY NAME CMD [ARG]...")
        .disable_version_flag(true)
        .arg(
            Arg::new("root")
                .long("root")
                .value_name("DIR")
                .default_value("/")
                .help("Work on the system rooted at DIR instead of / (cloud-init-rs; only as the first argument)"),
        )
        .arg(
            Arg::new("frequency")
                .value_name("FREQUENCY")
                .required(true)
                .value_parser([
                    PossibleValue::new("once")
                        .help("Run only once, not again for a new instance-id"),
                    PossibleValue::new("instance")
                        .help("Run on the first boot of each instance-id"),
                    PossibleValue::new("always").help("Run on every boot"),
                ])
                .help("How often CMD may run"),
        )
        .arg(
            Arg::new("name")
                .value_name("NAME")
                .required(true)
                .help("Name of the semaphore; '-' is stored as '_' and '/' is refused"),
        )
        .arg(
            Arg::new("cmd")
                .value_name("CMD")
                .required(true)
                .num_args(1..)
                .trailing_var_arg(true)
                .allow_hyphen_values(true)
                .action(ArgAction::Append)
                .help("The command and its arguments, run in the target (chroot DIR under --root)"),
        )
}

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Parsed {
    Help,
    Usage,
    Run {
        root: PathBuf,
        freq: String,
        name: String,
        cmd: Vec<String>,
    },
}

/// Upstream's own order: `-h`/`--help` first, fewer than three operands is
/// a usage error; `--root DIR` (ours) may only come before them.
fn parse(mut args: Vec<String>) -> Parsed {
    let mut root = PathBuf::from("/");
    if args.first().map(String::as_str) == Some("--root") && args.len() > 1 {
        root = PathBuf::from(args.remove(1));
        args.remove(0);
    }
    if matches!(args.first().map(String::as_str), Some("-h" | "--help")) {
        return Parsed::Help;
    }
    if args.len() < 3 {
        return Parsed::Usage;
    }
    let cmd = args.split_off(2);
    let name = args.pop().unwrap_or_default();
    let freq = args.pop().unwrap_or_default();
    Parsed::Run {
        root,
        freq,
        name,
        cmd,
    }
}

pub fn main_cloud_init_per() -> i32 {
    let (root, freq, name, cmd) = match parse(std::env::args().skip(1).collect()) {
        Parsed::Help => {
            print!("{USAGE}");
            return 0;
        }
        Parsed::Usage => {
            eprint!("{USAGE}");
            return 1;
        }
        Parsed::Run {
            root,
            freq,
            name,
            cmd,
        } => (root, freq, name, cmd),
    };
    if sem::bootper_freq(&freq).is_none() {
        eprintln!("invalid frequency: {freq}");
        return 1;
    }
    let host = Host::new(&root);
    let cfg = load_config(&host, &LoadOptions::default()).0;
    let paths = crate::paths_of(&cfg);
    let semf = match sem::bootper_path(&paths, &freq, &name) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let legacy = sem::bootper_legacy_path(&semf);
    if legacy != semf && host.exists(&legacy) && !host.exists(&semf) {
        let _ = host.rename(&legacy, &semf);
    }
    if freq != "always" && host.exists(&semf) {
        return 0;
    }
    let c = Cmd::new(cmd).in_target();
    let code = match host.runner().execute(&host, &c) {
        Ok(out) => {
            print!("{}", out.stdout_str());
            eprint!("{}", out.stderr_str());
            out.status
        }
        Err(e) => {
            eprintln!("{e}");
            127
        }
    };
    let epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    if let Err(e) = host.write_atomic(
        &semf,
        sem::bootper_record(code, epoch).as_bytes(),
        &WriteOpts::mode(0o644),
    ) {
        eprintln!("failed to write semaphore {}: {e}", semf.display());
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    /// The hand parser and the documented clap definition agree on every
    /// well-formed command line.
    #[test]
    fn clap_definition_matches_the_parser() {
        command().debug_assert();
        for line in [
            "once foo ls",
            "always my-name echo -n hi --help",
            "--root /tmp/r instance n cmd -x",
            "once n cmd a b c",
        ] {
            let Parsed::Run {
                root,
                freq,
                name,
                cmd,
            } = parse(argv(line))
            else {
                panic!("{line}: not a run");
            };
            let m = command()
                .try_get_matches_from(
                    std::iter::once("cloud-init-per".to_string()).chain(argv(line)),
                )
                .unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(
                m.get_one::<String>("root").map(PathBuf::from),
                Some(root),
                "{line}"
            );
            assert_eq!(m.get_one::<String>("frequency"), Some(&freq), "{line}");
            assert_eq!(m.get_one::<String>("name"), Some(&name), "{line}");
            let c: Vec<String> = m
                .get_many::<String>("cmd")
                .into_iter()
                .flatten()
                .cloned()
                .collect();
            assert_eq!(c, cmd, "{line}");
        }
    }

    #[test]
    fn help_and_usage_errors() {
        assert_eq!(parse(argv("-h")), Parsed::Help);
        assert_eq!(parse(argv("--root /r --help")), Parsed::Help);
        assert_eq!(parse(argv("once name")), Parsed::Usage);
        assert_eq!(parse(vec![]), Parsed::Usage);
        // `--root` later on is an operand, as in upstream's script.
        assert!(matches!(
            parse(argv("once --root /r x")),
            Parsed::Run { ref name, .. } if name == "--root"
        ));
    }
}

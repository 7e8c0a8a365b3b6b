//! Boot-time datasource detection: the ds-identify replacement and the
//! systemd generator that enables `cloud-init.target` only when a
//! datasource is there.
//!
//! Everything goes through a [`ci_host::Host`], so a test (or an image
//! build) can point it at a directory with fake `sys/class/dmi/id`,
//! `proc/cmdline`, `etc/cloud` and `dev/disk/by-label` entries. Decisions,
//! file formats and exit codes follow upstream's `ds-identify` (POSIX sh)
//! and `cloud-init-generator`:
//!
//! - exit 0: enable (`/run/cloud-init/cloud.cfg` holds
//!   `datasource_list: [ X, None ]`), 1: no datasource, 2: disabled by the
//!   user, 3: unexpected;
//! - the generator links `<early>/multi-user.target.wants/cloud-init.target`
//!   and writes `/run/cloud-init/enabled`, or removes the link and writes
//!   `/run/cloud-init/disabled`.
//!
//! New clouds are a check function and a row in `checks::CHECKS`.

mod blkid;
mod cfg;
pub mod checks;
mod env;
mod facts;
mod generator;
mod identify;
mod log;
mod policy;
mod shellish;

pub use blkid::{parse_export, FsInfo};
pub use cfg::{Settings, DEFAULT_DSLIST};
pub use env::Env;
pub use facts::Facts;
pub use generator::{
    run_generator, Generated, GeneratorDirs, CLOUD_SYSTEM_TARGET, DISABLED_MARKER, ENABLED_MARKER,
    GENERATOR_LOG,
};
pub use identify::{
    ds_identify, Identified, Verdict, DI_LOG_FILE, MANUAL_CLEAN, RESULT_FILE, RUN_CFG,
};
pub use policy::{Mode, OnFound, OnMaybe, OnNotFound, Policy, DEFAULT_POLICY};

use ci_host::Host;
use std::path::PathBuf;

/// Where the generator is installed; its log lines name it.
pub const GENERATOR_PATH: &str = "/usr/lib/systemd/system-generators/cloud-init-generator";

/// The entry point of the `cloud-init-generator` binary.
///
/// - Called as `ds-identify` (a link at `/usr/lib/cloud-init/ds-identify`):
///   behave as upstream's ds-identify; `--force` ignores a cached result.
/// - Otherwise: a systemd generator taking `normal-dir early-dir late-dir`.
///
/// `PATH_ROOT` (as upstream's ds-identify honours it) points everything at
/// another root. Returns the process exit status; `stderr` receives
/// warnings.
pub fn main_with(args: &[String], env_root: Option<String>, stderr: &mut dyn std::io::Write) -> u8 {
    let root = env_root
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "/".into());
    let host = Host::new(PathBuf::from(root));
    let env = Env::from_process();
    let program = args.first().map(String::as_str).unwrap_or(GENERATOR_PATH);
    let rest = args.get(1..).unwrap_or(&[]);
    let as_ds_identify = std::path::Path::new(program)
        .file_name()
        .is_some_and(|n| n == "ds-identify");

    if as_ds_identify {
        // Upstream's script runs the detection whatever its arguments; a
        // request for help must not write /run/cloud-init of this machine.
        if rest.first().is_some_and(|a| a == "--help" || a == "-h") {
            let _ = writeln!(
                stderr,
                "usage: ds-identify [--force]\n\nDecide which datasources cloud-init may use \
                 (writes /run/cloud-init/cloud.cfg and ds-identify.log); --force ignores a \
                 cached result."
            );
            return 0;
        }
        let force = rest.first().is_some_and(|a| a == "--force");
        let res = ds_identify(&host, &env, force, rest);
        print_lines(stderr, &res.stderr);
        return res.verdict.code();
    }
    let [normal, early, late] = rest else {
        let _ = writeln!(
            stderr,
            "usage: {program} NORMAL_DIR EARLY_DIR LATE_DIR (as run by systemd)"
        );
        return 1;
    };
    let dirs = GeneratorDirs {
        normal: normal.into(),
        early: early.into(),
        late: late.into(),
    };
    let res = run_generator(&host, &env, program, &dirs);
    print_lines(stderr, &res.identified.stderr);
    res.status
}

fn print_lines(out: &mut dyn std::io::Write, lines: &[String]) {
    for l in lines {
        let _ = writeln!(out, "{l}");
    }
}

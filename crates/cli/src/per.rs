//! `cloud-init-per {once,always,instance} NAME CMD...`: run CMD at most once
//! per frequency, remembered by a `bootper.<name>.<freq>` semaphore.

use ci_config::load::{load_config, LoadOptions};
use ci_host::{Cmd, Host, WriteOpts};
use ci_state::sem;
use std::path::PathBuf;

const USAGE: &str = "Usage: cloud-init-per [--root DIR] frequency name cmd [ arg1 [ arg2 [ ... ] ]\n   run cmd with arguments provided.\n\n   This utility can make it easier to use boothooks or bootcmd\n   on a per \"once\" or \"always\" basis.\n\n   If frequency is:\n      * once: run only once (do not re-run for new instance-id)\n      * instance: run only the first boot for a given instance-id\n      * always: run every boot\n";

pub fn main_cloud_init_per() -> i32 {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut root = PathBuf::from("/");
    if args.first().map(String::as_str) == Some("--root") && args.len() > 1 {
        root = PathBuf::from(args.remove(1));
        args.remove(0);
    }
    if matches!(args.first().map(String::as_str), Some("-h" | "--help")) {
        print!("{USAGE}");
        return 0;
    }
    if args.len() < 3 {
        eprint!("{USAGE}");
        return 1;
    }
    let (freq, name, cmd) = (args[0].clone(), args[1].clone(), args[2..].to_vec());
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

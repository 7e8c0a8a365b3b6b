//! The `output:` setting (`| tee -a /var/log/cloud-init-output.log` in the
//! Debian config): everything a stage and the commands it runs print goes
//! both to the stage's own stdout and to the log inside the root; the log
//! is complete when the stage returns.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use std::process::{Command, Stdio};

const USER_DATA: &str = "#cloud-config
bootcmd:
  - echo tee-marker-bootcmd-out
  - echo tee-marker-bootcmd-err >&2
runcmd:
  - echo tee-marker-runcmd
";

/// Run one stage with its stdout and stderr in one file, as a console.
fn stage(sb: &Sandbox, args: &[&str], name: &str) -> (i32, String) {
    let out_path = sb.dir.path().join(format!("{name}.out"));
    let out = std::fs::File::create(&out_path).unwrap();
    let err = out.try_clone().unwrap();
    let st = Command::new(BIN)
        .arg("--root")
        .arg(sb.root())
        .args(args)
        .env_remove("CLOUD_CFG")
        .env_remove("DEBUG_PROC_CMDLINE")
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .status()
        .unwrap();
    let text = std::fs::read_to_string(&out_path).unwrap();
    (st.code().unwrap_or(-1), text)
}

#[test]
fn stage_output_reaches_console_and_log_and_the_log_is_complete_on_return() {
    let Some(base) = debian_root() else { return };
    let sb = Sandbox::new(
        &base,
        &[
            ("meta-data", b"instance-id: iid-tee\n".as_slice()),
            ("user-data", USER_DATA.as_bytes()),
        ],
    );
    let (code, console) = stage(&sb, &["init", "--local"], "local");
    assert_eq!(code, 0, "{console}\n{}", sb.log());
    let banner = "running 'init-local' at";
    assert!(console.contains(banner), "console: {console}");
    let log = sb.read("/var/log/cloud-init-output.log");
    assert!(log.contains(banner), "output log: {log}");

    let (code, console) = stage(&sb, &["init"], "init");
    assert_eq!(code, 0, "{console}\n{}", sb.log());
    let log = sb.read("/var/log/cloud-init-output.log");
    for marker in ["tee-marker-bootcmd-out", "tee-marker-bootcmd-err"] {
        assert!(
            console.contains(marker),
            "{marker} on the console: {console}"
        );
        assert!(log.contains(marker), "{marker} in the output log: {log}");
    }
    // The stage's own lines come before the banner of the next stage.
    assert!(
        log.find(banner) < log.find("tee-marker-bootcmd-out"),
        "{log}"
    );

    let (code, console) = stage(&sb, &["modules", "--mode", "config"], "config");
    assert_eq!(code, 0, "{console}");
    let (code, console) = stage(&sb, &["modules", "--mode", "final"], "final");
    assert_eq!(code, 0, "{console}\n{}", sb.log());
    let log = sb.read("/var/log/cloud-init-output.log");
    assert!(log.contains("tee-marker-runcmd"), "{log}");
    assert!(console.contains("tee-marker-runcmd"), "{console}");
}

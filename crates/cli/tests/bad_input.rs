//! Bad input ends in a clear logged error and the right status, never a
//! panic, and the other modules still run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;

const META: &[u8] = b"instance-id: iid-bad-1\nlocal-hostname: badhost\n";

fn run(user_data: &[u8], extra_cfg: Option<&str>) -> Option<(Sandbox, Vec<i32>)> {
    let base = debian_root()?;
    let sb = Sandbox::new(&base, &[("meta-data", META), ("user-data", user_data)]);
    if let Some(c) = extra_cfg {
        sb.write("/etc/cloud/cloud.cfg.d/95-extra.cfg", c.as_bytes());
    }
    let codes = sb.boot();
    Some((sb, codes))
}

/// Modules of every stage still ran: hostname (init), the default user (init),
/// boot-finished (final).
fn assert_rest_ran(sb: &Sandbox) {
    assert_eq!(
        sb.read("/etc/hostname"),
        "badhost\n",
        "set_hostname did not run:\n{}",
        sb.log()
    );
    assert!(
        sb.read("/etc/passwd").contains("\ndebian:"),
        "users_groups did not run"
    );
    assert!(
        sb.path("/var/lib/cloud/instances/iid-bad-1/boot-finished")
            .exists(),
        "final stage did not finish"
    );
}

#[test]
fn broken_yaml_is_degraded_and_everything_else_runs() {
    let Some((sb, codes)) = run(
        b"#cloud-config\nruncmd:\n  - echo hi\n   bad: [indent\n",
        None,
    ) else {
        return;
    };
    assert_eq!(codes, vec![0, 0, 0, 0]);
    let (st, code) = sb.status_json();
    assert_eq!(code, 2, "{st}");
    assert_eq!(st["extended_status"], "degraded done");
    let warnings = st["recoverable_errors"]["WARNING"].to_string();
    assert!(
        warnings.contains("Failed at merging in cloud config part from part-001"),
        "{warnings}"
    );
    assert!(sb
        .log()
        .contains("[WARNING]: Failed at merging in cloud config part"));
    assert_rest_ran(&sb);
}

#[test]
fn unknown_user_data_type_is_degraded() {
    let Some((sb, _)) = run(b"just some words, not a format\n", None) else {
        return;
    };
    let (st, code) = sb.status_json();
    assert_eq!(code, 2, "{st}");
    assert!(st["recoverable_errors"]["WARNING"]
        .to_string()
        .contains("Unhandled non-multipart (text/x-not-multipart) userdata: 'b'just some words"));
    assert_rest_ran(&sb);
}

#[test]
fn bad_gzip_is_an_error_and_later_stages_still_run() {
    // A gzip MIME part that is not gzip: upstream raises (a whole blob that
    // fails to decompress is quietly taken as text instead).
    let blob = b"Content-Type: multipart/mixed; boundary=\"XX\"\nMIME-Version: 1.0\n\n--XX\nContent-Type: application/x-gzip\nMIME-Version: 1.0\n\nnot gzip data\n--XX--\n";
    let Some((sb, codes)) = run(blob, None) else {
        return;
    };
    assert_eq!(codes[1], 1, "init must report the consume failure");
    let (st, code) = sb.status_json();
    assert_eq!(code, 1, "{st}");
    assert_eq!(st["extended_status"], "error - done");
    assert!(
        st["errors"]
            .to_string()
            .contains("Consuming user data failed!"),
        "{st}"
    );
    assert!(sb
        .path("/var/lib/cloud/instances/iid-bad-1/boot-finished")
        .exists());
}

#[test]
fn unreachable_include_is_an_error() {
    // Port 9 on loopback: nothing listens; refused at once.
    let Some((sb, codes)) = run(b"#include\nhttp://127.0.0.1:9/nothing-here\n", None) else {
        return;
    };
    assert_eq!(codes[1], 1);
    let (st, code) = sb.status_json();
    assert_eq!(code, 1, "{st}");
    assert!(
        sb.log().contains("127.0.0.1:9/nothing-here"),
        "the log names the URL"
    );
    assert!(sb
        .path("/var/lib/cloud/instances/iid-bad-1/boot-finished")
        .exists());
}

#[test]
fn unknown_module_is_degraded_and_named() {
    let cfg = "cloud_final_modules:\n - no_such_module\n - final_message\n";
    let Some((sb, codes)) = run(b"#cloud-config\n{}\n", Some(cfg)) else {
        return;
    };
    // Upstream drops an unknown module from the list with a warning.
    assert_eq!(codes[3], 0);
    let (st, code) = sb.status_json();
    assert_eq!(code, 2, "{st}");
    assert!(sb
        .log()
        .contains("Could not find module named cc_no_such_module"));
    assert!(
        sb.path("/var/lib/cloud/instances/iid-bad-1/boot-finished")
            .exists(),
        "final_message still ran"
    );
}

#[test]
fn failing_runcmd_is_an_error_and_the_rest_runs() {
    let ud = b"#cloud-config\nruncmd:\n  - echo before > /var/tmp/rc-before\n  - exit 3\nwrite_files:\n  - path: /etc/after-marker\n    content: ok\n    defer: true\n";
    let Some((sb, codes)) = run(ud, None) else {
        return;
    };
    assert_eq!(codes[3], 1, "final stage reports scripts_user failure");
    let (st, code) = sb.status_json();
    assert_eq!(code, 1, "{st}");
    // Named as the Debian cloud.cfg spells it, as upstream does.
    assert!(
        st["errors"].to_string().contains("('scripts-user', "),
        "{st}"
    );
    assert_eq!(sb.read("/var/tmp/rc-before"), "before\n");
    assert_eq!(sb.read("/etc/after-marker"), "ok");
    assert_rest_ran(&sb);
}

//! Inflating user-data (issue 11): a gzip bomb, JSON-patch `copy`
//! doubling, a jinja join of large strings and nested jinja loops. Every
//! stage ends within a time bound under a memory cap, status is not left
//! "running", the bound is named, and the default user still gets the
//! meta-data key.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use std::process::Command;
use std::time::{Duration, Instant};

const META: &[u8] = b"instance-id: iid-bomb\nlocal-hostname: bomb\npublic-keys:\n  - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHt4Y0d1bW1ZUHVibGljS2V5RnJvbU1ldGFkYXRh metadata-key\n";

/// Address-space cap for one stage (KiB): a small VM's worth. Without the
/// bounds each bomb here needs gigabytes.
const MEMORY_CAP_KIB: u64 = 1_500_000;
/// Wall-clock cap for one stage; the debug binary on a busy 2-core box.
const STAGE_TIME: Duration = Duration::from_secs(60);

/// Boots `user_data`; every stage is checked for time and a clean exit
/// under the memory cap.
fn boot(user_data: &[u8]) -> Option<Sandbox> {
    let base = debian_root()?;
    let sb = Sandbox::new(&base, &[("meta-data", META), ("user-data", user_data)]);
    for args in [
        &["init", "--local"][..],
        &["init"],
        &["modules", "--mode", "config"],
        &["modules", "--mode", "final"],
    ] {
        let started = Instant::now();
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!("ulimit -v {MEMORY_CAP_KIB}; exec \"$0\" \"$@\""))
            .arg(BIN)
            .arg("--root")
            .arg(sb.root())
            .args(args)
            .env_remove("CLOUD_CFG")
            .env_remove("DEBUG_PROC_CMDLINE")
            .output()
            .unwrap();
        let took = started.elapsed();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(took < STAGE_TIME, "stage {args:?} took {took:?}");
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "stage {args:?} died ({:?}): {err}",
            out.status
        );
        assert!(!err.contains("memory allocation"), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    Some(sb)
}

/// Status is finished, records a problem naming `bound`, and the default
/// user has the meta-data key.
fn assert_bounded(sb: &Sandbox, bound: &str) {
    let (st, code) = sb.status_json();
    assert_ne!(st["status"], "running", "{st}");
    let ext = st["extended_status"].as_str().unwrap_or_default();
    assert!(ext.ends_with("done"), "{st}");
    assert!(
        code == 1 || code == 2,
        "degraded or error expected: {code} {st}"
    );
    assert!(
        st.to_string().contains(bound),
        "status does not name {bound}: {st}"
    );
    assert!(
        sb.log().contains(bound),
        "cloud-init.log does not name {bound}"
    );
    let keys = sb.read("/home/debian/.ssh/authorized_keys");
    assert!(
        keys.contains("metadata-key"),
        "key missing: {keys:?}\n{}",
        sb.log()
    );
    assert!(sb
        .path("/var/lib/cloud/instances/iid-bomb/boot-finished")
        .exists());
}

fn gzip_of_zeros(bytes: u64) -> Vec<u8> {
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("head -c {bytes} /dev/zero | gzip -9"))
        .output()
        .unwrap();
    assert!(out.status.success());
    out.stdout
}

#[test]
fn gzip_bomb_is_refused_and_the_key_installed() {
    // 1 GiB of zeros, about 1 MB compressed: the reproducer's shape.
    let Some(sb) = boot(&gzip_of_zeros(1 << 30)) else {
        return;
    };
    assert_bounded(&sb, "MAX_EXPANDED_BYTES");
}

/// JSON patch copies, a jinja join and nested jinja loops in one blob,
/// with a plain part that must still be consumed.
#[test]
fn jsonp_and_jinja_bombs_are_refused_and_the_key_installed() {
    let mut ops = vec![format!(
        "{{\"op\": \"add\", \"path\": \"/blob\", \"value\": \"{}\"}}",
        "x".repeat(2000)
    )];
    for i in 0..40 {
        ops.push(format!(
            "{{\"op\": \"copy\", \"from\": \"\", \"path\": \"/c{i}\"}}"
        ));
    }
    let jsonp = format!("#cloud-config-jsonp\n[{}]\n", ops.join(", "));
    let join = "## template: jinja\n#cloud-config\n{% set a = 'x' * 100000 %}{% set b = a ~ a ~ a ~ a ~ a ~ a ~ a ~ a ~ a ~ a %}{% set c = [b]*1000 %}runcmd: [echo {{ c|join('') }}]\n";
    let loops = "## template: jinja\n#cloud-config\n{% set ns = namespace(a=1) %}{% for i in range(100) %}{% for j in range(100) %}{% for k in range(100) %}{% for l in range(100) %}{% for m in range(100) %}{% set ns.a = ns.a + 1 %}{% endfor %}{% endfor %}{% endfor %}{% endfor %}{% endfor %}\nruncmd: [echo {{ ns.a }}]\n";
    let plain = "#cloud-config\nwrite_files:\n  - path: /etc/still-consumed\n    content: hello\n";
    let mut ud =
        String::from("Content-Type: multipart/mixed; boundary=\"XX\"\nMIME-Version: 1.0\n\n");
    for (ctype, body) in [
        ("text/cloud-config-jsonp", jsonp.as_str()),
        ("text/jinja2", join),
        ("text/jinja2", loops),
        ("text/cloud-config", plain),
    ] {
        ud.push_str(&format!(
            "--XX\nContent-Type: {ctype}\nMIME-Version: 1.0\n\n{body}\n"
        ));
    }
    ud.push_str("--XX--\n");
    let Some(sb) = boot(ud.as_bytes()) else {
        return;
    };
    for bound in [
        "JSONP_MAX_COPIED_BYTES",
        "JINJA_MAX_OUTPUT_BYTES",
        "JINJA_FUEL",
    ] {
        assert_bounded(&sb, bound);
    }
    assert_eq!(sb.read("/etc/still-consumed"), "hello", "{}", sb.log());
}

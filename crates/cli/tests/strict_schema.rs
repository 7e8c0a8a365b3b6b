//! Schema checks of user-data at boot on a real Debian root: upstream's
//! warning and our findings in `status --format json` (`schema_errors`);
//! with `cloud_init_rs.strict_schema`, the user-data is rejected, the
//! network stage ends in error, and the default user still gets the
//! metadata's SSH key.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;

const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMetadataKeyForStrictTest meta@test";

fn meta() -> Vec<u8> {
    format!("instance-id: iid-strict-1\nlocal-hostname: stricthost\npublic-keys:\n  - {KEY}\n")
        .into_bytes()
}

/// An unknown key (line 2), a wrongly typed one (line 3), a deprecated one,
/// and a runcmd that leaves a trace.
const USER_DATA: &[u8] = b"#cloud-config\nbogus_key: 1\nssh_pwauth: [1]\nusers:\n  - default\n  - name: alice\n    lock-passwd: true\nruncmd:\n  - touch /root/runcmd-ran\n";

fn run(strict: bool) -> Option<(Sandbox, Vec<i32>)> {
    let base = debian_root()?;
    let meta = meta();
    let sb = Sandbox::new(&base, &[("meta-data", &meta), ("user-data", USER_DATA)]);
    if strict {
        sb.write(
            "/etc/cloud/cloud.cfg.d/91-strict.cfg",
            b"cloud_init_rs:\n  strict_schema: true\n",
        );
    }
    let codes = sb.boot();
    Some((sb, codes))
}

fn findings(st: &serde_json::Value) -> Vec<(String, String, u64)> {
    st["schema_errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no schema_errors in {st}"))
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_string(),
                f["path"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn invalid_user_data_is_applied_degraded_and_reported() {
    let Some((sb, codes)) = run(false) else {
        return;
    };
    assert_eq!(codes, vec![0, 0, 0, 0], "{}", sb.log());
    let (st, code) = sb.status_json();
    assert_eq!(code, 2, "{st}");
    assert_eq!(st["extended_status"], "degraded done");
    assert!(st["recoverable_errors"]["WARNING"].to_string().contains(
        "cloud-config failed schema validation! You may run 'sudo cloud-init schema --system' to check the details."
    ), "{st}");
    assert!(
        st["recoverable_errors"]["DEPRECATED"]
            .to_string()
            .contains("Deprecated cloud-config provided: users.1.lock-passwd:"),
        "{st}"
    );
    let f = findings(&st);
    assert!(
        f.contains(&("error".into(), "bogus_key".into(), 2)),
        "{f:?}"
    );
    assert!(
        f.contains(&("error".into(), "ssh_pwauth".into(), 3)),
        "{f:?}"
    );
    assert!(
        f.iter()
            .any(|(k, p, _)| k == "deprecation" && p == "users.1.lock-passwd"),
        "{f:?}"
    );
    // Still applied, as upstream.
    assert!(sb.path("/root/runcmd-ran").exists(), "runcmd did not run");
    assert!(sb.read("/etc/passwd").contains("\nalice:"));
}

#[test]
fn strict_mode_rejects_the_user_data_and_keeps_the_machine_reachable() {
    let Some((sb, codes)) = run(true) else {
        return;
    };
    assert_eq!(codes[1], 1, "network stage fails: {}", sb.log());
    let (st, code) = sb.status_json();
    assert_eq!(code, 1, "{st}");
    assert_eq!(st["status"], "error", "{st}");
    assert!(
        st["errors"]
            .to_string()
            .contains("User-data rejected by strict schema validation"),
        "{st}"
    );
    let f = findings(&st);
    assert!(
        f.contains(&("error".into(), "bogus_key".into(), 2)),
        "{f:?}"
    );
    // Nothing from the user-data ran or was created.
    assert!(!sb.path("/root/runcmd-ran").exists(), "runcmd ran");
    assert!(
        !sb.read("/etc/passwd").contains("\nalice:"),
        "alice was created"
    );
    assert_eq!(
        sb.read("/var/lib/cloud/instances/iid-strict-1/cloud-config.txt"),
        ""
    );
    // The system config still ran: hostname, default user with the metadata key.
    assert_eq!(sb.read("/etc/hostname"), "stricthost\n");
    assert!(
        sb.read("/home/debian/.ssh/authorized_keys").contains(KEY),
        "metadata key not installed:\n{}",
        sb.log()
    );
    assert!(sb
        .path("/var/lib/cloud/instances/iid-strict-1/boot-finished")
        .exists());
    assert!(sb
        .log()
        .contains("User-data rejected by strict schema validation"));
}

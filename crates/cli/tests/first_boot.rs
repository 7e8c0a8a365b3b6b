//! The acceptance run of the core issue: four stages on a minimal Debian root
//! from examples/nocloud, then a second boot. What the first boot does to the
//! machine is compared with upstream by the differential harness (cases
//! `core-nocloud-example` and `core-mime` of tests/diff, run by
//! differential.rs); this test checks what tools read and what a second boot
//! must leave alone.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use serde_json::json;
use std::process::Command;

fn seed_files(dir: &str) -> Vec<(&'static str, Vec<u8>)> {
    ["meta-data", "user-data", "vendor-data"]
        .iter()
        .filter_map(|n| {
            std::fs::read(repo().join(dir).join(n))
                .ok()
                .map(|d| (*n, d))
        })
        .collect()
}

/// The per-instance semaphores of `iid`, sorted.
fn semaphores(sb: &Sandbox, iid: &str) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(sb.path(&format!("/var/lib/cloud/instances/{iid}/sem")))
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
    names.sort();
    names
}

/// Boot a fresh copy of the Debian root from `seed_dir`; every stage must succeed.
fn boot(base: &std::path::Path, seed_dir: &str) -> Sandbox {
    let seed = seed_files(seed_dir);
    let seed_refs: Vec<(&str, &[u8])> = seed.iter().map(|(n, d)| (*n, d.as_slice())).collect();
    let sb = Sandbox::new(base, &seed_refs);
    let codes = sb.boot();
    assert_eq!(
        codes,
        vec![0, 0, 0, 0],
        "stage exit codes; log:\n{}",
        sb.log()
    );
    sb
}

#[test]
fn first_boot_reports_done_and_second_boot_reruns_nothing() {
    let Some(base) = debian_root() else { return };
    let sb = boot(&base, "examples/nocloud");

    // Status and cloud-id as tools read them.
    let (status, code) = sb.status_json();
    assert_eq!(code, 0, "{status}");
    assert_eq!(status["status"], "done");
    assert_eq!(status["extended_status"], "done");
    assert_eq!(status["datasource"], "nocloud");
    assert_eq!(status["errors"], json!([]));
    let long = sb.ci(&["status", "--long"]);
    let long = String::from_utf8_lossy(&long.stdout).to_string();
    assert!(
        long.starts_with(
            "status: done\nextended_status: done\nboot_status_code: enabled-by-sysvinit\n"
        ),
        "{long}"
    );
    assert!(
        long.contains("detail: DataSourceNoCloud [seed=/var/lib/cloud/seed/nocloud]"),
        "{long}"
    );
    let id = Command::new(CLOUD_ID)
        .arg("--root")
        .arg(sb.root())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&id.stdout), "nocloud\n");
    assert_eq!(id.status.code(), Some(0));
    let q = sb.ci(&["query", "v1.local_hostname"]);
    assert_eq!(String::from_utf8_lossy(&q.stdout), "demo-host\n");

    // Files upstream tools read.
    assert!(sb
        .path("/var/lib/cloud/instances/iid-example-0001/boot-finished")
        .exists());
    assert_eq!(
        std::fs::read_link(sb.path("/run/cloud-init/status.json")).unwrap(),
        std::path::PathBuf::from("../../var/lib/cloud/data/status.json")
    );
    let log = sb.log();
    for stage in ["init-local", "init", "modules:config", "modules:final"] {
        assert!(
            log.contains(&format!("running '{stage}' at")),
            "banner for {stage}"
        );
    }
    assert!(log.contains("finish: modules-final: SUCCESS: running modules for final"));
    // The user-data steps upstream reports (and `analyze` shows), in order.
    let steps: Vec<usize> = [
        "start: init-network/consume-user-data: reading and applying user-data",
        "finish: init-network/consume-user-data: SUCCESS: reading and applying user-data",
        "start: init-network/consume-vendor-data: reading and applying vendor-data",
        "finish: init-network/consume-vendor-data: SUCCESS: reading and applying vendor-data",
        "start: init-network/consume-vendor-data2: reading and applying vendor-data2",
        "finish: init-network/consume-vendor-data2: SUCCESS: reading and applying vendor-data2",
    ]
    .iter()
    .map(|l| log.find(l).unwrap_or_else(|| panic!("{l} not in the log")))
    .collect();
    assert!(steps.windows(2).all(|w| w[0] < w[1]), "{steps:?}");
    let output_log = sb.read("/var/log/cloud-init-output.log");
    assert!(
        output_log.contains("Demo finished: cloud-init-rs v."),
        "{output_log}"
    );

    // Second boot, same instance: no per-instance module runs again.
    let sems_before = semaphores(&sb, "iid-example-0001");
    assert!(
        sems_before.contains(&"config_users_groups".to_string()),
        "{sems_before:?}"
    );
    let read_sems = |names: &[String]| -> Vec<String> {
        names
            .iter()
            .map(|s| {
                sb.read(&format!(
                    "/var/lib/cloud/instances/iid-example-0001/sem/{s}"
                ))
            })
            .collect()
    };
    let sem_times = read_sems(&sems_before);
    let keys_before = sb.read("/etc/ssh/ssh_host_ed25519_key.pub");
    let codes = sb.boot();
    assert_eq!(codes, vec![0, 0, 0, 0], "second boot; log:\n{}", sb.log());
    assert_eq!(sems_before, semaphores(&sb, "iid-example-0001"));
    let sem_times_after = read_sems(&sems_before);
    assert_eq!(
        sem_times, sem_times_after,
        "per-instance semaphores were rewritten"
    );
    assert_eq!(
        keys_before,
        sb.read("/etc/ssh/ssh_host_ed25519_key.pub"),
        "host keys regenerated"
    );
    assert_eq!(
        sb.read("/var/tmp/demo-runcmd"),
        "runcmd ran as root\nsecond command\n",
        "runcmd ran again"
    );
    assert_eq!(
        sb.read("/var/lib/cloud/data/previous-instance-id"),
        "iid-example-0001\n"
    );
    let (status, code) = sb.status_json();
    assert_eq!((status["status"].as_str(), code), (Some("done"), 0));
}

#[test]
fn mime_jinja_scripts_boothooks_and_provided_keys_on_two_boots() {
    let Some(base) = debian_root() else { return };
    let sb = boot(&base, "tests/sandbox/seeds/mime");
    let (status, code) = sb.status_json();
    assert_eq!(code, 0, "{status}");
    // Second boot: boothooks and per-boot scripts run again, per-instance work does not.
    assert_eq!(
        sb.boot(),
        vec![0, 0, 0, 0],
        "second boot; log:\n{}",
        sb.log()
    );
    assert_eq!(sb.read("/var/tmp/per-boot"), "boot\nboot\n");
    assert_eq!(
        sb.read("/var/tmp/boothook"),
        "boothook for iid-mime-0001\nboothook for iid-mime-0001\n"
    );
    assert_eq!(sb.read("/var/tmp/mime-runcmd"), "one\ntwo\n");
    assert_eq!(sb.read("/var/tmp/user-script"), "user script ran\n");
    let provided =
        std::fs::read_to_string(repo().join("tests/sandbox/seeds/mime/user-data")).unwrap();
    let key = sb.read("/etc/ssh/ssh_host_ed25519_key.pub");
    assert!(
        provided.contains(key.trim()),
        "provided host key not installed: {key}"
    );
}

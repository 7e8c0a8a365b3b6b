//! The hostname from meta-data is set in the local stage, before user-data
//! is read (issue 12, item 2). Expected files and log lines are what upstream
//! cloud-init 25.1.4 produced from the same seeds on the same Debian root
//! (its four stages run in a chroot inside fresh UTS/mount/PID/net
//! namespaces): see the notes at each test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;

const META: &[u8] = b"instance-id: iid-hn1\nlocal-hostname: md-host\n";
const PRESERVE_UD: &[u8] = b"#cloud-config\npreserve_hostname: true\n";
const EMPTY_UD: &[u8] = b"#cloud-config\n{}\n";
/// Upstream's `write_json` of `{"hostname": ..., "fqdn": ...}`.
const SET_HOSTNAME_MD: &str = "{\n \"fqdn\": \"md-host\",\n \"hostname\": \"md-host\"\n}\n";

/// This machine's own hostname: a `--root` run must never change it.
fn kernel_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap()
}

/// The log of one stage: from its banner to the next one.
fn stage_log(log: &str, banner: &str) -> String {
    let start = log
        .find(&format!("running '{banner}' at"))
        .unwrap_or_else(|| panic!("no {banner} banner in {log}"));
    let rest = &log[start..];
    let end = rest[1..]
        .find("Cloud-init v. ")
        .map_or(rest.len(), |i| i + 1);
    rest[..end].to_string()
}

fn boot(sb: &Sandbox) {
    let before = kernel_hostname();
    let codes = sb.boot();
    assert_eq!(
        kernel_hostname(),
        before,
        "a --root boot changed this machine's hostname"
    );
    assert_eq!(codes, vec![0, 0, 0, 0], "{}", sb.log());
}

/// Upstream: init-local writes /etc/hostname = md-host and set-hostname;
/// init-net finds no change; the set_hostname and update_hostname modules
/// then see `preserve_hostname` from user-data and do nothing (no
/// previous-hostname, /etc/hosts untouched).
#[test]
fn metadata_hostname_is_set_before_user_data_preserves_it() {
    let Some(base) = debian_root() else { return };
    let sb = Sandbox::new(&base, &[("meta-data", META), ("user-data", PRESERVE_UD)]);
    let hosts_before = sb.read("/etc/hosts");
    boot(&sb);

    assert_eq!(sb.read("/etc/hostname"), "md-host\n");
    assert_eq!(sb.read("/var/lib/cloud/data/set-hostname"), SET_HOSTNAME_MD);
    assert!(!sb.path("/var/lib/cloud/data/previous-hostname").exists());
    assert_eq!(sb.read("/etc/hosts"), hosts_before);

    let log = sb.log();
    let local = stage_log(&log, "init-local");
    assert!(
        local.contains("Setting the hostname to md-host (md-host)"),
        "{local}"
    );
    let net = stage_log(&log, "init");
    let consumed = net.find("preserve_hostname' is set").unwrap_or(net.len());
    let unchanged = net
        .find("No hostname changes. Skipping set_hostname")
        .unwrap_or_else(|| panic!("no early retry in init: {net}"));
    assert!(unchanged < consumed, "{net}");
    assert!(net.contains(
        "Configuration option 'preserve_hostname' is set, not setting the hostname in module set_hostname"
    ));
    assert!(net.contains(
        "Configuration option 'preserve_hostname' is set, not updating the hostname in module update_hostname"
    ));
    assert!(!log.contains("Failed setting hostname"), "{log}");

    // Second boot: this instance's user-data config is now read in the local
    // stage too, so a name the admin gave the machine stays (upstream: the
    // local and network stages log "preserve_hostname' is set").
    sb.write("/etc/hostname", b"admin-host\n");
    std::fs::remove_dir_all(sb.path("/run/cloud-init")).unwrap();
    boot(&sb);
    assert_eq!(sb.read("/etc/hostname"), "admin-host\n");
    assert_eq!(sb.read("/var/lib/cloud/data/set-hostname"), SET_HOSTNAME_MD);
    let log = sb.log();
    let second_local = &log[log.rfind("running 'init-local' at").unwrap()..];
    let second_local = stage_log(second_local, "init-local");
    assert!(
        second_local.contains(
            "Configuration option 'preserve_hostname' is set, not setting the hostname in module set_hostname"
        ),
        "{second_local}"
    );
}

/// Upstream, next boot without `preserve_hostname`: the early step sees
/// the name it set last time in `set-hostname` and rewrites nothing, and
/// update_hostname sees `previous-hostname` differ from /etc/hostname, so a
/// name the admin gave the machine stays.
#[test]
fn admin_rename_survives_a_reboot() {
    let Some(base) = debian_root() else { return };
    let sb = Sandbox::new(&base, &[("meta-data", META), ("user-data", EMPTY_UD)]);
    boot(&sb);
    assert_eq!(sb.read("/etc/hostname"), "md-host\n");
    assert_eq!(
        sb.read("/var/lib/cloud/data/previous-hostname"),
        "md-host\n"
    );

    sb.write("/etc/hostname", b"admin-host\n");
    std::fs::remove_dir_all(sb.path("/run/cloud-init")).unwrap();
    boot(&sb);
    assert_eq!(sb.read("/etc/hostname"), "admin-host\n");
    assert_eq!(sb.read("/var/lib/cloud/data/set-hostname"), SET_HOSTNAME_MD);
    assert_eq!(
        sb.read("/var/lib/cloud/data/previous-hostname"),
        "md-host\n"
    );
    let log = sb.log();
    let second = &log[log.rfind("running 'init-local' at").unwrap()..];
    let second_local = stage_log(second, "init-local");
    assert!(
        second_local.contains("No hostname changes. Skipping set_hostname"),
        "{second_local}"
    );
    assert!(
        second.contains(
            "/var/lib/cloud/data/previous-hostname differs from /etc/hostname, assuming user maintained hostname."
        ),
        "{second}"
    );
}

/// Upstream: with `preserve_hostname` in the system config nothing is
/// written at any stage and the image's hostname stays.
#[test]
fn preserve_hostname_in_system_config_keeps_the_image_hostname() {
    let Some(base) = debian_root() else { return };
    let sb = Sandbox::new(&base, &[("meta-data", META), ("user-data", EMPTY_UD)]);
    sb.write(
        "/etc/cloud/cloud.cfg.d/50-preserve.cfg",
        b"preserve_hostname: true\n",
    );
    let image = sb.read("/etc/hostname");
    boot(&sb);

    assert_eq!(sb.read("/etc/hostname"), image);
    assert!(!sb.path("/var/lib/cloud/data/set-hostname").exists());
    assert!(!sb.path("/var/lib/cloud/data/previous-hostname").exists());
    let log = sb.log();
    let local = stage_log(&log, "init-local");
    assert!(
        local.contains(
            "Configuration option 'preserve_hostname' is set, not setting the hostname in module set_hostname"
        ),
        "{local}"
    );
    assert!(!log.contains("Setting the hostname to"), "{log}");
}

/// Upstream: without a hostname in meta-data or config the early step does
/// nothing; the set_hostname module then records the machine's own name.
#[test]
fn no_metadata_hostname_leaves_the_early_step_out() {
    let Some(base) = debian_root() else { return };
    let sb = Sandbox::new(
        &base,
        &[
            ("meta-data", b"instance-id: iid-hn2\n"),
            ("user-data", EMPTY_UD),
        ],
    );
    sb.write("/etc/hostname", b"vm\n");
    boot(&sb);
    let log = sb.log();
    let local = stage_log(&log, "init-local");
    assert!(
        !local.contains("cc_set_hostname") && !local.contains("Setting the hostname"),
        "{local}"
    );
    assert_eq!(sb.read("/etc/hostname"), "vm\n");
    assert_eq!(
        sb.read("/var/lib/cloud/data/set-hostname"),
        "{\n \"fqdn\": \"vm\",\n \"hostname\": \"vm\"\n}\n"
    );
    assert_eq!(sb.read("/var/lib/cloud/data/previous-hostname"), "vm\n");
}

/// Upstream: an image named `localhost` and no name in meta-data: both
/// hostname modules leave it to other services and record nothing.
#[test]
fn default_localhost_is_left_alone() {
    let Some(base) = debian_root() else { return };
    let sb = Sandbox::new(
        &base,
        &[
            ("meta-data", b"instance-id: iid-hn2\n"),
            ("user-data", EMPTY_UD),
        ],
    );
    sb.write("/etc/hostname", b"localhost\n");
    boot(&sb);
    assert_eq!(sb.read("/etc/hostname"), "localhost\n");
    assert!(!sb.path("/var/lib/cloud/data/set-hostname").exists());
    assert!(!sb.path("/var/lib/cloud/data/previous-hostname").exists());
    let log = sb.log();
    assert_eq!(
        log.matches("Hostname is localhost. Let other services handle this.")
            .count(),
        2,
        "{log}"
    );
}

/// Upstream: `local-hostname` with a domain keeps the domain in the fqdn.
#[test]
fn metadata_domain_reaches_the_fqdn() {
    let Some(base) = debian_root() else { return };
    let sb = Sandbox::new(
        &base,
        &[
            (
                "meta-data",
                b"instance-id: iid-hn3\nlocal-hostname: md-host.example.com\n",
            ),
            ("user-data", EMPTY_UD),
        ],
    );
    boot(&sb);
    assert_eq!(sb.read("/etc/hostname"), "md-host\n");
    assert_eq!(
        sb.read("/var/lib/cloud/data/set-hostname"),
        "{\n \"fqdn\": \"md-host.example.com\",\n \"hostname\": \"md-host\"\n}\n"
    );
    assert_eq!(
        sb.read("/var/lib/cloud/data/previous-hostname"),
        "md-host\n"
    );
    let local = stage_log(&sb.log(), "init-local");
    assert!(
        local.contains("Setting the hostname to md-host.example.com (md-host)"),
        "{local}"
    );
}

/// Upstream: a hostname that cannot be written is a warning in each stage
/// that tries; the early attempts note when the next try comes.
#[test]
fn unwritable_hostname_is_retried_in_the_next_stage() {
    let Some(base) = debian_root() else { return };
    let sb = Sandbox::new(&base, &[("meta-data", META), ("user-data", EMPTY_UD)]);
    std::fs::remove_file(sb.path("/etc/hostname")).unwrap();
    std::fs::create_dir(sb.path("/etc/hostname")).unwrap();
    // Upstream: the init stage fails on the set_hostname module (exit 1).
    assert_eq!(sb.boot(), vec![0, 1, 0, 0], "{}", sb.log());
    let log = sb.log();
    let local = stage_log(&log, "init-local");
    assert!(
        local.contains("Failed to set the hostname to md-host (md-host)"),
        "{local}"
    );
    assert!(
        local.contains(
            "Failed setting hostname in local stage. Will retry in network stage. Error: Failed to set the hostname to md-host (md-host): "
        ),
        "{local}"
    );
    let net = stage_log(&log, "init");
    assert!(
        net.contains(
            "Failed setting hostname in init-net stage. Will retry in modules:config stage."
        ),
        "{net}"
    );
    assert!(!sb.path("/var/lib/cloud/data/set-hostname").exists());
    let (status, _) = sb.status_json();
    let warnings = &status["recoverable_errors"]["WARNING"];
    assert!(
        warnings.as_array().is_some_and(|w| w
            .iter()
            .any(|m| m == "Failed to set the hostname to md-host (md-host)")),
        "{status}"
    );
}

/// The EC2 emulator (`cloud-init devel imds-serve`) on 127.0.0.1, killed
/// when dropped.
struct Emulator(std::process::Child);

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn ec2_emulator() -> (Emulator, u16) {
    use std::io::{Read, Write};
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new(BIN)
        .args(["devel", "imds-serve", "--cloud", "ec2"])
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--seed")
        .arg(repo().join("crates/sources/tests/fixtures/ec2-seed"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let emu = Emulator(child);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = write!(s, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
            let mut out = String::new();
            if s.read_to_string(&mut out).is_ok() && out.starts_with("HTTP/1.1 200") {
                return (emu, port);
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the emulator did not come up");
}

/// A datasource found only in the network stage: upstream's second early
/// attempt (`init-net`) sets its hostname before any module runs (here the
/// module lists are empty).
#[test]
fn network_stage_datasource_sets_the_hostname_before_modules() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path();
    let write = |p: &str, text: &str| {
        let path = root.join(p.trim_start_matches('/'));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    let (_imds, port) = ec2_emulator();
    write(
        "/etc/cloud/cloud.cfg",
        &format!(
            "datasource_list: [Ec2, None]\n\
             datasource:\n  Ec2:\n    metadata_urls: ['http://127.0.0.1:{port}']\n    \
             max_wait: 2\n    timeout: 1\n\
             cloud_init_modules: []\ncloud_config_modules: []\ncloud_final_modules: []\n"
        ),
    );
    write(
        "/sys/class/dmi/id/product_uuid",
        "ec2e1916-9099-7caf-fd21-012345abcdef\n",
    );
    write("/etc/hostname", "vm\n");
    let before = kernel_hostname();
    let out = std::process::Command::new(BIN)
        .arg("--root")
        .arg(root)
        .arg("init")
        .output()
        .unwrap();
    assert_eq!(kernel_hostname(), before);
    let log = std::fs::read_to_string(root.join("var/log/cloud-init.log")).unwrap();
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert!(
        log.contains(
            "Setting the hostname to ip-172-31-5-9.eu-west-1.compute.internal (ip-172-31-5-9)"
        ),
        "{log}"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("etc/hostname")).unwrap(),
        "ip-172-31-5-9\n"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("var/lib/cloud/data/set-hostname")).unwrap(),
        "{\n \"fqdn\": \"ip-172-31-5-9.eu-west-1.compute.internal\",\n \"hostname\": \"ip-172-31-5-9\"\n}\n"
    );
}

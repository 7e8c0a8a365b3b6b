//! Stable identity: a boot whose metadata service does not answer keeps the
//! previous instance when the machine's DMI identity is unchanged, and is a
//! new instance (upstream's behaviour) when it changed. Runs the network
//! stage on a temp root with no modules, against the EC2 emulator on
//! 127.0.0.1 (`cloud-init devel imds-serve`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_cloud-init");
const IID: &str = "i-0123456789abcdef0";

fn write(root: &Path, p: &str, text: &str) {
    let path = root.join(p.trim_start_matches('/'));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The emulator process, killed when dropped (also when a test panics).
struct Emulator(Child);

impl Emulator {
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.kill();
    }
}

fn emulator(port: u16) -> Emulator {
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sources/tests/fixtures/ec2-seed");
    let mut child = Command::new(BIN)
        .args(["devel", "imds-serve", "--cloud", "ec2"])
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--seed")
        .arg(seed)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = write!(s, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
            let mut out = String::new();
            if s.read_to_string(&mut out).is_ok() && out.starts_with("HTTP/1.1 200") {
                return Emulator(child);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the emulator did not come up");
}

fn network_stage(root: &Path) -> (i32, String) {
    let out = Command::new(BIN)
        .arg("--root")
        .arg(root)
        .arg("init")
        .output()
        .unwrap();
    let log = std::fs::read_to_string(root.join("var/log/cloud-init.log")).unwrap_or_default();
    (out.status.code().unwrap_or(-1), log)
}

fn current_iid(root: &Path) -> String {
    std::fs::read_to_string(root.join("var/lib/cloud/data/instance-id"))
        .unwrap()
        .trim()
        .to_string()
}

/// A later boot as upstream has it after the local stage found the cache
/// invalid: the `instance` link is gone, the instance dirs stay, and `/run`
/// is fresh.
fn next_boot(root: &Path) {
    let _ = std::fs::remove_file(root.join("var/lib/cloud/instance"));
    let _ = std::fs::remove_dir_all(root.join("run"));
    let _ = std::fs::remove_file(root.join("var/log/cloud-init.log"));
}

#[test]
fn unanswered_metadata_keeps_the_instance_unless_the_machine_changed() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path();
    let port = free_port();
    write(
        root,
        "/etc/cloud/cloud.cfg",
        &format!(
            "datasource_list: [Ec2, None]\n\
             datasource:\n  Ec2:\n    metadata_urls: ['http://127.0.0.1:{port}']\n    \
             max_wait: 2\n    timeout: 1\n\
             cloud_init_modules: []\ncloud_config_modules: []\ncloud_final_modules: []\n"
        ),
    );
    write(
        root,
        "/sys/class/dmi/id/product_uuid",
        "ec2e1916-9099-7caf-fd21-012345abcdef\n",
    );
    write(
        root,
        "/sys/class/dmi/id/product_serial",
        "ec2e1916-9099-7caf-fd21-012345abcdef\n",
    );

    // First boot: the metadata service answers.
    let mut imds = emulator(port);
    let (code, log) = network_stage(root);
    imds.kill();
    assert_eq!(code, 0, "{log}");
    assert_eq!(current_iid(root), IID);
    let recorded = std::fs::read_to_string(root.join(format!(
        "var/lib/cloud/instances/{IID}/platform-identity.json"
    )))
    .unwrap();
    assert!(recorded.contains("\"product_uuid\":\"ec2e1916-9099-7caf-fd21-012345abcdef\""));

    // The service is down; same machine: the instance stays.
    next_boot(root);
    let started = Instant::now();
    let (_, log) = network_stage(root);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "bounded by max_wait"
    );
    assert_eq!(current_iid(root), IID, "{log}");
    assert!(
        log.contains(&format!("No datasource answered; keeping instance {IID}")),
        "{log}"
    );
    assert!(!root
        .join("var/lib/cloud/instances/iid-datasource-none")
        .exists());
    assert_eq!(
        std::fs::read_link(root.join("var/lib/cloud/instance")).unwrap(),
        Path::new("/var/lib/cloud/instances").join(IID)
    );
    let status: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("run/cloud-init/status.json")).unwrap(),
    )
    .unwrap();
    assert!(
        status.to_string().contains("keeping instance"),
        "reported, not only logged: {status}"
    );

    // Another machine (the disk was cloned): a new instance, as upstream.
    next_boot(root);
    write(
        root,
        "/sys/class/dmi/id/product_uuid",
        "ec2aaaaa-0000-0000-0000-000000000000\n",
    );
    let (_, log) = network_stage(root);
    assert_eq!(current_iid(root), "iid-datasource-none", "{log}");
    assert!(
        log.contains("Platform identity changed since instance"),
        "{log}"
    );
}

/// A datasource found in the network stage applies its network config with
/// bring-up; a later boot re-applies it only when `updates.network.when`
/// enables `boot` (and the datasource refreshed its metadata).
#[test]
fn network_stage_datasource_applies_and_boot_events_reapply() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path();
    let port = free_port();
    let cfg = |updates: &str| {
        format!(
            "datasource_list: [Ec2, None]\n\
             datasource:\n  Ec2:\n    metadata_urls: ['http://127.0.0.1:{port}']\n    \
             max_wait: 2\n    timeout: 1\n\
             cloud_init_modules: []\ncloud_config_modules: []\ncloud_final_modules: []\n{updates}"
        )
    };
    write(root, "/etc/cloud/cloud.cfg", &cfg(""));
    write(root, "/sys/class/net/ens5/address", "06:00:00:00:00:01\n");
    // networkd's tools, so a renderer is available in the root.
    for tool in ["/usr/sbin/ip", "/bin/systemctl"] {
        write(root, tool, "#!/bin/sh\n");
        std::fs::set_permissions(
            root.join(tool.trim_start_matches('/')),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
    }
    write(
        root,
        "/sys/class/dmi/id/product_uuid",
        "ec2e1916-9099-7caf-fd21-012345abcdef\n",
    );
    let mut imds = emulator(port);
    let (_, log) = network_stage(root);
    assert!(
        log.contains("Applying network configuration from ds bringup=True: {'version': 2, 'ethernets': {'ens5': {"),
        "{log}"
    );
    assert!(root
        .join("run/cloud-init/sem/apply_network_config.once")
        .exists());

    // Same instance, default events (boot-new-instance, hotplug): nothing applied.
    next_boot(root);
    let (_, log) = network_stage(root);
    assert!(log.contains("No network config applied. Neither a new instance nor datasource network update allowed"), "{log}");
    assert!(
        log.contains("Event Denied: scopes=['network'] EventType=boot"),
        "{log}"
    );

    // The user enables boot events: refreshed and applied again.
    next_boot(root);
    write(
        root,
        "/etc/cloud/cloud.cfg",
        &cfg("updates:\n  network:\n    when: [boot]\n"),
    );
    let (_, log) = network_stage(root);
    imds.kill();
    assert!(
        log.contains("Event Allowed: scope=network EventType=boot"),
        "{log}"
    );
    assert!(
        log.contains("Update datasource metadata and network config due to events: boot"),
        "{log}"
    );
    assert!(
        log.contains("Applying network configuration from ds bringup=True"),
        "{log}"
    );
}

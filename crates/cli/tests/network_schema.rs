//! Network config that breaks the network-config schema but can be applied:
//! upstream's warning (no details), the config still rendered, the boot
//! degraded. A temp root with no modules, the local stage only.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_cloud-init");

fn write(root: &Path, p: &str, text: &str) {
    let path = root.join(p.trim_start_matches('/'));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Rendering chowns networkd's files to systemd-network: root only.
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn local_stage(network_config: &str) -> (tempfile::TempDir, String) {
    let d = tempfile::tempdir().unwrap();
    let root = d.path();
    write(
        root,
        "/etc/cloud/cloud.cfg",
        "datasource_list: [NoCloud, None]\nsystem_info:\n  distro: debian\n  network:\n    renderers: [networkd]\n\
         cloud_init_modules: []\ncloud_config_modules: []\ncloud_final_modules: []\n",
    );
    for tool in ["/usr/sbin/ip", "/bin/systemctl"] {
        write(root, tool, "#!/bin/sh\n");
        std::fs::set_permissions(
            root.join(tool.trim_start_matches('/')),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
    }
    write(root, "/sys/class/net/eth0/address", "52:54:00:12:34:56\n");
    // networkd's files belong to systemd-network.
    write(
        root,
        "/etc/passwd",
        "root:x:0:0:root:/root:/bin/sh\nsystemd-network:x:998:998::/:/usr/sbin/nologin\n",
    );
    write(root, "/etc/group", "root:x:0:\nsystemd-network:x:998:\n");
    write(
        root,
        "/var/lib/cloud/seed/nocloud/meta-data",
        "instance-id: iid-net-schema\n",
    );
    write(
        root,
        "/var/lib/cloud/seed/nocloud/user-data",
        "#cloud-config\n",
    );
    write(
        root,
        "/var/lib/cloud/seed/nocloud/network-config",
        network_config,
    );
    let out = Command::new(BIN)
        .arg("--root")
        .arg(root)
        .args(["init", "--local"])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("panicked"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = std::fs::read_to_string(root.join("var/log/cloud-init.log")).unwrap_or_default();
    (d, log)
}

const WARNING: &str = "network-config failed schema validation! You may run 'sudo cloud-init schema --system' to check the details.";

#[test]
fn schema_errors_warn_without_details_and_the_config_still_applies() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let (d, log) = local_stage(
        "version: 1\nconfig:\n  - type: physical\n    name: eth0\n    mac_address: '52:54:00:12:34:56'\n    bogus: 1\n    subnets:\n      - type: dhcp\n",
    );
    assert!(log.contains(WARNING), "{log}");
    assert!(
        !log.contains("was unexpected"),
        "details stay out of the log: {log}"
    );
    assert!(
        log.contains("Applying network configuration from ds bringup=False"),
        "{log}"
    );
    assert!(d
        .path()
        .join("etc/systemd/network/10-cloud-init-eth0.network")
        .exists());
}

#[test]
fn a_valid_config_gives_no_warning() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let (_d, log) = local_stage(
        "version: 1\nconfig:\n  - type: physical\n    name: eth0\n    mac_address: '52:54:00:12:34:56'\n    subnets:\n      - type: dhcp\n",
    );
    assert!(!log.contains("failed schema validation"), "{log}");
    assert!(
        log.contains("Applying network configuration from ds bringup=False"),
        "{log}"
    );
}

//! `cloud-init devel hotplug-hook -s net query|enable|handle` on a booted
//! copy of the Debian root with a NoCloud seed: the udev rule, the
//! `hotplug.enabled` file and the refreshed network config.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use std::os::unix::fs::PermissionsExt;
use std::process::Output;

const RULE: &str = "/etc/udev/rules.d/90-cloud-init-hook-hotplug.rules";
const UDEVADM_CALLS: &str = "/var/lib/test-udevadm.calls";
const ETH0: &str = "52:54:00:00:00:01";
const ETH1: &str = "52:54:00:00:00:02";
const HOTPLUG_UD: &[u8] =
    b"#cloud-config\nupdates:\n  network:\n    when: [boot-new-instance, hotplug]\n";

fn exe(sb: &Sandbox, path: &str, body: &str) {
    sb.write(path, body.as_bytes());
    std::fs::set_permissions(sb.path(path), std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn net_config(macs: &[(&str, &str)]) -> Vec<u8> {
    let mut s = String::from("version: 1\nconfig:\n");
    for (name, mac) in macs {
        s.push_str(&format!(
            "  - type: physical\n    name: {name}\n    mac_address: '{mac}'\n    subnets:\n      - type: dhcp\n"
        ));
    }
    s.into_bytes()
}

/// A root where ENI renders (ifupdown's tools are stubs), `udevadm`
/// records its calls, and eth0 exists.
fn sandbox(base: &std::path::Path, iid: &str, user_data: &[u8]) -> Sandbox {
    let md = format!("instance-id: {iid}\n");
    let net = net_config(&[("eth0", ETH0)]);
    let sb = Sandbox::new(
        base,
        &[
            ("meta-data", md.as_bytes()),
            ("user-data", user_data),
            ("network-config", &net),
        ],
    );
    for tool in ["ifquery", "ifup", "ifdown"] {
        exe(&sb, &format!("/usr/sbin/{tool}"), "#!/bin/sh\nexit 0\n");
    }
    sb.write(
        "/etc/network/interfaces",
        b"source /etc/network/interfaces.d/*\n",
    );
    exe(
        &sb,
        "/usr/local/sbin/udevadm",
        &format!("#!/bin/sh\necho \"udevadm $*\" >> {UDEVADM_CALLS}\n"),
    );
    sb.write(
        "/sys/class/net/eth0/address",
        format!("{ETH0}\n").as_bytes(),
    );
    sb
}

/// The rule is written, but udev belongs to this machine, not the target:
/// under --root the reload is logged, not run (the stub records nothing).
fn reload_skipped_under_root(sb: &Sandbox) {
    assert_eq!(sb.read(UDEVADM_CALLS), "");
    let log = sb.log();
    assert!(
        log.contains(r#"Not running ["udevadm", "control", "--reload-rules"] under --root"#),
        "{log}"
    );
}

fn hook(sb: &Sandbox, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["devel", "hotplug-hook", "-s", "net"];
    all.extend_from_slice(args);
    let out: Output = sb.ci(&all);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!err.contains("panicked"), "{err}");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        err,
    )
}

#[test]
fn user_data_enables_hotplug_and_an_added_nic_is_configured() {
    let Some(base) = debian_root() else { return };
    let sb = sandbox(&base, "iid-hotplug-1", HOTPLUG_UD);
    assert_eq!(sb.boot(), vec![0, 0, 0, 0], "log:\n{}", sb.log());
    let rule = sb.read(RULE);
    assert!(rule.starts_with("# Installed by cloud-init due to network hotplug userdata\n"));
    assert!(
        rule.contains("SUBSYSTEM==\"net\", RUN+=\"/usr/lib/cloud-init/hook-hotplug\"\n"),
        "{rule}"
    );
    reload_skipped_under_root(&sb);
    assert_eq!(
        hook(&sb, &["query"]),
        (0, "enabled\n".into(), String::new())
    );

    // The NIC appears, and the seed's network config names it.
    sb.write(
        "/var/lib/cloud/seed/nocloud/network-config",
        &net_config(&[("eth0", ETH0), ("eth1", ETH1)]),
    );
    sb.write(
        "/sys/class/net/eth1/address",
        format!("{ETH1}\n").as_bytes(),
    );
    let (code, out, err) = hook(
        &sb,
        &[
            "handle",
            "--devpath",
            "/devices/pci0000:00/0000:00:05.0/net/eth1",
            "--udevaction",
            "add",
        ],
    );
    assert_eq!((code, out.as_str()), (0, ""), "{err}\nlog:\n{}", sb.log());
    let eni = sb.read("/etc/network/interfaces.d/50-cloud-init");
    assert!(eni.contains("iface eth1 inet dhcp"), "{eni}");
    let cache = sb.read("/var/lib/cloud/instances/iid-hotplug-1/obj.json");
    assert!(cache.contains(ETH1), "{cache}");
    let log = sb.log();
    assert!(log.contains("Ifaces with ID=52:54:00:00:00:02"), "{log}");
    assert!(log.contains("Not bringing up eth1 under --root"), "{log}");

    // A NIC the metadata does not know: every attempt fails.
    sb.write("/sys/class/net/eth2/address", b"52:54:00:00:00:03\n");
    let (code, _, err) = hook(
        &sb,
        &[
            "--no-wait",
            "handle",
            "-d",
            "/devices/virtual/net/eth2",
            "-u",
            "add",
        ],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("Failed to detect 52:54:00:00:00:03 in updated metadata"),
        "{err}"
    );
    assert!(sb.log().contains("subsystem=net update attempt 4/5"));
}

#[test]
fn enable_writes_the_scope_file_and_installs_the_rule() {
    let Some(base) = debian_root() else { return };
    let sb = sandbox(&base, "iid-hotplug-2", b"#cloud-config\n{}\n");
    assert_eq!(sb.boot(), vec![0, 0, 0, 0], "log:\n{}", sb.log());
    assert!(!sb.path(RULE).exists());
    assert_eq!(sb.read(UDEVADM_CALLS), "");
    assert_eq!(
        hook(&sb, &["query"]),
        (0, "disabled\n".into(), String::new())
    );
    // Not enabled: an event is ignored.
    assert_eq!(
        hook(
            &sb,
            &["handle", "-d", "/devices/virtual/net/eth0", "-u", "add"]
        ),
        (0, String::new(), String::new())
    );

    assert_eq!(
        hook(&sb, &["enable"]),
        (
            0,
            "Enabled cloud-init hotplug for subsystem=net\n".into(),
            String::new()
        )
    );
    let file = sb.path("/var/lib/cloud/hotplug.enabled");
    assert_eq!(
        sb.read("/var/lib/cloud/hotplug.enabled"),
        r#"{"scopes": ["network"]}"#
    );
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o640
    );
    assert!(sb.read(RULE).contains("/hook-hotplug\""));
    reload_skipped_under_root(&sb);
    assert_eq!(
        hook(&sb, &["query"]),
        (0, "enabled\n".into(), String::new())
    );
    assert_eq!(
        hook(&sb, &["enable"]),
        (
            0,
            "Enabled cloud-init hotplug for subsystem=net\n".into(),
            "Not installing hotplug for event of type net. Reason: Already done.\n".into()
        )
    );
    reload_skipped_under_root(&sb);
}

#[test]
fn query_without_a_datasource() {
    let Some(base) = debian_root() else { return };
    let sb = sandbox(&base, "iid-hotplug-3", HOTPLUG_UD);
    // Nothing cached: the None source answers when it is listed...
    assert_eq!(
        hook(&sb, &["query"]),
        (0, "disabled\n".into(), String::new())
    );
    // ... else there is no datasource at all.
    sb.write(
        "/etc/cloud/cloud.cfg.d/90-test.cfg",
        b"datasource_list: [ NoCloud ]\n",
    );
    assert_eq!(
        hook(&sb, &["query"]),
        (
            1,
            "Unable to determine hotplug state. No datasource detected\n".into(),
            String::new()
        )
    );
    let (code, _, _) = hook(&sb, &["handle", "-d", "/x/net/eth0", "-u", "bogus"]);
    assert_eq!(code, 2);
}

/// Ec2 enables network hotplug by default; an added NIC the metadata
/// service lists (the emulator on 127.0.0.1) is rendered.
mod ec2 {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::path::Path;
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    struct Emulator(Child);

    impl Drop for Emulator {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    fn emulator() -> (Emulator, u16) {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sources/tests/fixtures/ec2-seed");
        let child = Command::new(BIN)
            .args(["devel", "imds-serve", "--cloud", "ec2"])
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--seed")
            .arg(seed)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let emu = Emulator(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
                let _ = write!(s, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
                let mut out = String::new();
                if s.read_to_string(&mut out).is_ok() && out.starts_with("HTTP/1.1 200") {
                    return (emu, port);
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the emulator did not come up");
    }

    fn write(root: &Path, p: &str, text: &str, mode: u32) {
        let path = root.join(p.trim_start_matches('/'));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    fn run(root: &Path, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(BIN)
            .arg("--root")
            .arg(root)
            .args(args)
            .env_remove("CLOUD_CFG")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    }

    #[test]
    fn ec2_enables_hotplug_by_default_and_renders_the_new_nic() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        let (_imds, port) = emulator();
        write(
            root,
            "/etc/cloud/cloud.cfg",
            &format!(
                "datasource_list: [Ec2, None]\n\
                 datasource:\n  Ec2:\n    metadata_urls: ['http://127.0.0.1:{port}']\n    \
                 max_wait: 2\n    timeout: 1\n\
                 system_info:\n  distro: debian\n\
                 cloud_init_modules: []\ncloud_config_modules: []\ncloud_final_modules: []\n"
            ),
            0o644,
        );
        for f in ["product_uuid", "product_serial"] {
            write(
                root,
                &format!("/sys/class/dmi/id/{f}"),
                "ec2e1916-9099-7caf-fd21-012345abcdef\n",
                0o644,
            );
        }
        write(
            root,
            "/sys/class/net/eth0/address",
            "06:00:00:00:00:01\n",
            0o644,
        );
        for tool in ["ifquery", "ifup", "ifdown"] {
            write(root, &format!("/usr/sbin/{tool}"), "#!/bin/sh\n", 0o755);
        }
        write(
            root,
            "/etc/network/interfaces",
            "source /etc/network/interfaces.d/*\n",
            0o644,
        );
        let (code, _, err) = run(root, &["init"]);
        assert_eq!(code, 0, "{err}");
        let log = std::fs::read_to_string(root.join("var/log/cloud-init.log")).unwrap();
        assert!(log.contains("DataSourceEc2"), "{log}");
        let eni = root.join("etc/network/interfaces.d/50-cloud-init");
        let before = std::fs::read_to_string(&eni).unwrap();
        assert!(!before.contains("eth1"), "{before}");
        let hook = ["devel", "hotplug-hook", "-s", "net"];
        let (code, out, _) = run(root, &[&hook[..], &["query"]].concat());
        assert_eq!((code, out.as_str()), (0, "enabled\n"));
        // `enable` installs the rule with Ec2's driver filter (the reload
        // is not run under --root).
        write(root, "/usr/bin/udevadm", "#!/bin/sh\n", 0o755);
        let (code, _, err) = run(root, &[&hook[..], &["enable"]].concat());
        assert_eq!(code, 0, "{err}");
        let rule = std::fs::read_to_string(root.join(RULE.trim_start_matches('/'))).unwrap();
        assert!(
            rule.contains(
                "GOTO=\"cloudinit_end\"\n\nENV{ID_NET_DRIVER}==\"vif|ena|ixgbevf\", GOTO=\"cloudinit_hook\"\nGOTO=\"cloudinit_end\"\n\nLABEL=\"cloudinit_hook\"\n"
            ),
            "{rule}"
        );

        write(
            root,
            "/sys/class/net/eth1/address",
            "06:00:00:00:00:02\n",
            0o644,
        );
        let args = [
            &hook[..],
            &[
                "--no-wait",
                "handle",
                "-d",
                "/devices/vif-1/net/eth1",
                "-u",
                "add",
            ],
        ]
        .concat();
        let (code, _, err) = run(root, &args);
        let log = std::fs::read_to_string(root.join("var/log/cloud-init.log")).unwrap();
        assert_eq!(code, 0, "{err}\n{log}");
        let eni =
            std::fs::read_to_string(root.join("etc/network/interfaces.d/50-cloud-init")).unwrap();
        assert!(eni.contains("eth1"), "{eni}");
        assert!(
            eni.contains("172.31.20.4") || eni.contains("inet dhcp"),
            "{eni}"
        );
        assert!(log.contains("Ifaces with ID=06:00:00:00:00:02"), "{log}");
    }
}

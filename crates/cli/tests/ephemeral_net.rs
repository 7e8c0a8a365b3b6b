//! Temporary networking for the local stage, for real, inside network
//! namespaces this test creates: a "cloud" namespace with busybox's DHCP
//! server and our metadata emulator on 169.254.169.254, joined by a veth pair
//! to an "instance" namespace where `cloud-init devel ephemeral-net` brings
//! the network up, runs a fetch of the metadata, and tears it all down.
//!
//! Needs root, `ip netns` and busybox (tools/deps.sh installs them, plus
//! dhcpcd-base). Elsewhere the tests say why they skip; under CI they fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_cloud-init");
static NEXT: AtomicUsize = AtomicUsize::new(0);

fn sh(args: &[&str]) -> Output {
    Command::new(args[0]).args(&args[1..]).output().unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = sh(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn busybox() -> Option<PathBuf> {
    ["/bin/busybox", "/usr/bin/busybox"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

fn have(prog: &str) -> bool {
    ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        .iter()
        .any(|d| Path::new(d).join(prog).exists())
}

/// Whether this machine can run the tests; under CI it must.
fn usable(extra: &[&str]) -> bool {
    let root = sh(&["id", "-u"]).stdout == b"0\n";
    let missing: Vec<&str> = ["ip"]
        .iter()
        .chain(extra)
        .copied()
        .filter(|p| !have(p))
        .collect();
    let why = if !root {
        Some("not root".to_string())
    } else if busybox().is_none() {
        Some("no busybox".to_string())
    } else if !missing.is_empty() {
        Some(format!("missing {missing:?}"))
    } else {
        None
    };
    match why {
        None => true,
        Some(w) if std::env::var_os("CI").is_some() => panic!("cannot run under CI: {w}"),
        Some(w) => {
            eprintln!("skipping: {w}");
            false
        }
    }
}

/// Two namespaces and a veth pair; the cloud side has 10.77.0.1/24 and
/// 169.254.169.254/16, a DHCP server and the EC2 emulator on port 80.
struct Lab {
    cloud_ns: String,
    inst_ns: String,
    /// The instance's interface.
    nic: String,
    dir: PathBuf,
    children: Vec<Child>,
}

impl Lab {
    fn new(dhcp: bool) -> Lab {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let tag = format!("{}{n}", std::process::id() % 100_000);
        let lab = Lab {
            cloud_ns: format!("cirs-cloud-{tag}"),
            inst_ns: format!("cirs-inst-{tag}"),
            nic: format!("ci{tag}"),
            dir: std::env::temp_dir().join(format!("cirs-ephemeral-{tag}")),
            children: Vec::new(),
        };
        let _ = std::fs::remove_dir_all(&lab.dir);
        std::fs::create_dir_all(lab.dir.join("seed")).unwrap();
        ok(&["ip", "netns", "add", &lab.cloud_ns]);
        ok(&["ip", "netns", "add", &lab.inst_ns]);
        let peer = format!("cc{tag}");
        ok(&[
            "ip",
            "link",
            "add",
            &peer,
            "netns",
            &lab.cloud_ns,
            "type",
            "veth",
            "peer",
            "name",
            &lab.nic,
            "netns",
            &lab.inst_ns,
        ]);
        let c = &lab.cloud_ns;
        ok(&["ip", "-n", c, "addr", "add", "10.77.0.1/24", "dev", &peer]);
        ok(&[
            "ip",
            "-n",
            c,
            "addr",
            "add",
            "169.254.169.254/16",
            "dev",
            &peer,
        ]);
        ok(&["ip", "-n", c, "link", "set", &peer, "up"]);
        ok(&["ip", "-n", c, "link", "set", "lo", "up"]);
        let mut lab = lab;
        if dhcp {
            lab.start_dhcp_server(&peer);
        }
        lab.start_imds();
        lab
    }

    fn start_dhcp_server(&mut self, peer: &str) {
        let conf = self.dir.join("udhcpd.conf");
        std::fs::write(&conf, format!(
            "start 10.77.0.50\nend 10.77.0.60\ninterface {peer}\nlease_file {d}/leases\npidfile {d}/udhcpd.pid\n\
             opt subnet 255.255.255.0\nopt router 10.77.0.1\nopt lease 600\n\
             opt staticroutes 169.254.169.254/32 10.77.0.1 0.0.0.0/0 10.77.0.1\n",
            d = self.dir.display()
        )).unwrap();
        std::fs::write(self.dir.join("leases"), b"").unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &self.cloud_ns])
            .arg(busybox().unwrap())
            .args(["udhcpd", "-f"])
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.children.push(child);
    }

    fn start_imds(&mut self) {
        let seed = self.dir.join("seed");
        std::fs::write(
            seed.join("meta-data"),
            "instance-id: i-0netns000000001\nlocal-hostname: netns\n",
        )
        .unwrap();
        std::fs::write(seed.join("user-data"), "#cloud-config\n").unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &self.cloud_ns, BIN, "devel", "imds-serve"])
            .args(["--cloud", "ec2", "--listen", "169.254.169.254:80", "--seed"])
            .arg(&seed)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.children.push(child);
        // Serving once the socket listens: wait on it from the cloud side.
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let ss = sh(&["ip", "netns", "exec", &self.cloud_ns, "ss", "-ltn"]);
            if String::from_utf8_lossy(&ss.stdout).contains("169.254.169.254:80") {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("emulator did not start in {}", self.cloud_ns);
    }

    /// `devel ephemeral-net` in the instance namespace, with `cmd` run
    /// while the network is up; PATH gets a `udhcpc` (busybox) first.
    fn ephemeral(&self, args: &[&str], cmd: &str) -> Output {
        let bin = self.dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let udhcpc = bin.join("udhcpc");
        if !udhcpc.exists() {
            std::os::unix::fs::symlink(busybox().unwrap(), &udhcpc).unwrap();
        }
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        Command::new("ip")
            .args(["netns", "exec", &self.inst_ns, "env"])
            .arg(format!("PATH={path}"))
            .arg(format!("TMPDIR={}", self.dir.display()))
            .args([BIN, "devel", "ephemeral-net", "--iface", &self.nic])
            .args(args)
            .args(["--", "sh", "-c", cmd])
            .output()
            .unwrap()
    }

    /// What is left on the instance side: addresses, routes, link state.
    fn leftovers(&self) -> (String, String, String) {
        let i = &self.inst_ns;
        (
            ok(&["ip", "-n", i, "-4", "-o", "addr", "show", "dev", &self.nic]),
            ok(&["ip", "-n", i, "-4", "route", "show"]),
            ok(&["ip", "-n", i, "-o", "link", "show", "dev", &self.nic]),
        )
    }

    fn assert_nothing_left(&self) {
        let (addrs, routes, link) = self.leftovers();
        assert_eq!(addrs.trim(), "", "addresses left behind");
        assert_eq!(routes.trim(), "", "routes left behind");
        assert!(!link.contains(",UP"), "link left up: {link}");
        let ps = ok(&["ps", "-eo", "args"]);
        assert!(
            !ps.lines()
                .any(|l| l.contains("dhcpc") && l.contains(&self.nic)),
            "a DHCP client still runs for {}: {ps}",
            self.nic
        );
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = sh(&["ip", "netns", "del", &self.inst_ns]);
        let _ = sh(&["ip", "netns", "del", &self.cloud_ns]);
        // dhcpcd keeps its lease database on the host, named by interface.
        let _ = std::fs::remove_file(format!("/var/lib/dhcpcd/{}.lease", self.nic));
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// busybox's wget, bounded by `timeout` (its own -T crashes in some builds).
const FETCH: &str = "ip -4 -o addr show; ip -4 route show; \
                     timeout 10 busybox wget -q -O - http://169.254.169.254/latest/meta-data/instance-id";

fn lease_json(out: &Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    let end = text.find("\n}").map(|i| i + 2).unwrap_or(text.len());
    serde_json::from_str(&text[..end]).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn check_dhcp(client: &str) {
    let lab = Lab::new(true);
    let out = lab.ephemeral(&["--dhcp-client", client], FETCH);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{client}: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lease = lease_json(&out);
    let addr = lease["address"].as_str().unwrap();
    assert!(addr.starts_with("10.77.0."), "{lease}");
    assert_eq!(lease["routers"][0], "10.77.0.1");
    assert_eq!(lease["dhcp_server"], "10.77.0.1");
    assert_eq!(
        lease["options"]["static_routes"],
        "169.254.169.254/32 10.77.0.1 0.0.0.0/0 10.77.0.1"
    );
    // While up: the leased address, the metadata route, and the metadata.
    assert!(stdout.contains(&format!("inet {addr}/24")), "{stdout}");
    assert!(stdout.contains("169.254.169.254 via 10.77.0.1"), "{stdout}");
    assert!(stdout.trim_end().ends_with("i-0netns000000001"), "{stdout}");
    lab.assert_nothing_left();
}

#[test]
fn dhcp_with_udhcpc_reaches_metadata_then_tears_down() {
    if usable(&["ss"]) {
        check_dhcp("udhcpc");
    }
}

#[test]
fn dhcp_with_dhcpcd_reaches_metadata_then_tears_down() {
    if usable(&["ss", "dhcpcd"]) {
        check_dhcp("dhcpcd");
    }
}

#[test]
fn link_local_ipv4_reaches_metadata_then_tears_down() {
    if !usable(&["ss"]) {
        return;
    }
    let lab = Lab::new(false);
    let out = lab.ephemeral(&["--kind", "link-local4"], FETCH);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let addr = lease_json(&out)["address"].as_str().unwrap().to_string();
    let octets: Vec<u8> = addr.split('.').map(|o| o.parse().unwrap()).collect();
    assert_eq!(octets[..2], [169, 254], "{addr}");
    assert!((1..=168).contains(&octets[2]), "{addr}");
    assert!(stdout.contains(&format!("inet {addr}/16")), "{stdout}");
    assert!(stdout.trim_end().ends_with("i-0netns000000001"), "{stdout}");
    lab.assert_nothing_left();
}

#[test]
fn no_dhcp_server_fails_in_bounded_time_and_leaves_nothing() {
    if !usable(&["ss"]) {
        return;
    }
    let lab = Lab::new(false);
    let t0 = Instant::now();
    let out = lab.ephemeral(&["--dhcp-client", "udhcpc"], "echo should-not-run");
    let took = t0.elapsed();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("got no lease"), "{stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("should-not-run"));
    // udhcpc -n: three discovers, three seconds apart.
    assert!(took < Duration::from_secs(20), "{took:?}");
    lab.assert_nothing_left();
}

#[test]
fn link_local_ipv6_brings_the_link_up_with_a_usable_address() {
    if !usable(&["ss"]) {
        return;
    }
    let lab = Lab::new(false);
    let out = lab.ephemeral(&["--kind", "link-local6"], "ip -6 -o addr show scope link");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let ll: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("inet6 fe80::"))
        .collect();
    assert_eq!(ll.len(), 1, "{stdout}");
    assert!(!ll[0].contains("tentative"), "{stdout}");
}

#[test]
fn refuses_a_sandbox_root() {
    let out = Command::new(BIN)
        .args(["--root", "/nonexistent", "devel", "ephemeral-net"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not take --root"));
}

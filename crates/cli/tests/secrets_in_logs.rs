//! No secret fetched over HTTP reaches a log: a boot of a copy of the
//! Debian root against the EC2 emulator (`cloud-init devel imds-serve`) on
//! 127.0.0.1, whose user-data `#include`s a cloud-config from a second
//! loopback server. The IMDSv2 token, the included body and the `chpasswd`
//! password in it must appear in no file under /var/log and on no stderr,
//! while the boot did use them. The log also gets `syslog_fix_perms`, and
//! the output log upstream's `root:adm`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PASSWORD: &str = "PW-Xylophone-Secret-42";
const BODY_MARKER: &str = "INCLUDED-BODY-Marimba-77";
/// Every token the emulator issues has this in it (`AQAEAEmulatedToken<n>==`).
const TOKEN_MARK: &str = "EmulatedToken";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The emulator process, killed when dropped (also when the test panics).
struct Emulator(Child);

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn emulator(port: u16, seed: &Path) -> Emulator {
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
                return emu;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the emulator did not come up");
}

/// Serves `body` to every request on a loopback port, for the whole test.
fn serve_include(body: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(&stream);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let mut s = &stream;
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() && !p.is_symlink() {
            out.extend(files_under(&p));
        } else if p.is_file() {
            out.push(p);
        }
    }
    out
}

fn shadow_field(root: &Path, user: &str) -> String {
    let shadow = std::fs::read_to_string(root.join("etc/shadow")).unwrap();
    shadow
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{user}:")))
        .and_then(|rest| rest.split(':').next())
        .unwrap_or_default()
        .to_string()
}

#[test]
fn boot_over_http_logs_no_secret_and_fixes_log_perms() {
    let Some(base) = debian_root() else { return };
    let include_body: &'static str = Box::leak(
        format!(
            "#cloud-config\n# {BODY_MARKER}\nchpasswd:\n  expire: false\n  users:\n    - {{name: debian, password: \"{PASSWORD}\", type: text}}\n"
        )
        .into_boxed_str(),
    );
    let include_port = serve_include(include_body);

    let seed = tempfile::tempdir().unwrap();
    std::fs::write(
        seed.path().join("meta-data"),
        "instance-id: i-0123456789abcdef0\nlocal-hostname: ip-172-31-5-9\n",
    )
    .unwrap();
    std::fs::write(
        seed.path().join("user-data"),
        format!("#include\nhttp://127.0.0.1:{include_port}/secret-part.yaml\n"),
    )
    .unwrap();
    let port = free_port();
    let _imds = emulator(port, seed.path());

    let sb = Sandbox::new(&base, &[]);
    sb.write(
        "/etc/cloud/cloud.cfg.d/90-test.cfg",
        format!(
            "datasource_list: [Ec2, None]\n\
             datasource:\n  Ec2:\n    metadata_urls: ['http://127.0.0.1:{port}']\n    \
             max_wait: 10\n    timeout: 3\n\
             network: {{config: disabled}}\n"
        )
        .as_bytes(),
    );
    let dmi = b"ec2e1916-9099-7caf-fd21-012345abcdef\n";
    sb.write("/sys/class/dmi/id/product_uuid", dmi);
    sb.write("/sys/class/dmi/id/product_serial", dmi);
    let before = shadow_field(&sb.root(), "debian");

    let mut stderr = String::new();
    for args in [
        vec!["init", "--local"],
        vec!["init"],
        vec!["modules", "--mode", "config"],
        vec!["modules", "--mode", "final"],
    ] {
        let out = sb.ci(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "stage {args:?} panicked: {err}");
        stderr.push_str(&err);
    }

    // The boot did fetch and use the secrets: the token API was used, and
    // the password from the included part was set.
    let log = sb.log();
    assert!(log.contains("/latest/api/token"), "{log}");
    let hash = shadow_field(&sb.root(), "debian");
    assert!(
        hash.starts_with('$') && hash != before,
        "debian's password: {hash:?}"
    );
    // Our own DEBUG records are still there; nobody's TRACE is.
    assert!(log.contains("[DEBUG]: Read from"), "{log}");
    assert!(!log.contains("[TRACE]"), "{log}");

    let logs = files_under(&sb.path("/var/log"));
    assert!(
        logs.iter().any(|p| p.ends_with("cloud-init.log")),
        "{logs:?}"
    );
    for secret in [PASSWORD, BODY_MARKER, TOKEN_MARK] {
        for p in &logs {
            let text = String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned();
            assert!(!text.contains(secret), "{secret} in {}", p.display());
        }
        assert!(!stderr.contains(secret), "{secret} on stderr: {stderr}");
    }

    // syslog_fix_perms: syslog:adm does not exist on Debian, root:adm does;
    // adm's gid comes from the target's /etc/group.
    let group = std::fs::read_to_string(sb.path("/etc/group")).unwrap();
    let adm: u32 = group
        .lines()
        .find_map(|l| l.strip_prefix("adm:x:"))
        .and_then(|rest| rest.split(':').next())
        .and_then(|g| g.parse().ok())
        .expect("adm in the root's /etc/group");
    // The output log is created as upstream's tee child creates it.
    for log in ["/var/log/cloud-init.log", "/var/log/cloud-init-output.log"] {
        let meta = std::fs::metadata(sb.path(log)).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (0, adm), "{log}");
        assert_eq!(meta.permissions().mode() & 0o777, 0o640, "{log}");
    }
}

/// A bare root whose groups differ from this machine's: the owner named in
/// `syslog_fix_perms` is looked up in the root's /etc/passwd and /etc/group.
#[test]
fn syslog_fix_perms_names_come_from_the_root() {
    if !ci_host::Host::running_as_root() {
        eprintln!("note: skipped: chown needs root");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let root = d.path();
    let write = |p: &str, text: &str| {
        let path = root.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "etc/passwd",
        "root:x:0:0:root:/root:/bin/sh\nlogkeeper:x:4711:4711::/nonexistent:/bin/false\n",
    );
    write("etc/group", "root:x:0:\nlogreaders:x:4712:\n");
    write(
        "etc/cloud/cloud.cfg",
        "datasource_list: [None]\nsyslog_fix_perms: [nosuchuser:adm, 'logkeeper:logreaders']\n\
         cloud_init_modules: []\ncloud_config_modules: []\ncloud_final_modules: []\n",
    );
    let out = Command::new(BIN)
        .arg("--root")
        .arg(root)
        .args(["init", "--local"])
        .env_remove("CLOUD_CFG")
        .output()
        .unwrap();
    let log = std::fs::read_to_string(root.join("var/log/cloud-init.log")).unwrap();
    let meta = std::fs::metadata(root.join("var/log/cloud-init.log")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (4711, 4712), "{log}\n{out:?}");
    assert!(
        log.contains("Changing the ownership of /var/log/cloud-init.log to 4711:4712"),
        "{log}"
    );

    // No entry works: upstream's warning, naming what was tried.
    write(
        "etc/cloud/cloud.cfg",
        "datasource_list: [None]\nsyslog_fix_perms: 'syslog:adm'\n",
    );
    let out = Command::new(BIN)
        .arg("--root")
        .arg(root)
        .args(["init", "--local"])
        .env_remove("CLOUD_CFG")
        .output()
        .unwrap();
    let warning = "Failed changing perms on '/var/log/cloud-init.log'. tried: syslog:adm. \
                   Unknown user or group: \"getpwnam(): name not found: 'syslog'\"";
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(warning),
        "{out:?}"
    );
}

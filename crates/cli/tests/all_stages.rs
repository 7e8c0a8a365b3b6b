//! Upstream's single-process layout (`cloud-init --all-stages`, the unit
//! `cloud-init-main.service`): the socket protocol as upstream's netcat
//! units speak it, our stage commands as its clients, and the same machine
//! state as the stage-unit layout.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const USER_DATA: &[u8] = b"#cloud-config
write_files:
  - path: /etc/single/marker.conf
    content: single=1
runcmd:
  - [sh, -c, 'echo ran > /var/lib/single-runcmd.txt']
";
const META_DATA: &[u8] = b"instance-id: iid-single\nlocal-hostname: single\n";

/// A datagram socket standing in for systemd's `$NOTIFY_SOCKET`.
struct Notify {
    sock: UnixDatagram,
    path: PathBuf,
}

impl Notify {
    fn new(dir: &Path, name: &str) -> Notify {
        let path = dir.join(name);
        let sock = UnixDatagram::bind(&path).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        Notify { sock, path }
    }

    /// Every message received so far.
    fn drain(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = self.sock.recv(&mut buf) {
            out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        out
    }

    /// Blocks (bounded) until a message containing `what` arrives.
    fn wait_for(&self, what: &str, seen: &mut Vec<String>) {
        let t = Instant::now();
        let mut buf = [0u8; 4096];
        while t.elapsed() < Duration::from_secs(30) {
            if let Ok(n) = self.sock.recv(&mut buf) {
                let m = String::from_utf8_lossy(&buf[..n]).into_owned();
                let hit = m.contains(what);
                seen.push(m);
                if hit {
                    return;
                }
            }
        }
        panic!("no notification containing {what:?}; got {seen:?}");
    }
}

fn start_main(root: &Path, notify: &Notify) -> Child {
    Command::new(BIN)
        .arg("--root")
        .arg(root)
        .arg("--all-stages")
        .env_remove("CLOUD_CFG")
        .env_remove("DEBUG_PROC_CMDLINE")
        .env("NOTIFY_SOCKET", &notify.path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait_exit(child: &mut Child, secs: u64) -> i32 {
    let t = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st.code().unwrap_or(-1);
        }
        if t.elapsed() > Duration::from_secs(secs) {
            let _ = child.kill();
            panic!("--all-stages did not exit within {secs} s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn share(root: &Path) -> PathBuf {
    root.join("run/cloud-init/share")
}

/// A stage command run as our stage unit runs it, with its own notify socket.
fn client(root: &Path, args: &[&str], notify: Option<&Notify>) -> (i32, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.arg("--root")
        .arg(root)
        .args(args)
        .env_remove("CLOUD_CFG")
        .env_remove("DEBUG_PROC_CMDLINE")
        .env_remove("NOTIFY_SOCKET");
    if let Some(n) = notify {
        cmd.env("NOTIFY_SOCKET", &n.path);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn stage_commands_hand_their_stage_to_the_main_process_and_provision_the_same() {
    let Some(base) = debian_root() else { return };
    let seed: &[(&str, &[u8])] = &[("user-data", USER_DATA), ("meta-data", META_DATA)];
    let sb = Sandbox::new(&base, seed);
    let root = sb.root();
    let sys = Notify::new(sb.dir.path(), "main-notify.sock");
    let mut main = start_main(&root, &sys);
    let mut seen = Vec::new();
    sys.wait_for("READY=1", &mut seen);
    for stage in ["local", "network", "config", "final"] {
        assert!(
            share(&root).join(format!("{stage}.sock")).exists(),
            "{stage}.sock is bound before READY"
        );
    }

    let stages: [(&str, &[&str]); 4] = [
        ("local", &["init", "--local"]),
        ("network", &["init"]),
        ("config", &["modules", "--mode", "config"]),
        ("final", &["modules", "--mode", "final"]),
    ];
    for (stage, args) in stages {
        let unit = Notify::new(sb.dir.path(), &format!("{stage}-unit.sock"));
        let (code, out, err) = client(&root, args, Some(&unit));
        assert_eq!(code, 0, "{stage}: {out}{err}");
        assert_eq!(
            out.trim(),
            format!("Completed socket interaction for boot stage {stage}"),
            "{stage}: the client prints the main process's answer"
        );
        let msgs = unit.drain();
        if stage == "network" {
            // The readiness point came through the main process, before the
            // answer (ssh.service is ordered after this unit).
            assert!(
                msgs.iter()
                    .any(|m| m.contains("READY=1") && m.contains("cloud-init-main.service")),
                "network unit notifications: {msgs:?}"
            );
        }
    }
    assert_eq!(wait_exit(&mut main, 60), 0);
    seen.extend(sys.drain());
    let all = seen.join("|");
    for want in [
        "STATUS=Running (local stage)",
        "STATUS=Running (final stage)",
        "STATUS=Completed\nSTOPPING=1",
    ] {
        assert!(all.contains(want), "{want:?} not in {all:?}");
    }
    assert!(
        !share(&root).join("local.sock").exists(),
        "the stage sockets go when the boot is over"
    );

    // The same machine state as the four stage commands run one by one.
    let direct = Sandbox::new(&base, seed);
    assert_eq!(direct.boot(), vec![0, 0, 0, 0]);
    for file in [
        "/etc/single/marker.conf",
        "/var/lib/single-runcmd.txt",
        "/etc/hostname",
        "/etc/passwd",
        "/etc/group",
        "/var/lib/cloud/data/instance-id",
        "/var/lib/cloud/instances/iid-single/boot-finished",
    ] {
        let ours = sb.read(file);
        assert!(!ours.is_empty() || file == "/var/lib/cloud/instances/iid-single/boot-finished");
        if file.ends_with("boot-finished") {
            assert!(sb.path(file).exists(), "boot-finished written");
            continue;
        }
        assert_eq!(ours, direct.read(file), "{file}");
    }
    let (status, code) = sb.status_json();
    assert_eq!(code, 0);
    assert_eq!(status["status"], "done", "{status}");
    let log = sb.log();
    for stage in [
        "init-local",
        "init-network",
        "modules-config",
        "modules-final",
    ] {
        assert!(
            log.contains(&format!("finish: {stage}")),
            "{stage} in the log"
        );
    }

    // Later, with the main process gone, a stage command runs itself.
    let (code, out, err) = client(&root, &["modules", "--mode", "final"], None);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.contains("Completed socket interaction"));
}

/// Upstream's units: `echo start | nc -Uu -W1 <stage>.sock -s <stage>-return.sock | sh`.
fn nc_start(root: &Path, stage: &str, msg: &[u8]) -> UnixDatagram {
    let ret = share(root).join(format!("{stage}-return.sock"));
    let _ = std::fs::remove_file(&ret);
    let s = UnixDatagram::bind(&ret).unwrap();
    s.send_to(msg, share(root).join(format!("{stage}.sock")))
        .unwrap();
    s
}

fn wait_sockets(root: &Path) {
    let t = Instant::now();
    while !share(root).join("final.sock").exists() {
        assert!(t.elapsed() < Duration::from_secs(20), "sockets never bound");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_netcat_client_gets_upstreams_answer_and_a_bad_message_stops_the_boot() {
    let Some(base) = debian_root() else { return };
    let sb = Sandbox::new(
        &base,
        &[("user-data", b"#cloud-config\n"), ("meta-data", META_DATA)],
    );
    let root = sb.root();
    let sys = Notify::new(sb.dir.path(), "main-notify.sock");
    let mut main = start_main(&root, &sys);
    wait_sockets(&root);
    let s = nc_start(&root, "local", b"start\n"[..5].as_ref());
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut buf = [0u8; 512];
    let n = s.recv(&mut buf).unwrap();
    assert_eq!(
        &buf[..n],
        b"echo 'Completed socket interaction for boot stage local'; exit 0;"
    );
    // Anything but "start" ends the boot with an error, as upstream's does.
    let _s = nc_start(&root, "network", b"stop");
    assert_eq!(wait_exit(&mut main, 30), 1);
    let err = {
        let mut e = String::new();
        use std::io::Read;
        main.stderr.take().unwrap().read_to_string(&mut e).unwrap();
        e
    };
    assert!(err.contains("Received invalid message: [stop]"), "{err}");
}

#[test]
fn without_a_main_process_a_stale_socket_is_ignored() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("root");
    std::fs::create_dir_all(share(&root)).unwrap();
    // A socket file whose process is gone.
    drop(UnixDatagram::bind(share(&root).join("local.sock")).unwrap());
    let (code, out, err) = client(&root, &["init", "--local"], None);
    assert!(!out.contains("Completed socket interaction"), "{out}");
    assert!(!err.contains("panicked"), "{err}");
    // It ran the stage itself: the stage wrote its log banner.
    let log = std::fs::read_to_string(root.join("var/log/cloud-init.log")).unwrap_or_default();
    assert!(
        log.contains("init-local"),
        "code {code}; log: {log}; err: {err}"
    );
}

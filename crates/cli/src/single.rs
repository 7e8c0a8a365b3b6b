//! Upstream's single-process layout: `cloud-init --all-stages` under
//! `cloud-init-main.service`, and the stage units that hand their stage to it.
//!
//! The protocol is upstream's (25.1): the main process binds one datagram
//! socket per stage in `/run/cloud-init/share` (`local`, `network`,
//! `config`, `final`), tells systemd it is ready, then for each stage in
//! order waits for `start` sent from `<stage>-return.sock`, runs the stage
//! and answers `echo '<message>'; exit <code>;` to that address. Upstream's
//! stage units send `start` with netcat and pipe the answer into `sh`.
//!
//! Ours differ in two ways, both invisible to upstream's units:
//! - the main process runs each stage as a child of itself (the binary
//!   starts in milliseconds, so one process buys nothing here), and each
//!   stage sets up its config, log and output exactly as in the stage-unit
//!   layout;
//! - our stage commands are their own clients: `cloud-init init --local`
//!   and the others, started while the main process holds the stage's
//!   socket, hand the stage to it and exit with its code (no netcat, no
//!   shell). The network stage's client may add ` ready` to `start`; the
//!   main process then forwards the stage's readiness point (`READY=1`)
//!   as a `ready` datagram before the answer, so `ssh.service` starts as
//!   early as in the stage-unit layout. Upstream reads five bytes and sees
//!   `start`.

use ci_host::Host;
use std::io;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The stages in boot order, with the command line each one runs.
const STAGES: [(&str, &[&str]); 4] = [
    ("local", &["init", "--local"]),
    ("network", &["init"]),
    ("config", &["modules", "--mode", "config"]),
    ("final", &["modules", "--mode", "final"]),
];

/// Upstream's socket folder; it is not moved by `system_info.paths`.
const SHARE_DIR: &str = "/run/cloud-init/share";

/// Set for the stages the main process runs, so that they run rather than
/// hand themselves back to it.
const IN_MAIN_ENV: &str = "CLOUD_INIT_RS_IN_MAIN";

const START: &[u8] = b"start";
const START_READY: &[u8] = b"start ready";
const READY: &[u8] = b"ready";
/// Longest message either side sends; the answer is a short fixed text.
const MAX_MSG: usize = 512;

/// The socket folder inside the root: links in the image are followed
/// inside it, never out (the main process creates, chmods and binds here).
fn share_dir(host: &Host) -> io::Result<PathBuf> {
    host.try_resolve(SHARE_DIR)
}

fn stage_socket(dir: &Path, stage: &str) -> PathBuf {
    dir.join(format!("{stage}.sock"))
}

fn return_socket(dir: &Path, stage: &str) -> PathBuf {
    dir.join(format!("{stage}-return.sock"))
}

/// A socket file left by an earlier run is replaced, as upstream does.
fn bind_fresh(path: &Path) -> io::Result<UnixDatagram> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    UnixDatagram::bind(path)
}

/// The answer to a stage's client: a message for the console and the
/// stage's exit code, in the form upstream's units run with `sh`. Only
/// these fixed texts are ever sent, so nothing in them needs quoting.
fn answer(stage: &str, code: i32, fatal: bool) -> String {
    let message = if fatal {
        "fatal error, run \"systemctl status cloud-init-main.service\" and \"cloud-init status --long\" for more details".to_string()
    } else {
        format!("Completed socket interaction for boot stage {stage}")
    };
    format!("echo '{message}'; exit {code};")
}

/// Reads an answer back: the message and the exit code.
fn parse_answer(text: &str) -> Option<(&str, i32)> {
    let rest = text.strip_prefix("echo '")?;
    let (message, tail) = rest.split_once("'; exit ")?;
    let code = tail.strip_suffix(';')?.trim().parse().ok()?;
    Some((message, code))
}

/// `cloud-init --all-stages`.
pub(crate) fn all_stages(host: &Host) -> i32 {
    let dir = match share_dir(host) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("cloud-init: cannot resolve {SHARE_DIR}: {e}");
            return 1;
        }
    };
    let sockets = match bind_all(&dir) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "cloud-init: cannot bind the stage sockets in {}: {e}",
                dir.display()
            );
            crate::notify::send_status(&format!("STATUS=Failed to bind stage sockets: {e}"));
            return 1;
        }
    };
    // The network stage's readiness reaches us here and goes on to its
    // client (see the module docs).
    let notify_path = dir.join("notify.sock");
    let notify = bind_fresh(&notify_path).ok();
    crate::notify::ready("waiting for the stage units");
    let synced = !std::io::IsTerminal::is_terminal(&std::io::stdin());
    if !synced {
        eprintln!("Stdin is a tty, so skipping stage synchronization protocol");
    }
    let mut any_error = false;
    let mut first_failure: Option<String> = None;
    for ((stage, args), sock) in STAGES.iter().zip(&sockets) {
        let client = if synced {
            crate::notify::send_status(&format!(
                "STATUS=Waiting on external services to complete before starting the {stage} stage."
            ));
            match wait_for_start(sock, &dir, stage) {
                Ok(c) => Some(c),
                Err(e) => {
                    eprintln!("cloud-init: {e}");
                    crate::notify::send_status(&format!("STATUS={e}"));
                    cleanup(&dir, &notify_path);
                    return 1;
                }
            }
        } else {
            None
        };
        crate::notify::send_status(&format!("STATUS=Running ({stage} stage)"));
        let wants_ready = client.as_ref().is_some_and(|c| c.wants_ready);
        let relay = (*stage == "network" && wants_ready)
            .then_some(notify.as_ref())
            .flatten();
        let outcome = run_stage(host, args, relay, client.as_ref(), sock);
        let (code, fatal) = match outcome {
            Ok(Some(code)) => (code, false),
            Ok(None) | Err(_) => (1, true),
        };
        if fatal {
            let why = match outcome {
                Err(e) => format!("the {stage} stage could not run: {e}"),
                _ => format!("the {stage} stage was killed by a signal"),
            };
            eprintln!("cloud-init: {why}");
            crate::notify::send_status(&format!("STATUS={why}"));
            first_failure.get_or_insert(why);
        }
        any_error |= code != 0;
        if let Some(c) = client {
            if let Err(e) = sock.send_to(answer(stage, code, fatal).as_bytes(), &c.path) {
                eprintln!("cloud-init: cannot answer the {stage} stage's unit: {e}");
            }
        }
    }
    cleanup(&dir, &notify_path);
    if any_error {
        let message = match first_failure {
            Some(f) => format!("first exception received: {f}"),
            None => "a stage of cloud-init exited non-zero".to_string(),
        };
        crate::notify::send_status(&format!(
            "STATUS=Completed with failure, {message}. Run 'cloud-init status --long' for more details.\nSTOPPING=1"
        ));
        1
    } else {
        crate::notify::send_status("STATUS=Completed\nSTOPPING=1");
        0
    }
}

fn bind_all(dir: &Path) -> io::Result<Vec<UnixDatagram>> {
    std::fs::create_dir_all(dir)?;
    // Only root may send a stage its start.
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
    STAGES
        .iter()
        .map(|(stage, _)| bind_fresh(&stage_socket(dir, stage)))
        .collect()
}

/// The sockets go when the boot is over, so that a stage run by hand
/// later runs itself instead of looking for this process.
fn cleanup(dir: &Path, notify_path: &Path) {
    for (stage, _) in STAGES {
        let _ = std::fs::remove_file(stage_socket(dir, stage));
    }
    let _ = std::fs::remove_file(notify_path);
}

struct Client {
    path: PathBuf,
    wants_ready: bool,
}

/// Blocks until the stage's unit says `start` from its return socket.
fn wait_for_start(sock: &UnixDatagram, dir: &Path, stage: &str) -> Result<Client, String> {
    let mut buf = [0u8; MAX_MSG];
    let (n, from) = sock
        .recv_from(&mut buf)
        .map_err(|e| format!("reading the {stage} stage's socket: {e}"))?;
    let msg = &buf[..n];
    let expected = return_socket(dir, stage);
    if msg != START && msg != START_READY {
        return Err(format!(
            "Received invalid message: [{}]",
            String::from_utf8_lossy(msg)
        ));
    }
    match from.as_pathname() {
        Some(p) if p == expected => Ok(Client {
            path: expected,
            wants_ready: msg == START_READY,
        }),
        other => Err(format!("Unexpected path to unix socket: {other:?}")),
    }
}

/// Runs one stage as a child; its exit code, or `None` for a signal.
/// With `relay`, the child's `READY=1` is passed on to the client.
fn run_stage(
    host: &Host,
    args: &[&str],
    relay: Option<&UnixDatagram>,
    client: Option<&Client>,
    sock: &UnixDatagram,
) -> io::Result<Option<i32>> {
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    if host.is_sandbox() {
        cmd.arg("--root").arg(host.root());
    }
    cmd.args(args)
        .env(IN_MAIN_ENV, "1")
        .env_remove("NOTIFY_SOCKET")
        .stdin(Stdio::null());
    let notify_path = relay.and_then(|r| r.local_addr().ok()?.as_pathname().map(Path::to_path_buf));
    if let Some(p) = &notify_path {
        cmd.env("NOTIFY_SOCKET", p);
    }
    let mut child = cmd.spawn()?;
    let (Some(relay), Some(client)) = (relay, client) else {
        return Ok(child.wait()?.code());
    };
    relay.set_read_timeout(Some(Duration::from_millis(100)))?;
    let mut forwarded = false;
    let mut buf = [0u8; MAX_MSG];
    loop {
        if let Some(st) = child.try_wait()? {
            return Ok(st.code());
        }
        match relay.recv(&mut buf) {
            Ok(n) if !forwarded && says_ready(&buf[..n]) => {
                forwarded = true;
                if let Err(e) = sock.send_to(READY, &client.path) {
                    eprintln!("cloud-init: cannot pass the network stage's readiness on: {e}");
                }
            }
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e),
        }
    }
}

fn says_ready(msg: &[u8]) -> bool {
    msg.split(|b| *b == b'\n').any(|l| l == b"READY=1")
}

/// Which stage a command line runs, by the socket name.
pub(crate) fn stage_of(command: &crate::args::Command) -> Option<&'static str> {
    use crate::args::{Command, Mode};
    match command {
        Command::Init(a) if a.local => Some("local"),
        Command::Init(_) => Some("network"),
        Command::Modules(a) => match a.mode {
            Mode::Config => Some("config"),
            Mode::Final => Some("final"),
            Mode::Init => None,
        },
        _ => None,
    }
}

/// When `cloud-init-main.service` holds this stage's socket, hand the stage
/// to it and return its exit code; `None` means run the stage here (no main
/// process, or a socket left behind by one that is gone).
pub(crate) fn hand_off(host: &Host, stage: &str) -> Option<i32> {
    if std::env::var_os(IN_MAIN_ENV).is_some() {
        return None;
    }
    let dir = share_dir(host).ok()?;
    let target = stage_socket(&dir, stage);
    let is_socket = std::fs::symlink_metadata(&target)
        .map(|m| m.file_type().is_socket())
        .unwrap_or(false);
    if !is_socket {
        return None;
    }
    let ret_path = return_socket(&dir, stage);
    let sock = match bind_fresh(&ret_path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "cloud-init: cannot bind {}: {e}; running the {stage} stage here",
                ret_path.display()
            );
            return None;
        }
    };
    let start = if stage == "network" {
        START_READY
    } else {
        START
    };
    if let Err(e) = sock.send_to(start, &target) {
        // Nobody listens: the main process is gone.
        let _ = std::fs::remove_file(&ret_path);
        if e.kind() == io::ErrorKind::ConnectionRefused {
            return None;
        }
        eprintln!("cloud-init: cannot reach cloud-init-main.service for the {stage} stage: {e}; running it here");
        return None;
    }
    let code = await_answer(&sock, stage);
    let _ = std::fs::remove_file(&ret_path);
    Some(code)
}

fn await_answer(sock: &UnixDatagram, stage: &str) -> i32 {
    let mut buf = [0u8; MAX_MSG];
    loop {
        let n = match sock.recv(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                eprintln!("cloud-init: waiting for the {stage} stage's answer: {e}");
                return 1;
            }
        };
        let msg = &buf[..n];
        if msg == READY {
            crate::notify::ready("the network stage's readiness point (cloud-init-main.service)");
            continue;
        }
        let text = String::from_utf8_lossy(msg);
        return match parse_answer(&text) {
            Some((message, code)) => {
                println!("{message}");
                code
            }
            None => {
                eprintln!("cloud-init: unexpected answer for the {stage} stage: {text}");
                1
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_read_back() {
        let a = answer("local", 0, false);
        assert_eq!(
            a,
            "echo 'Completed socket interaction for boot stage local'; exit 0;"
        );
        assert_eq!(
            parse_answer(&a),
            Some(("Completed socket interaction for boot stage local", 0))
        );
        let f = answer("final", 1, true);
        assert_eq!(parse_answer(&f).map(|x| x.1), Some(1));
        assert_eq!(parse_answer("echo 'x'; exit ;"), None);
        assert_eq!(parse_answer("rm -rf /"), None);
    }

    #[test]
    fn readiness_is_a_line_of_its_own() {
        assert!(says_ready(b"READY=1\nSTATUS=x\n"));
        assert!(!says_ready(b"STATUS=READY=1\n"));
    }
}

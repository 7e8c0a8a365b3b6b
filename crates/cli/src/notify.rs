//! systemd's readiness protocol for the network stage.
//!
//! `cloud-init-network.service` is `Type=notify`: the units ordered after
//! it (ssh.service, systemd-user-sessions.service, sysinit.target) start
//! when this process says `READY=1`, which it does once the accounts, their
//! keys and the host keys are in place; the stage itself goes on (growpart
//! and resizefs) and the config stage waits for its lock. A process that
//! never said it says it on its way out, so that the unit does not fail
//! with systemd's "protocol" result.

use std::ffi::OsString;
use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

static SENT: AtomicBool = AtomicBool::new(false);
static SOCKET: OnceLock<Option<OsString>> = OnceLock::new();

/// Keep `$NOTIFY_SOCKET` for this process and take it out of the
/// environment, so that the commands the stage runs (bootcmd, tools) do
/// not inherit it. Called first thing, while the process has one thread.
pub fn take_socket() {
    let socket = std::env::var_os("NOTIFY_SOCKET");
    if socket.is_some() {
        std::env::remove_var("NOTIFY_SOCKET");
    }
    let _ = SOCKET.set(socket);
}

/// Send `READY=1` (once per process) to the socket systemd gave, if any.
/// `status` is shown by `systemctl status`.
pub fn ready(status: &str) {
    let Some(Some(socket)) = SOCKET.get() else {
        return;
    };
    if SENT.swap(true, Ordering::SeqCst) {
        return;
    }
    let msg = format!("READY=1\nSTATUS={status}\n");
    match send(socket.as_encoded_bytes(), msg.as_bytes()) {
        Ok(_) => log::debug!("Told systemd the stage is ready: {status}"),
        Err(e) => log::debug!("Failed to notify systemd: {e}"),
    }
}

/// Any other message (`STATUS=...`, `STOPPING=1`) to the socket systemd
/// gave, if any.
pub fn send_status(msg: &str) {
    let Some(Some(socket)) = SOCKET.get() else {
        return;
    };
    if let Err(e) = send(socket.as_encoded_bytes(), msg.as_bytes()) {
        log::debug!("Failed to notify systemd: {e}");
    }
}

fn send(socket: &[u8], msg: &[u8]) -> std::io::Result<usize> {
    let sock = UnixDatagram::unbound()?;
    match socket.split_first() {
        // `@name` is the abstract namespace.
        Some((b'@', name)) => {
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
            sock.send_to_addr(msg, &addr)
        }
        Some((b'/', _)) => {
            use std::os::unix::ffi::OsStrExt;
            sock.send_to(msg, std::ffi::OsStr::from_bytes(socket))
        }
        _ => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "NOTIFY_SOCKET is neither a path nor an abstract name",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_ready_to_a_path_and_to_an_abstract_socket() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("notify");
        let rx = UnixDatagram::bind(&p).unwrap();
        send(p.as_os_str().as_encoded_bytes(), b"READY=1\n").unwrap();
        let mut buf = [0u8; 64];
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\n");

        use std::os::linux::net::SocketAddrExt;
        let name = format!("cirs-notify-test-{}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let rx = UnixDatagram::bind_addr(&addr).unwrap();
        send(format!("@{name}").as_bytes(), b"READY=1\nSTATUS=x\n").unwrap();
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\nSTATUS=x\n");

        assert!(send(b"relative", b"x").is_err());
    }
}

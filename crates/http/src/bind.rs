//! Connections that leave from a chosen local port.
//!
//! Scaleway's metadata API serves user-data and vendor-data only to a
//! client whose source port is below 1024, as proof that it runs as root.
//! The standard library cannot bind a client socket before connecting, so
//! the socket is made with rustix: bound to the unspecified address of the
//! target's family on the port, with `SO_REUSEPORT` as upstream's adapter
//! sets it, then connected within ureq's connect deadline.

use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::io::Errno;
use rustix::net::{bind, connect, socket_with, sockopt, AddressFamily, SocketFlags, SocketType};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, LazyBuffers, NextTimeout, Transport,
};

/// Opens the TCP connection itself, from `port`; TLS (if any) is the next
/// connector's job.
#[derive(Debug)]
pub(crate) struct BoundTcp {
    port: u16,
}

impl BoundTcp {
    pub(crate) fn new(port: u16) -> Self {
        BoundTcp { port }
    }
}

impl Connector<()> for BoundTcp {
    type Out = BoundTransport;

    fn connect(
        &self,
        details: &ConnectionDetails,
        _chained: Option<()>,
    ) -> Result<Option<BoundTransport>, ureq::Error> {
        let budget = details.timeout.not_zero().map(|d| *d);
        let deadline = budget.and_then(|d| Instant::now().checked_add(d));
        let mut last: Option<ureq::Error> = None;
        for addr in details.addrs.iter() {
            match connect_from(*addr, self.port, deadline) {
                Ok(stream) => {
                    let config = details.config;
                    if config.no_delay() {
                        stream.set_nodelay(true)?;
                    }
                    let buffers =
                        LazyBuffers::new(config.input_buffer_size(), config.output_buffer_size());
                    return Ok(Some(BoundTransport { stream, buffers }));
                }
                // The port is the same for every address of the host: a
                // port that cannot be bound is the caller's to retry.
                Err(e @ ureq::Error::Io(_)) if is_bind_error(&e) => return Err(e),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(ureq::Error::ConnectionFailed))
    }
}

fn is_bind_error(e: &ureq::Error) -> bool {
    matches!(e, ureq::Error::Io(io) if io.get_ref().is_some_and(|i| i.is::<BindError>()))
}

/// Binding the local port failed (busy, or not root for a port below 1024).
#[derive(Debug)]
struct BindError(String);

impl std::fmt::Display for BindError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BindError {}

/// A blocking TCP stream to `addr` whose local port is `port`.
pub(crate) fn connect_from(
    addr: SocketAddr,
    port: u16,
    deadline: Option<Instant>,
) -> Result<TcpStream, ureq::Error> {
    let (family, local) = match addr {
        SocketAddr::V4(_) => (
            AddressFamily::INET,
            SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)),
        ),
        SocketAddr::V6(_) => (
            AddressFamily::INET6,
            SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)),
        ),
    };
    let fd = socket_with(
        family,
        SocketType::STREAM,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )
    .map_err(io::Error::from)?;
    sockopt::set_socket_reuseport(&fd, true).map_err(io::Error::from)?;
    if let Err(e) = bind(&fd, &local) {
        let e = io::Error::from(e);
        return Err(io::Error::new(
            e.kind(),
            BindError(format!("cannot bind local port {port}: {e}")),
        )
        .into());
    }
    match connect(&fd, &addr) {
        Ok(()) => {}
        Err(Errno::INPROGRESS) | Err(Errno::INTR) => wait_connected(&fd, deadline)?,
        Err(e) => return Err(io::Error::from(e).into()),
    }
    let stream = TcpStream::from(fd);
    stream.set_nonblocking(false)?;
    Ok(stream)
}

/// Waits for a non-blocking connect to finish by `deadline`.
fn wait_connected(fd: &OwnedFd, deadline: Option<Instant>) -> Result<(), ureq::Error> {
    loop {
        let left = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(ureq::Error::Timeout(ureq::Timeout::Connect));
                }
                Some(left)
            }
            None => None,
        };
        let spec = left.map(to_timespec);
        let mut fds = [PollFd::new(fd, PollFlags::OUT)];
        match poll(&mut fds, spec.as_ref()) {
            Ok(0) => continue,
            Ok(_) => break,
            Err(Errno::INTR) => continue,
            Err(e) => return Err(io::Error::from(e).into()),
        }
    }
    match sockopt::socket_error(fd).map_err(io::Error::from)? {
        Ok(()) => Ok(()),
        Err(e) => Err(io::Error::from(e).into()),
    }
}

fn to_timespec(d: Duration) -> Timespec {
    Timespec::try_from(d).unwrap_or(Timespec {
        tv_sec: i64::MAX,
        tv_nsec: 0,
    })
}

/// A connected socket and ureq's buffers. ureq keeps its own TCP transport
/// private, so this is the plain blocking equivalent: per-call socket
/// timeouts from ureq's deadlines. (It is not registered for
/// `Agent::shutdown`, which nothing here uses.)
#[derive(Debug)]
pub(crate) struct BoundTransport {
    stream: TcpStream,
    buffers: LazyBuffers,
}

/// The socket timeout for the next I/O, or the timeout error when the
/// deadline has passed.
fn io_timeout(t: NextTimeout) -> Result<Option<Duration>, ureq::Error> {
    if t.after.is_not_happening() {
        Ok(None)
    } else if t.after.is_zero() {
        Err(ureq::Error::Timeout(t.reason))
    } else {
        Ok(Some(*t.after))
    }
}

fn io_error(e: io::Error, t: NextTimeout) -> ureq::Error {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ureq::Error::Timeout(t.reason),
        _ => ureq::Error::Io(e),
    }
}

impl Transport for BoundTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        let t = timeout.for_write();
        self.stream.set_write_timeout(io_timeout(t)?)?;
        let out = self.buffers.output();
        let out = out.get(..amount).unwrap_or(out);
        (&self.stream).write_all(out).map_err(|e| io_error(e, t))
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        let t = timeout.for_read();
        self.stream.set_read_timeout(io_timeout(t)?)?;
        let buf = self.buffers.input_append_buf();
        let n = loop {
            match (&self.stream).read(buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_error(e, t)),
            }
        };
        self.buffers.input_appended(n);
        Ok(n > 0)
    }

    /// Open when nothing is waiting to be read and the peer has not closed
    /// (what a pooled connection must be to be reused).
    fn is_open(&mut self) -> bool {
        if self.stream.set_nonblocking(true).is_err() {
            return false;
        }
        let mut probe = [0u8; 1];
        let idle = matches!(
            (&self.stream).read(&mut probe),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock
        );
        idle && self.stream.set_nonblocking(false).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::TlsServer;
    use crate::{agent, error_text, AgentOpts, Trust};
    use std::io::{BufRead, BufReader, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::mpsc;
    use std::time::Duration;

    /// A plain HTTP server on 127.0.0.1 answering one request with `body`
    /// and reporting the client's port.
    fn one_shot_server(body: &'static str) -> (u16, mpsc::Receiver<u16>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let (mut conn, peer) = listener.accept().unwrap();
            tx.send(peer.port()).unwrap();
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap() > 0 && line != "\r\n" {
                line.clear();
            }
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            conn.write_all(head.as_bytes()).unwrap();
            conn.write_all(body.as_bytes()).unwrap();
        });
        (port, rx)
    }

    fn bound(port: u16, trust: Trust) -> ureq::Agent {
        agent(&AgentOpts {
            timeout_global: Some(Duration::from_secs(10)),
            source_port: Some(port),
            trust,
            ..AgentOpts::default()
        })
    }

    /// Ports below 1024 need root; say so instead of failing elsewhere.
    fn privileged_ports_allowed() -> bool {
        match TcpListener::bind("127.0.0.1:1009") {
            Ok(_) => true,
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                eprintln!("skipped: binding ports below 1024 needs root");
                false
            }
            // Another test probing at the same time: the kernel checks the
            // privilege before the port, so this one has it too.
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => true,
            Err(e) => panic!("probe port 1009: {e}"),
        }
    }

    #[test]
    fn request_leaves_from_the_privileged_port() {
        if !privileged_ports_allowed() {
            return;
        }
        let (srv, peer) = one_shot_server("from port");
        let mut resp = bound(1010, Trust::system())
            .get(format!("http://127.0.0.1:{srv}/user_data/cloud-init"))
            .call()
            .unwrap();
        assert_eq!(resp.body_mut().read_to_string().unwrap(), "from port");
        let port = peer.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(port, 1010);
        assert!(port < 1024);
    }

    #[test]
    fn busy_port_is_an_error_naming_the_port() {
        if !privileged_ports_allowed() {
            return;
        }
        let holder = TcpListener::bind("0.0.0.0:1011").unwrap();
        let (srv, _peer) = one_shot_server("unused");
        let err = bound(1011, Trust::system())
            .get(format!("http://127.0.0.1:{srv}/"))
            .call()
            .unwrap_err();
        match &err {
            ureq::Error::Io(io) => assert_eq!(io.kind(), std::io::ErrorKind::AddrInUse),
            other => panic!("not an I/O error: {other:?}"),
        }
        let text = error_text(&err);
        assert_eq!(
            text,
            "io: cannot bind local port 1011: Address already in use (os error 98)"
        );
        drop(holder);
    }

    #[test]
    fn refused_connection_is_an_error() {
        if !privileged_ports_allowed() {
            return;
        }
        // A port nobody listens on: bind it, learn it, close it.
        let closed = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let err = bound(1012, Trust::system())
            .get(format!("http://127.0.0.1:{closed}/"))
            .call()
            .unwrap_err();
        assert!(
            matches!(&err, ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused),
            "{err:?}"
        );
    }

    #[test]
    fn https_works_from_a_bound_port() {
        if !privileged_ports_allowed() {
            return;
        }
        let srv = TlsServer::start(&[("/x", b"tls from port")]).unwrap();
        let trust = Trust::pem("test bundle", srv.ca_pem().unwrap());
        let mut resp = bound(1013, trust).get(srv.url("/x")).call().unwrap();
        assert_eq!(resp.body_mut().read_to_string().unwrap(), "tls from port");
        // The connection leaves from 1013: it is busy until closed.
        drop(resp);
        let _ = TcpStream::connect(("127.0.0.1", srv.port()));
    }
}

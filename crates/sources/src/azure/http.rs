//! One HTTP exchange with Azure's endpoints (IMDS, wireserver), telling
//! connection failures from timeouts as upstream's retry rules need.

use std::time::Duration;

/// Why a request got no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailKind {
    /// Refused, unreachable, reset before a response (requests' ConnectionError).
    Connection,
    ConnectTimeout,
    ReadTimeout,
    /// Anything else (a truncated body, a protocol error).
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpFail {
    pub kind: FailKind,
    pub message: String,
}

/// An agent with per-request connect and read budgets.
#[derive(Debug, Clone)]
pub struct Client {
    agent: ureq::Agent,
}

impl Client {
    pub fn new(connect: Duration, read: Duration, user_agent: &str) -> Client {
        let agent = ci_http::agent(&ci_http::AgentOpts {
            timeout_connect: Some(connect),
            timeout_recv_response: Some(read),
            timeout_recv_body: Some(read),
            timeout_global: Some(connect + read),
            user_agent: Some(user_agent.to_string()),
            env_proxy: false,
            ..ci_http::AgentOpts::default()
        });
        Client { agent }
    }

    /// GET (no body) or POST (body), returning status and body.
    pub fn send(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<(u16, Vec<u8>), HttpFail> {
        let result = match body {
            Some(b) => {
                let mut req = self.agent.post(url);
                for (k, v) in headers {
                    req = req.header(*k, *v);
                }
                req.send(b)
            }
            None => {
                let mut req = self.agent.get(url);
                for (k, v) in headers {
                    req = req.header(*k, *v);
                }
                req.call()
            }
        };
        let mut resp = result.map_err(classify)?;
        let code = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(16 * 1024 * 1024)
            .read_to_vec()
            .map_err(classify)?;
        Ok((code, body))
    }
}

fn classify(e: ureq::Error) -> HttpFail {
    let kind = match &e {
        ureq::Error::Timeout(ureq::Timeout::Connect | ureq::Timeout::Resolve) => {
            FailKind::ConnectTimeout
        }
        ureq::Error::Timeout(_) => FailKind::ReadTimeout,
        ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => FailKind::Connection,
        ureq::Error::Io(io) => match io.kind() {
            std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::NotConnected
            | std::io::ErrorKind::AddrNotAvailable => FailKind::Connection,
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => FailKind::ReadTimeout,
            _ => FailKind::Other,
        },
        _ => FailKind::Other,
    };
    HttpFail {
        kind,
        message: e.to_string(),
    }
}

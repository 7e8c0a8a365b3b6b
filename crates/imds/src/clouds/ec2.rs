//! EC2's instance metadata service: IMDSv2 tokens, versioned trees.

use super::CloudApi;
use crate::http::{Request, Response};
use crate::seed::{Seed, TokenMode};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

const TOKEN_ROUTE: &str = "/latest/api/token";
const TOKEN_HEADER: &str = "x-aws-ec2-metadata-token";
const TTL_HEADER: &str = "x-aws-ec2-metadata-token-ttl-seconds";
/// Tokens remembered at most.
const MAX_TOKENS: usize = 10_000;

/// The EC2 API over a [`Seed`].
pub struct Ec2Api {
    seed: Seed,
    issued: AtomicU64,
    tokens: Mutex<Vec<String>>,
}

impl Ec2Api {
    pub fn new(seed: Seed) -> Ec2Api {
        Ec2Api {
            seed,
            issued: AtomicU64::new(0),
            tokens: Mutex::new(Vec::new()),
        }
    }

    fn route(&self, req: &Request) -> (u16, Vec<u8>) {
        let seed = &self.seed;
        if req.path == TOKEN_ROUTE {
            return self.issue_token(req);
        }
        if req.method != "GET" {
            return (405, Vec::new());
        }
        let tokens = self.tokens.lock().map(|t| t.clone()).unwrap_or_default();
        match (req.header(TOKEN_HEADER), seed.token) {
            (Some(t), _) if !tokens.iter().any(|k| k == t) => return (401, Vec::new()),
            (None, TokenMode::Required) => return (401, Vec::new()),
            _ => {}
        }
        let path = req.path.trim_start_matches('/');
        if path.is_empty() {
            let mut v = seed.versions.clone();
            v.push("latest".into());
            return (200, v.join("\n").into_bytes());
        }
        let (version, rest) = path.split_once('/').unwrap_or((path, ""));
        if version != "latest" && !seed.versions.iter().any(|v| v == version) {
            return (404, Vec::new());
        }
        let (top, sub) = rest.split_once('/').unwrap_or((rest, ""));
        let node = match top {
            "" => {
                let mut l = vec!["dynamic", "meta-data"];
                if seed.user_data.is_some() {
                    l.push("user-data");
                }
                return (200, l.join("\n").into_bytes());
            }
            "user-data" if sub.is_empty() => {
                return match &seed.user_data {
                    Some(u) => (200, u.clone()),
                    None => (404, Vec::new()),
                }
            }
            "meta-data" => seed.meta_data.lookup(sub),
            "dynamic" => seed.dynamic.lookup(sub),
            _ => None,
        };
        match node {
            Some(n) => (200, n.body()),
            None => (404, Vec::new()),
        }
    }

    fn issue_token(&self, req: &Request) -> (u16, Vec<u8>) {
        if let TokenMode::Unsupported(code) = self.seed.token {
            return (code, Vec::new());
        }
        if req.method != "PUT" {
            return (405, Vec::new());
        }
        let ttl_ok = req
            .header(TTL_HEADER)
            .and_then(|t| t.parse::<u32>().ok())
            .is_some_and(|t| (1..=21600).contains(&t));
        if !ttl_ok {
            return (400, Vec::new());
        }
        let n = self.issued.fetch_add(1, Ordering::SeqCst);
        let token = format!("AQAEAEmulatedToken{n:08}==");
        if let Ok(mut t) = self.tokens.lock() {
            if t.len() < MAX_TOKENS {
                t.push(token.clone());
            }
        }
        (200, token.into_bytes())
    }
}

impl CloudApi for Ec2Api {
    fn name(&self) -> &'static str {
        "EC2"
    }

    fn answer(&self, req: &Request) -> Response {
        let (status, body) = self.route(req);
        Response::new(status, body).with_header("Server", "EC2ws")
    }

    fn revoke_tokens(&self) {
        if let Ok(mut t) = self.tokens.lock() {
            t.clear();
        }
    }
}

//! Alibaba Cloud ECS's metadata service: EC2-style trees under
//! `/<version>/` (`2016-01-01` and `latest`), `meta-data/all` (the whole
//! meta-data as one JSON object), `user-data`, `vendor-data`, and session
//! tokens: `PUT /latest/api/token` with
//! `X-aliyun-ecs-metadata-token-ttl-seconds` (1..21600) issues one; a
//! request sending `X-aliyun-ecs-metadata-token` must send a valid one
//! (401 otherwise); with `aliyun-token: required` in meta-data every
//! request must.
//!
//! Seed mapping (meta-data key → meta-data field):
//! - `instance-id`, `image-id` (default `m-0000000000000000`) as given
//! - `local-hostname` → `hostname`
//! - `region` → `region-id`; `availability-zone` → `zone-id`
//! - `public-keys` → `public-keys/<name or index>/openssh-key`
//! - `macs` (mapping mac → attributes) → `network/interfaces/macs/`
//! - any other key → served as given (mappings as directories)
//! - the `user-data` / `vendor-data` files → `user-data` / `vendor-data`
//!   (404 without them)

use super::gce::text;
use super::CloudApi;
use crate::http::{Request, Response};
use crate::seedfiles::SeedFiles;
use serde_json::{json, Map, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

const TOKEN_HEADER: &str = "x-aliyun-ecs-metadata-token";
const TTL_HEADER: &str = "x-aliyun-ecs-metadata-token-ttl-seconds";
const VERSIONS: &[&str] = &["2016-01-01", "latest"];
const MAX_TOKENS: usize = 10_000;

pub struct AliYunApi {
    meta: Value,
    user_data: Option<Vec<u8>>,
    vendor_data: Option<Vec<u8>>,
    required: bool,
    issued: AtomicU64,
    tokens: Mutex<Vec<String>>,
}

impl AliYunApi {
    pub fn new(seed: SeedFiles) -> AliYunApi {
        let md = &seed.meta_data;
        let mut meta = Map::new();
        let s = |k: &str| md.get(k).filter(|v| !v.is_null()).map(text);
        meta.insert(
            "instance-id".into(),
            json!(s("instance-id").unwrap_or("i-bp1000000000000000".into())),
        );
        meta.insert(
            "hostname".into(),
            json!(s("local-hostname").unwrap_or("iZbp1000000000000000Z".into())),
        );
        meta.insert(
            "image-id".into(),
            json!(s("image-id").unwrap_or("m-0000000000000000".into())),
        );
        if let Some(r) = s("region") {
            meta.insert("region-id".into(), json!(r));
        }
        if let Some(z) = s("availability-zone") {
            meta.insert("zone-id".into(), json!(z));
        }
        let keys: Vec<(String, String)> = match md.get("public-keys") {
            Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), text(v))).collect(),
            _ => seed
                .public_keys()
                .into_iter()
                .enumerate()
                .map(|(i, k)| (i.to_string(), k))
                .collect(),
        };
        if !keys.is_empty() {
            let pk: Map<String, Value> = keys
                .into_iter()
                .map(|(n, k)| (n, json!({"openssh-key": k})))
                .collect();
            meta.insert("public-keys".into(), Value::Object(pk));
        }
        if let Some(macs @ Value::Object(_)) = md.get("macs") {
            meta.insert("network".into(), json!({"interfaces": {"macs": macs}}));
        }
        for (k, v) in md {
            match k.as_str() {
                "instance-id" | "local-hostname" | "image-id" | "region" | "availability-zone"
                | "public-keys" | "macs" | "aliyun-token" => {}
                _ => {
                    meta.insert(k.clone(), v.clone());
                }
            }
        }
        AliYunApi {
            meta: Value::Object(meta),
            user_data: seed.user_data.clone(),
            vendor_data: seed.vendor_data.clone(),
            required: s("aliyun-token").as_deref() == Some("required"),
            issued: AtomicU64::new(0),
            tokens: Mutex::new(Vec::new()),
        }
    }

    fn issue_token(&self, req: &Request) -> Response {
        if req.method != "PUT" {
            return Response::status(405);
        }
        let ttl_ok = req
            .header(TTL_HEADER)
            .and_then(|t| t.parse::<u32>().ok())
            .is_some_and(|t| (1..=21600).contains(&t));
        if !ttl_ok {
            return Response::status(400);
        }
        let token = format!(
            "AliYunEmulatedToken{:08}==",
            self.issued.fetch_add(1, Ordering::SeqCst)
        );
        if let Ok(mut t) = self.tokens.lock() {
            if t.len() < MAX_TOKENS {
                t.push(token.clone());
            }
        }
        Response::ok(token)
    }

    fn route(&self, req: &Request) -> Response {
        if req.path == "/latest/api/token" {
            return self.issue_token(req);
        }
        if req.method != "GET" {
            return Response::status(405);
        }
        let valid = |t: &str| {
            self.tokens
                .lock()
                .map(|l| l.iter().any(|k| k == t))
                .unwrap_or(false)
        };
        match req.header(TOKEN_HEADER) {
            Some(t) if !valid(t) => return Response::status(401),
            None if self.required => return Response::status(401),
            _ => {}
        }
        let path = req.path.trim_start_matches('/');
        let (version, rest) = path.split_once('/').unwrap_or((path, ""));
        if !VERSIONS.contains(&version) {
            return Response::status(404);
        }
        let (top, sub) = rest.split_once('/').unwrap_or((rest, ""));
        match (top, sub.trim_end_matches('/')) {
            ("", _) => Response::ok("dynamic/\nmeta-data/\nuser-data\nvendor-data"),
            ("user-data", "") => blob(&self.user_data),
            ("vendor-data", "") => blob(&self.vendor_data),
            ("meta-data", "all") => {
                Response::ok(self.meta.to_string()).with_header("Content-Type", "application/json")
            }
            ("meta-data", sub) => {
                let node = sub
                    .split('/')
                    .filter(|s| !s.is_empty())
                    .try_fold(&self.meta, |n, seg| n.get(seg));
                match node {
                    Some(Value::Object(m)) => Response::ok(
                        m.iter()
                            .map(|(k, v)| {
                                if v.is_object() {
                                    format!("{k}/")
                                } else {
                                    k.clone()
                                }
                            })
                            .collect::<Vec<_>>()
                            .join("\n"),
                    ),
                    Some(Value::Array(a)) => {
                        Response::ok(a.iter().map(text).collect::<Vec<_>>().join("\n"))
                    }
                    Some(v) => Response::ok(text(v)),
                    None => Response::status(404),
                }
            }
            _ => Response::status(404),
        }
    }
}

fn blob(b: &Option<Vec<u8>>) -> Response {
    match b {
        Some(b) => Response::ok(b.clone()),
        None => Response::status(404),
    }
}

impl CloudApi for AliYunApi {
    fn name(&self) -> &'static str {
        "AliYun"
    }

    fn answer(&self, req: &Request) -> Response {
        self.route(req).with_header("Server", "Tengine")
    }

    fn revoke_tokens(&self) {
        if let Ok(mut t) = self.tokens.lock() {
            t.clear();
        }
    }
}

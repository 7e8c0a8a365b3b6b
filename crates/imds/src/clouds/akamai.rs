//! Akamai (Linode) metadata service v1: `PUT /v1/token` with
//! `Metadata-Token-Expiry-Seconds` (1..=86400) returns a token; every other
//! request needs it in `Metadata-Token` (401 without, or with an unknown
//! one). `GET /v1/instance`, `/v1/network` and `/v1/ssh-keys` answer JSON
//! when `Accept: application/json` is sent, else `key: value` text;
//! `GET /v1/user-data` answers the user-data base64-encoded (empty when
//! none).
//!
//! Seed mapping (meta-data key → field):
//! - `instance-id` → `id` (a number when it is one; default 123456)
//! - `local-hostname` → `label` (default `linode123456`); `region`
//!   (default `us-ord`); `instance-type` → `type` (default `g6-nanode-1`)
//! - `host-uuid` → `host_uuid`; `tags` (default `[]`)
//! - `public-keys` → `/v1/ssh-keys` `users.root`
//! - `public-ipv4` (default 172.232.0.10), `public-ipv6` (default
//!   `2600:3c06::f03c:94ff:fe00:1/128`) → `/v1/network` `ipv4.public`,
//!   `ipv6.slaac`; `mac` (default `f2:3c:94:00:00:01`) → its interface
//! - `akamai` (mapping) → merged into the instance document as given
//! - the `user-data` file → `/v1/user-data`

use super::CloudApi;
use crate::http::{Request, Response};
use crate::seedfiles::SeedFiles;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

const EXPIRY_HEADER: &str = "metadata-token-expiry-seconds";
const TOKEN_HEADER: &str = "metadata-token";
const MAX_TOKENS: usize = 10_000;

pub struct AkamaiApi {
    instance: Value,
    network: Value,
    ssh_keys: Value,
    user_data: Vec<u8>,
    issued: AtomicU64,
    tokens: Mutex<Vec<String>>,
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl AkamaiApi {
    pub fn new(seed: SeedFiles) -> AkamaiApi {
        let md = |k: &str| seed.meta_data.get(k).filter(|v| !v.is_null());
        let id = match md("instance-id") {
            Some(v) => {
                let t = text(v);
                t.parse::<u64>().map(|n| json!(n)).unwrap_or(json!(t))
            }
            None => json!(123456),
        };
        let mut instance = json!({
            "id": id,
            "host_uuid": md("host-uuid").map(text).unwrap_or("0000000000000000000000000000000000000001".into()),
            "label": md("local-hostname").map(text).unwrap_or("linode123456".into()),
            "region": md("region").map(text).unwrap_or("us-ord".into()),
            "type": md("instance-type").map(text).unwrap_or("g6-nanode-1".into()),
            "tags": md("tags").cloned().unwrap_or(json!([])),
            "specs": {"vcpus": 1, "memory": 1024, "gpus": 0, "transfer": 1000, "disk": 25600},
            "backups": {"enabled": false, "status": null},
        });
        if let (Value::Object(d), Some(Value::Object(extra))) = (&mut instance, md("akamai")) {
            d.extend(extra.clone());
        }
        let v4 = md("public-ipv4").map(text).unwrap_or("172.232.0.10".into());
        let network = json!({
            "interfaces": [{"label": null, "purpose": "public", "ipam_address": null,
                            "mac": md("mac").map(text).unwrap_or("f2:3c:94:00:00:01".into())}],
            "ipv4": {"public": [format!("{v4}/24")], "private": [], "shared": []},
            "ipv6": {"slaac": md("public-ipv6").map(text).unwrap_or("2600:3c06::f03c:94ff:fe00:1/128".into()),
                     "ranges": [], "link_local": "fe80::f03c:94ff:fe00:1/128", "shared_ranges": []},
        });
        AkamaiApi {
            instance,
            network,
            ssh_keys: json!({"users": {"root": seed.public_keys()}}),
            user_data: seed.user_data.clone().unwrap_or_default(),
            issued: AtomicU64::new(0),
            tokens: Mutex::new(Vec::new()),
        }
    }

    fn issue_token(&self, req: &Request) -> Response {
        if req.method != "PUT" {
            return Response::status(405);
        }
        let ok = req
            .header(EXPIRY_HEADER)
            .and_then(|t| t.parse::<u32>().ok())
            .is_some_and(|t| (1..=86400).contains(&t));
        if !ok {
            return Response::status(400);
        }
        let n = self.issued.fetch_add(1, Ordering::SeqCst);
        let token = format!("akamai-emulated-token-{n:08}");
        if let Ok(mut t) = self.tokens.lock() {
            if t.len() < MAX_TOKENS {
                t.push(token.clone());
            }
        }
        Response::ok(token)
    }

    fn authorised(&self, req: &Request) -> bool {
        let Some(t) = req.header(TOKEN_HEADER) else {
            return false;
        };
        self.tokens
            .lock()
            .map(|k| k.iter().any(|x| x == t))
            .unwrap_or(false)
    }
}

/// The text form: `key: value`, nested keys joined with `.`.
fn as_text(v: &Value, prefix: &str, out: &mut String) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                as_text(x, &key, out);
            }
        }
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(text).collect();
            out.push_str(&format!("{prefix}: {}\n", items.join(" ")));
        }
        Value::Null => out.push_str(&format!("{prefix}: \n")),
        other => out.push_str(&format!("{prefix}: {}\n", text(other))),
    }
}

fn b64(data: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                let idx = ((n >> (18 - 6 * i)) & 63) as usize;
                out.push(char::from(ABC.get(idx).copied().unwrap_or(b'A')));
            } else {
                out.push('=');
            }
        }
    }
    out
}

impl CloudApi for AkamaiApi {
    fn name(&self) -> &'static str {
        "Akamai"
    }

    fn answer(&self, req: &Request) -> Response {
        if req.path == "/v1/token" {
            return self.issue_token(req);
        }
        let doc = match req.path.as_str() {
            "/v1/instance" => Some(&self.instance),
            "/v1/network" => Some(&self.network),
            "/v1/ssh-keys" => Some(&self.ssh_keys),
            "/v1/user-data" => None,
            _ => return Response::status(404),
        };
        if req.method != "GET" {
            return Response::status(405);
        }
        if !self.authorised(req) {
            return Response::status(401);
        }
        let Some(doc) = doc else {
            return Response::ok(b64(&self.user_data));
        };
        let json_wanted = req
            .header("accept")
            .is_some_and(|a| a.contains("application/json"));
        if json_wanted {
            Response::ok(doc.to_string()).with_header("Content-Type", "application/json")
        } else {
            let mut out = String::new();
            as_text(doc, "", &mut out);
            Response::ok(out)
        }
    }

    fn revoke_tokens(&self) {
        if let Ok(mut t) = self.tokens.lock() {
            t.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: &str, path: &str, headers: &[(&str, &str)]) -> Request {
        Request {
            method: method.into(),
            path: path.into(),
            query: String::new(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
                .collect(),
            body: Vec::new(),
            close: true,
        }
    }

    #[test]
    fn token_then_data() {
        let seed = SeedFiles {
            meta_data: serde_json::from_value(
                json!({"instance-id": "42", "public-keys": ["ssh-ed25519 K"]}),
            )
            .unwrap(),
            user_data: Some(b"#cloud-config\n".to_vec()),
            ..SeedFiles::default()
        };
        let api = AkamaiApi::new(seed);
        assert_eq!(api.answer(&req("PUT", "/v1/token", &[])).status, 400);
        assert_eq!(api.answer(&req("GET", "/v1/instance", &[])).status, 401);
        let tok = api.answer(&req(
            "PUT",
            "/v1/token",
            &[("Metadata-Token-Expiry-Seconds", "300")],
        ));
        let tok = String::from_utf8(tok.body).unwrap();
        let auth = [
            ("Metadata-Token", tok.as_str()),
            ("Accept", "application/json"),
        ];
        let inst: Value =
            serde_json::from_slice(&api.answer(&req("GET", "/v1/instance", &auth)).body).unwrap();
        assert_eq!(inst["id"], 42);
        let keys: Value =
            serde_json::from_slice(&api.answer(&req("GET", "/v1/ssh-keys", &auth)).body).unwrap();
        assert_eq!(keys["users"]["root"][0], "ssh-ed25519 K");
        assert_eq!(
            api.answer(&req("GET", "/v1/user-data", &auth)).body,
            b"I2Nsb3VkLWNvbmZpZwo="
        );
        let plain = api.answer(&req("GET", "/v1/instance", &auth[..1])).body;
        assert!(String::from_utf8(plain).unwrap().contains("id: 42\n"));
        api.revoke_tokens();
        assert_eq!(api.answer(&req("GET", "/v1/instance", &auth)).status, 401);
        assert_eq!(b64(b"ab"), "YWI=");
        assert_eq!(b64(b"a"), "YQ==");
    }
}

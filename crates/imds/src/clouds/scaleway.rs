//! Scaleway's instance metadata API (`169.254.42.42`):
//! `GET /conf?format=json` (the instance document), `GET /conf` (the same
//! as shell-style `KEY=value` lines), `GET /user_data/cloud-init` and
//! `GET /vendor_data/cloud-init` (raw; 404 when unset), `GET
//! /user_data?format=json` (the key list), `GET /` (a short banner, what
//! the datasource probes).
//!
//! The real API serves user-data and vendor-data only to a source port
//! below 1024. The emulator sees no peer address, so it cannot check
//! that; clients are tested for the port they bind instead.
//!
//! Seed mapping (meta-data key → document field):
//! - `instance-id` → `id`; `local-hostname` → `hostname` and `name`
//! - `public-keys` → `ssh_public_keys` (`[{key, fingerprint}]`)
//! - `availability-zone` → `location.zone_id` (default `fr-par-1`)
//! - `instance-type` → `commercial_type` (default `DEV1-S`)
//! - `public-ipv4` → `public_ip` and, unless given, `public_ips` (one
//!   `inet` /32 via 62.210.0.1); `public-ipv6` adds an `inet6` /64 entry
//! - `private_ip` (default null), `ipv6` (default null), `tags` (default
//!   `[]`), `public_ips` are passed as given
//! - `scaleway` (mapping) → merged into the document as given
//! - the `user-data` / `vendor-data` files → `user_data/cloud-init` /
//!   `vendor_data/cloud-init`

use super::CloudApi;
use crate::http::{Request, Response};
use crate::seedfiles::SeedFiles;
use serde_json::{json, Value};

pub struct ScalewayApi {
    doc: Value,
    user_data: Option<Vec<u8>>,
    vendor_data: Option<Vec<u8>>,
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl ScalewayApi {
    pub fn new(seed: SeedFiles) -> ScalewayApi {
        let md = |k: &str| seed.meta_data.get(k).filter(|v| !v.is_null());
        let given = |k: &str, default: Value| md(k).cloned().unwrap_or(default);
        let hostname = md("local-hostname")
            .map(text)
            .unwrap_or("scw-instance".into());
        let keys: Vec<Value> = seed
            .public_keys()
            .into_iter()
            .map(|k| json!({"key": k, "fingerprint": ""}))
            .collect();
        let public_v4 = md("public-ipv4").map(text);
        let mut public_ips = Vec::new();
        if let Some(a) = &public_v4 {
            public_ips.push(json!({"address": a, "netmask": "32", "family": "inet",
                                   "gateway": "62.210.0.1", "dynamic": false, "provisioning_mode": "dhcp"}));
        }
        if let Some(a) = md("public-ipv6").map(text) {
            public_ips.push(json!({"address": a, "netmask": "64", "family": "inet6",
                                   "gateway": "fe80::1", "dynamic": false, "provisioning_mode": "slaac"}));
        }
        let mut doc = json!({
            "id": md("instance-id").map(text).unwrap_or("00000000-0000-4000-8000-000000000001".into()),
            "name": hostname,
            "hostname": hostname,
            "commercial_type": md("instance-type").map(text).unwrap_or("DEV1-S".into()),
            "organization": "00000000-0000-0000-0000-000000000000",
            "project": "00000000-0000-0000-0000-000000000000",
            "tags": given("tags", json!([])),
            "state_detail": "booted",
            "public_ip": public_v4.as_ref().map(|a| json!({"address": a, "dynamic": false, "id": "ip-1"})),
            "public_ips": given("public_ips", json!(public_ips)),
            "private_ip": given("private_ip", Value::Null),
            "ipv6": given("ipv6", Value::Null),
            "ssh_public_keys": keys,
            "location": {"zone_id": md("availability-zone").map(text).unwrap_or("fr-par-1".into())},
        });
        if let (Value::Object(d), Some(Value::Object(extra))) = (&mut doc, md("scaleway")) {
            d.extend(extra.clone());
        }
        ScalewayApi {
            doc,
            user_data: seed.user_data.clone(),
            vendor_data: seed.vendor_data.clone(),
        }
    }

    /// `/conf` without `format=json`: `KEY=value` lines for scalar fields.
    fn shell_conf(&self) -> String {
        let mut out = String::new();
        if let Value::Object(m) = &self.doc {
            for (k, v) in m {
                let v = match v {
                    Value::Object(_) | Value::Array(_) => continue,
                    Value::Null => String::new(),
                    other => text(other),
                };
                out.push_str(&format!("{}={}\n", k.to_uppercase(), v));
            }
        }
        out
    }
}

impl CloudApi for ScalewayApi {
    fn name(&self) -> &'static str {
        "Scaleway"
    }

    fn answer(&self, req: &Request) -> Response {
        if req.method != "GET" {
            return Response::status(405);
        }
        let json_wanted = req.query.split('&').any(|q| q == "format=json");
        let blob = |b: &Option<Vec<u8>>| match b {
            Some(d) => Response::ok(d.clone()).with_header("Content-Type", "text/plain"),
            None => Response::status(404),
        };
        match req.path.trim_end_matches('/') {
            "" => Response::ok("Scaleway metadata API\n"),
            "/conf" if json_wanted => {
                Response::ok(self.doc.to_string()).with_header("Content-Type", "application/json")
            }
            "/conf" => Response::ok(self.shell_conf()),
            "/user_data" => {
                let keys: Vec<&str> = self.user_data.iter().map(|_| "cloud-init").collect();
                Response::ok(json!({ "user_data": keys }).to_string())
                    .with_header("Content-Type", "application/json")
            }
            "/user_data/cloud-init" => blob(&self.user_data),
            "/vendor_data/cloud-init" => blob(&self.vendor_data),
            _ => Response::status(404),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(path: &str, query: &str) -> Request {
        Request {
            method: "GET".into(),
            path: path.into(),
            query: query.into(),
            headers: Vec::new(),
            body: Vec::new(),
            close: true,
        }
    }

    #[test]
    fn serves_the_document() {
        let seed = SeedFiles {
            meta_data: serde_json::from_value(json!({
                "instance-id": "abc", "local-hostname": "web1", "public-ipv4": "51.1.2.3",
                "public-keys": ["ssh-rsa A"], "tags": ["AUTHORIZED_KEY=ssh-ed25519_B"]
            }))
            .unwrap(),
            user_data: Some(b"#cloud-config\n".to_vec()),
            ..SeedFiles::default()
        };
        let api = ScalewayApi::new(seed);
        let doc: Value =
            serde_json::from_slice(&api.answer(&req("/conf", "format=json")).body).unwrap();
        assert_eq!(doc["id"], "abc");
        assert_eq!(doc["hostname"], "web1");
        assert_eq!(doc["ssh_public_keys"][0]["key"], "ssh-rsa A");
        assert_eq!(doc["public_ips"][0]["address"], "51.1.2.3");
        assert_eq!(doc["private_ip"], Value::Null);
        assert!(String::from_utf8(api.answer(&req("/conf", "")).body)
            .unwrap()
            .contains("HOSTNAME=web1\n"));
        assert_eq!(
            api.answer(&req("/user_data/cloud-init", "")).body,
            b"#cloud-config\n"
        );
        assert_eq!(api.answer(&req("/vendor_data/cloud-init", "")).status, 404);
        assert_eq!(api.answer(&req("/", "")).status, 200);
    }
}

//! Hetzner Cloud's metadata service: `GET /hetzner/v1/metadata` (one YAML
//! document), `/hetzner/v1/metadata/<key>` (one value: text, or YAML for
//! structures) and `/hetzner/v1/userdata` (raw, empty when none).
//!
//! Seed mapping (meta-data key → document field):
//! - `instance-id` → `instance-id` (a number when it is one; default 1234567)
//! - `local-hostname` → `hostname`; `region`, `availability-zone` as given
//!   (defaults `eu-central`, `fsn1-dc14`); `public-ipv4` as given
//! - `public-keys` → `public-keys` (list)
//! - the `network-config` file → `network-config`; without it DHCP on
//!   `eth0` with the MAC in `mac` (default `96:00:00:00:00:01`)
//! - the `vendor-data` file → `vendor_data`; the `user-data` file → userdata
//! - `hetzner` (mapping) → merged into the document as given

use super::gce::text;
use super::CloudApi;
use crate::http::{Request, Response};
use crate::seedfiles::SeedFiles;
use serde_json::{json, Value};

pub struct HetznerApi {
    doc: Value,
    user_data: Vec<u8>,
}

impl HetznerApi {
    pub fn new(seed: SeedFiles) -> HetznerApi {
        let md = |k: &str| seed.meta_data.get(k).filter(|v| !v.is_null());
        let id = match md("instance-id") {
            Some(v) => {
                let t = text(v);
                t.parse::<u64>().map(|n| json!(n)).unwrap_or(json!(t))
            }
            None => json!(1234567),
        };
        let mac = md("mac").map(text).unwrap_or("96:00:00:00:00:01".into());
        let netcfg = seed.network_config.clone().unwrap_or_else(|| {
            json!({"version": 1, "config": [{
                "type": "physical", "name": "eth0", "mac_address": mac,
                "subnets": [{"type": "dhcp", "ipv4": true}]
            }]})
        });
        let mut doc = json!({
            "hostname": md("local-hostname").map(text).unwrap_or("hetzner-vm".into()),
            "instance-id": id,
            "public-ipv4": md("public-ipv4").map(text).unwrap_or("203.0.113.10".into()),
            "region": md("region").map(text).unwrap_or("eu-central".into()),
            "availability-zone": md("availability-zone").map(text).unwrap_or("fsn1-dc14".into()),
            "public-keys": seed.public_keys(),
            "vendor_data": seed.vendor_data.as_deref().map(|v| String::from_utf8_lossy(v).into_owned()),
            "network-config": netcfg,
        });
        if let (Value::Object(d), Some(Value::Object(extra))) = (&mut doc, md("hetzner")) {
            d.extend(extra.clone());
        }
        HetznerApi {
            doc,
            user_data: seed.user_data.clone().unwrap_or_default(),
        }
    }
}

impl CloudApi for HetznerApi {
    fn name(&self) -> &'static str {
        "Hetzner"
    }

    fn answer(&self, req: &Request) -> Response {
        if req.method != "GET" {
            return Response::status(405);
        }
        let path = req.path.trim_end_matches('/');
        if path == "/hetzner/v1/userdata" {
            return Response::ok(self.user_data.clone());
        }
        if path == "/hetzner/v1/metadata" {
            return Response::ok(ci_yaml::dump(&self.doc)).with_header("Content-Type", "text/yaml");
        }
        match path
            .strip_prefix("/hetzner/v1/metadata/")
            .and_then(|k| self.doc.get(k))
        {
            Some(v @ (Value::Object(_) | Value::Array(_))) => Response::ok(ci_yaml::dump(v)),
            Some(v) => Response::ok(text(v)),
            None => Response::new(404, "not found\n"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(api: &HetznerApi, path: &str) -> Response {
        api.answer(&Request {
            method: "GET".into(),
            path: path.into(),
            query: String::new(),
            headers: Vec::new(),
            body: Vec::new(),
            close: false,
        })
    }

    #[test]
    fn document_keys_and_userdata() {
        let seed = SeedFiles {
            meta_data: serde_json::from_value(json!({"instance-id": "99", "local-hostname": "h"}))
                .unwrap_or_default(),
            ..SeedFiles::default()
        };
        let api = HetznerApi::new(seed);
        let doc = get(&api, "/hetzner/v1/metadata");
        let v = ci_yaml::load(&String::from_utf8_lossy(&doc.body)).unwrap_or_default();
        assert_eq!(v["instance-id"], json!(99));
        assert_eq!(v["network-config"]["config"][0]["name"], "eth0");
        assert_eq!(get(&api, "/hetzner/v1/metadata/hostname").body, b"h");
        assert_eq!(get(&api, "/hetzner/v1/metadata/instance-id").body, b"99");
        assert_eq!(get(&api, "/hetzner/v1/metadata/nope").status, 404);
        let ud = get(&api, "/hetzner/v1/userdata");
        assert_eq!((ud.status, ud.body.len()), (200, 0));
    }
}

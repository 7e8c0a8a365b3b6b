//! DigitalOcean's droplet metadata document, `GET /metadata/v1.json`.
//!
//! Seed mapping (meta-data key → document field):
//! - `instance-id` → `droplet_id` (a number when it is one; default 2756294)
//! - `local-hostname` → `hostname`; `region` → `region` (default `nyc3`)
//! - `public-keys` → `public_keys` (list)
//! - `interfaces` → `interfaces` as given; without it one public NIC with
//!   the MAC in `mac` (default `04:01:00:00:00:01`) and a documentation address
//! - `dns-nameservers` → `dns.nameservers` (default DigitalOcean's two)
//! - `digitalocean` (mapping) → merged into the document as given
//! - the `user-data` / `vendor-data` files → `user_data` / `vendor_data`
//!   (`user_data` absent without the file, as DigitalOcean does)

use super::gce::text;
use super::CloudApi;
use crate::http::{Request, Response};
use crate::seedfiles::SeedFiles;
use serde_json::{json, Value};

pub struct DigitalOceanApi {
    doc: Vec<u8>,
}

impl DigitalOceanApi {
    pub fn new(seed: SeedFiles) -> DigitalOceanApi {
        let md = |k: &str| seed.meta_data.get(k).filter(|v| !v.is_null());
        let id = match md("instance-id") {
            Some(v) => {
                let t = text(v);
                t.parse::<u64>().map(|n| json!(n)).unwrap_or(json!(t))
            }
            None => json!(2756294),
        };
        let mac = md("mac").map(text).unwrap_or("04:01:00:00:00:01".into());
        let interfaces = md("interfaces").cloned().unwrap_or_else(|| {
            json!({"public": [{
                "mac": mac,
                "type": "public",
                "ipv4": {"ip_address": "192.0.2.10", "netmask": "255.255.255.0", "gateway": "192.0.2.1"},
                "anchor_ipv4": {"ip_address": "10.17.0.5", "netmask": "255.255.0.0", "gateway": "10.17.0.1"}
            }]})
        });
        let mut doc = json!({
            "droplet_id": id,
            "hostname": md("local-hostname").map(text).unwrap_or("droplet".into()),
            "vendor_data": seed.vendor_data.as_deref().map(|v| String::from_utf8_lossy(v).into_owned()),
            "public_keys": seed.public_keys(),
            "auth_key": "",
            "region": md("region").map(text).unwrap_or("nyc3".into()),
            "interfaces": interfaces,
            "floating_ip": {"ipv4": {"active": false}},
            "dns": {"nameservers": md("dns-nameservers").cloned()
                .unwrap_or_else(|| json!(["67.207.67.2", "67.207.67.3"]))},
            "tags": [],
            "features": {"dhcp_enabled": false},
        });
        if let (Value::Object(d), Some(ud)) = (&mut doc, &seed.user_data) {
            d.insert(
                "user_data".into(),
                json!(String::from_utf8_lossy(ud).into_owned()),
            );
        }
        if let (Value::Object(d), Some(Value::Object(extra))) = (&mut doc, md("digitalocean")) {
            d.extend(extra.clone());
        }
        DigitalOceanApi {
            doc: doc.to_string().into_bytes(),
        }
    }
}

impl CloudApi for DigitalOceanApi {
    fn name(&self) -> &'static str {
        "DigitalOcean"
    }

    fn answer(&self, req: &Request) -> Response {
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/metadata/v1.json") => {
                Response::ok(self.doc.clone()).with_header("Content-Type", "application/json")
            }
            ("GET", _) => Response::new(404, "404 page not found\n"),
            _ => Response::status(405),
        }
    }
}

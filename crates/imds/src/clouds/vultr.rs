//! Vultr's metadata document, `GET /v1.json`.
//!
//! Seed mapping (meta-data key → document field):
//! - `instance-id` → `instance-v2-id` (default a UUID); `instanceid` is its
//!   numeric form when it has one
//! - `local-hostname` → `hostname` (default `vultr-guest`)
//! - `region` → `region.regioncode` (upper-cased, default `EWR`);
//!   `country` → `region.countrycode` (only when given)
//! - `public-keys` → `public-keys` (list)
//! - `interfaces` → `interfaces` as given; without it one public NIC with
//!   the MAC in `mac` (default `56:00:00:00:00:01`), DHCP-style, no extras
//! - the `user-data` / `vendor-data` files → `user-data` / `vendor-data`
//!   (empty strings when absent); `startup-script` as given (default empty)
//! - `vultr` (mapping) → merged into the document as given (`cloud_interfaces`, ...)

use super::gce::text;
use super::CloudApi;
use crate::http::{Request, Response};
use crate::seedfiles::SeedFiles;
use serde_json::{json, Value};

pub struct VultrApi {
    doc: Vec<u8>,
}

impl VultrApi {
    pub fn new(seed: SeedFiles) -> VultrApi {
        let md = |k: &str| seed.meta_data.get(k).filter(|v| !v.is_null());
        let iid = md("instance-id")
            .map(text)
            .unwrap_or("a1b2c3d4-0000-4000-8000-000000000001".into());
        let mac = md("mac").map(text).unwrap_or("56:00:00:00:00:01".into());
        let interfaces = md("interfaces").cloned().unwrap_or_else(|| {
            json!([{
                "mac": mac,
                "network-type": "public",
                "ipv4": {"address": "192.0.2.20", "netmask": "255.255.254.0",
                         "gateway": "192.0.2.1", "additional": []},
                "ipv6": {"network": "2001:db8::", "prefix": "64", "address": "2001:db8::20",
                         "additional": []}
            }])
        });
        let mut region =
            json!({"regioncode": md("region").map(text).unwrap_or("EWR".into()).to_uppercase()});
        if let (Value::Object(r), Some(c)) = (&mut region, md("country")) {
            r.insert("countrycode".into(), json!(text(c).to_uppercase()));
        }
        let file = |f: &Option<Vec<u8>>| {
            f.as_deref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default()
        };
        let mut doc = json!({
            "bgp": {"ipv4": {}, "ipv6": {}},
            "hostname": md("local-hostname").map(text).unwrap_or("vultr-guest".into()),
            "instanceid": iid.chars().filter(char::is_ascii_digit).collect::<String>(),
            "instance-v2-id": iid,
            "interfaces": interfaces,
            "public-keys": seed.public_keys(),
            "region": region,
            "user-defined": [],
            "startup-script": md("startup-script").map(text).unwrap_or_default(),
            "user-data": file(&seed.user_data),
            "vendor-data": file(&seed.vendor_data),
        });
        if let (Value::Object(d), Some(Value::Object(extra))) = (&mut doc, md("vultr")) {
            d.extend(extra.clone());
        }
        VultrApi {
            doc: doc.to_string().into_bytes(),
        }
    }
}

impl CloudApi for VultrApi {
    fn name(&self) -> &'static str {
        "Vultr"
    }

    fn answer(&self, req: &Request) -> Response {
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/v1.json") => {
                Response::ok(self.doc.clone()).with_header("Content-Type", "application/json")
            }
            ("GET", _) => Response::new(404, "Not Found\n"),
            _ => Response::status(405),
        }
    }
}

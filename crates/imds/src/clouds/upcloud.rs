//! UpCloud's metadata service: `GET /metadata/v1.json` (the whole
//! document), `GET /metadata/v1/` (its top-level keys) and `GET
//! /metadata/v1/<key>` (one value: text for scalars, JSON otherwise).
//!
//! Seed mapping (meta-data key → document field):
//! - `instance-id` → `instance_id` (default a UUID); `local-hostname` →
//!   `hostname`; `region` or `availability-zone` → `region` (default `fi-hel1`)
//! - `public-keys` → `public_keys` (list)
//! - `network` (UpCloud's `{interfaces, dns}` shape) as given; without it
//!   one public interface with MAC `mac` (default `32:d5:ba:4a:36:e7`) and
//!   DHCP for `public-ipv4` (default 94.237.0.10)
//! - `tags` (default `[]`); `upcloud` (mapping) → merged as given
//! - the `user-data` / `vendor-data` files → `user_data` / `vendor_data`
//!   (strings; `null` when absent)

use super::CloudApi;
use crate::http::{Request, Response};
use crate::seedfiles::SeedFiles;
use serde_json::{json, Value};

pub struct UpCloudApi {
    doc: Value,
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl UpCloudApi {
    pub fn new(seed: SeedFiles) -> UpCloudApi {
        let md = |k: &str| seed.meta_data.get(k).filter(|v| !v.is_null());
        let mac = md("mac").map(text).unwrap_or("32:d5:ba:4a:36:e7".into());
        let ip = md("public-ipv4").map(text).unwrap_or("94.237.0.10".into());
        let network = md("network").cloned().unwrap_or_else(|| {
            json!({"interfaces": [{
                "index": 1, "mac": mac, "network_id": "03000000-0000-4000-8001-000000000000",
                "type": "public", "ip_addresses": [{
                    "address": ip, "dhcp": true, "dns": ["94.237.127.9", "94.237.40.9"],
                    "family": "IPv4", "floating": false, "gateway": "94.237.0.1",
                    "network": "94.237.0.0/22"}]}],
                "dns": ["94.237.127.9", "94.237.40.9"]})
        });
        let blob = |b: &Option<Vec<u8>>| {
            b.as_deref()
                .map(|d| json!(String::from_utf8_lossy(d)))
                .unwrap_or(Value::Null)
        };
        let region = md("region")
            .or_else(|| md("availability-zone"))
            .map(text)
            .unwrap_or("fi-hel1".into());
        let mut doc = json!({
            "cloud_name": "upcloud",
            "instance_id": md("instance-id").map(text)
                .unwrap_or("00000000-0000-4000-8000-000000000001".into()),
            "hostname": md("local-hostname").map(text).unwrap_or("upcloud-vm".into()),
            "platform": "servers",
            "subplatform": "metadata (http://169.254.169.254)",
            "public_keys": seed.public_keys(),
            "region": region,
            "network": network,
            "storage": {"disks": []},
            "tags": md("tags").cloned().unwrap_or(json!([])),
            "user_data": blob(&seed.user_data),
            "vendor_data": blob(&seed.vendor_data),
        });
        if let (Value::Object(d), Some(Value::Object(extra))) = (&mut doc, md("upcloud")) {
            d.extend(extra.clone());
        }
        UpCloudApi { doc }
    }
}

impl CloudApi for UpCloudApi {
    fn name(&self) -> &'static str {
        "UpCloud"
    }

    fn answer(&self, req: &Request) -> Response {
        if req.method != "GET" {
            return Response::status(405);
        }
        let json_ct = |v: String| Response::ok(v).with_header("Content-Type", "application/json");
        match req.path.as_str() {
            "/metadata/v1.json" => json_ct(self.doc.to_string()),
            "/metadata/v1/" | "/metadata/v1" => {
                let keys: Vec<String> = self
                    .doc
                    .as_object()
                    .map(|m| m.keys().cloned().collect())
                    .unwrap_or_default();
                Response::ok(keys.join("\n"))
            }
            p => match p
                .strip_prefix("/metadata/v1/")
                .and_then(|k| self.doc.get(k))
            {
                Some(v @ (Value::Object(_) | Value::Array(_))) => json_ct(v.to_string()),
                Some(Value::Null) => Response::ok(""),
                Some(v) => Response::ok(text(v)),
                None => Response::status(404),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_the_document() {
        let seed = SeedFiles {
            meta_data: serde_json::from_value(json!({"instance-id": "u-1", "local-hostname": "h"}))
                .unwrap(),
            user_data: Some(b"#cloud-config\n".to_vec()),
            ..SeedFiles::default()
        };
        let api = UpCloudApi::new(seed);
        let get = |p: &str| {
            api.answer(&Request {
                method: "GET".into(),
                path: p.into(),
                query: String::new(),
                headers: Vec::new(),
                body: Vec::new(),
                close: true,
            })
        };
        let doc: Value = serde_json::from_slice(&get("/metadata/v1.json").body).unwrap();
        assert_eq!(doc["instance_id"], "u-1");
        assert_eq!(doc["user_data"], "#cloud-config\n");
        assert_eq!(doc["vendor_data"], Value::Null);
        assert_eq!(doc["network"]["interfaces"][0]["mac"], "32:d5:ba:4a:36:e7");
        assert_eq!(get("/metadata/v1/hostname").body, b"h");
        assert_eq!(get("/metadata/v1/nope").status, 404);
    }
}

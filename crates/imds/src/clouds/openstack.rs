//! OpenStack's (Nova's) metadata service: `GET /openstack` lists the dated
//! versions, `/openstack/<version>/` the files (`meta_data.json`,
//! `user_data`, `vendor_data.json`, `vendor_data2.json`,
//! `network_data.json`), and the EC2-compatible tree under `/latest/` and
//! the EC2 dated versions.
//!
//! Built from the seed:
//! - `meta-data` keys map to `meta_data.json` fields: `instance-id` →
//!   `uuid`, `local-hostname` → `hostname` (and `name`),
//!   `availability-zone` → `availability_zone`, `launch-index` →
//!   `launch_index`, `project-id` → `project_id`, `public-keys` →
//!   `public_keys` (a mapping `name: key`; a list gets names `key-<n>`)
//!   plus the matching `keys` list. Every other key is copied verbatim, so
//!   `meta`, `random_seed`, `files`, `devices`... can be given in Nova's
//!   own spelling. `openstack-versions` (a list) replaces the dated
//!   versions served (default: 2012-08-10 ... 2018-08-27).
//! - `user-data` is `user_data` (404 when absent, as Nova).
//! - `vendor-data` is `vendor_data.json`: served as is when it is JSON,
//!   else wrapped as `{"cloud-init": "<text>"}`; `{}` when absent.
//!   `vendor_data2.json` is `{}`.
//! - `network-config` must be in `network_data.json` form (a mapping with
//!   `links`/`networks`/`services`) and is served verbatim; network config
//!   v1/v2 cannot be expressed there and gives a 404 for
//!   `network_data.json` (absent: an empty `{"links": [], ...}`).

use super::CloudApi;
use crate::http::{Request, Response};
use crate::seed::Seed;
use crate::seedfiles::SeedFiles;
use serde_json::{json, Map, Value};

const VERSIONS: &[&str] = &[
    "2012-08-10",
    "2013-04-04",
    "2013-10-17",
    "2015-10-15",
    "2016-06-30",
    "2016-10-06",
    "2017-02-22",
    "2018-08-27",
];
/// The EC2 subset of meta-data also served as the EC2-compatible tree.
const EC2_KEYS: &[&str] = &[
    "instance-id",
    "local-hostname",
    "hostname",
    "availability-zone",
    "public-keys",
    "ami-id",
    "ami-launch-index",
    "instance-type",
    "local-ipv4",
    "public-ipv4",
    "reservation-id",
    "security-groups",
];

/// The OpenStack API over [`SeedFiles`].
pub struct OpenStackApi {
    versions: Vec<String>,
    meta_data: Vec<u8>,
    user_data: Option<Vec<u8>>,
    vendor_data: Vec<u8>,
    network_data: Option<Vec<u8>>,
    ec2: Seed,
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl OpenStackApi {
    pub fn new(seed: SeedFiles) -> OpenStackApi {
        let md = &seed.meta_data;
        let versions = match md.get("openstack-versions") {
            Some(Value::Array(v)) => v.iter().map(text).collect(),
            _ => VERSIONS.iter().map(|v| v.to_string()).collect(),
        };
        let meta = Self::meta_data_json(&seed);
        let vendor_data = match &seed.vendor_data {
            None => b"{}".to_vec(),
            Some(b) if serde_json::from_slice::<Value>(b).is_ok() => b.clone(),
            Some(b) => json!({"cloud-init": String::from_utf8_lossy(b)})
                .to_string()
                .into_bytes(),
        };
        let network_data = match &seed.network_config {
            None => Some(br#"{"links": [], "networks": [], "services": []}"#.to_vec()),
            Some(v @ Value::Object(m))
                if ["links", "networks", "services"]
                    .iter()
                    .any(|k| m.contains_key(*k)) =>
            {
                Some(v.to_string().into_bytes())
            }
            Some(_) => None,
        };
        let ec2_md: Map<String, Value> = md
            .iter()
            .filter(|(k, _)| EC2_KEYS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        OpenStackApi {
            versions,
            meta_data: serde_json::to_vec(&meta).unwrap_or_default(),
            user_data: seed.user_data.clone(),
            vendor_data,
            network_data,
            ec2: Seed::from_meta_data(&ec2_md, seed.user_data.clone()),
        }
    }

    fn meta_data_json(seed: &SeedFiles) -> Value {
        let md = &seed.meta_data;
        let mut out = Map::new();
        let uuid = seed
            .md_str("instance-id")
            .unwrap_or_else(|| "00000000-0000-0000-0000-000000000000".into());
        out.insert("uuid".into(), json!(uuid));
        if let Some(h) = seed.md_str("local-hostname") {
            out.insert("hostname".into(), json!(h));
            out.insert("name".into(), json!(h.split('.').next().unwrap_or(&h)));
        }
        for (from, to) in [
            ("availability-zone", "availability_zone"),
            ("launch-index", "launch_index"),
            ("project-id", "project_id"),
        ] {
            if let Some(v) = md.get(from) {
                out.insert(to.into(), v.clone());
            }
        }
        let named: Vec<(String, String)> = match md.get("public-keys") {
            Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), text(v))).collect(),
            _ => seed
                .public_keys()
                .into_iter()
                .enumerate()
                .map(|(i, k)| (format!("key-{i}"), k))
                .collect(),
        };
        if !named.is_empty() {
            let map: Map<String, Value> =
                named.iter().map(|(n, k)| (n.clone(), json!(k))).collect();
            out.insert("public_keys".into(), Value::Object(map));
            let keys: Vec<Value> = named
                .iter()
                .map(|(n, k)| json!({"name": n, "type": "ssh", "data": k}))
                .collect();
            out.insert("keys".into(), Value::Array(keys));
        }
        for (k, v) in md {
            match k.as_str() {
                "instance-id" | "local-hostname" | "availability-zone" | "launch-index"
                | "project-id" | "public-keys" | "openstack-versions" => {}
                _ => {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
        Value::Object(out)
    }

    /// Files of one version, oldest Nova feature first.
    fn files(&self, version: &str) -> Vec<&'static str> {
        let since = |v: &str| version == "latest" || version >= v;
        let mut f = vec!["meta_data.json"];
        if since("2015-10-15") && self.network_data.is_some() {
            f.push("network_data.json");
        }
        if self.user_data.is_some() {
            f.push("user_data");
        }
        if since("2013-10-17") {
            f.push("vendor_data.json");
        }
        if since("2016-10-06") {
            f.push("vendor_data2.json");
        }
        f
    }

    fn openstack(&self, rest: &str) -> Response {
        let rest = rest.trim_start_matches('/');
        if rest.is_empty() {
            let mut v = self.versions.clone();
            v.push("latest".into());
            return Response::ok(v.join("\n"));
        }
        let (version, file) = rest.split_once('/').unwrap_or((rest, ""));
        if version != "latest" && !self.versions.iter().any(|v| v == version) {
            return Response::status(404);
        }
        let files = self.files(version);
        if file.is_empty() {
            return Response::ok(files.join("\n"));
        }
        if !files.contains(&file) {
            return Response::status(404);
        }
        let (body, ctype) = match file {
            "meta_data.json" => (self.meta_data.clone(), "application/json"),
            "user_data" => (self.user_data.clone().unwrap_or_default(), "text/plain"),
            "vendor_data.json" => (self.vendor_data.clone(), "application/json"),
            "vendor_data2.json" => (b"{}".to_vec(), "application/json"),
            "network_data.json" => (
                self.network_data.clone().unwrap_or_default(),
                "application/json",
            ),
            _ => return Response::status(404),
        };
        Response::ok(body).with_header("Content-Type", ctype)
    }

    fn ec2(&self, path: &str) -> Response {
        let (version, rest) = path.split_once('/').unwrap_or((path, ""));
        if version != "latest" && !self.ec2.versions.iter().any(|v| v == version) {
            return Response::status(404);
        }
        let (top, sub) = rest.split_once('/').unwrap_or((rest, ""));
        let node = match top {
            "" => {
                let mut l = vec!["meta-data"];
                if self.user_data.is_some() {
                    l.push("user-data");
                }
                return Response::ok(l.join("\n"));
            }
            "user-data" if sub.is_empty() => {
                return match &self.user_data {
                    Some(u) => Response::ok(u.clone()),
                    None => Response::status(404),
                }
            }
            "meta-data" => self.ec2.meta_data.lookup(sub),
            _ => None,
        };
        match node {
            Some(n) => Response::ok(n.body()),
            None => Response::status(404),
        }
    }
}

impl CloudApi for OpenStackApi {
    fn name(&self) -> &'static str {
        "OpenStack"
    }

    fn answer(&self, req: &Request) -> Response {
        if req.method != "GET" {
            return Response::status(405);
        }
        let path = req.path.trim_start_matches('/');
        if path == "openstack" || path.starts_with("openstack/") {
            return self.openstack(path.trim_start_matches("openstack"));
        }
        if path.is_empty() {
            let mut v = self.ec2.versions.clone();
            v.push("latest".into());
            return Response::ok(v.join("\n"));
        }
        self.ec2(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(api: &OpenStackApi, path: &str) -> Response {
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
    fn serves_versions_files_and_ec2_tree() {
        let mut md = Map::new();
        md.insert(
            "instance-id".into(),
            json!("b0fa911b-69d4-4476-bbe2-1c92bff6535c"),
        );
        md.insert("local-hostname".into(), json!("os-1.example.com"));
        md.insert("public-keys".into(), json!(["ssh-rsa AAA k1"]));
        md.insert("meta".into(), json!({"dsmode": "local"}));
        let seed = SeedFiles {
            meta_data: md,
            user_data: Some(b"#cloud-config\n".to_vec()),
            vendor_data: Some(b"#cloud-config\nruncmd: []\n".to_vec()),
            ..SeedFiles::default()
        };
        let api = OpenStackApi::new(seed);
        let v = String::from_utf8(get(&api, "/openstack").body).unwrap();
        assert!(v.ends_with("2018-08-27\nlatest"), "{v}");
        let md: Value =
            serde_json::from_slice(&get(&api, "/openstack/2018-08-27/meta_data.json").body)
                .unwrap();
        assert_eq!(md["uuid"], "b0fa911b-69d4-4476-bbe2-1c92bff6535c");
        assert_eq!(md["hostname"], "os-1.example.com");
        assert_eq!(md["public_keys"]["key-0"], "ssh-rsa AAA k1");
        assert_eq!(md["meta"]["dsmode"], "local");
        let vd: Value =
            serde_json::from_slice(&get(&api, "/openstack/latest/vendor_data.json").body).unwrap();
        assert_eq!(vd["cloud-init"], "#cloud-config\nruncmd: []\n");
        assert_eq!(
            get(&api, "/openstack/2012-08-10/vendor_data.json").status,
            404
        );
        assert_eq!(
            get(&api, "/openstack/1999-01-01/meta_data.json").status,
            404
        );
        assert_eq!(
            get(&api, "/latest/meta-data/instance-id").body,
            b"b0fa911b-69d4-4476-bbe2-1c92bff6535c"
        );
        assert_eq!(
            get(&api, "/latest/meta-data/public-keys/").body,
            b"0=key-0".to_vec()
        );
    }
}

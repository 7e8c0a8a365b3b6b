//! Oracle Cloud Infrastructure's instance metadata service (IMDS):
//! `/opc/v2/` (every request needs `Authorization: Bearer Oracle`, else
//! 401) and the legacy `/opc/v1/` (no header), each with `instance/` (a
//! JSON document; sub-paths select fields, text leaves as plain text) and
//! `vnics/` (a JSON list).
//!
//! Built from the seed's `meta-data`: `instance-id` → `id`,
//! `local-hostname` → `hostname` (and `displayName` unless `display-name`
//! is given), `availability-zone` → `availabilityDomain` and `ociAdName`
//! (unless `oci-ad-name` is given), `region` → `region` and
//! `canonicalRegionName`, `instance-type` → `shape`, `public-keys` →
//! `metadata.ssh_authorized_keys` (newline-joined); `user-data` is served
//! base64-encoded as `metadata.user_data`. `vnics` in meta-data (a list in
//! OCI's form: `macAddr`, `privateIp`, `subnetCidrBlock`,
//! `virtualRouterIp`, `vnicId`, `vlanTag`, `ipv6Addresses`, ...) is served
//! as is; without it one primary VNIC is made from `mac` (default
//! `02:00:17:00:00:01`) and `local-ipv4` (default `10.0.0.2` in
//! `10.0.0.0/24`). `network-config` is not used: OCI has no such document.

use super::CloudApi;
use crate::http::{Request, Response};
use crate::seedfiles::SeedFiles;
use serde_json::{json, Map, Value};

const AUTH_HEADER: &str = "authorization";
const AUTH_VALUE: &str = "Bearer Oracle";

pub struct OracleApi {
    instance: Value,
    vnics: Value,
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Standard base64 with padding (the emulator has no base64 dependency).
fn b64(data: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
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

impl OracleApi {
    pub fn new(seed: SeedFiles) -> OracleApi {
        let s = |k: &str| seed.md_str(k);
        let hostname = s("local-hostname").unwrap_or_else(|| "instance".into());
        let az = s("availability-zone").unwrap_or_else(|| "AD-1".into());
        let region = s("region").unwrap_or_else(|| "us-ashburn-1".into());
        let mut metadata = Map::new();
        let keys = seed.public_keys();
        if !keys.is_empty() {
            metadata.insert("ssh_authorized_keys".into(), json!(keys.join("\n")));
        }
        if let Some(ud) = &seed.user_data {
            metadata.insert("user_data".into(), json!(b64(ud)));
        }
        let instance = json!({
            "availabilityDomain": az,
            "faultDomain": s("fault-domain").unwrap_or_else(|| "FAULT-DOMAIN-1".into()),
            "compartmentId": "ocid1.compartment.oc1..emulated",
            "displayName": s("display-name").unwrap_or_else(|| hostname.clone()),
            "hostname": hostname,
            "id": s("instance-id").unwrap_or_else(|| "ocid1.instance.oc1.iad.emulated".into()),
            "image": s("image").unwrap_or_else(|| "ocid1.image.oc1.iad.emulated".into()),
            "metadata": metadata,
            "ociAdName": s("oci-ad-name").unwrap_or_else(|| az.clone()),
            "region": region,
            "canonicalRegionName": region,
            "shape": s("instance-type").unwrap_or_else(|| "VM.Standard.E4.Flex".into()),
            "state": "Running",
            "timeCreated": 1_700_000_000_000u64,
        });
        let vnics = match seed.meta_data.get("vnics") {
            Some(v @ Value::Array(_)) => v.clone(),
            _ => json!([{
                "vnicId": "ocid1.vnic.oc1.iad.emulated",
                "privateIp": s("local-ipv4").unwrap_or_else(|| "10.0.0.2".into()),
                "vlanTag": 0,
                "macAddr": s("mac").unwrap_or_else(|| "02:00:17:00:00:01".into()),
                "virtualRouterIp": "10.0.0.1",
                "subnetCidrBlock": "10.0.0.0/24",
            }]),
        };
        OracleApi { instance, vnics }
    }

    /// The JSON node at `path` (`metadata/user_data`), `None` when absent.
    fn lookup<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
        path.split('/')
            .filter(|s| !s.is_empty())
            .try_fold(root, |node, seg| match node {
                Value::Object(m) => m.get(seg),
                Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
                _ => None,
            })
    }
}

impl CloudApi for OracleApi {
    fn name(&self) -> &'static str {
        "Oracle"
    }

    fn answer(&self, req: &Request) -> Response {
        if req.method != "GET" {
            return Response::status(405);
        }
        let Some(rest) = req.path.strip_prefix("/opc/") else {
            return Response::status(404);
        };
        let (version, rest) = rest.split_once('/').unwrap_or((rest, ""));
        match version {
            "v1" => {}
            "v2" => {
                if req.header(AUTH_HEADER) != Some(AUTH_VALUE) {
                    return Response::new(401, "Unauthorized")
                        .with_header("Content-Type", "text/plain");
                }
            }
            _ => return Response::status(404),
        }
        let (top, sub) = rest.split_once('/').unwrap_or((rest, ""));
        let root = match top {
            "instance" => &self.instance,
            "vnics" => &self.vnics,
            _ => return Response::status(404),
        };
        match Self::lookup(root, sub) {
            Some(Value::String(s)) => {
                Response::ok(s.clone()).with_header("Content-Type", "text/plain")
            }
            Some(v @ (Value::Object(_) | Value::Array(_))) => {
                Response::ok(serde_json::to_vec_pretty(v).unwrap_or_default())
                    .with_header("Content-Type", "application/json")
            }
            Some(v) => Response::ok(text(v)).with_header("Content-Type", "text/plain"),
            None => Response::status(404),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(api: &OracleApi, path: &str, auth: bool) -> Response {
        let headers = if auth {
            vec![(AUTH_HEADER.to_string(), AUTH_VALUE.to_string())]
        } else {
            Vec::new()
        };
        api.answer(&Request {
            method: "GET".into(),
            path: path.into(),
            query: String::new(),
            headers,
            body: Vec::new(),
            close: false,
        })
    }

    #[test]
    fn v2_needs_the_header_v1_does_not() {
        let mut md = Map::new();
        md.insert("instance-id".into(), json!("ocid1.instance.oc1..x"));
        md.insert("local-hostname".into(), json!("oci-1"));
        let api = OracleApi::new(SeedFiles {
            meta_data: md,
            user_data: Some(b"#cloud-config\n".to_vec()),
            ..SeedFiles::default()
        });
        assert_eq!(get(&api, "/opc/v2/instance/", false).status, 401);
        let doc: Value =
            serde_json::from_slice(&get(&api, "/opc/v2/instance/", true).body).unwrap();
        assert_eq!(doc["id"], "ocid1.instance.oc1..x");
        assert_eq!(doc["metadata"]["user_data"], "I2Nsb3VkLWNvbmZpZwo=");
        assert_eq!(get(&api, "/opc/v1/instance/hostname", false).body, b"oci-1");
        let vn: Value = serde_json::from_slice(&get(&api, "/opc/v1/vnics/", false).body).unwrap();
        assert_eq!(vn[0]["macAddr"], "02:00:17:00:00:01");
        assert_eq!(get(&api, "/opc/v3/instance/", true).status, 404);
        assert_eq!(b64(b"ab"), "YWI=");
        assert_eq!(b64(b"abc"), "YWJj");
    }
}

//! Google Compute Engine's metadata server under `/computeMetadata/v1/`.
//!
//! Every request must carry `Metadata-Flavor: Google` (403 otherwise, as
//! GCE answers); every answer carries it back. Directories list their
//! entries (sub-directories with `/`); `?recursive=true` on a directory
//! answers it as one JSON object.
//!
//! Seed mapping (meta-data key → served path):
//! - `instance-id` → `instance/id` (default `1234567890123456789`)
//! - `local-hostname` → `instance/hostname` (default `instance-1.c.project.internal`)
//! - `availability-zone` → `instance/zone` as
//!   `projects/<project-number>/zones/<zone>` (default `us-central1-a`)
//! - `project-number` / `project-id` → `project/numeric-project-id` / `project/project-id`
//! - `public-keys` (mapping, list or string) → instance attribute `ssh-keys`,
//!   one `user:key` line per key (`cloudinit:` when the key names no user)
//! - `gce-instance-attributes` / `gce-project-attributes` (mappings) →
//!   further instance / project attributes as given (`sshKeys`,
//!   `block-project-ssh-keys`, project `ssh-keys`, ...)
//! - the `user-data` file → instance attribute `user-data`; base64 with
//!   `user-data-encoding: base64` when it is not UTF-8 or when meta-data
//!   says `user-data-encoding: base64`
//! - `vendor-data` and `network-config` are not served (GCE has neither).

use super::CloudApi;
use crate::http::{Request, Response};
use crate::seedfiles::SeedFiles;
use serde_json::{json, Map, Value};

const PREFIX: &str = "/computeMetadata/v1/";

/// The GCE API over a seed.
pub struct GceApi {
    root: Value,
}

impl GceApi {
    pub fn new(seed: SeedFiles) -> GceApi {
        let md_or = |k: &str, d: &str| seed.md_str(k).unwrap_or_else(|| d.to_string());
        let project_number = md_or("project-number", "123456789012");
        let mut inst_attrs = Map::new();
        let keys: Vec<String> = seed
            .public_keys()
            .into_iter()
            .map(|k| {
                let has_user = k
                    .split_once(':')
                    .is_some_and(|(u, _)| !u.is_empty() && !u.contains(char::is_whitespace));
                if has_user {
                    k
                } else {
                    format!("cloudinit:{k}")
                }
            })
            .collect();
        if !keys.is_empty() {
            inst_attrs.insert("ssh-keys".into(), json!(keys.join("\n")));
        }
        if let Some(ud) = &seed.user_data {
            let want_b64 = seed.md_str("user-data-encoding").as_deref() == Some("base64");
            match std::str::from_utf8(ud) {
                Ok(text) if !want_b64 => {
                    inst_attrs.insert("user-data".into(), json!(text));
                }
                _ => {
                    inst_attrs.insert("user-data".into(), json!(b64encode(ud)));
                    inst_attrs.insert("user-data-encoding".into(), json!("base64"));
                }
            }
        }
        let extra = |k: &str| match seed.meta_data.get(k) {
            Some(Value::Object(m)) => m.clone(),
            _ => Map::new(),
        };
        inst_attrs.extend(extra("gce-instance-attributes"));
        let zone = md_or("availability-zone", "us-central1-a");
        let root = json!({
            "instance": {
                "id": md_or("instance-id", "1234567890123456789"),
                "hostname": md_or("local-hostname", "instance-1.c.project.internal"),
                "zone": format!("projects/{project_number}/zones/{zone}"),
                "attributes": Value::Object(inst_attrs),
            },
            "project": {
                "numeric-project-id": project_number,
                "project-id": md_or("project-id", "project"),
                "attributes": Value::Object(extra("gce-project-attributes")),
            },
        });
        GceApi { root }
    }

    fn route(&self, req: &Request) -> Response {
        if req.method != "GET" {
            return Response::new(405, "Method Not Allowed\n");
        }
        if req.header("metadata-flavor") != Some("Google") {
            return Response::new(
                403,
                "Your client does not have permission to get URL from this server. Missing Metadata-Flavor:Google header.\n",
            )
            .with_header("Content-Type", "text/html; charset=UTF-8");
        }
        let Some(rest) = req.path.strip_prefix(PREFIX) else {
            return Response::new(404, "Not Found\n");
        };
        let recursive = req
            .query
            .split('&')
            .any(|p| p.eq_ignore_ascii_case("recursive=true"));
        let node = rest
            .split('/')
            .filter(|s| !s.is_empty())
            .try_fold(&self.root, |node, seg| node.get(seg));
        match node {
            None => Response::new(404, "Not Found\n"),
            Some(Value::Object(m)) if recursive => {
                Response::ok(Value::Object(m.clone()).to_string())
                    .with_header("Content-Type", "application/json")
            }
            Some(Value::Object(m)) => {
                let listing: Vec<String> = m
                    .iter()
                    .map(|(k, v)| {
                        if v.is_object() {
                            format!("{k}/")
                        } else {
                            k.clone()
                        }
                    })
                    .collect();
                let mut body = listing.join("\n");
                body.push('\n');
                Response::ok(body).with_header("Content-Type", "application/text")
            }
            Some(v) => Response::ok(text(v)).with_header("Content-Type", "application/text"),
        }
    }
}

/// A scalar as the server writes it (strings unquoted).
pub(super) fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Standard base64 with padding.
pub(super) fn b64encode(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
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
                out.push(char::from(ALPHABET.get(idx).copied().unwrap_or(b'A')));
            } else {
                out.push('=');
            }
        }
    }
    out
}

impl CloudApi for GceApi {
    fn name(&self) -> &'static str {
        "GCE"
    }

    fn answer(&self, req: &Request) -> Response {
        self.route(req)
            .with_header("Metadata-Flavor", "Google")
            .with_header("Server", "Metadata Server for VM")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(path: &str, query: &str, flavor: bool) -> Request {
        let mut headers = Vec::new();
        if flavor {
            headers.push(("metadata-flavor".to_string(), "Google".to_string()));
        }
        Request {
            method: "GET".into(),
            path: path.into(),
            query: query.into(),
            headers,
            body: Vec::new(),
            close: false,
        }
    }

    #[test]
    fn serves_seed() {
        let seed = SeedFiles {
            meta_data: serde_json::from_value(json!({
                "instance-id": "42", "local-hostname": "vm.c.p.internal",
                "availability-zone": "europe-west1-b",
                "public-keys": ["ssh-rsa AAA a@b", "bob:ssh-rsa BBB"],
                "gce-project-attributes": {"ssh-keys": "cloudinit:ssh-rsa PPP"}
            }))
            .unwrap(),
            user_data: Some(vec![0xff, 0x00]),
            ..SeedFiles::default()
        };
        let api = GceApi::new(seed);
        let r = api.answer(&req("/computeMetadata/v1/instance/id", "", true));
        assert_eq!((r.status, r.body.as_slice()), (200, &b"42"[..]));
        assert!(r
            .headers
            .contains(&("Metadata-Flavor".to_string(), "Google".to_string())));
        assert_eq!(
            api.answer(&req("/computeMetadata/v1/instance/id", "", false))
                .status,
            403
        );
        let z = api.answer(&req("/computeMetadata/v1/instance/zone", "", true));
        assert_eq!(z.body, b"projects/123456789012/zones/europe-west1-b");
        let a = api.answer(&req(
            "/computeMetadata/v1/instance/attributes/",
            "recursive=True",
            true,
        ));
        let v: Value = serde_json::from_slice(&a.body).unwrap();
        assert_eq!(v["ssh-keys"], "cloudinit:ssh-rsa AAA a@b\nbob:ssh-rsa BBB");
        assert_eq!(v["user-data"], "/wA=");
        assert_eq!(v["user-data-encoding"], "base64");
        let l = api.answer(&req("/computeMetadata/v1/instance/", "", true));
        assert_eq!(l.body, b"id\nhostname\nzone\nattributes/\n");
        assert_eq!(
            api.answer(&req("/computeMetadata/v1/nope", "", true))
                .status,
            404
        );
        assert_eq!(b64encode(b"hello"), "aGVsbG8=");
        assert_eq!(b64encode(b""), "");
    }
}

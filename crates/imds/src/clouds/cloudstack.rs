//! CloudStack's virtual router: the EC2-style data server on port 80
//! (`GET /latest/meta-data/` lists leaf names, one per line; `GET
//! /latest/meta-data/<name>`; `GET /latest/user-data`, 404 when unset) and
//! the password server, which on a real router listens on port 8080. Here
//! it answers on the same listener any `GET` that carries the protocol's
//! `DomU_Request` header: `send_my_password` answers the pending password
//! (then `saved_password` once acknowledged, empty when none was set),
//! `saved_password` acknowledges it, anything else answers `bad_request`.
//!
//! Seed mapping (meta-data key → served leaf):
//! - `instance-id` → `instance-id` and `vm-id` (default a UUID)
//! - `local-hostname` → `local-hostname` and `public-hostname`
//! - `availability-zone` (default `zone1`), `local-ipv4` (default
//!   10.1.1.10), `public-ipv4` (default = local-ipv4) as given
//! - `instance-type` → `service-offering` (default `Small Instance`)
//! - `cloud-identifier` (default `CloudStack-{<vm-id>}`), `hypervisor-host-name`
//! - `public-keys` → `public-keys` (one leaf, keys one per line)
//! - `password` → what the password server hands out (never a leaf)
//! - `cloudstack` (mapping) → extra leaves as given
//! - the `user-data` file → `user-data`

use super::CloudApi;
use crate::http::{Request, Response};
use crate::seedfiles::SeedFiles;
use crate::tree::Node;
use serde_json::Value;
use std::sync::Mutex;

pub(super) const DOMU_HEADER: &str = "domu_request";

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Which cloud's flavour of the shared pieces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flavor {
    CloudStack,
    Exoscale,
}

/// The `meta-data/` tree both clouds serve.
pub(super) fn meta_tree(seed: &SeedFiles, flavor: Flavor) -> Node {
    let md = |k: &str| seed.meta_data.get(k).filter(|v| !v.is_null()).map(text);
    let iid = md("instance-id").unwrap_or("6d1b2a5e-0000-4000-8000-000000000001".into());
    let host = md("local-hostname").unwrap_or("vm-1".into());
    let local = md("local-ipv4").unwrap_or("10.1.1.10".into());
    let (zone, offering) = match flavor {
        Flavor::CloudStack => ("zone1", "Small Instance"),
        Flavor::Exoscale => ("ch-gva-2", "Micro"),
    };
    let mut root = Node::dir();
    let mut leaf = |k: &str, v: String| root.insert(k, Node::leaf(v));
    leaf(
        "service-offering",
        md("instance-type").unwrap_or(offering.into()),
    );
    leaf(
        "availability-zone",
        md("availability-zone").unwrap_or(zone.into()),
    );
    leaf("local-ipv4", local.clone());
    leaf("local-hostname", host.clone());
    leaf("public-ipv4", md("public-ipv4").unwrap_or(local));
    leaf("public-hostname", host);
    leaf("instance-id", iid.clone());
    leaf("vm-id", iid.clone());
    let keys = seed.public_keys();
    if !keys.is_empty() {
        leaf("public-keys", keys.join("\n"));
    }
    leaf(
        "cloud-identifier",
        md("cloud-identifier").unwrap_or(format!("CloudStack-{{{iid}}}")),
    );
    if let Some(h) = md("hypervisor-host-name") {
        leaf("hypervisor-host-name", h);
    }
    let extra_key = match flavor {
        Flavor::CloudStack => "cloudstack",
        Flavor::Exoscale => "exoscale",
    };
    if let Some(Value::Object(extra)) = seed.meta_data.get(extra_key) {
        for (k, v) in extra {
            root.insert(k, Node::leaf(text(v)));
        }
    }
    root
}

/// The password server's state: the pending password and whether it was
/// acknowledged.
pub(super) struct PasswordServer {
    flavor: Flavor,
    state: Mutex<(Option<String>, bool)>,
}

impl PasswordServer {
    pub(super) fn new(seed: &SeedFiles, flavor: Flavor) -> PasswordServer {
        let pw = seed
            .meta_data
            .get("password")
            .filter(|v| !v.is_null())
            .map(text);
        PasswordServer {
            flavor,
            state: Mutex::new((pw, false)),
        }
    }

    /// The answer to a request carrying `DomU_Request`, if it carries one.
    pub(super) fn answer(&self, req: &Request) -> Option<Response> {
        let what = req.header(DOMU_HEADER)?;
        if req.method != "GET" {
            return Some(Response::status(405));
        }
        let Ok(mut st) = self.state.lock() else {
            return Some(Response::status(500));
        };
        let body = match what {
            "send_my_password" => match (&st.0, st.1) {
                (Some(p), false) => p.clone(),
                (Some(_), true) => "saved_password".into(),
                (None, _) => String::new(),
            },
            "saved_password" => {
                st.1 = true;
                "saved_password".into()
            }
            _ if self.flavor == Flavor::Exoscale => return Some(Response::status(400)),
            _ => "bad_request".into(),
        };
        Some(Response::ok(body))
    }
}

/// Answer a GET of the EC2-style data under one of `versions`.
pub(super) fn data_answer(
    req: &Request,
    versions: &[&str],
    tree: &Node,
    user_data: &Option<Vec<u8>>,
) -> Response {
    if req.method != "GET" {
        return Response::status(405);
    }
    let path = req.path.trim_start_matches('/');
    if path.is_empty() {
        return Response::ok(versions.join("\n"));
    }
    let (version, rest) = path.split_once('/').unwrap_or((path, ""));
    if !versions.contains(&version) {
        return Response::status(404);
    }
    let (top, sub) = rest.split_once('/').unwrap_or((rest, ""));
    match top {
        "" => {
            let mut l = vec!["meta-data"];
            if user_data.is_some() {
                l.push("user-data");
            }
            Response::ok(l.join("\n"))
        }
        "user-data" if sub.is_empty() => match user_data {
            Some(u) => Response::ok(u.clone()),
            None => Response::status(404),
        },
        "meta-data" => match tree.lookup(sub) {
            Some(n) => Response::ok(n.body()),
            None => Response::status(404),
        },
        _ => Response::status(404),
    }
}

pub struct CloudStackApi {
    tree: Node,
    user_data: Option<Vec<u8>>,
    password: PasswordServer,
}

impl CloudStackApi {
    pub fn new(seed: SeedFiles) -> CloudStackApi {
        CloudStackApi {
            tree: meta_tree(&seed, Flavor::CloudStack),
            password: PasswordServer::new(&seed, Flavor::CloudStack),
            user_data: seed.user_data,
        }
    }
}

impl CloudApi for CloudStackApi {
    fn name(&self) -> &'static str {
        "CloudStack"
    }

    fn answer(&self, req: &Request) -> Response {
        if let Some(r) = self.password.answer(req) {
            return r;
        }
        data_answer(req, &["latest"], &self.tree, &self.user_data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req(path: &str, domu: Option<&str>) -> Request {
        Request {
            method: "GET".into(),
            path: path.into(),
            query: String::new(),
            headers: domu
                .map(|d| vec![(DOMU_HEADER.to_string(), d.to_string())])
                .unwrap_or_default(),
            body: Vec::new(),
            close: true,
        }
    }

    #[test]
    fn data_and_password() {
        let seed = SeedFiles {
            meta_data: serde_json::from_value(json!({
                "instance-id": "vm-1", "password": "s3cret", "public-keys": ["k1", "k2"]
            }))
            .unwrap(),
            ..SeedFiles::default()
        };
        let api = CloudStackApi::new(seed);
        let body =
            |p: &str, d: Option<&str>| String::from_utf8(api.answer(&req(p, d)).body).unwrap();
        assert!(body("/latest/meta-data/", None).contains("vm-id\n"));
        assert_eq!(body("/latest/meta-data/vm-id", None), "vm-1");
        assert_eq!(body("/latest/meta-data/public-keys", None), "k1\nk2");
        assert!(!body("/latest/meta-data/", None).contains("password"));
        assert_eq!(api.answer(&req("/latest/user-data", None)).status, 404);
        assert_eq!(body("/", Some("send_my_password")), "s3cret");
        assert_eq!(body("/", Some("saved_password")), "saved_password");
        assert_eq!(body("/", Some("send_my_password")), "saved_password");
        assert_eq!(body("/", Some("nonsense")), "bad_request");
    }
}

//! Exoscale's metadata server: CloudStack's EC2-style tree under
//! `/1.0/` (and `/latest/`), and its password server, which on Exoscale
//! listens on port 8080 at `/1.0/`. Here the password server answers on
//! the same listener any `GET` carrying `DomU_Request`:
//! `send_my_password` answers the pending password (empty when none was
//! set, `saved_password` once acknowledged), `saved_password`
//! acknowledges it; other values get 400 (Exoscale never answers
//! `bad_request`).
//!
//! Seed mapping: as CloudStack's (see `cloudstack.rs`), with defaults
//! zone `ch-gva-2` and offering `Micro`, and extra leaves from an
//! `exoscale` mapping; `password` feeds the password server.

use super::cloudstack::{data_answer, meta_tree, Flavor, PasswordServer};
use super::CloudApi;
use crate::http::{Request, Response};
use crate::seedfiles::SeedFiles;
use crate::tree::Node;

pub struct ExoscaleApi {
    tree: Node,
    user_data: Option<Vec<u8>>,
    password: PasswordServer,
}

impl ExoscaleApi {
    pub fn new(seed: SeedFiles) -> ExoscaleApi {
        ExoscaleApi {
            tree: meta_tree(&seed, Flavor::Exoscale),
            password: PasswordServer::new(&seed, Flavor::Exoscale),
            user_data: seed.user_data,
        }
    }
}

impl CloudApi for ExoscaleApi {
    fn name(&self) -> &'static str {
        "Exoscale"
    }

    fn answer(&self, req: &Request) -> Response {
        if let Some(r) = self.password.answer(req) {
            return r;
        }
        data_answer(req, &["1.0", "latest"], &self.tree, &self.user_data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn password_without_one_set() {
        let seed = SeedFiles {
            meta_data: serde_json::from_value(json!({"instance-id": "i-9"})).unwrap(),
            user_data: Some(b"#cloud-config\n".to_vec()),
            ..SeedFiles::default()
        };
        let api = ExoscaleApi::new(seed);
        let get = |p: &str, d: Option<&str>| {
            api.answer(&Request {
                method: "GET".into(),
                path: p.into(),
                query: String::new(),
                headers: d
                    .map(|d| vec![("domu_request".to_string(), d.to_string())])
                    .unwrap_or_default(),
                body: Vec::new(),
                close: true,
            })
        };
        assert_eq!(get("/1.0/", Some("send_my_password")).body, b"");
        assert_eq!(get("/1.0/", Some("bogus")).status, 400);
        assert_eq!(get("/1.0/", None).body, b"meta-data\nuser-data");
        assert_eq!(get("/1.0/meta-data/instance-id", None).body, b"i-9");
        assert_eq!(
            get("/1.0/meta-data/availability-zone", None).body,
            b"ch-gva-2"
        );
        assert_eq!(get("/1.0/user-data", None).body, b"#cloud-config\n");
        assert_eq!(get("/2.0/user-data", None).status, 404);
    }
}

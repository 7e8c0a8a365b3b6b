//! Building the served EC2 tree from a NoCloud-like seed directory:
//! `meta-data` (YAML mapping) and an optional `user-data` file.
//!
//! Recognised meta-data keys: `instance-id`, `local-hostname`,
//! `public-keys` (mapping name → key, list, or string), `region`,
//! `availability-zone` (served under `placement/`), `macs` (mapping mac →
//! NIC attributes, served under `network/interfaces/macs/`). Any other key
//! is served as is: mappings as directories, lists as newline-joined leaves.

use crate::tree::Node;
use crate::ImdsError;
use serde_json::{json, Map, Value};
use std::path::Path;

/// API versions this emulator answers, oldest first (upstream probes
/// 2021-03-23, 2018-09-24, 2016-09-02, then settles for 2009-04-04).
pub const VERSIONS: &[&str] = &[
    "1.0",
    "2009-04-04",
    "2016-09-02",
    "2018-09-24",
    "2021-03-23",
];

/// How the token API (IMDSv2) behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenMode {
    /// Tokens are issued; requests without one are served (IMDSv1 allowed).
    Optional,
    /// Requests without a valid token get 401 (IMDSv2 only).
    Required,
    /// The token PUT is answered with this status (EC2 clones without IMDSv2).
    Unsupported(u16),
}

/// Everything the emulator serves.
#[derive(Debug, Clone)]
pub struct Seed {
    pub meta_data: Node,
    pub user_data: Option<Vec<u8>>,
    pub dynamic: Node,
    /// Versions answered besides `latest`.
    pub versions: Vec<String>,
    pub token: TokenMode,
}

/// Read `<dir>/meta-data` (required) and `<dir>/user-data` (optional).
pub fn load_seed(dir: &Path) -> Result<Seed, ImdsError> {
    let md_path = dir.join("meta-data");
    let err = |path: &Path, message: String| ImdsError::Seed {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(&md_path).map_err(|e| err(&md_path, e.to_string()))?;
    let md = match ci_yaml::load(&text) {
        Ok(Value::Object(m)) => m,
        Ok(Value::Null) => Map::new(),
        Ok(_) => return Err(err(&md_path, "not a YAML mapping".into())),
        Err(e) => return Err(err(&md_path, e.to_string())),
    };
    let ud_path = dir.join("user-data");
    let user_data = match std::fs::read(&ud_path) {
        Ok(b) => Some(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(err(&ud_path, e.to_string())),
    };
    Ok(Seed::from_meta_data(&md, user_data))
}

impl Seed {
    pub fn from_meta_data(md: &Map<String, Value>, user_data: Option<Vec<u8>>) -> Seed {
        let mut tree = Node::dir();
        let iid = md
            .get("instance-id")
            .map(scalar)
            .unwrap_or_else(|| "i-0123456789abcdef0".into());
        tree.insert("instance-id", Node::leaf(iid.clone()));
        for (k, v) in md {
            match k.as_str() {
                "instance-id" | "region" | "availability-zone" | "macs" | "public-keys" => {}
                _ => tree.insert(k, to_node(v)),
            }
        }
        if let Some(h) = md.get("local-hostname").map(scalar) {
            if tree.get("hostname").is_none() {
                tree.insert("hostname", Node::leaf(h));
            }
        }
        let az = md.get("availability-zone").map(scalar);
        let region = md.get("region").map(scalar);
        if az.is_some() || region.is_some() {
            if let Some(p) = tree.subdir("placement") {
                if let Some(az) = &az {
                    p.insert("availability-zone", Node::leaf(az.clone()));
                }
                if let Some(r) = &region {
                    p.insert("region", Node::leaf(r.clone()));
                }
            }
        }
        add_public_keys(&mut tree, md.get("public-keys"));
        let mut first_mac = None;
        if let Some(Value::Object(macs)) = md.get("macs") {
            first_mac = macs.keys().next().cloned();
            let dir = tree
                .subdir("network")
                .and_then(|n| n.subdir("interfaces"))
                .and_then(|i| i.subdir("macs"));
            if let Some(dir) = dir {
                for (mac, attrs) in macs {
                    dir.insert(mac, to_node(attrs));
                }
            }
        }
        if let (Some(mac), None) = (&first_mac, tree.get("mac")) {
            tree.insert("mac", Node::leaf(mac.clone()));
        }
        let mut doc = Map::new();
        doc.insert("accountId".into(), json!("123456789012"));
        doc.insert("architecture".into(), json!("x86_64"));
        if let Some(az) = &az {
            doc.insert("availabilityZone".into(), json!(az));
        }
        let image = md
            .get("ami-id")
            .map(scalar)
            .unwrap_or("ami-00000000".into());
        doc.insert("imageId".into(), json!(image));
        doc.insert("instanceId".into(), json!(iid));
        if let Some(t) = md.get("instance-type").map(scalar) {
            doc.insert("instanceType".into(), json!(t));
        }
        if let Some(r) = &region {
            doc.insert("region".into(), json!(r));
        }
        doc.insert("version".into(), json!("2017-09-30"));
        let text = serde_json::to_string_pretty(&Value::Object(doc)).unwrap_or_default();
        let mut identity = Node::dir();
        identity.insert("document", Node::leaf(text));
        let mut dynamic = Node::dir();
        dynamic.insert("instance-identity", identity);
        Seed {
            meta_data: tree,
            user_data,
            dynamic,
            versions: VERSIONS.iter().map(|v| v.to_string()).collect(),
            token: TokenMode::Optional,
        }
    }
}

/// EC2 lists keys as `<n>=<name>` and serves each under `<n>/openssh-key`.
fn add_public_keys(tree: &mut Node, keys: Option<&Value>) {
    let pairs: Vec<(String, String)> = match keys {
        Some(Value::Object(m)) => m
            .iter()
            .map(|(name, k)| (name.clone(), joined(k)))
            .collect(),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, k)| (format!("key-{i}"), scalar(k)))
            .collect(),
        Some(Value::String(s)) if !s.is_empty() => vec![("key-0".into(), s.clone())],
        _ => Vec::new(),
    };
    if pairs.is_empty() {
        return;
    }
    let Some(dir) = tree.subdir("public-keys") else {
        return;
    };
    for (i, (name, key)) in pairs.into_iter().enumerate() {
        let mut slot = Node::dir();
        slot.insert("openssh-key", Node::leaf(key));
        dir.insert_labelled(&i.to_string(), Some(format!("{i}={name}")), slot);
    }
}

fn to_node(v: &Value) -> Node {
    match v {
        Value::Object(m) => {
            let mut d = Node::dir();
            for (k, v) in m {
                d.insert(k, to_node(v));
            }
            d
        }
        other => Node::leaf(joined(other)),
    }
}

fn joined(v: &Value) -> String {
    match v {
        Value::Array(a) => a.iter().map(scalar).collect::<Vec<_>>().join("\n"),
        other => scalar(other),
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_shape() {
        let md = ci_yaml::load(
            "instance-id: i-abc\nlocal-hostname: box\nregion: us-east-2\n\
             availability-zone: us-east-2b\npublic-keys: {mykey: ssh-rsa AAA}\n\
             macs:\n  '0a:00:00:00:00:01': {device-number: 0, local-ipv4s: [10.0.0.5, 10.0.0.6]}\n",
        )
        .unwrap();
        let Value::Object(md) = md else { panic!() };
        let s = Seed::from_meta_data(&md, None);
        let t = &s.meta_data;
        assert_eq!(
            String::from_utf8(t.body()).unwrap(),
            "instance-id\nlocal-hostname\nhostname\nplacement/\npublic-keys/\nnetwork/\nmac"
        );
        assert_eq!(t.lookup("placement/region").unwrap().body(), b"us-east-2");
        assert_eq!(t.lookup("public-keys").unwrap().body(), b"0=mykey");
        assert_eq!(
            t.lookup("network/interfaces/macs/0a:00:00:00:00:01/local-ipv4s")
                .unwrap()
                .body(),
            b"10.0.0.5\n10.0.0.6"
        );
        let doc = s.dynamic.lookup("instance-identity/document").unwrap();
        let doc: Value = serde_json::from_slice(&doc.body()).unwrap();
        assert_eq!(doc["instanceId"], "i-abc");
        assert_eq!(doc["region"], "us-east-2");
    }
}

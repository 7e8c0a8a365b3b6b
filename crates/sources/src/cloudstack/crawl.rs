//! The EC2-style tree CloudStack and Exoscale serve (`<ver>/meta-data/`
//! listings, `<ver>/user-data`), read the way upstream's
//! `helpers/ec2.py` reads it for them: one request at a time, each with
//! `readurl(timeout, retries)` and 1 s between attempts, no token.

use crate::ec2::crawl::{decode_leaf, join_leaves, parse_listing};
use crate::url::{UrlError, UrlReader};
use serde_json::{json, Map, Value};

/// Upstream `url_helper.combine_url`.
pub(crate) fn combine_url(base: &str, add: &str) -> String {
    let (head, path) = match base.find("://") {
        Some(i) => {
            let after = i + 3;
            let rest = base.get(after..).unwrap_or_default();
            match rest.find('/') {
                Some(j) => base.split_at(after + j),
                None => (base, ""),
            }
        }
        None => ("", base),
    };
    let mut path = path.to_string();
    if !path.is_empty() && !path.ends_with('/') {
        path.push('/');
    }
    path.push_str(add);
    if !head.is_empty() && !path.starts_with('/') {
        path.insert(0, '/');
    }
    format!("{head}{path}")
}

/// Upstream `get_instance_userdata`: 404 is "no user-data" (not retried),
/// any other failure is logged and also yields nothing.
pub(crate) fn user_data(reader: &UrlReader, base: &str, version: &str) -> Vec<u8> {
    let url = combine_url(&combine_url(base, version), "user-data");
    match reader.get(&url, &[]) {
        Ok(r) => r.body,
        Err(e)
            if e.code()
                .is_some_and(|c| ci_http::status::SKIP_USERDATA_CODES.contains(&c)) =>
        {
            Vec::new()
        }
        Err(e) => {
            log::warn!("Failed fetching userdata from url {url}");
            log::debug!("{e}");
            Vec::new()
        }
    }
}

/// Upstream `get_instance_metadata`: the `meta-data/` tree; any failure
/// is logged and yields `{}`.
pub(crate) fn meta_data(reader: &UrlReader, base: &str, version: &str) -> Value {
    let url = combine_url(&combine_url(base, version), "meta-data/");
    match materialize(reader, &url) {
        Ok(m) => Value::Object(m),
        Err(e) => {
            log::warn!("Failed fetching meta-data/ from url {url}");
            log::debug!("{e}");
            json!({})
        }
    }
}

/// A 404 on a GET without retrying it (the reader retries everything
/// else); upstream's user-data callback does the same.
fn materialize(reader: &UrlReader, url: &str) -> Result<Map<String, Value>, UrlError> {
    let listing = reader.get(url, &[])?.body;
    let (leaves, children) = parse_listing(&String::from_utf8_lossy(&listing));
    let mut joined = Map::new();
    for c in children {
        let mut child = combine_url(url, &c);
        if !child.ends_with('/') {
            child.push('/');
        }
        joined.insert(c, Value::Object(materialize(reader, &child)?));
    }
    let mut values = Vec::new();
    for (field, resource) in leaves {
        let body = reader.get(&combine_url(url, &resource), &[])?.body;
        values.push((field.clone(), decode_leaf(&field, &body)));
    }
    join_leaves(&mut joined, values, url);
    Ok(joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_combine_as_upstream() {
        assert_eq!(
            combine_url("http://10.1.1.1/", "latest"),
            "http://10.1.1.1/latest"
        );
        assert_eq!(combine_url("http://10.1.1.1", "1.0"), "http://10.1.1.1/1.0");
        assert_eq!(
            combine_url("http://10.1.1.1:80/latest", "meta-data/"),
            "http://10.1.1.1:80/latest/meta-data/"
        );
        assert_eq!(
            combine_url("http://h/latest/meta-data/", "public-keys/0/openssh-key"),
            "http://h/latest/meta-data/public-keys/0/openssh-key"
        );
    }

    #[test]
    fn listings_and_leaves() {
        let (l, c) = parse_listing("vm-id\npublic-keys\n0=k\nsub/\n");
        assert_eq!(
            l,
            vec![
                ("vm-id".to_string(), "vm-id".to_string()),
                ("public-keys".to_string(), "public-keys".to_string()),
                ("k".to_string(), "0/openssh-key".to_string())
            ]
        );
        assert_eq!(c, vec!["sub"]);
        assert_eq!(decode_leaf("f", b"a\nb"), json!(["a", "b"]));
        assert_eq!(decode_leaf("f", b"{\"a\":1}"), json!({"a": 1}));
        assert_eq!(decode_leaf("f", b""), json!(""));
    }
}

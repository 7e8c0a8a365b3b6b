//! The EC2-compatible `meta-data/` tree OpenStack also serves, read into a
//! nested mapping as upstream's `MetadataMaterializer` does.

use crate::url::UrlError;
use serde_json::{json, Map, Value};

/// Nesting bound, so a looping listing cannot recurse forever.
const MAX_DEPTH: usize = 16;

type Fetch<'a> = &'a dyn Fn(&str) -> Result<Vec<u8>, UrlError>;

pub(crate) fn materialize(url: &str, fetch: Fetch) -> Result<Value, UrlError> {
    let blob = fetch(url)?;
    walk(&blob, url, fetch, 0)
}

/// `(leaves: [(field, resource)], children)` of one listing.
fn parse(blob: &[u8]) -> (Vec<(String, String)>, Vec<String>) {
    crate::ec2::crawl::parse_listing(&String::from_utf8_lossy(blob))
}

fn walk(blob: &[u8], base: &str, fetch: Fetch, depth: usize) -> Result<Value, UrlError> {
    let (leaves, children) = parse(blob);
    let mut out = Map::new();
    if depth >= MAX_DEPTH {
        return Ok(Value::Object(out));
    }
    for c in children {
        let mut url = super::reader::combine_url(base, &c);
        if !url.ends_with('/') {
            url.push('/');
        }
        let child = fetch(&url)?;
        out.insert(c, walk(&child, &url, fetch, depth + 1)?);
    }
    for (field, resource) in leaves {
        let url = super::reader::combine_url(base, &resource);
        let value = decode_leaf(&field, &fetch(&url)?);
        if out.contains_key(&field) {
            log::warn!("Duplicate key found in results from {base}");
        } else {
            out.insert(field, value);
        }
    }
    Ok(Value::Object(out))
}

/// Upstream `MetadataLeafDecoder`.
fn decode_leaf(field: &str, blob: &[u8]) -> Value {
    if blob.is_empty() {
        return json!("");
    }
    let Ok(text) = std::str::from_utf8(blob) else {
        return super::reader::bytes_value(blob);
    };
    let trimmed = text.trim();
    if trimmed.starts_with('{') && trimmed.ends_with('}') {
        match serde_json::from_str::<Value>(text) {
            Ok(v) => return v,
            Err(e) => log::warn!("Field {field} looked like a json object, but it was not: {e}"),
        }
    }
    if text.contains('\n') {
        return Value::Array(text.lines().map(|l| json!(l)).collect());
    }
    json!(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_listing() {
        let (leaves, children) = parse(b"ami-id\nplacement/\n0=mykey\nsecurity-credentials/\n");
        assert_eq!(children, vec!["placement"]);
        assert_eq!(
            leaves,
            vec![
                ("ami-id".to_string(), "ami-id".to_string()),
                ("mykey".to_string(), "0/openssh-key".to_string())
            ]
        );
        assert_eq!(decode_leaf("x", b"a\nb"), json!(["a", "b"]));
        assert_eq!(decode_leaf("x", b"{\"a\": 1}"), json!({"a": 1}));
    }
}

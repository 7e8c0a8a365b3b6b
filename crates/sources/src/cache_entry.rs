//! Reading one datasource's entry back from the JSON cache: the fields
//! most datasources store, each failing with the same kind of message.

use crate::blob;
use crate::error::SourceError;
use serde_json::Value;

/// One entry, with the datasource name its errors carry
/// (`"<name> entry: bad <field>"`).
pub(crate) struct CacheEntry<'a> {
    name: &'a str,
    v: &'a Value,
}

impl<'a> CacheEntry<'a> {
    pub(crate) fn new(name: &'a str, v: &'a Value) -> Self {
        CacheEntry { name, v }
    }

    pub(crate) fn bad(&self, what: &str) -> SourceError {
        SourceError::Cache(format!("{} entry: bad {what}", self.name))
    }

    /// `metadata`, which must be a mapping.
    pub(crate) fn metadata(&self) -> Result<Value, SourceError> {
        match self.v.get("metadata") {
            Some(m @ Value::Object(_)) => Ok(m.clone()),
            _ => Err(self.bad("metadata")),
        }
    }

    /// Raw user-data or vendor-data as [`blob::encode`] stored it.
    pub(crate) fn blob(&self, key: &str) -> Result<Option<Vec<u8>>, SourceError> {
        blob::decode(self.v.get(key)).map_err(|_| self.bad(key))
    }

    /// A string field; absent or not a string is `None`.
    pub(crate) fn string(&self, key: &str) -> Option<String> {
        self.v.get(key).and_then(Value::as_str).map(String::from)
    }

    /// A field stored only when set; JSON `null` is `None`.
    pub(crate) fn optional(&self, key: &str) -> Option<Value> {
        self.v.get(key).filter(|n| !n.is_null()).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_and_errors_name_the_datasource() {
        let v = json!({
            "metadata": {"instance-id": "i-1"},
            "userdata_raw": "#cloud-config\n",
            "vendordata_raw": {"hex": "zz"},
            "addr": "http://x",
            "network": null,
        });
        let e = CacheEntry::new("Hetzner", &v);
        assert_eq!(e.metadata().ok(), Some(json!({"instance-id": "i-1"})));
        assert_eq!(
            e.blob("userdata_raw").ok().flatten().as_deref(),
            Some(&b"#cloud-config\n"[..])
        );
        assert_eq!(
            e.blob("vendordata_raw").err().map(|e| e.to_string()),
            Some("datasource cache: Hetzner entry: bad vendordata_raw".to_string())
        );
        assert_eq!(e.string("addr").as_deref(), Some("http://x"));
        assert_eq!(e.optional("network"), None);
        let empty = json!({"metadata": []});
        assert_eq!(
            CacheEntry::new("Vultr", &empty)
                .metadata()
                .err()
                .map(|e| e.to_string()),
            Some("datasource cache: Vultr entry: bad metadata".to_string())
        );
    }
}

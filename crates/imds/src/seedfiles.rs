//! The NoCloud-like seed directory every cloud's API is built from:
//! `meta-data` (YAML mapping, required), `user-data`, `vendor-data` (raw
//! bytes) and `network-config` (YAML), each optional.

use crate::ImdsError;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// The seed files, read once at start.
#[derive(Debug, Clone, Default)]
pub struct SeedFiles {
    pub dir: PathBuf,
    pub meta_data: Map<String, Value>,
    pub user_data: Option<Vec<u8>>,
    pub vendor_data: Option<Vec<u8>>,
    pub network_config: Option<Value>,
}

impl SeedFiles {
    /// Read `dir`; a missing `meta-data` or bad YAML names the file.
    pub fn load(dir: &Path) -> Result<SeedFiles, ImdsError> {
        let md_path = dir.join("meta-data");
        let text = std::fs::read_to_string(&md_path).map_err(|e| err(&md_path, e.to_string()))?;
        let meta_data = match ci_yaml::load(&text) {
            Ok(Value::Object(m)) => m,
            Ok(Value::Null) => Map::new(),
            Ok(_) => return Err(err(&md_path, "not a YAML mapping".into())),
            Err(e) => return Err(err(&md_path, e.to_string())),
        };
        let nc_path = dir.join("network-config");
        let network_config = match optional(&nc_path)? {
            None => None,
            Some(b) => {
                let text = String::from_utf8_lossy(&b);
                Some(ci_yaml::load(&text).map_err(|e| err(&nc_path, e.to_string()))?)
            }
        };
        Ok(SeedFiles {
            dir: dir.to_path_buf(),
            meta_data,
            user_data: optional(&dir.join("user-data"))?,
            vendor_data: optional(&dir.join("vendor-data"))?,
            network_config,
        })
    }

    /// A meta-data value as text (numbers and booleans as YAML wrote them).
    pub fn md_str(&self, key: &str) -> Option<String> {
        match self.meta_data.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }

    /// `public-keys` as a list of key lines, whatever shape meta-data used
    /// (mapping name → key, list, or one string).
    pub fn public_keys(&self) -> Vec<String> {
        let text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        match self.meta_data.get("public-keys") {
            Some(Value::Object(m)) => m.values().map(text).collect(),
            Some(Value::Array(a)) => a.iter().map(text).collect(),
            Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
            _ => Vec::new(),
        }
    }
}

fn optional(path: &Path) -> Result<Option<Vec<u8>>, ImdsError> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(err(path, e.to_string())),
    }
}

fn err(path: &Path, message: String) -> ImdsError {
    ImdsError::Seed {
        path: path.display().to_string(),
        message,
    }
}

//! Upstream's mergers: dict, list and str with their options.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MergeSpec {
    pub raw: String,
}

impl MergeSpec {
    pub fn parse(s: &str) -> Result<MergeSpec, String> {
        Ok(MergeSpec { raw: s.to_string() })
    }
    pub fn from_config(_v: &Value) -> Option<MergeSpec> {
        None
    }
    pub fn config_default() -> MergeSpec {
        MergeSpec {
            raw: "list()+dict()+str()".into(),
        }
    }
    pub fn userdata_default() -> MergeSpec {
        MergeSpec {
            raw: "dict(replace)+list()+str()".into(),
        }
    }
}

pub fn merge(base: &Value, _new: &Value, _spec: &MergeSpec) -> Value {
    base.clone()
}

pub fn merge_many(cfgs: &[Value]) -> Value {
    cfgs.first().cloned().unwrap_or(Value::Null)
}

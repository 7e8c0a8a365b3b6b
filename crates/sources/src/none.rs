//! The `None` datasource: the fallback when nothing else is found, with
//! optional `datasource.None.{userdata_raw, metadata}` from the config.

use crate::blob;
use crate::context::{SourceContext, Stage};
use crate::datasource::Datasource;
use crate::error::SourceError;
use serde_json::{json, Map, Value};

pub struct NoneSource {
    stage: Stage,
    metadata: Value,
    userdata_raw: Option<Vec<u8>>,
    /// The previous instance this boot keeps (stable identity), if any.
    kept_iid: Option<String>,
}

impl NoneSource {
    pub fn new(stage: Stage) -> Self {
        NoneSource {
            stage,
            metadata: Value::Object(Map::new()),
            userdata_raw: Some(Vec::new()),
            kept_iid: None,
        }
    }

    /// The fallback standing in for instance `iid` when no datasource
    /// answered on a machine whose platform identity did not change: it
    /// reports that instance id, so the boot is not a new instance.
    pub fn keeping(stage: Stage, iid: &str) -> Self {
        NoneSource {
            kept_iid: Some(iid.to_string()),
            ..NoneSource::new(stage)
        }
    }

    pub(crate) fn restore(stage: Stage, v: &Value) -> Result<Self, SourceError> {
        let mut ds = NoneSource::new(stage);
        ds.metadata = v.get("metadata").cloned().unwrap_or_else(|| json!({}));
        ds.userdata_raw = blob::decode(v.get("userdata_raw"))
            .map_err(|_| SourceError::Cache("None entry: bad userdata_raw".into()))?;
        ds.kept_iid = v
            .get("kept_instance_id")
            .and_then(Value::as_str)
            .map(String::from);
        Ok(ds)
    }
}

impl Datasource for NoneSource {
    fn dsname(&self) -> &'static str {
        "None"
    }

    fn class_name(&self) -> &'static str {
        "DataSourceNone"
    }

    fn stage(&self) -> Stage {
        self.stage
    }

    fn crawl(&mut self, ctx: &SourceContext) -> Result<bool, SourceError> {
        let cfg = ctx.ds_cfg("None");
        if let Some(ud) = cfg.get("userdata_raw") {
            self.userdata_raw = match ud {
                Value::Null => None,
                Value::String(s) => Some(s.clone().into_bytes()),
                other => Some(other.to_string().into_bytes()),
            };
        }
        if let Some(md) = cfg.get("metadata") {
            self.metadata = md.clone();
        }
        Ok(true)
    }

    fn metadata(&self) -> &Value {
        &self.metadata
    }

    fn userdata_raw(&self) -> Option<&[u8]> {
        self.userdata_raw.as_deref()
    }

    fn instance_id(&self) -> String {
        self.kept_iid
            .clone()
            .unwrap_or_else(|| "iid-datasource-none".into())
    }

    fn subplatform(&self) -> String {
        "config".into()
    }

    fn to_cache(&self) -> Value {
        let mut v = json!({
            "format": crate::CACHE_FORMAT,
            "class": self.class_name(),
            "dsname": self.dsname(),
            "stage": self.stage.as_cache_str(),
            "metadata": self.metadata,
            "userdata_raw": blob::encode(self.userdata_raw.as_deref()),
        });
        if let (Some(iid), Value::Object(m)) = (&self.kept_iid, &mut v) {
            m.insert("kept_instance_id".into(), json!(iid));
        }
        v
    }
}

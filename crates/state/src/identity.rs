//! The platform's own identity of the machine (DMI product UUID, serial
//! and chassis asset tag), kept per instance so a later boot can tell "the
//! metadata service did not answer" from "this is another machine".
//!
//! Rule (docs/compat.md, "Stable identity"): when a boot's datasource search
//! ends with the `None` fallback although other datasources were listed, and
//! the previous instance recorded an identity equal to the current one, the
//! boot keeps the previous instance: no per-instance module runs again and
//! host keys stay. When the identity differs, or either side has none (no
//! DMI: containers, some hypervisors), upstream's behaviour holds.

use crate::paths::Paths;
use ci_host::{Host, WriteOpts};
use serde_json::{json, Value};

/// Stored as `instances/<iid>/platform-identity.json`.
pub const FILE: &str = "platform-identity.json";

/// DMI values that identify the machine, not the image.
const KEYS: [(&str, &str); 3] = [
    ("product_uuid", "product_uuid"),
    ("product_serial", "product_serial"),
    ("chassis_asset_tag", "chassis_asset_tag"),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformIdentity {
    values: Vec<(String, String)>,
}

impl PlatformIdentity {
    /// From `/sys/class/dmi/id`; `None` without a product UUID or serial.
    pub fn read(host: &Host) -> Option<PlatformIdentity> {
        let values: Vec<(String, String)> = KEYS
            .iter()
            .filter_map(|(name, file)| host.dmi(file).map(|v| (name.to_string(), v)))
            .collect();
        let anchored = values
            .iter()
            .any(|(k, _)| k == "product_uuid" || k == "product_serial");
        anchored.then_some(PlatformIdentity { values })
    }

    fn to_json(&self) -> Value {
        let mut m = serde_json::Map::new();
        for (k, v) in &self.values {
            m.insert(k.clone(), json!(v));
        }
        Value::Object(m)
    }

    fn from_json(v: &Value) -> Option<PlatformIdentity> {
        let m = v.as_object()?;
        let values = KEYS
            .iter()
            .filter_map(|(name, _)| {
                m.get(*name)
                    .and_then(Value::as_str)
                    .map(|s| (name.to_string(), s.to_string()))
            })
            .collect::<Vec<_>>();
        (!values.is_empty()).then_some(PlatformIdentity { values })
    }

    /// Record for the instance `paths` points at (only when it changed).
    pub fn store(&self, host: &Host, paths: &Paths) -> std::io::Result<()> {
        let path = paths.instance_file(FILE);
        let text = format!("{}\n", self.to_json());
        if host.read_to_string(&path).ok().as_deref() == Some(text.as_str()) {
            return Ok(());
        }
        host.write_atomic(&path, text.as_bytes(), &WriteOpts::mode(0o644))
    }

    /// What instance `iid` recorded, if anything.
    pub fn load(host: &Host, paths: &Paths, iid: &str) -> Option<PlatformIdentity> {
        let p = paths.clone().with_instance(iid).instance_file(FILE);
        let text = host.read_to_string(p).ok()?;
        PlatformIdentity::from_json(&serde_json::from_str(&text).ok()?)
    }

    /// `key=value` pairs for log lines.
    pub fn describe(&self) -> String {
        self.values
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dmi(host: &Host, key: &str, v: &str) {
        host.write_atomic(
            format!("/sys/class/dmi/id/{key}"),
            format!("{v}\n").as_bytes(),
            &WriteOpts::mode(0o444),
        )
        .unwrap();
    }

    #[test]
    fn needs_uuid_or_serial_and_round_trips() {
        let d = tempfile::tempdir().unwrap();
        let h = Host::new(d.path());
        assert_eq!(PlatformIdentity::read(&h), None);
        dmi(&h, "chassis_asset_tag", "tag");
        assert_eq!(
            PlatformIdentity::read(&h),
            None,
            "a tag alone is not an identity"
        );
        dmi(&h, "product_uuid", "ec2e1916-0000");
        let id = PlatformIdentity::read(&h).unwrap();
        assert_eq!(
            id.describe(),
            "product_uuid=ec2e1916-0000, chassis_asset_tag=tag"
        );
        let p = Paths::default().with_instance("i-1");
        id.store(&h, &p).unwrap();
        assert_eq!(
            PlatformIdentity::load(&h, &Paths::default(), "i-1"),
            Some(id.clone())
        );
        assert_eq!(PlatformIdentity::load(&h, &Paths::default(), "i-2"), None);
        dmi(&h, "product_uuid", "ec2e1916-1111");
        assert_ne!(PlatformIdentity::read(&h), Some(id));
    }
}

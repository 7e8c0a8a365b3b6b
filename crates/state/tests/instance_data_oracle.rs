//! instance-data files against upstream's persist_instance_data output
//! (fixtures/instance-data/*, regen-instance-data.py).

#![allow(clippy::unwrap_used, clippy::panic)]

use ci_host::Host;
use ci_state::instance_data::{self, InstanceFacts, SysInfo, DEFAULT_SENSITIVE_KEYS};
use ci_state::Paths;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn opt(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

fn facts(input: &Value) -> InstanceFacts {
    let si = &input["sys_info"];
    let arr = |v: &Value| -> Vec<String> { v.as_array().unwrap().iter().map(s).collect() };
    let uname = arr(&si["uname"]);
    let dist = arr(&si["dist"]);
    InstanceFacts {
        cloud_name: s(&input["cloud_name"]),
        platform: s(&input["platform"]),
        subplatform: s(&input["subplatform"]),
        region: opt(&input["region"]),
        availability_zone: opt(&input["availability_zone"]),
        instance_id: s(&input["instance_id"]),
        local_hostname: opt(&input["local_hostname"]),
        public_ssh_keys: arr(&input["public_ssh_keys"]),
        ds: input["ds"].clone(),
        merged_system_cfg: input["merged_system_cfg"].clone(),
        sys_info: SysInfo {
            platform: s(&si["platform"]),
            system: s(&si["system"]),
            release: s(&si["release"]),
            python: s(&si["python"]),
            uname: uname.try_into().unwrap(),
            dist: dist.try_into().unwrap(),
            variant: s(&si["variant"]),
        },
        sensitive_keys: DEFAULT_SENSITIVE_KEYS
            .iter()
            .map(|k| k.to_string())
            .collect(),
    }
}

#[test]
fn persist_matches_upstream() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/instance-data");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let case = entry.unwrap().path();
        let input: Value =
            serde_json::from_str(&std::fs::read_to_string(case.join("input.json")).unwrap())
                .unwrap();
        let want: Value =
            serde_json::from_str(&std::fs::read_to_string(case.join("expected.json")).unwrap())
                .unwrap();
        let d = tempfile::tempdir().unwrap();
        let h = Host::new(d.path());
        let paths = Paths::default();
        // A stale cloud-id from an earlier boot must go away.
        instance_data::write_cloud_id(&h, &paths, "stale").unwrap();
        let id = instance_data::persist(&h, &paths, &facts(&input)).unwrap();
        assert!(!h.exists("/run/cloud-init/cloud-id-stale"));
        for (name, v) in want.as_object().unwrap() {
            let p = format!("/run/cloud-init/{name}");
            if let Some(link) = name.strip_suffix(".link") {
                let got = h.read_link(format!("/run/cloud-init/{link}")).unwrap();
                assert_eq!(got.to_string_lossy(), s(v), "{case:?} {name}");
            } else if let Some(file) = name.strip_suffix(".mode") {
                let md = std::fs::metadata(h.path(format!("/run/cloud-init/{file}"))).unwrap();
                assert_eq!(
                    format!("0o{:o}", md.permissions().mode() & 0o777),
                    s(v),
                    "{name}"
                );
            } else {
                assert_eq!(h.read_to_string(&p).unwrap(), s(v), "{case:?} {name}");
            }
        }
        assert!(want.get(format!("cloud-id-{id}")).is_some());
        n += 1;
    }
    assert!(n >= 2);
}

#[test]
fn combined_cloud_config_and_sensitive_update() {
    let d = tempfile::tempdir().unwrap();
    let h = Host::new(d.path());
    let paths = Paths::default();
    let cfg = serde_json::json!({"runcmd": ["ls"], "users": ["default"]});
    let sys = serde_json::json!({"distro": "debian", "paths": {"cloud_dir": "/var/lib/cloud/"}});
    // No sensitive file yet: upstream warns and only writes the combined file.
    instance_data::write_combined_cloud_config(
        &h,
        &paths,
        &cfg,
        &sys,
        &instance_data::upstream_features(),
    )
    .unwrap();
    let text = h
        .read_to_string("/run/cloud-init/combined-cloud-config.json")
        .unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert!(v["_doc"]
        .as_str()
        .unwrap()
        .starts_with("Aggregated cloud-config"));
    assert_eq!(
        v["features"]["ERROR_ON_USER_DATA_FAILURE"],
        Value::Bool(true)
    );
    assert_eq!(v["system_info"]["distro"], "debian");
    assert!(!h.exists("/run/cloud-init/instance-data-sensitive.json"));
    h.write_atomic(
        "/run/cloud-init/instance-data-sensitive.json",
        b"{\"v1\": {}}",
        &ci_host::WriteOpts::mode(0o600),
    )
    .unwrap();
    instance_data::write_combined_cloud_config(
        &h,
        &paths,
        &cfg,
        &sys,
        &instance_data::upstream_features(),
    )
    .unwrap();
    let v: Value = serde_json::from_str(
        &h.read_to_string("/run/cloud-init/instance-data-sensitive.json")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(v["system_info"]["distro"], "debian");
    assert!(v["features"].is_object());
    let md = std::fs::metadata(h.path("/run/cloud-init/combined-cloud-config.json")).unwrap();
    assert_eq!(md.permissions().mode() & 0o777, 0o600);
}

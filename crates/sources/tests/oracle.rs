//! Differential test: every scenario of fixtures/nocloud-oracle.json (made
//! by regen-nocloud.py from upstream's DataSourceNoCloud/None) replayed on a
//! temp root, comparing what both report.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use ci_host::Host;
use ci_sources::{Datasource, NoCloud, NoneSource, SourceContext, SourceOptions, Stage};
use serde_json::Value;

fn text(b: Option<&[u8]>) -> Value {
    match b {
        None => Value::Null,
        Some(b) => Value::String(String::from_utf8(b.to_vec()).unwrap()),
    }
}

fn opt(s: Option<String>) -> Value {
    s.map(Value::String).unwrap_or(Value::Null)
}

fn run(sc: &Value) -> Vec<String> {
    let name = sc["name"].as_str().unwrap();
    let exp = &sc["expect"];
    let dir = tempfile::tempdir().unwrap();
    let host = Host::new(dir.path());
    if let Some(files) = sc.get("files").and_then(Value::as_object) {
        for (path, content) in files {
            common::write(&host, path, content.as_str().unwrap());
        }
    }
    if let Some(serial) = sc.get("serial").and_then(Value::as_str) {
        common::write(
            &host,
            "/sys/class/dmi/id/product_serial",
            &format!("{serial}\n"),
        );
    }
    let cfg: Value = serde_json::from_str(
        &sc.get("cfg")
            .map(|c| c.to_string())
            .unwrap_or_else(|| "{}".into())
            .replace("@ROOT@", ""),
    )
    .unwrap();
    let cmdline = sc
        .get("cmdline")
        .and_then(Value::as_str)
        .unwrap_or("")
        .replace("@ROOT@", "");
    let stage = match sc["stage"].as_str() {
        Some("network") => Stage::Network,
        _ => Stage::Local,
    };
    let ctx = SourceContext::new(&host, &cfg, stage).with_cmdline(cmdline);
    let mut ds: Box<dyn Datasource> = if sc["ds"] == "None" {
        Box::new(NoneSource::new(stage))
    } else {
        Box::new(NoCloud::new(stage, SourceOptions::default()))
    };
    common::capture();
    let res = ds.get_data(&ctx);

    let mut diffs = Vec::new();
    let mut check = |what: &str, ours: Value, theirs: &Value| {
        if &ours != theirs {
            diffs.push(format!("{name}: {what}: ours {ours} vs upstream {theirs}"));
        }
    };
    check("found", Value::Bool(matches!(res, Ok(true))), &exp["found"]);
    check("error", Value::Bool(res.is_err()), &exp["error"]);
    check("display", Value::String(ds.display()), &exp["display"]);
    if matches!(res, Ok(true)) {
        check("metadata", ds.metadata().clone(), &exp["metadata"]);
        check(
            "instance_id",
            Value::String(ds.instance_id()),
            &exp["instance_id"],
        );
        check(
            "hostname",
            opt(ds.get_hostname(&host, false, true).hostname),
            &exp["hostname"],
        );
        check(
            "fqdn",
            opt(ds.get_hostname(&host, true, true).hostname),
            &exp["fqdn"],
        );
        check(
            "subplatform",
            Value::String(ds.subplatform()),
            &exp["subplatform"],
        );
        check(
            "platform",
            Value::String(ds.platform_type()),
            &exp["platform"],
        );
        check(
            "cloud_name",
            Value::String(ds.cloud_name()),
            &exp["cloud_name"],
        );
        check("region", opt(ds.region()), &exp["region"]);
        check(
            "availability_zone",
            opt(ds.availability_zone()),
            &exp["availability_zone"],
        );
        check(
            "launch_index",
            ds.launch_index().unwrap_or(Value::Null),
            &exp["launch_index"],
        );
        check(
            "public_keys",
            Value::from(ds.public_ssh_keys()),
            &exp["public_keys"],
        );
        check(
            "dsmode",
            Value::String(ds.dsmode().as_str().into()),
            &exp["dsmode"],
        );
        check("userdata", text(ds.userdata_raw()), &exp["userdata"]);
        check("vendordata", text(ds.vendordata_raw()), &exp["vendordata"]);
        check(
            "check_instance_id",
            Value::Bool(ds.check_instance_id(&ctx)),
            &exp["check_instance_id"],
        );
        if let Some(nc) = exp.get("network_config") {
            check(
                "network_config",
                ds.network_config().unwrap_or(Value::Null),
                nc,
            );
        }
        // Cache round trip keeps everything the stages read later.
        let back = ci_sources::from_cache(&ds.to_cache(), &SourceOptions::default()).unwrap();
        check(
            "cache display",
            Value::String(back.display()),
            &exp["display"],
        );
        check("cache metadata", back.metadata().clone(), &exp["metadata"]);
        check(
            "cache userdata",
            text(back.userdata_raw()),
            &exp["userdata"],
        );
        check(
            "cache instance_id",
            Value::String(back.instance_id()),
            &exp["instance_id"],
        );
        check(
            "cache subplatform",
            Value::String(back.subplatform()),
            &exp["subplatform"],
        );
    }
    // Counted after check_instance_id, which re-reads (and re-warns about) meta-data.
    let warnings = common::warnings();
    check("warnings", Value::from(warnings.len()), &exp["warnings"]);
    if !diffs.is_empty() {
        diffs.push(format!("{name}: our warnings: {warnings:?}"));
    }
    diffs
}

#[test]
fn nocloud_and_none_match_the_oracle() {
    let fixture: Value =
        serde_json::from_str(include_str!("fixtures/nocloud-oracle.json")).unwrap();
    let scenarios = fixture.as_array().unwrap();
    assert!(scenarios.len() >= 30);
    let diffs: Vec<String> = scenarios.iter().flat_map(run).collect();
    assert!(
        diffs.is_empty(),
        "differences from upstream:\n{}",
        diffs.join("\n")
    );
}

//! `cloud-init query` against upstream (fixtures/query-cases.json, regen-query.py).

#![allow(clippy::unwrap_used, clippy::panic)]

use ci_host::{Host, WriteOpts};
use ci_state::query::{run_query, QueryArgs};
use ci_state::Paths;
use serde_json::Value;

fn read(rel: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{rel}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[test]
fn query_matches_upstream() {
    let expected: Value =
        serde_json::from_str(&read("instance-data/none-basic/expected.json")).unwrap();
    let d = tempfile::tempdir().unwrap();
    let h = Host::new(d.path());
    let paths = Paths::default();
    for f in ["instance-data.json", "instance-data-sensitive.json"] {
        h.write_atomic(
            paths.run_file(f),
            expected[f].as_str().unwrap().as_bytes(),
            &WriteOpts::default(),
        )
        .unwrap();
    }
    h.symlink("instances/iid-abc", "/var/lib/cloud/instance")
        .unwrap();
    h.write_atomic(
        "/var/lib/cloud/instances/iid-abc/user-data.txt",
        b"#cloud-config\nruncmd: [ls]\n",
        &WriteOpts::default(),
    )
    .unwrap();
    let cases: Value = serde_json::from_str(&read("query-cases.json")).unwrap();
    for case in cases.as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let args = QueryArgs {
            varname: case["varname"].as_str().map(str::to_string),
            all: case["all"].as_bool() == Some(true),
            list_keys: case["list_keys"].as_bool() == Some(true),
            is_root: case["root"].as_bool() == Some(true),
            ..QueryArgs::default()
        };
        let out = run_query(&h, &paths, &args);
        assert_eq!(out.stdout, case["stdout"].as_str().unwrap(), "{name}");
        assert_eq!(
            i64::from(out.exit_code),
            case["rc"].as_i64().unwrap(),
            "{name}"
        );
        let logs: Vec<String> = case["logs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l[1].as_str().unwrap().to_string())
            .collect();
        assert_eq!(out.logged, logs, "{name}");
    }
}

#[test]
fn missing_file_and_gzip_userdata() {
    let d = tempfile::tempdir().unwrap();
    let h = Host::new(d.path());
    let paths = Paths::default();
    let args = QueryArgs {
        all: true,
        ..QueryArgs::default()
    };
    let out = run_query(&h, &paths, &args);
    assert_eq!(out.exit_code, 1);
    assert_eq!(
        out.logged,
        vec!["Missing instance-data file: /run/cloud-init/instance-data.json".to_string()]
    );

    h.write_atomic(
        "/run/cloud-init/instance-data.json",
        b"{\"v1\": {}}",
        &WriteOpts::default(),
    )
    .unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, b"#!/bin/sh\necho hi\n").unwrap();
    h.write_atomic("/tmp/ud.gz", &gz.finish().unwrap(), &WriteOpts::default())
        .unwrap();
    h.write_atomic("/tmp/vd.bin", b"\xff\xfe", &WriteOpts::default())
        .unwrap();
    let args = QueryArgs {
        varname: Some("userdata".into()),
        is_root: true,
        user_data: Some("/tmp/ud.gz".into()),
        vendor_data: Some("/tmp/vd.bin".into()),
        ..QueryArgs::default()
    };
    assert_eq!(
        run_query(&h, &paths, &args).stdout,
        "#!/bin/sh\necho hi\n\n"
    );
    let args = QueryArgs {
        varname: Some("vendordata".into()),
        ..args
    };
    assert_eq!(run_query(&h, &paths, &args).stdout, "ci-b64://4=\n");
}

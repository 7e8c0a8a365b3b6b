//! Loading from a target root, against upstream's loader run on the same
//! fixture (expected.json, from tests/regen-load.py).

// Test helpers outside #[test] fns: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ci_config::load::{
    cmdline_config, load_config, read_config_file, LoadOptions, TemplateRenderer,
};
use ci_host::{Host, WriteOpts};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn expected(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture(name).join("expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn same_order(a: &Value, b: &Value) {
    assert_eq!(
        serde_json::to_string_pretty(a).unwrap(),
        serde_json::to_string_pretty(b).unwrap()
    );
}

#[test]
fn sandbox_layers_match_upstream_and_precedence() {
    let dir = fixture("load-sandbox");
    let host = Host::new(dir.join("root"));
    let opts = LoadOptions {
        extra_files: vec![dir.join("extra1.cfg"), dir.join("extra2.cfg")],
        env_file: Some(dir.join("env.cfg")),
        ..Default::default()
    };
    let (cfg, warnings) = load_config(&host, &opts);
    same_order(&cfg, &expected("load-sandbox"));

    // The same facts, spelled out.
    assert_eq!(
        cfg["a"], "from-cloud-cfg",
        "broken and non-.cfg files are skipped"
    );
    assert_eq!(cfg["b"], "from-10");
    assert_eq!(cfg["c"], "from-90", "later cloud.cfg.d file wins");
    assert_eq!(cfg["d"], "from-run", "run_dir cloud.cfg beats /etc");
    assert_eq!(cfg["e"], "from-cmdline", "kernel cc: beats run_dir");
    assert_eq!(cfg["url"], json!(["encoded"]), "cc: text is URL-decoded");
    assert_eq!(cfg["f"], "from-env", "CLOUD_CFG beats the kernel cmdline");
    assert_eq!(cfg["g"], "from-file1", "--file beats CLOUD_CFG");
    assert_eq!(cfg["h"], "from-file1", "the first --file wins");
    assert_eq!(
        cfg["list"],
        json!(["d90", "d10"]),
        "a file's merge_how applies"
    );
    assert_eq!(cfg["system_info"]["paths"]["cloud_dir"], "/srv/cloud/");
    assert_eq!(
        cfg["system_info"]["paths"]["docs_dir"],
        "/usr/share/doc/cloud-init/"
    );
    assert_eq!(cfg["system_info"]["network"]["renderers"], Value::Null);
    assert_eq!(cfg["def_log_file"], "/var/log/cloud-init.log");
    assert!(cfg.get("merge_how").is_none());

    // Upstream reads cloud.cfg.d in reverse name order, so warns in it too.
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    let list = &warnings[0];
    assert_eq!(list.file, "/etc/cloud/cloud.cfg.d/60_list.cfg");
    assert!(list.message.ends_with("but got list instead"), "{list:?}");
    let broken = &warnings[1];
    assert_eq!(broken.file, "/etc/cloud/cloud.cfg.d/50_broken.cfg");
    assert!(broken
        .message
        .starts_with("Failed loading yaml blob. Invalid format at line "));
    assert!(
        broken.line.is_some_and(|l| (2..=3).contains(&l)),
        "{broken:?}"
    );
    assert!(broken.column.is_some());
}

#[test]
fn custom_run_dir_rereads_runtime_config() {
    let dir = fixture("load-run-dir");
    let host = Host::new(dir.join("root"));
    let (cfg, warnings) = load_config(&host, &LoadOptions::default());
    same_order(&cfg, &expected("load-run-dir"));
    assert_eq!(cfg["x"], "from-custom-run-dir");
    assert!(cfg.get("y").is_none());
    assert!(warnings.is_empty());
}

#[test]
fn cmdline_config_alone() {
    let host = Host::new(fixture("load-sandbox").join("root"));
    let (cfg, w) = cmdline_config(&host);
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(
        cfg,
        Some(json!({"e": "from-cmdline", "f": "from-cmdline", "url": ["encoded"]}))
    );
}

#[test]
fn single_file_reader() {
    let dir = fixture("load-sandbox");
    assert_eq!(
        read_config_file(&dir.join("extra2.cfg")).unwrap()["i"],
        "from-file2"
    );
    assert_eq!(read_config_file(&dir.join("nope.cfg")).unwrap(), json!({}));
    let e = read_config_file(&dir.join("root/etc/cloud/cloud.cfg.d/50_broken.cfg")).unwrap_err();
    assert!(
        e.line.is_some() && e.file.ends_with("50_broken.cfg"),
        "{e:?}"
    );
}

fn template_root() -> (tempfile::TempDir, Host) {
    let d = tempfile::tempdir().unwrap();
    let host = Host::new(d.path());
    let w = WriteOpts::mode(0o644);
    host.write_atomic(
        "/etc/cloud/cloud.cfg.d/50_t.cfg",
        b"## template: jinja\nregion: {{ v1.region }}\n",
        &w,
    )
    .unwrap();
    host.write_atomic("/etc/cloud/cloud.cfg.d/40_plain.cfg", b"plain: 1\n", &w)
        .unwrap();
    host.write_atomic(
        "/run/cloud-init/instance-data-sensitive.json",
        br#"{"v1": {"region": "eu-1"}}"#,
        &w,
    )
    .unwrap();
    host.write_atomic("/proc/cmdline", b"quiet\n", &w).unwrap();
    (d, host)
}

#[test]
fn templated_config_goes_through_the_renderer() {
    let (_d, host) = template_root();
    let render = |body: &str, file: &str, data: &Value| -> Result<String, String> {
        assert_eq!(file, "/etc/cloud/cloud.cfg.d/50_t.cfg");
        let region = data["v1"]["region"].as_str().unwrap_or("?");
        Ok(body.replace("{{ v1.region }}", region))
    };
    let renderer: TemplateRenderer = &render;
    let opts = LoadOptions {
        renderer: Some(renderer),
        ..Default::default()
    };
    let (cfg, w) = load_config(&host, &opts);
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(cfg["region"], "eu-1");
    assert_eq!(cfg["plain"], 1);
}

#[test]
fn templated_config_without_renderer_warns() {
    let (_d, host) = template_root();
    let (cfg, w) = load_config(&host, &LoadOptions::default());
    assert_eq!(cfg["plain"], 1);
    assert!(
        w.iter()
            .any(|w| w.file == "/etc/cloud/cloud.cfg.d/50_t.cfg"
                && w.message.contains("not supported")),
        "{w:?}"
    );
}

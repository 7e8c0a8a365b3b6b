//! The VMware datasource with guestinfo answered by a scripted runner (the
//! table upstream was run against: tests/fixtures/vmware-guestinfo.json),
//! compared with upstream's result (tests/fixtures/vmware-oracle.json,
//! from tests/regen-vmware.py), plus the env-var transport and failures.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use ci_host::{Cmd, CmdError, CmdOutput, Host, Runner};
use ci_sources::vmware::Vmware;
use ci_sources::{from_cache, Datasource, SourceContext, SourceOptions, Stage};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Answers rpctool/vmtoolsd by their command argument; unknown keys exit 1
/// with "No value found", `info-set` succeeds, `fail` programs cannot start.
#[derive(Default)]
struct Guestinfo {
    table: HashMap<String, (i32, String, String)>,
    calls: Mutex<Vec<Vec<String>>>,
    broken: Vec<String>,
}

impl Guestinfo {
    fn from_fixture() -> Guestinfo {
        let v: Value = serde_json::from_str(
            &std::fs::read_to_string(fixture("vmware-guestinfo.json")).unwrap(),
        )
        .unwrap();
        let table = v
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, a)| {
                (
                    k.clone(),
                    (
                        a[0].as_i64().unwrap() as i32,
                        a[1].as_str().unwrap().to_string(),
                        a[2].as_str().unwrap().to_string(),
                    ),
                )
            })
            .collect();
        Guestinfo {
            table,
            ..Guestinfo::default()
        }
    }

    fn calls(&self) -> Vec<Vec<String>> {
        self.calls.lock().unwrap().clone()
    }
}

impl Runner for Guestinfo {
    fn execute(&self, _host: &Host, cmd: &Cmd) -> Result<CmdOutput, CmdError> {
        self.calls.lock().unwrap().push(cmd.argv.clone());
        let prog = cmd.argv[0].clone();
        if self.broken.contains(&prog) {
            return Ok(CmdOutput {
                status: 2,
                stdout: Vec::new(),
                stderr: b"Failed sending message to VMware.".to_vec(),
            });
        }
        let arg = cmd.argv.last().unwrap();
        if arg.starts_with("info-set ") {
            return Ok(CmdOutput::default());
        }
        let (status, out, err) =
            self.table
                .get(arg)
                .cloned()
                .unwrap_or((1, String::new(), "No value found".into()));
        Ok(CmdOutput {
            status,
            stdout: out.into_bytes(),
            stderr: err.into_bytes(),
        })
    }
}

fn install(d: &Path, prog: &str) {
    let p = d.join("usr/bin").join(prog);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn root(runner: Arc<Guestinfo>, vmware: bool) -> (tempfile::TempDir, Host) {
    let d = tempfile::tempdir().unwrap();
    let h = Host::with_runner(d.path(), runner);
    if vmware {
        common::write(
            &h,
            "/sys/class/dmi/id/product_name",
            "VMware Virtual Platform\n",
        );
    }
    common::write(
        &h,
        "/sys/class/dmi/id/product_uuid",
        "4223A6C1-0000-1111-2222-333344445555\n",
    );
    install(d.path(), "vmware-rpctool");
    (d, h)
}

fn ds() -> Vmware {
    Vmware::new(Stage::Local, SourceOptions::default()).with_env(Vec::new())
}

#[test]
fn guestinfo_matches_upstream() {
    common::capture();
    let gi = Arc::new(Guestinfo::from_fixture());
    let (_d, h) = root(Arc::clone(&gi), true);
    let cfg = json!({});
    let ctx = SourceContext::new(&h, &cfg, Stage::Local).with_cmdline("");
    let mut s = ds();
    assert!(s.get_data(&ctx).unwrap());
    let want: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("vmware-oracle.json")).unwrap())
            .unwrap();
    assert_eq!(s.metadata(), &want["metadata"]);
    let text = |b: Option<&[u8]>| json!(b.map(|b| String::from_utf8_lossy(b).into_owned()));
    assert_eq!(text(s.userdata_raw()), want["userdata"]);
    assert_eq!(text(s.vendordata_raw()), want["vendordata"]);
    assert_eq!(json!(s.network_config()), want["network_config"]);
    assert_eq!(json!(s.instance_id()), want["instance_id"]);
    assert_eq!(json!(s.local_hostname(&h)), want["hostname"]);
    assert_eq!(json!(s.public_ssh_keys()), want["public_keys"]);
    assert_eq!(json!(s.platform_type()), want["platform_type"]);
    assert_eq!(json!(s.subplatform()), want["subplatform"]);
    assert_eq!(json!(s.cloud_name()), want["cloud_name"]);
    // The same rpctool calls, including the cleanup of the listed keys.
    assert_eq!(json!(gi.calls()), want["calls"]);
    assert_eq!(s.display(), "DataSourceVMware [seed=guestinfo]");
    assert!(common::warnings().is_empty(), "{:?}", common::warnings());
    let back = from_cache(&s.to_cache(), &SourceOptions::default()).unwrap();
    assert_eq!(back.subplatform(), s.subplatform());
    assert_eq!(back.network_config(), s.network_config());
    assert_eq!(back.userdata_raw(), s.userdata_raw());
}

#[test]
fn not_vmware_or_no_tool_or_no_data_is_not_found() {
    let cfg = json!({});
    // Not a VMware product: guestinfo is not even asked.
    let gi = Arc::new(Guestinfo::from_fixture());
    let (_d, h) = root(Arc::clone(&gi), false);
    let ctx = SourceContext::new(&h, &cfg, Stage::Local).with_cmdline("");
    assert!(!ds().get_data(&ctx).unwrap());
    assert!(gi.calls().is_empty());
    // VMware, but no rpctool installed.
    let gi = Arc::new(Guestinfo::from_fixture());
    let (d, h) = root(Arc::clone(&gi), true);
    std::fs::remove_file(d.path().join("usr/bin/vmware-rpctool")).unwrap();
    let ctx = SourceContext::new(&h, &cfg, Stage::Local).with_cmdline("");
    assert!(!ds().get_data(&ctx).unwrap());
    assert!(gi.calls().is_empty());
    // VMware with the tool but no guestinfo keys at all.
    let gi = Arc::new(Guestinfo::default());
    let (_d, h) = root(Arc::clone(&gi), true);
    let ctx = SourceContext::new(&h, &cfg, Stage::Local).with_cmdline("");
    assert!(!ds().get_data(&ctx).unwrap());
    assert_eq!(gi.calls().len(), 3);
}

#[test]
fn broken_rpctool_falls_back_to_vmtoolsd() {
    common::capture();
    let mut g = Guestinfo::from_fixture();
    g.broken.push("/usr/bin/vmware-rpctool".into());
    let gi = Arc::new(g);
    let (d, h) = root(Arc::clone(&gi), true);
    install(d.path(), "vmtoolsd");
    let cfg = json!({});
    let ctx = SourceContext::new(&h, &cfg, Stage::Network).with_cmdline("");
    let mut s = Vmware::new(Stage::Network, SourceOptions::default()).with_env(Vec::new());
    assert!(s.get_data(&ctx).unwrap());
    assert_eq!(s.instance_id(), "vm-42");
    let calls = gi.calls();
    assert_eq!(
        calls[0],
        ["/usr/bin/vmware-rpctool", "info-get guestinfo.metadata"]
    );
    assert_eq!(
        calls[1],
        ["/usr/bin/vmtoolsd", "--cmd", "info-get guestinfo.metadata"]
    );
    assert!(calls.iter().any(|c| c
        == &[
            "/usr/bin/vmtoolsd",
            "--cmd",
            "info-set guestinfo.userdata ---"
        ]));
    let w = common::warnings();
    assert!(
        w.iter()
            .any(|m| m.starts_with("Failed to query guestinfo with /usr/bin/vmware-rpctool:")),
        "{w:?}"
    );
}

#[test]
fn envvar_transport_and_uuid_instance_id() {
    let gi = Arc::new(Guestinfo::default());
    let (_d, h) = root(Arc::clone(&gi), false);
    let cfg = json!({});
    let ctx = SourceContext::new(&h, &cfg, Stage::Local).with_cmdline("");
    let env = vec![
        ("VMX_GUESTINFO".to_string(), "1".to_string()),
        (
            "VMX_GUESTINFO_METADATA".to_string(),
            "{\"local-hostname\": \"envhost\", \"public-keys\": [\"ssh-rsa K e\"]}".to_string(),
        ),
        (
            "VMX_GUESTINFO_USERDATA".to_string(),
            "I2Nsb3VkLWNvbmZpZwo=".to_string(),
        ),
        (
            "VMX_GUESTINFO_USERDATA_ENCODING".to_string(),
            "base64".to_string(),
        ),
    ];
    let mut s = Vmware::new(Stage::Local, SourceOptions::default()).with_env(env);
    assert!(s.get_data(&ctx).unwrap());
    assert_eq!(s.subplatform(), "envvar (VMX_GUESTINFO_METADATA)");
    assert_eq!(s.userdata_raw().unwrap(), b"#cloud-config\n");
    assert_eq!(s.public_ssh_keys(), ["ssh-rsa K e"]);
    // No instance-id in metadata: the DMI product UUID, lower-cased.
    assert_eq!(s.instance_id(), "4223a6c1-0000-1111-2222-333344445555");
    // No network key: the fallback (none here: no NICs in the root).
    assert_eq!(s.network_config(), None);
    assert!(gi.calls().is_empty());
}

#[test]
fn bad_encoding_is_an_error_of_the_guestinfo_query() {
    common::capture();
    let mut g = Guestinfo::from_fixture();
    g.table.insert(
        "info-get guestinfo.metadata".into(),
        (0, "%%%not base64%%%".into(), String::new()),
    );
    let gi = Arc::new(g);
    let (_d, h) = root(Arc::clone(&gi), true);
    let cfg = json!({});
    let ctx = SourceContext::new(&h, &cfg, Stage::Local).with_cmdline("");
    assert!(!ds().get_data(&ctx).unwrap());
    assert!(common::warnings()
        .iter()
        .any(|m| m.starts_with("Failed to query guestinfo with /usr/bin/vmware-rpctool:")));
}

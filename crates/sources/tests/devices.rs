//! The `cidata` disk: blkid probing, mounting, already-mounted seeds, and
//! the `--root` rule.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use ci_host::{Cmd, CmdError, CmdOutput, Host, RecordingRunner, Runner};
use ci_sources::{Datasource, DeviceScan, NoCloud, SourceContext, SourceOptions, Stage};
use serde_json::json;
use std::sync::{Arc, Mutex};

fn scan_always() -> SourceOptions {
    SourceOptions {
        devices: DeviceScan::Always,
        ..Default::default()
    }
}

/// One probe answers every criteria of the search (upstream runs five).
const BLKID: [&str; 1] = ["blkid -o export"];

/// `blkid -o export` output for one device.
fn export(dev: &str, tags: &[(&str, &str)]) -> String {
    let mut s = format!("DEVNAME={dev}\n");
    for (k, v) in tags {
        s.push_str(&format!("{k}={v}\n"));
    }
    s + "\n"
}

#[test]
fn probes_with_blkid_and_rejects_an_empty_disk() {
    let d = tempfile::tempdir().unwrap();
    let rec = Arc::new(RecordingRunner::new());
    rec.answer(
        "blkid",
        0,
        export("/dev/sr0", &[("LABEL", "cidata"), ("TYPE", "iso9660")]).as_bytes(),
    );
    let host = Host::with_runner(d.path(), rec.clone());
    let cfg = json!({});
    let ctx = SourceContext::new(&host, &cfg, Stage::Local).with_cmdline("");
    let mut ds = NoCloud::new(Stage::Local, scan_always());
    common::capture();
    assert!(!ds.get_data(&ctx).unwrap());
    let lines = rec.lines();
    assert_eq!(lines[..1], BLKID);
    // Mounted read-only on a fresh directory, then unmounted.
    let mount = &lines[1];
    let dir = mount
        .strip_prefix("mount -o ro -t auto /dev/sr0 ")
        .unwrap_or_else(|| panic!("{mount}"));
    assert_eq!(lines[2], format!("umount {dir}"));
    assert_eq!(lines.len(), 3);
    assert!(!std::path::Path::new(dir).exists(), "mount dir left behind");
    // The recorded mount put nothing there: not a valid seed (upstream's WARNING).
    assert_eq!(
        common::warnings(),
        vec!["device /dev/sr0 with label=cidata not a valid seed."]
    );
}

/// A runner that answers blkid and "mounts" by copying files.
struct FakeDisks {
    blkid: String,
    disk: Vec<(String, String)>,
    calls: Mutex<Vec<String>>,
}

impl Runner for FakeDisks {
    fn execute(&self, _host: &Host, cmd: &Cmd) -> Result<CmdOutput, CmdError> {
        self.calls.lock().unwrap().push(cmd.argv.join(" "));
        let mut out = CmdOutput::default();
        match cmd.argv[0].as_str() {
            "blkid" => {
                out.stdout = self.blkid.clone().into_bytes();
                if out.stdout.is_empty() {
                    out.status = 2;
                }
            }
            "mount" => {
                let dir = std::path::Path::new(cmd.argv.last().unwrap());
                for (name, content) in &self.disk {
                    std::fs::write(dir.join(name), content).unwrap();
                }
            }
            "umount" => {
                for e in std::fs::read_dir(cmd.argv.last().unwrap()).unwrap() {
                    std::fs::remove_file(e.unwrap().path()).unwrap();
                }
            }
            _ => {}
        }
        Ok(out)
    }
}

#[test]
fn reads_the_labelled_disk() {
    let d = tempfile::tempdir().unwrap();
    let runner = Arc::new(FakeDisks {
        blkid: export("/dev/vda1", &[("LABEL", "EFI"), ("TYPE", "vfat")])
            + &export("/dev/vdb", &[("LABEL", "cidata"), ("TYPE", "vfat")])
            + &export("/dev/vdc", &[("LABEL", "cidata"), ("TYPE", "ext4")]),
        disk: vec![
            (
                "meta-data".into(),
                "instance-id: disk-iid\nlocal-hostname: diskhost\n".into(),
            ),
            ("user-data".into(), "#cloud-config\n".into()),
            ("network-config".into(), "version: 1\nconfig: []\n".into()),
        ],
        calls: Mutex::new(Vec::new()),
    });
    let host = Host::with_runner(d.path(), runner.clone());
    let cfg = json!({});
    let ctx = SourceContext::new(&host, &cfg, Stage::Local).with_cmdline("");
    let mut ds = NoCloud::new(Stage::Local, scan_always());
    common::capture();
    assert!(ds.get_data(&ctx).unwrap());
    assert_eq!(ds.instance_id(), "disk-iid");
    assert_eq!(ds.display(), "DataSourceNoCloud [seed=/dev/vdb]");
    assert_eq!(ds.subplatform(), "config-disk (/dev/vdb)");
    assert_eq!(
        ds.network_config(),
        Some(json!({"version": 1, "config": []}))
    );
    assert_eq!(ds.userdata_raw(), Some(&b"#cloud-config\n"[..]));
    let calls = runner.calls.lock().unwrap().clone();
    assert!(
        calls[1].starts_with("mount -o ro -t auto /dev/vdb "),
        "{calls:?}"
    );
    assert!(calls[2].starts_with("umount "));
    assert!(common::warnings().is_empty(), "{:?}", common::warnings());
    assert!(common::messages().contains(&"Using data from /dev/vdb".to_string()));
}

/// A vfat seed disk (as `mkfs.vfat` and `mcopy` make one) is read
/// directly: no `mount`, no `umount`, the same datasource.
#[test]
fn reads_a_vfat_disk_without_mounting_it() {
    let d = tempfile::tempdir().unwrap();
    let rec = Arc::new(RecordingRunner::new());
    rec.answer(
        "blkid",
        0,
        export("/dev/vdb", &[("LABEL", "CIDATA"), ("TYPE", "vfat")]).as_bytes(),
    );
    let host = Host::with_runner(d.path(), rec.clone());
    let src = d.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("meta-data"), "instance-id: fat-iid\n").unwrap();
    std::fs::write(src.join("user-data"), "#cloud-config\nhostname: fat\n").unwrap();
    std::fs::create_dir_all(d.path().join("dev")).unwrap();
    let img = d.path().join("dev/vdb");
    let mk = std::process::Command::new("mkfs.vfat")
        .args(["-n", "CIDATA", "-C"])
        .arg(&img)
        .arg("2048")
        .output()
        .expect("mkfs.vfat (dosfstools) is needed: tools/deps.sh installs it");
    assert!(mk.status.success(), "{mk:?}");
    let cp = std::process::Command::new("mcopy")
        .arg("-i")
        .arg(&img)
        .arg(src.join("meta-data"))
        .arg(src.join("user-data"))
        .arg("::")
        .output()
        .expect("mcopy (mtools) is needed: tools/deps.sh installs it");
    assert!(cp.status.success(), "{cp:?}");
    let cfg = json!({});
    let ctx = SourceContext::new(&host, &cfg, Stage::Local).with_cmdline("");
    let mut ds = NoCloud::new(Stage::Local, scan_always());
    common::capture();
    assert!(ds.get_data(&ctx).unwrap());
    assert_eq!(ds.instance_id(), "fat-iid");
    assert_eq!(ds.display(), "DataSourceNoCloud [seed=/dev/vdb]");
    assert_eq!(
        ds.userdata_raw(),
        Some(&b"#cloud-config\nhostname: fat\n"[..])
    );
    assert_eq!(rec.lines(), BLKID);
    assert!(common::messages().contains(
        &"Read 2 seed files from the FAT filesystem on /dev/vdb without mounting it".to_string()
    ));
}

/// A FIFO where the device should be is not read (nor waited on): the
/// disk goes to `mount` as any disk the FAT reader cannot read.
#[test]
fn a_fifo_at_the_device_path_is_not_opened_for_reading() {
    let d = tempfile::tempdir().unwrap();
    let rec = Arc::new(RecordingRunner::new());
    rec.answer(
        "blkid",
        0,
        export("/dev/vdb", &[("LABEL", "CIDATA"), ("TYPE", "vfat")]).as_bytes(),
    );
    let host = Host::with_runner(d.path(), rec.clone());
    std::fs::create_dir_all(d.path().join("dev")).unwrap();
    let st = std::process::Command::new("mkfifo")
        .arg(d.path().join("dev/vdb"))
        .status()
        .unwrap();
    assert!(st.success());
    let cfg = json!({});
    let ctx = SourceContext::new(&host, &cfg, Stage::Local).with_cmdline("");
    let mut ds = NoCloud::new(Stage::Local, scan_always());
    assert!(!ds.get_data(&ctx).unwrap());
    let lines = rec.lines();
    assert!(
        lines[1].starts_with("mount -o ro -t auto /dev/vdb "),
        "{lines:?}"
    );
}

#[test]
fn uses_an_already_mounted_disk_without_mounting() {
    let d = tempfile::tempdir().unwrap();
    let rec = Arc::new(RecordingRunner::new());
    rec.answer(
        "blkid",
        0,
        export("/dev/sr0", &[("LABEL", "cidata"), ("TYPE", "iso9660")]).as_bytes(),
    );
    let host = Host::with_runner(d.path(), rec.clone());
    common::write(
        &host,
        "/proc/mounts",
        "/dev/sr0 /media/my\\040seed iso9660 ro,relatime 0 0\n",
    );
    common::write(&host, "/media/my seed/meta-data", "instance-id: mounted\n");
    common::write(&host, "/media/my seed/user-data", "ud");
    let cfg = json!({});
    let ctx = SourceContext::new(&host, &cfg, Stage::Local).with_cmdline("");
    let mut ds = NoCloud::new(Stage::Local, scan_always());
    assert!(ds.get_data(&ctx).unwrap());
    assert_eq!(ds.instance_id(), "mounted");
    assert_eq!(rec.lines(), BLKID);
}

#[test]
fn custom_label_and_no_label() {
    let d = tempfile::tempdir().unwrap();
    let rec = Arc::new(RecordingRunner::new());
    let host = Host::with_runner(d.path(), rec.clone());
    let cfg = json!({"datasource": {"NoCloud": {"fs_label": "MyData"}}});
    let ctx = SourceContext::new(&host, &cfg, Stage::Local).with_cmdline("");
    let mut ds = NoCloud::new(Stage::Local, scan_always());
    common::capture();
    assert!(!ds.get_data(&ctx).unwrap());
    assert_eq!(rec.lines(), BLKID);
    let recs = common::records();
    assert!(recs.iter().any(|(l, t, m)| *l == log::Level::Warn
        && t == "DEPRECATED:lifecycle.py"
        && m == "Custom fs_label keys is deprecated in 24.3 and scheduled to be removed in 29.3. This key isn't supported by ds-identify."));

    // fs_label: null turns the disk search off.
    let rec = Arc::new(RecordingRunner::new());
    let host = Host::with_runner(d.path(), rec.clone());
    let cfg = json!({"datasource": {"NoCloud": {"fs_label": null}}});
    let ctx = SourceContext::new(&host, &cfg, Stage::Local).with_cmdline("");
    assert!(!NoCloud::new(Stage::Local, scan_always())
        .get_data(&ctx)
        .unwrap());
    assert!(rec.lines().is_empty());
}

#[test]
fn blkid_failure_is_an_error() {
    let d = tempfile::tempdir().unwrap();
    let rec = Arc::new(RecordingRunner::new());
    rec.answer("blkid", 4, b"");
    let host = Host::with_runner(d.path(), rec);
    let cfg = json!({});
    let ctx = SourceContext::new(&host, &cfg, Stage::Local).with_cmdline("");
    let err = NoCloud::new(Stage::Local, scan_always())
        .get_data(&ctx)
        .unwrap_err();
    assert_eq!(err.reason(), "command-failed");
}

#[test]
fn sandbox_root_never_probes_devices_by_default() {
    let d = tempfile::tempdir().unwrap();
    let rec = Arc::new(RecordingRunner::new());
    rec.answer(
        "blkid",
        0,
        export("/dev/sr0", &[("LABEL", "cidata"), ("TYPE", "iso9660")]).as_bytes(),
    );
    let host = Host::with_runner(d.path(), rec.clone());
    common::write(
        &host,
        "/var/lib/cloud/seed/nocloud/meta-data",
        "instance-id: dir\n",
    );
    common::write(&host, "/var/lib/cloud/seed/nocloud/user-data", "");
    let cfg = json!({});
    let ctx = SourceContext::new(&host, &cfg, Stage::Local).with_cmdline("");
    let mut ds = NoCloud::new(Stage::Local, SourceOptions::default());
    common::capture();
    assert!(ds.get_data(&ctx).unwrap());
    assert_eq!(ds.instance_id(), "dir");
    assert!(rec.lines().is_empty(), "{:?}", rec.lines());
    assert!(common::messages()
        .iter()
        .any(|m| m.contains("skipped for --root")));
}

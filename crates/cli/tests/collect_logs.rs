//! `cloud-init collect-logs` on a sandbox root after a first boot whose
//! seed carries a password, a chpasswd password and a secret in runcmd:
//! upstream's layout is in the tarball, the manifest's sizes and hashes
//! are those of the files, and with `--redact-sensitive` no secret of the
//! seed is anywhere in the (decompressed) archive. A link in the image to
//! a file of this machine is never followed out of the root.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Output};

const PASSWORD: &str = "PW-Collect-Secret-91";
const CHPASSWD: &str = "CHPW-Secret-Zebra-55";
const RUNCMD: &str = "RUNCMD-Secret-Quokka-33";
const HOST_MARKER: &str = "HOST-ONLY-Marker-Okapi-12";

fn user_data() -> String {
    format!(
        "#cloud-config\npassword: {PASSWORD}\nchpasswd:\n  expire: false\n  users:\n    - {{name: debian, password: {CHPASSWD}, type: text}}\nruncmd:\n  - echo {RUNCMD} > /var/tmp/token\n"
    )
}

/// Tar entries: path -> (is dir, bytes).
type Entries = BTreeMap<String, (bool, Vec<u8>)>;

/// Every entry of a .tar.gz, and the decompressed tar.
fn untar(path: &Path) -> (Entries, Vec<u8>) {
    let gz = std::fs::read(path).unwrap();
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(gz.as_slice())
        .read_to_end(&mut raw)
        .unwrap();
    let mut out = BTreeMap::new();
    let mut ar = tar::Archive::new(raw.as_slice());
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let p = e.path().unwrap().to_string_lossy().into_owned();
        let dir = e.header().entry_type().is_dir();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        out.insert(p, (dir, data));
    }
    (out, raw)
}

fn collect(sb: &Sandbox, cwd: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .current_dir(cwd)
        .arg("--root")
        .arg(sb.root())
        .arg("collect-logs")
        .args(args)
        .env_remove("CLOUD_CFG")
        .output()
        .unwrap()
}

fn sha256_hex(d: &[u8]) -> String {
    ci_pyval::digest::hex(&ci_pyval::digest::sha256(d))
}

/// Files under the single top directory, by path relative to it; checks
/// the manifest against them.
fn check_layout(entries: &Entries) -> (BTreeMap<String, Vec<u8>>, serde_json::Value) {
    let tops: std::collections::BTreeSet<&str> = entries
        .keys()
        .map(|k| k.split('/').next().unwrap())
        .collect();
    assert_eq!(tops.len(), 1, "one top dir: {tops:?}");
    let top = *tops.iter().next().unwrap();
    assert!(top.starts_with("cloud-init-logs-20"), "{top}");
    assert_eq!(top.len(), "cloud-init-logs-YYYY-MM-DD".len(), "{top}");
    let files: BTreeMap<String, Vec<u8>> = entries
        .iter()
        .filter(|(_, (dir, _))| !dir)
        .map(|(k, (_, d))| (k[top.len() + 1..].to_string(), d.clone()))
        .collect();
    let manifest: serde_json::Value =
        serde_json::from_slice(files.get("manifest.json").expect("manifest.json")).unwrap();
    let listed = manifest["files"].as_array().unwrap();
    let mut names: Vec<&str> = Vec::new();
    for f in listed {
        let p = f["path"].as_str().unwrap();
        let data = files
            .get(p)
            .unwrap_or_else(|| panic!("{p} listed but absent"));
        assert_eq!(f["size"].as_u64().unwrap(), data.len() as u64, "{p} size");
        assert_eq!(
            f["sha256"].as_str().unwrap(),
            sha256_hex(data),
            "{p} sha256"
        );
        assert!(!f["reason"].as_str().unwrap().is_empty(), "{p} reason");
        assert!(f["redacted"].is_boolean(), "{p}");
        names.push(p);
    }
    for p in files.keys() {
        assert!(
            p == "manifest.json" || names.contains(&p.as_str()),
            "{p} in the tarball but not in the manifest"
        );
    }
    (files, manifest)
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn collect_logs_full_and_redacted() {
    let Some(base) = debian_root() else { return };
    let ud = user_data();
    let sb = Sandbox::new(
        &base,
        &[
            (
                "meta-data",
                b"instance-id: iid-logs-1\nlocal-hostname: logs-host\n".as_slice(),
            ),
            ("user-data", ud.as_bytes()),
        ],
    );
    assert_eq!(sb.boot(), vec![0, 0, 0, 0], "boot; log:\n{}", sb.log());

    // A file of this machine, outside the root, that image links point at.
    let outside = sb.dir.path().join("outside-secret.txt");
    std::fs::write(&outside, HOST_MARKER).unwrap();
    std::os::unix::fs::symlink(&outside, sb.path("/etc/cloud/cloud.cfg.d/evil-abs.cfg")).unwrap();
    std::os::unix::fs::symlink(
        "../../../../outside-secret.txt",
        sb.path("/etc/cloud/evil-rel.cfg"),
    )
    .unwrap();
    // A world-readable file quoting the secrets (an operator's note, or a
    // log of another tool): upstream would ship it as it is.
    let note = sb.path("/run/cloud-init/operator-note.txt");
    std::fs::write(
        &note,
        format!("pw={PASSWORD} cmd: echo {RUNCMD} > /var/tmp/token\n"),
    )
    .unwrap();
    std::fs::set_permissions(&note, std::fs::Permissions::from_mode(0o644)).unwrap();

    let out_dir = tempfile::tempdir().unwrap();

    // Default: everything, with upstream's warning.
    let out = collect(&sb, out_dir.path(), &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let tarball = out_dir.path().join("cloud-init.tar.gz");
    assert!(
        err.contains(&format!("Wrote {}", tarball.display())),
        "{err}"
    );
    assert!(
        err.contains("Sensitive data may have been included"),
        "{err}"
    );
    assert!(
        !sb.root().join("cloud-init.tar.gz").exists(),
        "the tarball is the operator's, not written into the root"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&tarball).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the tarball holds secrets: owner-only");
    let (entries, raw) = untar(&tarball);
    let (files, manifest) = check_layout(&entries);
    for want in [
        "version",
        "dpkg-version",
        "dmesg.txt",
        "journal.txt",
        "journal-previous.txt",
        "var/log/cloud-init.log",
        "var/log/cloud-init-output.log",
        "etc/cloud/cloud.cfg",
        "etc/cloud/cloud.cfg.d/05_logging.cfg",
        "etc/cloud/cloud.cfg.d/90-test.cfg",
        "var/lib/cloud/data/instance-id",
        "var/lib/cloud/instance/user-data.txt",
        "run/cloud-init/instance-data.json",
        "run/cloud-init/instance-data-sensitive.json",
        "run/cloud-init/operator-note.txt",
        "manifest.json",
    ] {
        assert!(
            files.contains_key(want),
            "{want} missing: {:?}",
            files.keys()
        );
    }
    assert!(contains(&files["dmesg.txt"], "not collected: --root"));
    assert!(contains(&files["journal.txt"], "not collected: --root"));
    assert!(contains(&files["version"], "cloud-init 25.1.4"));
    assert_eq!(manifest["redact_sensitive"], false);
    // Without -r sensitive data is in, as upstream: the test can see it.
    assert!(contains(&raw, PASSWORD), "the full tarball has user-data");
    assert!(!contains(&raw, HOST_MARKER), "a link led out of the root");
    assert!(
        !files.keys().any(|k| k.contains("evil")),
        "{:?}",
        files.keys()
    );

    // --redact-sensitive to another path.
    let red = out_dir.path().join("sub/red.tgz");
    std::fs::create_dir_all(red.parent().unwrap()).unwrap();
    let out = collect(&sb, out_dir.path(), &["-r", "-t", "sub/red.tgz", "-u"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("The --include-userdata flag is deprecated"),
        "{err}"
    );
    assert!(
        !err.contains("Sensitive data may have been included"),
        "{err}"
    );
    let (entries, raw) = untar(&red);
    let (files, manifest) = check_layout(&entries);
    assert_eq!(manifest["redact_sensitive"], true);
    for secret in [PASSWORD, CHPASSWD, RUNCMD, HOST_MARKER] {
        assert!(!contains(&raw, secret), "{secret} in the redacted tarball");
    }
    for gone in [
        "dmesg.txt",
        "var/lib/cloud/instance/user-data.txt",
        "run/cloud-init/instance-data-sensitive.json",
    ] {
        assert!(!files.contains_key(gone), "{gone} collected with -r");
    }
    let skipped: Vec<&str> = manifest["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["path"].as_str().unwrap())
        .collect();
    assert!(
        skipped.contains(&"var/lib/cloud/instance/user-data.txt"),
        "{skipped:?}"
    );
    assert!(skipped.contains(&"dmesg.txt"), "{skipped:?}");
    // Logs are kept under -r, as upstream.
    assert!(files.contains_key("var/log/cloud-init.log"));
    let note = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "run/cloud-init/operator-note.txt")
        .expect("note listed");
    assert_eq!(note["redacted"], true, "{note}");
    let cats: Vec<&str> = note["redactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(
        cats.contains(&"password") && cats.contains(&"user-data"),
        "{cats:?}"
    );
    assert!(contains(
        &files["run/cloud-init/operator-note.txt"],
        "REDACTED"
    ));
    // No temporary file left next to the tarballs.
    let leftovers: Vec<_> = std::fs::read_dir(red.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");
}

#[test]
fn running_system_needs_root_and_bad_tarfile_fails_cleanly() {
    // A target directory that does not exist: a clear error, no panic.
    let root = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .arg("--root")
        .arg(root.path())
        .args(["collect-logs", "-t", "/nonexistent-dir-cirs/x.tar.gz"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("Failed to write /nonexistent-dir-cirs/x.tar.gz"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

//! `--root` on a hostile image: its own symlinks (an absolute link as the
//! last component of the log files, the sudoers drop-in and the bootcmd
//! temporary directory; a chain of more than 40 links under `write_files`
//! paths) must never make the agent create, append to, chmod or chown
//! anything on this machine. A bare temporary root is enough: commands that
//! need the image's programs fail, the file operations are what is tested.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_cloud-init");

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn inside(root: &Path, p: impl AsRef<Path>) -> PathBuf {
    root.join(p.as_ref().strip_prefix("/").unwrap())
}

fn write(root: &Path, p: &str, data: &[u8]) {
    let full = inside(root, p);
    std::fs::create_dir_all(full.parent().unwrap()).unwrap();
    std::fs::write(full, data).unwrap();
}

fn link(root: &Path, at: &str, to: impl AsRef<Path>) {
    let full = inside(root, at);
    std::fs::create_dir_all(full.parent().unwrap()).unwrap();
    symlink(to, full).unwrap();
}

/// `/<dir>/<first> -> /<dir>/<p>1 -> ... -> /<dir>/<p>40 -> end`: 41 links.
fn chain(root: &Path, dir: &str, first: &str, p: &str, end: &Path) {
    link(root, &format!("/{dir}/{first}"), format!("/{dir}/{p}1"));
    for i in 1..40 {
        link(
            root,
            &format!("/{dir}/{p}{i}"),
            format!("/{dir}/{p}{}", i + 1),
        );
    }
    link(root, &format!("/{dir}/{p}40"), end);
}

fn snapshot(dir: &Path, out: &mut BTreeMap<PathBuf, String>) {
    let md = std::fs::symlink_metadata(dir).unwrap();
    out.insert(
        dir.to_path_buf(),
        format!("dir {:o} {}:{}", md.mode(), md.uid(), md.gid()),
    );
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let md = std::fs::symlink_metadata(&p).unwrap();
        if md.is_dir() {
            snapshot(&p, out);
            continue;
        }
        let body = if md.file_type().is_symlink() {
            format!("-> {}", std::fs::read_link(&p).unwrap().display())
        } else {
            std::fs::read_to_string(&p).unwrap()
        };
        out.insert(
            p,
            format!("{body} {:o} {}:{}", md.mode(), md.uid(), md.gid()),
        );
    }
}

const USER_DATA: &str = "#cloud-config
bootcmd: [echo bootcmd-output]
users:
  - default
  - {name: alice, sudo: \"ALL=(ALL) NOPASSWD:ALL\"}
write_files:
  - path: /etc/last-link
    content: \"APPENDED-THROUGH-LAST-LINK\\n\"
    append: true
    permissions: '0666'
  - path: /opt/d/created-outside-root
    content: ESCAPED
";

#[test]
fn image_symlinks_never_lead_outside_the_root() {
    if !ci_host::Host::running_as_root() {
        eprintln!("note: skipped: needs root (chown, useradd --root)");
        return;
    }
    let d = tempfile::Builder::new()
        .prefix("cirs-symlinks-")
        .tempdir_in("/var/tmp")
        .unwrap();
    let root = d.path().join("root");
    let outside_dir = tempfile::Builder::new()
        .prefix("cirs-outside-")
        .tempdir()
        .unwrap();
    let out = outside_dir.path();
    std::fs::write(out.join("victim"), "ORIGINAL\n").unwrap();
    std::fs::set_permissions(out.join("victim"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(out.join("sudoers-victim"), "# host file\n").unwrap();
    std::fs::create_dir(out.join("tmpdir")).unwrap();
    std::fs::set_permissions(out.join("tmpdir"), std::fs::Permissions::from_mode(0o700)).unwrap();

    let cfg = std::fs::read(repo().join("dist/debian/cloud.cfg")).unwrap();
    write(&root, "/etc/cloud/cloud.cfg", &cfg);
    let logging = std::fs::read(repo().join("dist/debian/05_logging.cfg")).unwrap();
    write(&root, "/etc/cloud/cloud.cfg.d/05_logging.cfg", &logging);
    write(
        &root,
        "/etc/cloud/cloud.cfg.d/90-test.cfg",
        b"datasource_list: [ NoCloud, None ]\n",
    );
    write(&root, "/proc/cmdline", b"root=/dev/vda1 ro\n");
    write(&root, "/proc/uptime", b"12.34 10.00\n");
    write(&root, "/etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n");
    write(&root, "/etc/group", b"root:x:0:\nsudo:x:27:\nadm:x:4:\n");
    write(&root, "/etc/shadow", b"root:*:19000:0:99999:7:::\n");
    write(&root, "/etc/gshadow", b"root:*::\nsudo:*::\nadm:*::\n");
    write(
        &root,
        "/var/lib/cloud/seed/nocloud/meta-data",
        b"instance-id: iid-symlinks\nlocal-hostname: box\n",
    );
    write(
        &root,
        "/var/lib/cloud/seed/nocloud/user-data",
        USER_DATA.as_bytes(),
    );
    // Last components that point at this machine's files.
    link(&root, "/var/log/cloud-init.log", out.join("ci.log"));
    link(&root, "/var/log/cloud-init-output.log", out.join("out.log"));
    link(
        &root,
        "/etc/sudoers.d/90-cloud-init-users",
        out.join("sudoers-victim"),
    );
    link(&root, "/run/cloud-init/tmp", out.join("tmpdir"));
    link(&root, "/etc/last-link", out.join("victim"));
    // In the image, the sudoers target exists (so it is appended to).
    let in_root_sudoers = inside(&root, out.join("sudoers-victim"));
    std::fs::create_dir_all(in_root_sudoers.parent().unwrap()).unwrap();
    std::fs::write(&in_root_sudoers, "# copy inside root\n").unwrap();
    // A 41-link chain under a write_files path (the module stops at its
    // first failing file, as upstream's does: so it comes last).
    chain(&root, "opt", "d", "c", out);

    let mut before = BTreeMap::new();
    snapshot(out, &mut before);
    let mut codes = Vec::new();
    for stage in [
        &["init", "--local"][..],
        &["init"],
        &["modules", "--mode", "config"],
        &["modules", "--mode", "final"],
    ] {
        let o = Command::new(BIN)
            .arg("--root")
            .arg(&root)
            .args(stage)
            .env_remove("CLOUD_CFG")
            .env_remove("DEBUG_PROC_CMDLINE")
            .output()
            .unwrap();
        codes.push(o.status.code());
    }
    let mut after = BTreeMap::new();
    snapshot(out, &mut after);
    assert_eq!(
        after, before,
        "files outside the root changed (stages: {codes:?})"
    );

    // The links were followed inside the root, as the image itself would.
    let log = std::fs::read_to_string(inside(&root, out.join("ci.log"))).unwrap();
    assert!(log.contains("Cloud-init v."), "{log}");
    assert!(
        log.contains("too many levels of symbolic links"),
        "the 41-link chains are reported: {log}"
    );
    let sudoers = std::fs::read_to_string(&in_root_sudoers).unwrap();
    assert!(
        sudoers.starts_with("# copy inside root\n")
            && sudoers.contains("alice ALL=(ALL) NOPASSWD:ALL"),
        "{sudoers}"
    );
    let appended = std::fs::read_to_string(inside(&root, out.join("victim"))).unwrap();
    assert_eq!(appended, "APPENDED-THROUGH-LAST-LINK\n");
    let tmp = std::fs::metadata(inside(&root, out.join("tmpdir"))).unwrap();
    assert_eq!(
        tmp.mode() & 0o7777,
        0o1777,
        "bootcmd's tmp dir, inside the root"
    );
    assert!(std::fs::read_to_string(inside(&root, out.join("out.log")))
        .unwrap()
        .contains("Cloud-init v."));
}

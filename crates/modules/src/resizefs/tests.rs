use super::*;
use crate::blockdev::fake::{self, mountinfo_line, Scripted};
use crate::testutil::{logcap, TestEnv};
use serde_json::json;
use std::sync::Arc;

fn env_with(cfg: Value) -> (TestEnv, Arc<Scripted>) {
    let mut env = TestEnv::new(cfg);
    let r = fake::scripted(&mut env);
    (env, r)
}

/// `/` of type `fstype` on `dev` (mount options `opts`).
fn root_on(env: &TestEnv, fstype: &str, dev: &str, opts: &str) {
    env.write(
        "/proc/self/mountinfo",
        &mountinfo_line("/", opts, fstype, dev),
    );
}

#[test]
fn empty_sandbox_finds_no_root_filesystem_and_runs_nothing() {
    logcap::init();
    let (env, r) = env_with(json!({}));
    handle(&env.ctx("resizefs")).unwrap();
    // Upstream warns in a chroot; under --root this is no fault of the
    // user's, so it is an info line.
    assert!(logcap::warnings().is_empty(), "{:?}", logcap::warnings());
    assert!(logcap::all()
        .iter()
        .any(|m| m.starts_with("Could not determine filesystem type of /: under --root")));
    assert!(r.lines().is_empty());
}

#[test]
fn disabled_values() {
    logcap::init();
    for v in [
        json!(false),
        json!("false"),
        json!("off"),
        json!(""),
        json!(0),
    ] {
        let (env, r) = env_with(json!({ "resize_rootfs": v }));
        handle(&env.ctx("resizefs")).unwrap();
        assert!(r.lines().is_empty());
    }
    assert!(logcap::warnings().is_empty());
    assert!(logcap::all()
        .iter()
        .any(|m| m == "Skipping module named resizefs, resizing disabled"));
}

#[test]
fn ext4_uses_resize2fs_on_the_device() {
    logcap::init();
    let (env, r) = env_with(json!({"resize_rootfs": true}));
    fake::tools(&env, &["resize2fs"]);
    root_on(&env, "ext4", "/dev/vda1", "rw,relatime");
    if !fake::node(&env, "/dev/vda1") {
        return;
    }
    handle(&env.ctx("resizefs")).unwrap();
    assert_eq!(r.lines(), ["resize2fs /dev/vda1"]);
    assert!(logcap::warnings().is_empty());
    let all = logcap::all();
    assert!(all
        .iter()
        .any(|m| m == "resize_info: dev=/dev/vda1 mnt_point=/ path=/"));
    assert!(all
        .iter()
        .any(|m| m == "Resizing / (ext4) using resize2fs /dev/vda1"));
    assert!(all
        .iter()
        .any(|m| m == "Resized root filesystem (type=ext4, val=True)"));
}

#[test]
fn xfs_and_bcachefs_commands() {
    let (env, r) = env_with(json!({}));
    fake::tools(&env, &["xfs_growfs"]);
    root_on(&env, "xfs", "/dev/vda1", "rw");
    if !fake::node(&env, "/dev/vda1") {
        return;
    }
    handle(&env.ctx("resizefs")).unwrap();
    assert_eq!(r.lines(), ["xfs_growfs /"]);
    let (env, r) = env_with(json!({}));
    fake::tools(&env, &["bcachefs"]);
    root_on(&env, "bcachefs", "/dev/vda1", "rw");
    assert!(fake::node(&env, "/dev/vda1"));
    handle(&env.ctx("resizefs")).unwrap();
    assert_eq!(r.lines(), ["bcachefs device resize /dev/vda1"]);
}

#[test]
fn btrfs_queues_on_new_progs_and_uses_snapshots_when_read_only() {
    let (env, r) = env_with(json!({}));
    fake::tools(&env, &["btrfs"]);
    r.answer(&["btrfs", "--version"], 0, "btrfs-progs v6.2\n", "");
    root_on(&env, "btrfs", "/dev/vda1", "rw,relatime");
    if !fake::node(&env, "/dev/vda1") {
        return;
    }
    handle(&env.ctx("resizefs")).unwrap();
    assert_eq!(
        r.lines(),
        ["btrfs --version", "btrfs filesystem resize --enqueue max /"]
    );

    let (env, r) = env_with(json!({}));
    fake::tools(&env, &["btrfs"]);
    r.answer(&["btrfs", "--version"], 0, "btrfs-progs v4.20.1\n", "");
    root_on(&env, "btrfs", "/dev/vda1", "ro,relatime");
    env.host.create_dir_all("/.snapshots", 0o755).unwrap();
    assert!(fake::node(&env, "/dev/vda1"));
    handle(&env.ctx("resizefs")).unwrap();
    assert_eq!(
        r.lines(),
        [
            "btrfs --version",
            "btrfs filesystem resize max //.snapshots"
        ]
    );
}

#[test]
fn noblock_leaves_the_resize_running() {
    logcap::init();
    let (env, r) = env_with(json!({"resize_rootfs": "noblock"}));
    fake::tools(&env, &["resize2fs", "sh"]);
    root_on(&env, "ext4", "/dev/vda1", "rw");
    if !fake::node(&env, "/dev/vda1") {
        return;
    }
    handle(&env.ctx("resizefs")).unwrap();
    let calls = r.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(&calls[0].argv[..2], ["sh", "-c"]);
    assert_eq!(&calls[0].argv[3..], ["sh", "resize2fs", "/dev/vda1"]);
    assert!(calls[0].argv[2].ends_with('&'));
    assert!(logcap::all()
        .iter()
        .any(|m| m == "Resizing (via forking) root filesystem (type=ext4, val=noblock)"));
}

#[test]
fn dev_root_is_converted_through_the_command_line() {
    logcap::init();
    let (env, r) = env_with(json!({}));
    fake::tools(&env, &["resize2fs"]);
    root_on(&env, "ext4", "/dev/root", "rw");
    env.write("/proc/cmdline", "root=/dev/vda1 ro\n");
    if !fake::node(&env, "/dev/vda1") {
        return;
    }
    handle(&env.ctx("resizefs")).unwrap();
    assert_eq!(r.lines(), ["resize2fs /dev/vda1"]);
    assert!(logcap::all()
        .iter()
        .any(|m| m == "Converted /dev/root to '/dev/vda1' per kernel cmdline"));

    let (env, r) = env_with(json!({}));
    root_on(&env, "ext4", "/dev/root", "rw");
    handle(&env.ctx("resizefs")).unwrap();
    assert!(r.lines().is_empty());
    assert!(logcap::warnings().contains(&"Unable to find device '/dev/root'".to_string()));
}

#[test]
fn missing_or_non_device_paths_warn() {
    logcap::init();
    let (env, r) = env_with(json!({}));
    root_on(&env, "ext4", "/dev/vda1", "rw");
    handle(&env.ctx("resizefs")).unwrap();
    assert_eq!(
        logcap::warnings(),
        ["Device '/dev/vda1' did not exist. cannot resize: dev=/dev/vda1 mnt_point=/ path=/"]
    );
    env.write("/dev/vda1", "regular");
    handle(&env.ctx("resizefs")).unwrap();
    assert!(logcap::warnings().contains(
        &"device '/dev/vda1' not a block device. cannot resize: dev=/dev/vda1 mnt_point=/ path=/"
            .to_string()
    ));
    // A bare name is tried under /dev.
    root_on(&env, "ext4", "vda1", "rw");
    handle(&env.ctx("resizefs")).unwrap();
    assert!(logcap::all()
        .iter()
        .any(|m| m == "'vda1' doesn't appear to be a valid device path. Trying '/dev/vda1'"));
    root_on(&env, "overlay", "overlayroot", "rw");
    handle(&env.ctx("resizefs")).unwrap();
    assert!(logcap::all().iter().any(|m| m
        == "Not attempting to resize devpath 'overlayroot': dev=overlayroot mnt_point=/ path=/"));
    assert!(r.lines().is_empty());
}

#[test]
fn unknown_filesystem_warns() {
    logcap::init();
    let (env, r) = env_with(json!({}));
    root_on(&env, "f2fs", "/dev/vda1", "rw");
    if !fake::node(&env, "/dev/vda1") {
        return;
    }
    handle(&env.ctx("resizefs")).unwrap();
    assert_eq!(
        logcap::warnings(),
        ["Not resizing unknown filesystem type f2fs for /"]
    );
    assert!(r.lines().is_empty());
}

#[test]
fn failed_resize_is_the_modules_error() {
    logcap::init();
    let (env, r) = env_with(json!({}));
    fake::tools(&env, &["resize2fs"]);
    r.answer(&["resize2fs"], 1, "", "resize2fs: Bad magic number\n");
    root_on(&env, "ext4", "/dev/vda1", "rw");
    if !fake::node(&env, "/dev/vda1") {
        return;
    }
    let e = handle(&env.ctx("resizefs")).unwrap_err();
    assert_eq!(e.py_class(), "ProcessExecutionError");
    assert_eq!(
        e.to_string(),
        "Unexpected error while running command.\nCommand: ('resize2fs', '/dev/vda1')\nExit code: 1\nReason: -\nStdout: \nStderr: resize2fs: Bad magic number"
    );
    assert_eq!(
        logcap::warnings(),
        ["Failed to resize filesystem (cmd=('resize2fs', '/dev/vda1'))"]
    );
}

#[test]
fn freebsd_zfs_root_grows_the_pool() {
    logcap::init();
    let (env, r) = env_with(json!({"system_info": {"distro": "freebsd"}}));
    fake::tools(&env, &["mount", "zpool"]);
    r.answer(
        &["mount"],
        0,
        "zroot/ROOT/default on / (zfs, local, noatime, nfsv4acls)\n",
        "",
    );
    r.answer(
        &["zpool", "status"],
        0,
        "  pool: zroot\n state: ONLINE\nconfig:\n\n\tNAME        STATE     READ WRITE CKSUM\n\tzroot       ONLINE       0     0     0\n\t  gpt/rootfs  ONLINE       0     0     0\n",
        "",
    );
    env.write("/dev/zfs", "");
    handle(&env.ctx("resizefs")).unwrap();
    assert_eq!(
        r.lines(),
        [
            "mount",
            "zpool status zroot",
            "zpool online -e zroot gpt/rootfs"
        ]
    );
    assert!(logcap::warnings().is_empty(), "{:?}", logcap::warnings());

    let (env, r) = env_with(json!({"system_info": {"distro": "freebsd"}}));
    fake::tools(&env, &["mount", "zpool"]);
    r.answer(&["mount"], 0, "zroot/ROOT/default on / (zfs, local)\n", "");
    handle(&env.ctx("resizefs")).unwrap();
    assert_eq!(r.lines(), ["mount"]);
    assert!(logcap::all()
        .iter()
        .any(|m| m == "Cannot get zpool info, no /dev/zfs"));
}

#[test]
fn freebsd_ufs_already_full_size_is_skipped() {
    logcap::init();
    let (env, r) = env_with(json!({"system_info": {"distro": "freebsd"}}));
    fake::tools(&env, &["mount", "growfs"]);
    r.answer(
        &["mount"],
        0,
        "/dev/vtbd0p2 on / (ufs, local, soft-updates)\n",
        "",
    );
    r.answer(
        &["growfs", "-N"],
        1,
        "",
        "growfs: requested size 10GB is not larger than the current filesystem size 10GB\n",
    );
    if !fake::node(&env, "/dev/vtbd0p2") {
        return;
    }
    handle(&env.ctx("resizefs")).unwrap();
    assert_eq!(r.lines(), ["mount", "growfs -N /dev/vtbd0p2"]);
    assert!(logcap::all()
        .iter()
        .any(|m| m == "Skip resize filesystem type ufs for /"));

    let (env, r) = env_with(json!({"system_info": {"distro": "freebsd"}}));
    fake::tools(&env, &["mount", "growfs"]);
    r.answer(
        &["mount"],
        0,
        "/dev/vtbd0p2 on / (ufs, local, soft-updates)\n",
        "",
    );
    assert!(fake::node(&env, "/dev/vtbd0p2"));
    handle(&env.ctx("resizefs")).unwrap();
    assert_eq!(
        r.lines(),
        ["mount", "growfs -N /dev/vtbd0p2", "growfs -y /"]
    );
}

#[test]
fn versions_compare_like_upstream() {
    assert!(version_at_least("5.10", &[5, 10]).unwrap());
    assert!(version_at_least("5.10.1", &[5, 10]).unwrap());
    assert!(!version_at_least("5.9.9", &[5, 10]).unwrap());
    assert!(version_at_least("6", &[5, 10]).unwrap());
    assert_eq!(
        version_at_least("6.x", &[5, 10]).unwrap_err().to_string(),
        "invalid literal for int() with base 10: 'x'"
    );
}

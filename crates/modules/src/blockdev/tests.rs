use super::fake::{self, mountinfo_line};
use super::*;
use crate::testutil::TestEnv;
use serde_json::json;

const MOUNTINFO: &str = "\
21 1 253:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw,discard
22 21 0:5 / /proc rw,nosuid shared:2 - proc proc rw
23 21 253:2 / /var rw,noexec shared:3 - xfs /dev/vda2 rw
24 23 0:30 / /var/lib/x ro shared:4 - tmpfs tmpfs rw
";

#[test]
fn mountinfo_picks_the_deepest_covering_mount() {
    let m = parse_mount_info("/", MOUNTINFO).unwrap();
    assert_eq!(
        (
            m.dev.as_str(),
            m.fstype.as_str(),
            m.mount_point.as_str(),
            m.options.as_str()
        ),
        ("/dev/vda1", "ext4", "/", "rw,relatime")
    );
    let m = parse_mount_info("/var/tmp/cloud-init", MOUNTINFO).unwrap();
    assert_eq!(
        (m.dev.as_str(), m.mount_point.as_str()),
        ("/dev/vda2", "/var")
    );
    assert_eq!(m.options, "rw,noexec");
    // /var/lib/x is deeper than /var/lib but not a prefix of /var/lib/y.
    assert_eq!(
        parse_mount_info("/var/lib/y", MOUNTINFO)
            .unwrap()
            .mount_point,
        "/var"
    );
}

#[test]
fn mountinfo_without_root_or_malformed_finds_nothing() {
    // What upstream sees in a chroot with only /proc and /run mounted.
    let chroot = "50 40 0:60 / /proc rw - proc proc rw\n51 40 0:61 / /run rw - tmpfs tmpfs rw\n";
    assert_eq!(parse_mount_info("/", chroot), None);
    assert_eq!(parse_mount_info("/", "1 2 3\n"), None);
    let no_dash = "21 1 253:1 / / rw,relatime shared:1 x ext4 /dev/vda1 rw\n";
    assert_eq!(parse_mount_info("/", no_dash), None);
}

#[test]
fn mount_table_sources_in_upstreams_order() {
    let env = TestEnv::new(json!({}));
    // Nothing at all: a Linux sandbox asks no command.
    assert_eq!(get_mount_info(&env.host, &env.distro, "/"), None);
    assert!(env.rec.lines().is_empty());
    env.write("/etc/mtab", "/dev/sda1 / ext4 rw,relatime 0 0\n");
    let m = get_mount_info(&env.host, &env.distro, "/").unwrap();
    assert_eq!(
        (m.dev.as_str(), m.fstype.as_str(), m.options.as_str()),
        ("/dev/sda1", "ext4", "rw,relatime")
    );
    // mtab only matches exact mount points.
    assert_eq!(get_mount_info(&env.host, &env.distro, "/var"), None);
    env.write(
        "/proc/self/mountinfo",
        &mountinfo_line("/", "rw", "btrfs", "/dev/vdb1"),
    );
    assert_eq!(
        get_mount_info(&env.host, &env.distro, "/var").unwrap().dev,
        "/dev/vdb1"
    );
}

#[test]
fn bsd_mount_output_is_parsed_in_both_forms() {
    assert_eq!(
        mount_line("/dev/gpt/rootfs on / (ufs, local, soft-updates)"),
        Some((
            "/dev/gpt/rootfs".into(),
            "/".into(),
            "ufs".into(),
            "local,soft-updates".into()
        ))
    );
    assert_eq!(
        mount_line("/dev/wd0a on / type ffs (local)"),
        Some(("/dev/wd0a".into(), "/".into(), "ffs".into(), "local".into()))
    );
    assert_eq!(mount_line("garbage"), None);
}

#[test]
fn freebsd_asks_mount_and_resolves_labels() {
    let mut env = TestEnv::new(json!({"system_info": {"distro": "freebsd"}}));
    let r = fake::scripted(&mut env);
    fake::tools(&env, &["mount", "glabel"]);
    r.answer(
        &["mount", "-p"],
        0,
        "/dev/gpt/rootfs  /  ufs  rw  1 1\n",
        "",
    );
    r.answer(
        &["mount"],
        0,
        "/dev/gpt/rootfs on / (ufs, local, soft-updates)\ndevfs on /dev (devfs)\n",
        "",
    );
    r.answer(&["glabel"], 0, "gpt/rootfs  N/A  vtbd0p2\n", "");
    let m = get_mount_info(&env.host, &env.distro, "/").unwrap();
    assert_eq!((m.dev.as_str(), m.fstype.as_str()), ("/dev/vtbd0p2", "ufs"));
    assert_eq!(
        r.lines(),
        ["mount", "mount -p /dev/gpt/rootfs", "glabel status -s"]
    );
}

#[test]
fn root_device_from_the_kernel_command_line() {
    let env = TestEnv::new(json!({}));
    let f = |c: &str| rootdev_from_cmdline(&env.host, &env.distro, c);
    assert_eq!(f("ro root=/dev/vda1 quiet").as_deref(), Some("/dev/vda1"));
    assert_eq!(
        f("root=LABEL=cloudimg-rootfs").as_deref(),
        Some("/dev/disk/by-label/cloudimg-rootfs")
    );
    assert_eq!(
        f("root=UUID=ABCD-1").as_deref(),
        Some("/dev/disk/by-uuid/abcd-1")
    );
    assert_eq!(f("root=sda2").as_deref(), Some("/dev/sda2"));
    assert_eq!(f("ro quiet"), None);
    // No by-partuuid link and no blkid: the path it would have.
    assert_eq!(
        f("root=PARTUUID=AB-02").as_deref(),
        Some("/dev/disk/by-partuuid/ab-02")
    );
}

#[test]
fn partition_info_from_sysfs() {
    let env = TestEnv::new(json!({}));
    fake::sysfs_partition(&env, "vda", "vda1", "1");
    assert_eq!(
        device_part_info(&env.host, &env.distro, "/dev/vda1"),
        Ok(("/dev/vda".into(), "1".into()))
    );
    assert_eq!(
        device_part_info(&env.host, &env.distro, "/dev/vdz9"),
        Err(PartInfoError(
            "/dev/vdz9 had no syspath (/sys/class/block/vdz9)".into()
        ))
    );
    env.write("/sys/class/block/vda/dev", "253:0\n");
    assert_eq!(
        device_part_info(&env.host, &env.distro, "/dev/vda"),
        Err(PartInfoError("/dev/vda not a partition".into()))
    );
}

#[test]
fn bsd_partition_info_from_the_name() {
    let env = TestEnv::new(json!({"system_info": {"distro": "freebsd"}}));
    let f = |d: &str| device_part_info(&env.host, &env.distro, d);
    assert_eq!(f("/dev/vtbd0p2"), Ok(("/dev/vtbd0".into(), "2".into())));
    assert_eq!(f("/dev/ada0s1a"), Ok(("/dev/ada0".into(), "1a".into())));
    assert_eq!(
        f("/dev/cd0"),
        Err(PartInfoError(
            "Invalid value for devpath: '/dev/cd0'".into()
        ))
    );
}

#[test]
fn mapped_devices_are_dm_links() {
    let env = TestEnv::new(json!({}));
    env.host.create_dir_all("/dev/mapper", 0o755).unwrap();
    env.host.symlink("../dm-0", "/dev/mapper/root").unwrap();
    assert_eq!(
        get_mapped_device(&env.host, &env.distro, "/dev/mapper/root").as_deref(),
        Some("/dev/dm-0")
    );
    assert_eq!(get_mapped_device(&env.host, &env.distro, "/dev/vda1"), None);
    let bsd = TestEnv::new(json!({"system_info": {"distro": "freebsd"}}));
    bsd.host.create_dir_all("/dev/mapper", 0o755).unwrap();
    bsd.host.symlink("../dm-0", "/dev/mapper/root").unwrap();
    assert_eq!(
        get_mapped_device(&bsd.host, &bsd.distro, "/dev/mapper/root"),
        None
    );
}

#[test]
fn failed_commands_read_like_upstreams_error() {
    let mut env = TestEnv::new(json!({}));
    let r = fake::scripted(&mut env);
    fake::tools(&env, &["growpart"]);
    r.answer(&["growpart"], 2, "", "FAILED: a\nb\n");
    let e = subp(&env.host, &["growpart", "/dev/vda", "1"], &[], None, &[0]).unwrap_err();
    assert_eq!(e.exit_code, Some(2));
    assert_eq!(
        e.text,
        "Unexpected error while running command.\nCommand: ['growpart', '/dev/vda', '1']\nExit code: 2\nReason: -\nStdout: \nStderr: FAILED: a\n        b"
    );
    // A program the target does not have never reaches the runner.
    let e = subp(&env.host, &["gpart", "help"], &[], None, &[0]).unwrap_err();
    assert_eq!(e.exit_code, None);
    assert!(
        e.text
            .contains("Reason: [Errno 2] No such file or directory: b'gpart'"),
        "{}",
        e.text
    );
    assert_eq!(r.lines(), ["growpart /dev/vda 1"]);
    assert_eq!(
        py_tuple(&["resize2fs".into(), "/dev/vda1".into()]),
        "('resize2fs', '/dev/vda1')"
    );
}

#[test]
fn container_facts_come_from_the_target() {
    let env = TestEnv::new(json!({}));
    assert!(!is_container(&env.host, &env.distro));
    env.write("/proc/1/environ", "PATH=/bin\0container=lxc\0");
    assert!(is_container(&env.host, &env.distro));
    assert_eq!(cmdline(&env.host, true), "");
    env.write("/proc/1/cmdline", "/sbin/init\0splash\0");
    assert_eq!(cmdline(&env.host, true), "/sbin/init splash");
}

#[test]
fn alpine_mapper_nodes_are_matched_to_dm_by_number() {
    let env = TestEnv::new(json!({"system_info": {"distro": "alpine"}}));
    if !fake::block_node(&env, "/dev/mapper/root", 252, 1) {
        return;
    }
    assert!(fake::block_node(&env, "/dev/dm-0", 252, 0));
    assert!(fake::block_node(&env, "/dev/dm-1", 252, 1));
    assert_eq!(
        get_mapped_device(&env.host, &env.distro, "/dev/mapper/root").as_deref(),
        Some("/dev/dm-1")
    );
    // Other families only follow links: a mapper node is not mapped there.
    let deb = TestEnv::new(json!({}));
    assert!(fake::block_node(&deb, "/dev/mapper/root", 252, 1));
    assert!(fake::block_node(&deb, "/dev/dm-1", 252, 1));
    assert_eq!(
        get_mapped_device(&deb.host, &deb.distro, "/dev/mapper/root"),
        None
    );
}

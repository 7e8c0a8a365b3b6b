use super::*;
use crate::testutil::{logcap, TestEnv};
use serde_json::json;

const TOOLS: &[&str] = &[
    "mount",
    "swapon",
    "mkswap",
    "fallocate",
    "dd",
    "systemctl",
    "truncate",
    "chattr",
];

/// A root with the tools on its PATH and, unless `systemd` is false, a
/// systemd-run boot.
fn env_with(cfg: Value, systemd: bool) -> TestEnv {
    let env = TestEnv::new(cfg);
    for t in TOOLS {
        env.write_mode(&format!("/usr/bin/{t}"), "#!/bin/sh\n", 0o755);
    }
    env.write("/etc/fstab", "# UNCONFIGURED FSTAB FOR BASE SYSTEM\n");
    if systemd {
        env.host
            .create_dir_all("/run/systemd/system", 0o755)
            .unwrap();
    }
    env
}

fn env(cfg: Value) -> TestEnv {
    env_with(cfg, true)
}

/// A mount table in the root with `/` on `fstype`.
fn mountinfo(env: &TestEnv, fstype: &str) {
    env.write(
        "/proc/self/mountinfo",
        &format!("22 1 8:1 / / rw,relatime shared:1 - {fstype} /dev/sda1 rw\n"),
    );
}

fn block_device(env: &TestEnv, name: &str) {
    env.write(&format!("/dev/{name}"), "");
    env.host
        .create_dir_all(format!("/sys/block/{name}"), 0o755)
        .unwrap();
}

fn fstab_tail(env: &TestEnv) -> Vec<String> {
    env.read("/etc/fstab")
        .lines()
        .skip(1)
        .map(str::to_string)
        .collect()
}

const SYSTEMD_DEFAULTS: &str =
    "defaults,nofail,x-systemd.after=cloud-init-network.service,_netdev,comment=cloudconfig";

#[test]
fn short_entries_are_padded_from_the_defaults() {
    let env = env(json!({"mounts": [["sdc", "/opt/data"], ["xvdh", "/opt/x", "ext4", null, 0]]}));
    handle(&env.ctx("mounts")).unwrap();
    assert_eq!(
        fstab_tail(&env),
        vec![
            format!("sdc\t/opt/data\tauto\t{SYSTEMD_DEFAULTS}\t0\t2"),
            format!("xvdh\t/opt/x\text4\t{SYSTEMD_DEFAULTS}\t0\t2"),
        ]
    );
    assert_eq!(env.mode("/etc/fstab"), 0o644);
    assert!(env.host.is_dir("/opt/data") && env.host.is_dir("/opt/x"));
    assert_eq!(env.rec.lines(), vec!["mount -a", "systemctl daemon-reload"]);
}

#[test]
fn without_systemd_the_defaults_are_nobootwait_and_no_reload() {
    let env = env_with(json!({"mounts": [["sdc", "/opt/data"]]}), false);
    handle(&env.ctx("mounts")).unwrap();
    assert_eq!(
        fstab_tail(&env),
        vec!["sdc\t/opt/data\tauto\tdefaults,nobootwait,comment=cloudconfig\t0\t2"]
    );
    assert_eq!(env.rec.lines(), vec!["mount -a"]);
}

#[test]
fn alpine_never_uses_systemd() {
    let env = env(json!({
        "system_info": {"distro": "alpine"},
        "mounts": [["sdc", "/opt/data"]],
    }));
    handle(&env.ctx("mounts")).unwrap();
    assert!(fstab_tail(&env)[0].contains("defaults,nobootwait,comment=cloudconfig"));
    assert_eq!(env.rec.lines(), vec!["mount -a"]);
}

#[test]
fn user_default_fields_fill_nulls_and_missing_fields() {
    let env = env(json!({
        "mounts": [["sdc", "/opt/data", null, null]],
        "mount_default_fields": [null, null, "xfs", "noatime", "1", "1"],
    }));
    handle(&env.ctx("mounts")).unwrap();
    assert_eq!(
        fstab_tail(&env),
        vec!["sdc\t/opt/data\txfs\tnoatime,comment=cloudconfig\t1\t1"]
    );
}

#[test]
fn short_names_become_dev_paths_when_the_block_device_exists() {
    let env = env(json!({"mounts": [
        ["sdb", "/data"], ["/dev/xvdc.2", "/part"], ["xvdc.2", "/short"], ["LABEL=logs", "/logs"],
    ]}));
    block_device(&env, "sdb");
    block_device(&env, "xvdc");
    env.write("/dev/xvdc2", "");
    env.host
        .create_dir_all("/sys/block/xvdc/xvdc2", 0o755)
        .unwrap();
    handle(&env.ctx("mounts")).unwrap();
    let tail = fstab_tail(&env);
    assert!(tail[0].starts_with("/dev/sdb\t/data\t"), "{tail:?}");
    assert!(tail[1].starts_with("/dev/xvdc2\t/part\t"), "{tail:?}");
    // A short name with a dot is not a short name: upstream looks for
    // `xvdc2` relative to `/` and keeps the entry as written.
    assert!(tail[2].starts_with("xvdc.2\t/short\t"), "{tail:?}");
    // Labels are kept as written (no block device by that name).
    assert!(tail[3].starts_with("LABEL=logs\t/logs\t"), "{tail:?}");
}

#[test]
fn first_partition_is_preferred_over_the_disk() {
    let env = env(json!({"mounts": [["vdb", "/data"]]}));
    block_device(&env, "vdb");
    env.write("/dev/vdb1", "");
    env.host
        .create_dir_all("/sys/block/vdb/vdb1", 0o755)
        .unwrap();
    handle(&env.ctx("mounts")).unwrap();
    assert!(fstab_tail(&env)[0].starts_with("/dev/vdb1\t/data\t"));
}

#[test]
fn a_missing_dotted_partition_keeps_the_name_as_written() {
    let env = env(json!({"mounts": [["sdb.3", "/data"]]}));
    block_device(&env, "sdb");
    handle(&env.ctx("mounts")).unwrap();
    assert!(fstab_tail(&env)[0].starts_with("sdb.3\t/data\t"));
}

#[test]
fn network_devices_are_kept_and_aliases_map_names() {
    let env = env(json!({
        "mounts": [["nfs.example:/export", "/srv", "nfs"], ["data", "/data"]],
        "device_aliases": {"data": "/dev/vdd"},
    }));
    block_device(&env, "vdd");
    handle(&env.ctx("mounts")).unwrap();
    let tail = fstab_tail(&env);
    assert!(tail[0].starts_with("nfs.example:/export\t/srv\tnfs\t"));
    assert!(tail[1].starts_with("/dev/vdd\t/data\t"), "{tail:?}");
}

#[test]
fn a_null_mount_point_removes_the_device_and_earlier_entries() {
    let env = env(json!({"mounts": [
        ["sdb", "/first"], ["sdc", "/keep"], ["sdb", "/second"], ["sdb"],
        ["swap", null],
    ]}));
    handle(&env.ctx("mounts")).unwrap();
    let tail = fstab_tail(&env);
    assert_eq!(tail.len(), 1, "{tail:?}");
    assert!(tail[0].starts_with("sdc\t/keep\t"));
    assert!(!env.host.exists("/first"));
}

#[test]
fn old_cloudconfig_lines_are_replaced_and_others_kept() {
    let env = env(json!({"mounts": [["sdc", "/opt/data"]]}));
    env.write(
        "/etc/fstab",
        "UUID=abc / ext4 defaults 0 1\n\n/dev/old\t/old\tauto\tdefaults,comment=cloudconfig\t0\t2\n",
    );
    handle(&env.ctx("mounts")).unwrap();
    assert_eq!(
        env.read("/etc/fstab"),
        format!("UUID=abc / ext4 defaults 0 1\nsdc\t/opt/data\tauto\t{SYSTEMD_DEFAULTS}\t0\t2\n")
    );
}

#[test]
fn devices_already_in_fstab_are_not_renamed() {
    let env = env(json!({"mounts": [["sdb", "/data"]]}));
    block_device(&env, "sdb");
    env.write("/etc/fstab", "/dev/sdb /srv ext4 defaults 0 2\n");
    handle(&env.ctx("mounts")).unwrap();
    let text = env.read("/etc/fstab");
    assert!(text.contains("\nsdb\t/data\t"), "{text}");
}

#[test]
fn unchanged_lines_mount_only_what_is_not_mounted() {
    let line = format!("sdc\t/opt/data\tauto\t{SYSTEMD_DEFAULTS}\t0\t2");
    let cfg = json!({"mounts": [["sdc", "/opt/data"]]});
    let env = env(cfg.clone());
    env.write("/etc/fstab", &format!("{line}\n"));
    env.write("/proc/mounts", "/dev/sdc /opt/data ext4 rw 0 0\n");
    handle(&env.ctx("mounts")).unwrap();
    assert!(env.rec.lines().is_empty(), "{:?}", env.rec.lines());
    assert_eq!(env.read("/etc/fstab"), format!("{line}\n"));

    let env = self::env(cfg);
    env.write("/etc/fstab", &format!("{line}\n"));
    env.write("/proc/mounts", "/dev/sda1 / ext4 rw 0 0\n");
    handle(&env.ctx("mounts")).unwrap();
    assert_eq!(env.rec.lines(), vec!["mount -a", "systemctl daemon-reload"]);
}

#[test]
fn without_proc_mounts_the_mount_command_is_asked() {
    let line = format!("sdc\t/opt/data\tauto\t{SYSTEMD_DEFAULTS}\t0\t2");
    let env = env(json!({"mounts": [["sdc", "/opt/data"]]}));
    env.write("/etc/fstab", &format!("{line}\n"));
    env.rec.answer(
        "mount",
        0,
        b"/dev/sdc on /opt/data (ufs, local, soft-updates)\n",
    );
    handle(&env.ctx("mounts")).unwrap();
    assert_eq!(env.rec.lines(), vec!["mount"]);
}

#[test]
fn no_config_changes_nothing() {
    let env = env(json!({}));
    env.write(
        "/etc/fstab",
        "/dev/old /old auto defaults,comment=cloudconfig 0 2\n",
    );
    handle(&env.ctx("mounts")).unwrap();
    assert_eq!(
        env.read("/etc/fstab"),
        "/dev/old /old auto defaults,comment=cloudconfig 0 2\n"
    );
    assert!(env.rec.lines().is_empty());
}

#[test]
fn non_list_entries_are_warned_about_and_skipped() {
    logcap::init();
    let env = env(json!({"mounts": ["sdb", ["sdc", "/data"]], "swap": "big"}));
    handle(&env.ctx("mounts")).unwrap();
    assert_eq!(
        logcap::warnings(),
        vec![
            "Mount option not a list, ignoring: sdb",
            "input for swap config was not a dict.",
        ]
    );
    assert_eq!(fstab_tail(&env).len(), 1);
}

#[test]
fn non_text_default_fields_fail_as_upstream_joins_them() {
    let env = env(json!({
        "mounts": [["sdc", "/data"]],
        "mount_default_fields": [null, null, "auto", "defaults", 0, 2],
    }));
    let err = handle(&env.ctx("mounts")).unwrap_err();
    assert_eq!(err.py_class(), "TypeError");
    assert_eq!(
        err.to_string(),
        "sequence item 4: expected str instance, int found"
    );
    assert_eq!(
        env.read("/etc/fstab"),
        "# UNCONFIGURED FSTAB FOR BASE SYSTEM\n"
    );
}

#[test]
fn malformed_entries_fail_with_upstreams_exceptions() {
    let env = env(json!({"mounts": [[]]}));
    let err = handle(&env.ctx("mounts")).unwrap_err();
    assert_eq!(err.py_repr(), "IndexError('list index out of range')");

    let env = self::env(json!({"mounts": null}));
    let err = handle(&env.ctx("mounts")).unwrap_err();
    assert_eq!(
        err.py_repr(),
        "TypeError(\"'NoneType' object is not iterable\")"
    );

    let env = self::env(json!({"mounts": [["sdc", "/d"]], "mount_default_fields": null}));
    let err = handle(&env.ctx("mounts")).unwrap_err();
    assert_eq!(
        err.py_repr(),
        "TypeError(\"'NoneType' object is not subscriptable\")"
    );

    let env = self::env(json!({"mounts": [["sdc", "/d"]], "device_aliases": ["x"]}));
    let err = handle(&env.ctx("mounts")).unwrap_err();
    assert_eq!(err.py_class(), "AttributeError");
}

// --- datasource device names -------------------------------------------

fn ec2_env(bdm: Value, cfg: Value) -> TestEnv {
    let mut env = env(cfg);
    env.instance.datasource_name = "Ec2".into();
    env.instance.metadata = json!({"block-device-mapping": bdm});
    env
}

#[test]
fn ec2_ephemeral0_is_added_on_mnt_with_sd_remapped_to_xvd() {
    let env = ec2_env(json!({"ami": "/dev/sda1", "ephemeral0": "sdb"}), json!({}));
    block_device(&env, "xvdb");
    handle(&env.ctx("mounts")).unwrap();
    assert_eq!(
        fstab_tail(&env),
        vec![format!("/dev/xvdb\t/mnt\tauto\t{SYSTEMD_DEFAULTS}\t0\t2")]
    );
    assert!(env.host.is_dir("/mnt"));
}

#[test]
fn ec2_swap_device_gets_the_swap_entry_and_swapon() {
    let env = ec2_env(json!({"swap": "/dev/sdc"}), json!({}));
    block_device(&env, "sdc");
    handle(&env.ctx("mounts")).unwrap();
    assert_eq!(
        fstab_tail(&env),
        vec!["/dev/sdc\tnone\tswap\tsw,comment=cloudconfig\t0\t0"]
    );
    assert_eq!(
        env.rec.lines(),
        vec!["swapon -a", "mount -a", "systemctl daemon-reload"]
    );
}

#[test]
fn ec2_ephemeral_that_never_appears_is_skipped() {
    let env = ec2_env(json!({"ephemeral0": "sdb"}), json!({}));
    handle(&env.ctx("mounts")).unwrap();
    assert_eq!(fstab_tail(&env), Vec::<String>::new());
    assert!(env.rec.lines().is_empty());
}

#[test]
fn a_user_entry_for_ephemeral0_replaces_the_default() {
    let env = ec2_env(
        json!({"ephemeral0": "/dev/xvdb"}),
        json!({"mounts": [["ephemeral0", "/scratch", "ext4", "defaults,noexec"]]}),
    );
    block_device(&env, "xvdb");
    handle(&env.ctx("mounts")).unwrap();
    assert_eq!(
        fstab_tail(&env),
        vec!["/dev/xvdb\t/scratch\text4\tdefaults,noexec,comment=cloudconfig\t0\t2"]
    );
}

#[test]
fn removing_ephemeral0_drops_the_default_too() {
    let env = ec2_env(
        json!({"ephemeral0": "/dev/xvdb"}),
        json!({"mounts": [["ephemeral0", null]]}),
    );
    block_device(&env, "xvdb");
    handle(&env.ctx("mounts")).unwrap();
    assert_eq!(fstab_tail(&env), Vec::<String>::new());
}

#[test]
fn azure_resource_disk_alias_names_ephemeral0() {
    let mut env = env(json!({}));
    env.instance.datasource_name = "Azure".into();
    block_device(&env, "sdb");
    env.write("/dev/sdb1", "");
    env.host
        .create_dir_all("/sys/block/sdb/sdb1", 0o755)
        .unwrap();
    env.host.create_dir_all("/dev/disk/cloud", 0o755).unwrap();
    env.host
        .symlink("../../sdb", "/dev/disk/cloud/azure_resource")
        .unwrap();
    env.host
        .symlink("../../sdb1", "/dev/disk/cloud/azure_resource-part1")
        .unwrap();
    handle(&env.ctx("mounts")).unwrap();
    assert_eq!(
        fstab_tail(&env),
        vec![format!(
            "/dev/disk/cloud/azure_resource-part1\t/mnt\tauto\t{SYSTEMD_DEFAULTS}\t0\t2"
        )]
    );
}

#[test]
fn openstack_finds_ephemeral_and_swap_disks_by_label() {
    let mut env = env(json!({}));
    env.instance.datasource_name = "OpenStack".into();
    env.write_mode("/usr/sbin/blkid", "", 0o755);
    block_device(&env, "vdb");
    block_device(&env, "vdc");
    env.rec.answer("blkid", 0, b"/dev/vdb\n");
    handle(&env.ctx("mounts")).unwrap();
    let lines = env.rec.lines();
    assert_eq!(
        lines[..2],
        [
            "blkid -tLABEL=ephemeral0 -odevice",
            "blkid -tTYPE=swap -odevice"
        ]
    );
    // Both lookups answer vdb here: the swap default is then the same
    // device as ephemeral0 and is added as upstream adds it.
    assert_eq!(
        fstab_tail(&env),
        vec![
            format!("/dev/vdb\t/mnt\tauto\t{SYSTEMD_DEFAULTS}\t0\t2"),
            "/dev/vdb\tnone\tswap\tsw,comment=cloudconfig\t0\t0".to_string(),
        ]
    );
}

#[test]
fn openstack_without_labelled_disks_adds_nothing() {
    let mut env = env(json!({}));
    env.instance.datasource_name = "ConfigDrive".into();
    env.write_mode("/usr/sbin/blkid", "", 0o755);
    env.rec.answer("blkid", 2, b"");
    handle(&env.ctx("mounts")).unwrap();
    assert_eq!(env.rec.lines().len(), 2);
    assert_eq!(fstab_tail(&env), Vec::<String>::new());
}

// --- swap ----------------------------------------------------------------

#[test]
fn swap_file_is_allocated_formatted_and_activated_in_order() {
    let env = env(json!({"swap": {"filename": "/swapfile", "size": "2G", "maxsize": "2G"}}));
    mountinfo(&env, "ext4");
    // A leftover file not in use is replaced (and made private).
    env.write("/swapfile", "");
    env.write("/proc/swaps", "Filename Type Size Used Priority\n");
    handle(&env.ctx("mounts")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        env.rec.lines(),
        vec![
            "fallocate -l 2048M /swapfile",
            "mkswap /swapfile",
            "swapon -a",
            "mount -a",
            "systemctl daemon-reload",
        ]
    );
    assert_eq!(env.mode("/swapfile"), 0o600);
    assert_eq!(fstab_tail(&env), vec!["/swapfile\tnone\tswap\tsw\t0\t0"]);
}

#[test]
fn fallocate_failure_falls_back_to_dd() {
    let env = env(json!({"swap": {"filename": "/var/swap", "size": 1048576}}));
    mountinfo(&env, "ext4");
    env.rec.answer("fallocate", 1, b"");
    handle(&env.ctx("mounts")).unwrap();
    assert_eq!(
        env.rec.lines()[..3],
        [
            "fallocate -l 1M /var/swap",
            "dd if=/dev/zero of=/var/swap bs=1M count=1",
            "mkswap /var/swap",
        ]
    );
}

#[test]
fn btrfs_swap_files_lose_copy_on_write_first() {
    let env = env(json!({"swap": {"filename": "/swap.img", "size": "1M"}}));
    mountinfo(&env, "btrfs");
    handle(&env.ctx("mounts")).unwrap();
    assert_eq!(
        env.rec.lines()[..3],
        [
            "truncate -s 0 /swap.img",
            "chattr +C /swap.img",
            "fallocate -l 1M /swap.img"
        ]
    );
}

#[test]
fn mkswap_failure_warns_removes_the_file_and_adds_no_line() {
    logcap::init();
    let env = env(json!({"swap": {"filename": "/swap.img", "size": "1M"}}));
    mountinfo(&env, "ext4");
    env.write("/swap.img", "x");
    env.write("/proc/swaps", "Filename Type Size Used Priority\n");
    env.rec.answer("mkswap", 1, b"");
    handle(&env.ctx("mounts")).unwrap();
    assert!(!env.host.exists("/swap.img"));
    let w = logcap::warnings();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].starts_with(
        "failed to setup swap: Unexpected error while running command.\nCommand: ['mkswap', '/swap.img']\nExit code: 1"
    ));
    // Nothing configured then: fstab is left alone.
    assert_eq!(
        env.read("/etc/fstab"),
        "# UNCONFIGURED FSTAB FOR BASE SYSTEM\n"
    );
}

#[test]
fn without_a_mount_table_swap_setup_fails_as_upstream() {
    logcap::init();
    let env = env(json!({"swap": {"filename": "/swapfile", "size": "2G"}}));
    handle(&env.ctx("mounts")).unwrap();
    assert_eq!(
        logcap::warnings(),
        vec!["failed to setup swap: 'NoneType' object is not subscriptable"]
    );
    assert!(env.rec.lines().is_empty());
}

#[test]
fn an_existing_swap_file_is_kept_unless_proc_swaps_says_unused() {
    let env = env(json!({"swap": {"filename": "/swap.img", "size": "1M"}}));
    env.write("/swap.img", "");
    handle(&env.ctx("mounts")).unwrap();
    assert_eq!(fstab_tail(&env), vec!["/swap.img\tnone\tswap\tsw\t0\t0"]);
    assert_eq!(
        env.rec.lines(),
        vec!["swapon -a", "mount -a", "systemctl daemon-reload"]
    );

    let env = self::env(json!({"swap": {"filename": "/swap.img", "size": "1M"}}));
    env.write("/swap.img", "");
    env.write(
        "/proc/swaps",
        "Filename Type Size Used Priority\n/swap.img file 1024 0 -2\n",
    );
    handle(&env.ctx("mounts")).unwrap();
    assert_eq!(env.rec.lines()[0], "swapon -a");
}

#[test]
fn auto_size_needs_meminfo() {
    let env = env(json!({"swap": {"filename": "/swapfile", "size": "auto"}}));
    mountinfo(&env, "ext4");
    handle(&env.ctx("mounts")).unwrap();
    assert!(env.rec.lines().is_empty());

    let env = self::env(
        json!({"swap": {"filename": "/sw/swapfile", "size": "auto", "maxsize": 10485760}}),
    );
    mountinfo(&env, "ext4");
    env.write(
        "/proc/meminfo",
        "MemTotal:        2048000 kB\nMemFree: 1 kB\nHugePages_Total: 0\n",
    );
    handle(&env.ctx("mounts")).unwrap();
    assert_eq!(env.rec.lines()[0], "fallocate -l 10M /sw/swapfile");
}

#[test]
fn bad_sizes_warn() {
    logcap::init();
    let env = env(json!({"swap": {"size": "2X"}}));
    handle(&env.ctx("mounts")).unwrap();
    let env2 = self::env(json!({"swap": {"size": "-1G"}}));
    handle(&env2.ctx("mounts")).unwrap();
    assert_eq!(
        logcap::warnings(),
        vec![
            "failed to setup swap: '2X' is not valid input.",
            "failed to setup swap: '-1G': cannot be negative",
        ]
    );
}

#[test]
fn swap_with_zero_size_is_not_set_up() {
    let env = env(json!({"swap": {"filename": "/swap.img", "size": 0}}));
    handle(&env.ctx("mounts")).unwrap();
    assert!(env.rec.lines().is_empty());
}

#[test]
fn human2bytes_reads_binary_suffixes() {
    use swap::human2bytes;
    assert_eq!(human2bytes("10M").unwrap(), 10485760.0);
    assert_eq!(human2bytes("10MB").unwrap(), 10485760.0);
    assert_eq!(human2bytes("10MiB").unwrap(), 10485760.0);
    assert_eq!(human2bytes("1.5K").unwrap(), 1536.0);
    assert_eq!(human2bytes("2G").unwrap(), 2147483648.0);
    assert_eq!(human2bytes("512").unwrap(), 512.0);
    assert_eq!(human2bytes("1T").unwrap(), 1099511627776.0);
    assert!(human2bytes("M").is_err());
    assert!(human2bytes("1Q").is_err());
}

#[test]
fn suggested_swap_follows_memory_and_disk() {
    use swap::suggested_swapsize;
    let gb = (1u64 << 30) as f64;
    let big_disk = 1000.0 * gb;
    // Under 4 GiB of memory: as much swap as memory.
    assert_eq!(suggested_swapsize(2.0 * gb, None, big_disk), 2.0 * gb);
    // 4-16 GiB: 4 GiB.
    assert_eq!(suggested_swapsize(8.0 * gb, None, big_disk), 4.0 * gb);
    // Above: the square root in GiB, rounded half to even.
    assert_eq!(suggested_swapsize(64.0 * gb, None, big_disk), 8.0 * gb);
    assert_eq!(suggested_swapsize(42.25 * gb, None, big_disk), 6.0 * gb);
    // A quarter of the free space at most without maxsize.
    assert_eq!(suggested_swapsize(2.0 * gb, None, 4.0 * gb), gb);
    // maxsize caps, and is held under 90% of the free space.
    assert_eq!(
        suggested_swapsize(2.0 * gb, Some(10485760.0), big_disk),
        10485760.0
    );
    assert_eq!(
        suggested_swapsize(2.0 * gb, Some(10.0 * gb), gb),
        (gb * 0.9).trunc()
    );
}

// --- lower layers ----------------------------------------------------------

#[test]
fn mountinfo_picks_the_deepest_prefix_and_refuses_bad_lines() {
    let text = "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n\
                30 22 0:5 / /srv/data rw shared:2 - xfs /dev/sdb rw\n\
                31 22 0:6 / /srv/database rw - tmpfs tmpfs rw\n";
    let m = crate::blockdev::parse_mount_info("/srv/data/swap", text).unwrap();
    assert_eq!((m.dev.as_str(), m.fstype.as_str()), ("/dev/sdb", "xfs"));
    let m = crate::blockdev::parse_mount_info("/srv", text).unwrap();
    assert_eq!(m.mount_point, "/");
    assert_eq!(crate::blockdev::parse_mount_info("/", "short line\n"), None);
}

#[test]
fn bsd_mount_table_comes_from_the_mount_command() {
    let env = env_with(
        json!({
            "system_info": {"distro": "freebsd"},
            "swap": {"filename": "/swap0", "size": "1M"},
        }),
        false,
    );
    env.rec.answer(
        "mount",
        0,
        // A partition (slice) device: no label to resolve through
        // `mount -p`/`glabel`, which blockdev's tests cover.
        b"/dev/ada0p2 on / (ufs, local, soft-updates)\ndevfs on /dev (devfs)\n",
    );
    handle(&env.ctx("mounts")).unwrap();
    let lines = env.rec.lines();
    assert_eq!(
        lines[..3],
        ["mount", "fallocate -l 1M /swap0", "mkswap /swap0"],
        "{lines:?}"
    );
    assert_eq!(fstab_tail(&env), vec!["/swap0\tnone\tswap\tsw\t0\t0"]);
}

#[test]
fn device_name_patterns() {
    use devname::{is_meta_device_name, is_network_device, is_short_device_name};
    for n in ["sda", "sda1", "xvda", "hda", "vdd1", "sr0"] {
        assert!(is_short_device_name(n), "{n}");
    }
    for n in ["xxvda", "nvme0n1", "sd", "sr", "sdA", "vda1a", "/dev/sda"] {
        assert!(!is_short_device_name(n), "{n}");
    }
    for n in ["ami", "root", "swap", "ephemeral0", "ephemeral", "ebs1"] {
        assert!(is_meta_device_name(n), "{n}");
    }
    assert!(!is_meta_device_name("ephemeral0:x"));
    assert!(is_network_device("host:/export"));
    assert!(!is_network_device(":/x"));
}

#[test]
fn fstab_change_summary_lists_drops_then_adds() {
    let adds = vec!["a\tb".to_string(), "same\tline".to_string()];
    let drops = vec!["same line".to_string(), "old x".to_string()];
    assert_eq!(fstab_changes(&adds, &drops), vec!["- old x", "+ a b"]);
    assert!(fstab_changes(&drops[..1], &drops[..1]).is_empty());
}

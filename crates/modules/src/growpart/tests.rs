use super::*;
use crate::blockdev::fake::{self, mountinfo_line, Scripted};
use crate::testutil::{logcap, TestEnv};
use serde_json::json;
use std::sync::Arc;

const HELP: &str = "growpart disk partition\n   rewrite partition table so that partition takes up all the space it can\n   options:\n    -h | --help       print Usage and exit\n    -u | --update  R update the the kernel partition table info after growing\n";

fn env_with(cfg: Value) -> (TestEnv, Arc<Scripted>) {
    let mut env = TestEnv::new(cfg);
    let r = fake::scripted(&mut env);
    (env, r)
}

/// `/dev/vda1` as a device node that is partition 1 of `/dev/vda`, with `/`
/// mounted so the temporary directory's mount is known. False when this
/// test may not make device nodes.
fn partition_vda1(env: &TestEnv) -> bool {
    fake::sysfs_partition(env, "vda", "vda1", "1");
    env.write(
        "/proc/self/mountinfo",
        &mountinfo_line("/", "rw,relatime", "ext4", "/dev/vda1"),
    );
    fake::node(env, "/dev/vda1")
}

#[test]
fn empty_sandbox_probes_and_finds_no_resizer() {
    logcap::init();
    let (env, r) = env_with(json!({}));
    fake::tools(&env, &["growpart", "gpart"]);
    handle(&env.ctx("growpart")).unwrap();
    // Default config, auto mode: every resizer is asked, none answers.
    assert_eq!(r.lines(), ["growpart --help", "gpart help"]);
    assert_eq!(r.calls()[0].env, [("LANG".to_string(), "C".to_string())]);
    assert!(logcap::warnings().is_empty(), "{:?}", logcap::warnings());
    assert!(logcap::all()
        .iter()
        .any(|m| m == "growpart unable to find resizer for 'auto': No resizers available"));
    assert!(!env.host.exists("/var/tmp/cloud-init"));
}

#[test]
fn no_tools_at_all_is_quiet_too() {
    logcap::init();
    let (env, r) = env_with(json!({"growpart": {"mode": "auto", "devices": ["/"]}}));
    handle(&env.ctx("growpart")).unwrap();
    assert!(r.lines().is_empty());
    assert!(logcap::warnings().is_empty());
}

#[test]
fn growpart_dry_run_then_real_call() {
    logcap::init();
    let (env, r) = env_with(json!({"growpart": {"mode": "auto", "devices": ["/dev/vda1"]}}));
    fake::tools(&env, &["growpart"]);
    r.answer(&["growpart", "--help"], 0, HELP, "");
    if !partition_vda1(&env) {
        return;
    }
    handle(&env.ctx("growpart")).unwrap();
    assert_eq!(
        r.lines(),
        [
            "growpart --help",
            "growpart --dry-run /dev/vda 1",
            "growpart /dev/vda 1"
        ]
    );
    let env2 = &r.calls()[1].env;
    assert_eq!(env2[0], ("LANG".to_string(), "C".to_string()));
    let tmpdir = &env2[1].1;
    assert!(
        tmpdir.starts_with("/var/tmp/cloud-init/tmp") && tmpdir.ends_with("/growpart"),
        "{tmpdir}"
    );
    assert_eq!(env.mode("/var/tmp/cloud-init"), 0o1777);
    assert!(
        env.host.list_dir("/var/tmp/cloud-init").is_empty(),
        "temp dir removed"
    );
    // A null device keeps its size: nothing changed.
    assert!(logcap::all()
        .iter()
        .any(|m| m == "'/dev/vda1' NOCHANGE: no change necessary (/dev/vda, 1)"));
    assert!(logcap::warnings().is_empty());
}

#[test]
fn dry_run_exit_1_means_no_change_and_other_failures_warn() {
    logcap::init();
    let (env, r) = env_with(json!({"growpart": {"mode": "growpart", "devices": ["/dev/vda1"]}}));
    fake::tools(&env, &["growpart"]);
    r.answer(&["growpart", "--help"], 0, HELP, "");
    r.answer(
        &["growpart", "--dry-run"],
        1,
        "NOCHANGE: partition 1 is size 100",
        "",
    );
    if !partition_vda1(&env) {
        return;
    }
    handle(&env.ctx("growpart")).unwrap();
    assert_eq!(
        r.lines(),
        ["growpart --help", "growpart --dry-run /dev/vda 1"]
    );
    assert!(logcap::warnings().is_empty());

    let (env, r) = env_with(json!({"growpart": {"mode": "growpart", "devices": ["/dev/vda1"]}}));
    fake::tools(&env, &["growpart"]);
    r.answer(&["growpart", "--help"], 0, HELP, "");
    r.answer(&["growpart", "--dry-run"], 2, "", "FAILED: bad disk");
    assert!(partition_vda1(&env));
    handle(&env.ctx("growpart")).unwrap();
    assert_eq!(
        logcap::warnings(),
        ["Failed growpart --dry-run for (/dev/vda, 1)"]
    );
    assert!(logcap::all().iter().any(|m| m.starts_with(
        "'/dev/vda1' FAILED: failed to resize: disk=/dev/vda, ptnum=1: Unexpected error while running command.\nCommand: ['growpart', '--dry-run', '/dev/vda', '1']\nExit code: 2"
    )));
}

#[test]
fn unknown_mount_of_the_temp_dir_is_upstreams_type_error() {
    let (env, r) = env_with(json!({"growpart": {"devices": ["/dev/vda1"]}}));
    fake::tools(&env, &["growpart"]);
    r.answer(&["growpart", "--help"], 0, HELP, "");
    fake::sysfs_partition(&env, "vda", "vda1", "1");
    if !fake::node(&env, "/dev/vda1") {
        return;
    }
    let e = handle(&env.ctx("growpart")).unwrap_err();
    assert_eq!(e.py_class(), "TypeError");
    assert_eq!(e.to_string(), "cannot unpack non-iterable NoneType object");
    assert_eq!(r.lines(), ["growpart --help"]);
}

#[test]
fn entries_that_cannot_be_resized_are_skipped() {
    logcap::init();
    let (env, r) =
        env_with(json!({"growpart": {"devices": ["/dev/vdz1", "/srv", "/etc/hosts", "/dev/sda"]}}));
    fake::tools(&env, &["growpart"]);
    r.answer(&["growpart", "--help"], 0, HELP, "");
    env.write("/dev/sda", "not a node");
    env.write("/etc/hosts", "x");
    handle(&env.ctx("growpart")).unwrap();
    let all = logcap::all();
    for want in [
        "'/dev/vdz1' SKIPPED: stat of '/dev/vdz1' failed: [Errno 2] No such file or directory: '/dev/vdz1'",
        "'/srv' SKIPPED: unable to convert to device: Could not determine device of '%s' % dev_ent",
        "'/dev/sda' SKIPPED: device '/dev/sda' not a block device",
    ] {
        assert!(all.iter().any(|m| m == want), "{want} in {all:?}");
    }
    assert_eq!(r.lines(), ["growpart --help"]);
    assert!(logcap::warnings().is_empty());
}

#[test]
fn whole_disk_is_not_a_partition() {
    logcap::init();
    let (env, r) = env_with(json!({"growpart": {"devices": ["/dev/vda"]}}));
    fake::tools(&env, &["growpart"]);
    r.answer(&["growpart", "--help"], 0, HELP, "");
    env.write("/sys/class/block/vda/dev", "253:0\n");
    if !fake::node(&env, "/dev/vda") {
        return;
    }
    handle(&env.ctx("growpart")).unwrap();
    assert!(logcap::all()
        .iter()
        .any(|m| m
            == "'/dev/vda' SKIPPED: device_part_info(/dev/vda) failed: /dev/vda not a partition"));
}

#[test]
fn root_mounted_as_dev_root_uses_the_kernel_command_line() {
    logcap::init();
    let (env, r) = env_with(json!({"growpart": {"mode": "growpart"}}));
    fake::tools(&env, &["growpart"]);
    r.answer(&["growpart", "--help"], 0, HELP, "");
    if !partition_vda1(&env) {
        return;
    }
    env.write(
        "/proc/self/mountinfo",
        &mountinfo_line("/", "rw", "ext4", "/dev/root"),
    );
    env.write("/proc/cmdline", "ro root=/dev/vda1\n");
    handle(&env.ctx("growpart")).unwrap();
    assert_eq!(
        r.lines(),
        [
            "growpart --help",
            "growpart --dry-run /dev/vda 1",
            "growpart /dev/vda 1"
        ]
    );
    assert!(logcap::all().iter().any(|m| m == "growpart found fs=ext4"));
}

#[test]
fn off_false_and_marker_disable() {
    logcap::init();
    let (env, r) = env_with(json!({"growpart": {"mode": "off"}}));
    handle(&env.ctx("growpart")).unwrap();
    assert!(r.lines().is_empty());
    assert!(logcap::warnings().is_empty());

    let (env, r) = env_with(json!({"growpart": {"mode": false}}));
    handle(&env.ctx("growpart")).unwrap();
    assert!(r.lines().is_empty());
    assert_eq!(
        logcap::warnings(),
        ["Growpart's 'mode' key with value 'False' is deprecated in 22.2 and scheduled to be removed in 27.2. Use 'off' instead."]
    );
    assert!(logcap::all()
        .iter()
        .any(|m| m == "growpart disabled: mode=False"));

    let (env, r) = env_with(json!({}));
    fake::tools(&env, &["growpart"]);
    env.write("/etc/growroot-disabled", "");
    handle(&env.ctx("growpart")).unwrap();
    assert!(r.lines().is_empty());
    let (env, r) = env_with(json!({"growpart": {"ignore_growroot_disabled": true}}));
    fake::tools(&env, &["growpart"]);
    env.write("/etc/growroot-disabled", "");
    handle(&env.ctx("growpart")).unwrap();
    assert_eq!(r.lines(), ["growpart --help"]);
}

#[test]
fn bad_config_shapes() {
    logcap::init();
    let (env, _) = env_with(json!({"growpart": ["/"]}));
    handle(&env.ctx("growpart")).unwrap();
    assert_eq!(logcap::warnings(), ["'growpart' in config was not a dict"]);

    let (env, r) = env_with(json!({"growpart": {"devices": []}}));
    handle(&env.ctx("growpart")).unwrap();
    assert!(r.lines().is_empty());

    let (env, _) = env_with(json!({"growpart": {"mode": "parted"}}));
    let e = handle(&env.ctx("growpart")).unwrap_err();
    assert_eq!(
        (e.py_class(), e.to_string().as_str()),
        ("TypeError", "unknown resize mode parted")
    );

    let (env, r) = env_with(json!({"growpart": {"mode": "growpart"}}));
    fake::tools(&env, &["growpart"]);
    let e = handle(&env.ctx("growpart")).unwrap_err();
    assert_eq!(
        (e.py_class(), e.to_string().as_str()),
        ("ValueError", "mode growpart not available")
    );
    assert_eq!(r.lines(), ["growpart --help"]);
}

#[test]
fn freebsd_gpart_recovers_then_resizes() {
    logcap::init();
    let (env, r) = env_with(
        json!({"growpart": {"mode": "gpart", "devices": ["/dev/vtbd0p2"]}, "system_info": {"distro": "freebsd"}}),
    );
    fake::tools(&env, &["gpart"]);
    r.answer(
        &["gpart", "help"],
        1,
        "",
        "usage: gpart add -t type ...\n       gpart recover [-f flags] geom\n",
    );
    if !fake::node(&env, "/dev/vtbd0p2") {
        return;
    }
    handle(&env.ctx("growpart")).unwrap();
    assert_eq!(
        r.lines(),
        [
            "gpart help",
            "gpart recover /dev/vtbd0",
            "gpart resize -i 2 /dev/vtbd0"
        ]
    );
    assert!(logcap::warnings().is_empty());
}

#[test]
fn freebsd_growfs_service_on_zfs_root() {
    logcap::init();
    let (env, r) = env_with(json!({"system_info": {"distro": "freebsd"}}));
    fake::tools(&env, &["growpart", "mount", "zpool", "service"]);
    env.write("/etc/rc.d/growfs", "#!/bin/sh\n");
    r.answer(
        &["mount"],
        0,
        "zroot/ROOT/default on / (zfs, local, noatime, nfsv4acls)\n",
        "",
    );
    r.answer(&["zpool", "get"], 0, "21474836480\n", "");
    handle(&env.ctx("growpart")).unwrap();
    assert_eq!(
        r.lines(),
        [
            "growpart --help",
            "mount",
            "zpool get -Hpovalue size zroot",
            "service growfs onestart",
            "zpool get -Hpovalue size zroot",
        ]
    );
    assert!(logcap::all()
        .iter()
        .any(|m| m == "'/' NOCHANGE: no change necessary (None, None)"));
}

/// `/dev/mapper/cryptroot` -> `/dev/dm-0` over `/dev/vda1`.
fn luks_layout(env: &TestEnv, r: &Scripted) -> bool {
    fake::tools(env, &["growpart", "dmsetup", "cryptsetup"]);
    r.answer(&["growpart", "--help"], 0, HELP, "");
    r.answer(&["dmsetup"], 0, "1 dependencies\t: (vda1)\n", "");
    env.host.create_dir_all("/dev/mapper", 0o755).unwrap();
    env.host
        .symlink("../dm-0", "/dev/mapper/cryptroot")
        .unwrap();
    partition_vda1(env) && fake::node(env, "/dev/dm-0")
}

#[test]
fn luks_partition_is_grown_first_then_the_volume() {
    logcap::init();
    let (env, r) = env_with(json!({"growpart": {"devices": ["/dev/mapper/cryptroot"]}}));
    if !luks_layout(&env, &r) {
        return;
    }
    // "key" base64 of b"secret"
    env.write("/cc_growpart_keydata", r#"{"key":"c2VjcmV0","slot":5}"#);
    handle(&env.ctx("growpart")).unwrap();
    assert_eq!(
        r.lines(),
        [
            "growpart --help",
            "dmsetup deps --options=devname /dev/mapper/cryptroot",
            "cryptsetup status /dev/dm-0",
            "cryptsetup isLuks /dev/vda1",
            "growpart --dry-run /dev/vda 1",
            "growpart /dev/vda 1",
            "dmsetup deps --options=devname /dev/mapper/cryptroot",
            "cryptsetup status /dev/dm-0",
            "cryptsetup isLuks /dev/vda1",
            "cryptsetup --key-file - resize /dev/mapper/cryptroot",
            "cryptsetup luksKillSlot --batch-mode /dev/vda1 5",
        ]
    );
    assert_eq!(r.calls()[9].stdin.as_deref(), Some(&b"secret"[..]));
    assert!(!env.host.exists("/cc_growpart_keydata"));
    assert!(logcap::all().iter().any(|m| m
        == "'/dev/mapper/cryptroot' resized: Successfully resized encrypted volume '/dev/mapper/cryptroot'"));
    assert!(logcap::warnings().is_empty());
}

#[test]
fn luks_without_keyfile_or_with_a_bad_one() {
    logcap::init();
    let (env, r) = env_with(json!({"growpart": {"devices": ["/dev/mapper/cryptroot"]}}));
    if !luks_layout(&env, &r) {
        return;
    }
    handle(&env.ctx("growpart")).unwrap();
    assert!(logcap::all()
        .iter()
        .any(|m| m == "'/dev/mapper/cryptroot' SKIPPED: No encryption keyfile found"));

    let (env, r) = env_with(json!({"growpart": {"devices": ["/dev/mapper/cryptroot"]}}));
    assert!(luks_layout(&env, &r));
    env.write("/cc_growpart_keydata", "{not json");
    handle(&env.ctx("growpart")).unwrap();
    assert!(logcap::all().iter().any(|m| m == "'/dev/mapper/cryptroot' FAILED: Resizing encrypted device (/dev/mapper/cryptroot) failed: Could not load encryption key. This is expected if the volume has been previously resized."));
}

#[test]
fn lvm_mapping_is_skipped() {
    logcap::init();
    let (env, r) = env_with(json!({"growpart": {"devices": ["/dev/mapper/cryptroot"]}}));
    if !luks_layout(&env, &r) {
        return;
    }
    r.answer(&["cryptsetup", "status"], 4, "", "");
    handle(&env.ctx("growpart")).unwrap();
    assert!(logcap::all().iter().any(|m| m == "'/dev/mapper/cryptroot' SKIPPED: Resizing mapped device (/dev/mapper/cryptroot) skipped as it is not encrypted."));
    assert!(logcap::warnings().is_empty());
    r.answer(&["cryptsetup", "status"], 1, "", "");
    let (env, r) = env_with(json!({"growpart": {"devices": ["/dev/mapper/cryptroot"]}}));
    assert!(luks_layout(&env, &r));
    r.answer(&["cryptsetup", "status"], 1, "", "");
    handle(&env.ctx("growpart")).unwrap();
    assert_eq!(
        logcap::warnings(),
        ["Received unexpected exit code 1 from cryptsetup status. Assuming no encrypted partitions."]
    );
}

#[test]
fn every_linux_family_grows_the_same_way() {
    for distro in ["rhel", "sles", "arch", "gentoo", "alpine", "ubuntu"] {
        let (env, r) = env_with(json!({"growpart": {"devices": ["/dev/vda1"]},
            "system_info": {"distro": distro}}));
        fake::tools(&env, &["growpart"]);
        r.answer(&["growpart", "--help"], 0, HELP, "");
        if !partition_vda1(&env) {
            return;
        }
        handle(&env.ctx("growpart")).unwrap();
        assert_eq!(
            r.lines(),
            [
                "growpart --help",
                "growpart --dry-run /dev/vda 1",
                "growpart /dev/vda 1"
            ],
            "{distro}"
        );
    }
}

#[test]
fn growfs_service_is_freebsd_only() {
    // A Linux image with a stray /etc/rc.d/growfs: upstream's service table
    // has no `onestart`, a KeyError.
    let (env, r) = env_with(json!({}));
    fake::tools(&env, &["mount"]);
    env.write("/etc/rc.d/growfs", "");
    env.write(
        "/proc/self/mountinfo",
        &mountinfo_line("/", "rw", "zfs", "rpool/ROOT/debian"),
    );
    let e = handle(&env.ctx("growpart")).unwrap_err();
    assert_eq!(
        (e.py_class(), e.to_string().as_str()),
        ("KeyError", "onestart")
    );
    assert!(r.lines().is_empty(), "{:?}", r.lines());
}

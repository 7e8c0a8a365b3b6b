use super::*;
use crate::testutil::{logcap, TestEnv};
use ci_host::{Cmd, CmdError, CmdOutput, Host, Runner};
use serde_json::json;
use std::sync::{Arc, Mutex};

type Answer = Box<dyn Fn(&[String]) -> (i32, String) + Send + Sync>;

/// Answers each command from a script and records it (with its stdin) the
/// way the harness stubs do.
struct Script {
    answer: Answer,
    lines: Mutex<Vec<String>>,
}

impl Runner for Script {
    fn execute(&self, _host: &Host, cmd: &Cmd) -> Result<CmdOutput, CmdError> {
        let mut line = cmd.argv.join(" ");
        if let Some(data) = &cmd.stdin {
            line.push_str(&format!(" <<{}", String::from_utf8_lossy(data).trim_end()));
        }
        self.lines.lock().unwrap().push(line);
        let (status, out) = (self.answer)(&cmd.argv);
        // 127 plays a program missing in the target, as chroot reports it.
        let stderr = if status == 127 {
            format!(
                "chroot: failed to run command '{}': No such file or directory\n",
                cmd.argv[0]
            )
        } else {
            String::new()
        };
        Ok(CmdOutput {
            status,
            stdout: out.into_bytes(),
            stderr: stderr.into_bytes(),
        })
    }
}

const BLANK: &str = "NAME=\"sdb\" TYPE=\"disk\" FSTYPE=\"\" LABEL=\"\"\n";

/// The usual answers: every disk blank and 10 GiB of 512-byte sectors.
fn blank_disk(argv: &[String]) -> (i32, String) {
    let dev = argv
        .iter()
        .find(|a| a.starts_with("/dev/"))
        .cloned()
        .unwrap_or_default();
    let name = dev.trim_start_matches("/dev/");
    match argv[0].as_str() {
        "lsblk" => (0, BLANK.replace("sdb", name)),
        "blkid" => (2, String::new()),
        "blockdev" if argv[1] == "--getsize64" => (0, "10737418240\n".into()),
        "blockdev" if argv[1] == "--getss" => (0, "512\n".into()),
        _ => (0, String::new()),
    }
}

fn env_with(cfg: serde_json::Value, answer: Answer) -> (TestEnv, Arc<Script>) {
    let mut env = TestEnv::new(cfg);
    let script = Arc::new(Script {
        answer,
        lines: Mutex::new(Vec::new()),
    });
    env.host = Host::with_runner(env.host.root().to_path_buf(), script.clone());
    for tool in ["udevadm", "partprobe", "mkfs.ext4", "mkfs.xfs", "mkswap"] {
        env.write_mode(&format!("/usr/sbin/{tool}"), "#!/bin/sh\n", 0o755);
    }
    for dev in ["/dev/sdb", "/dev/sdc", "/dev/sdd"] {
        env.write(dev, "");
    }
    (env, script)
}

fn lines(s: &Script) -> Vec<String> {
    s.lines.lock().unwrap().clone()
}

#[test]
fn gpt_layout_written_with_sgdisk_in_upstream_order() {
    let (env, s) = env_with(
        json!({
            "device_aliases": {"my_alias": "/dev/sdb"},
            "disk_setup": {"my_alias": {"layout": [50, [50, 82]], "overwrite": true, "table_type": "gpt"}}
        }),
        Box::new(blank_disk),
    );
    handle(&env.ctx("disk_setup")).unwrap();
    assert_eq!(
        lines(&s),
        vec![
            "udevadm settle",
            "lsblk --pairs --output NAME,TYPE,FSTYPE,LABEL /dev/sdb --nodeps",
            "sgdisk -p /dev/sdb",
            "blockdev --getsize64 /dev/sdb",
            "blockdev --getss /dev/sdb",
            "sgdisk -Z /dev/sdb",
            "sgdisk -n 1:0:+10485760 /dev/sdb",
            "sgdisk -n 2:0:0 /dev/sdb",
            "sgdisk -t 2:8200 /dev/sdb",
            "udevadm settle",
            "partprobe /dev/sdb",
            "udevadm settle",
        ]
    );
}

#[test]
fn mbr_layout_fed_to_sfdisk_after_checking_the_disk_is_unused() {
    let (env, s) = env_with(
        json!({"disk_setup": {"/dev/sdd": {"layout": [33, [66, 82]], "table_type": "mbr"}}}),
        Box::new(blank_disk),
    );
    handle(&env.ctx("disk_setup")).unwrap();
    assert_eq!(
        lines(&s),
        vec![
            "udevadm settle",
            "lsblk --pairs --output NAME,TYPE,FSTYPE,LABEL /dev/sdd --nodeps",
            "udevadm settle",
            "partprobe /dev/sdd",
            "udevadm settle",
            "sfdisk -l /dev/sdd <<[33, [66, 82]]",
            "lsblk --pairs --output NAME,TYPE,FSTYPE,LABEL /dev/sdd",
            "blkid -c /dev/null /dev/sdd",
            "blkid -c /dev/null /dev/sdd",
            "blockdev --getsize64 /dev/sdd",
            "blockdev --getss /dev/sdd",
            "sfdisk --force /dev/sdd <<,6920601,83\n,,82",
            "udevadm settle",
            "partprobe /dev/sdd",
            "udevadm settle",
        ]
    );
}

#[test]
fn existing_table_left_alone_without_overwrite() {
    let (env, s) = env_with(
        json!({"disk_setup": {"/dev/sdb": {"layout": [50, 50], "table_type": "gpt"}}}),
        Box::new(|argv: &[String]| match argv[0].as_str() {
            "lsblk" if argv.last().is_some_and(|a| a == "--nodeps") => (0, BLANK.into()),
            "lsblk" => (
                0,
                format!("{BLANK}NAME=\"sdb1\" TYPE=\"part\" FSTYPE=\"ext4\" LABEL=\"\"\n"),
            ),
            _ => (0, String::new()),
        }),
    );
    handle(&env.ctx("disk_setup")).unwrap();
    let l = lines(&s);
    assert_eq!(
        l.last().unwrap(),
        "lsblk --pairs --output NAME,TYPE,FSTYPE,LABEL /dev/sdb"
    );
    assert!(!l
        .iter()
        .any(|c| c.contains("-Z") || c.starts_with("blockdev")));
}

#[test]
fn matching_layout_is_not_rewritten() {
    let sgdisk = "Number  Start (sector)    End (sector)  Size       Code  Name\n   1  2048  20971486   10.0 GiB    8300  Linux filesystem\n";
    let (env, s) = env_with(
        json!({"disk_setup": {"/dev/sdb": {"layout": true, "overwrite": true, "table_type": "gpt"}}}),
        Box::new(move |argv: &[String]| match argv[0].as_str() {
            "sgdisk" => (0, sgdisk.into()),
            _ => blank_disk(argv),
        }),
    );
    handle(&env.ctx("disk_setup")).unwrap();
    assert_eq!(lines(&s).last().unwrap(), "sgdisk -p /dev/sdb");
}

#[test]
fn missing_device_and_bad_definitions_are_warnings() {
    logcap::init();
    let (env, s) = env_with(
        json!({
            "disk_setup": {"/dev/sdx": {"layout": true}, "/dev/sdb": "junk"},
            "fs_setup": ["junk", {"device": "/dev/sdx", "filesystem": "ext4"}]
        }),
        Box::new(blank_disk),
    );
    handle(&env.ctx("disk_setup")).unwrap();
    let w = logcap::warnings();
    assert!(w.contains(&"Failed partitioning operation\nDevice /dev/sdx did not exist and was not created with a udevadm settle.".to_string()), "{w:?}");
    assert!(w.contains(&"Invalid disk definition for /dev/sdb".to_string()));
    assert!(w.contains(&"entry in disk_setup not a dict: junk".to_string()));
    assert!(w.contains(&"Invalid file system definition: junk".to_string()));
    assert!(w.contains(&"Failed during filesystem operation\nDevice /dev/sdx did not exist and was not created with a udevadm settle.".to_string()));
    // One settle per missing device, none for the bad entries.
    assert_eq!(lines(&s), vec!["udevadm settle"; 2]);
}

#[test]
fn not_a_disk_is_refused() {
    logcap::init();
    let (env, _s) = env_with(
        json!({"disk_setup": {"/dev/sdb": {"layout": true}}}),
        Box::new(|argv: &[String]| match argv[0].as_str() {
            "lsblk" => (
                0,
                "NAME=\"sdb\" TYPE=\"part\" FSTYPE=\"\" LABEL=\"\"\n".into(),
            ),
            _ => (0, String::new()),
        }),
    );
    handle(&env.ctx("disk_setup")).unwrap();
    assert!(logcap::warnings().contains(
        &"Failed partitioning operation\nDevice /dev/sdb is not a disk device!".to_string()
    ));
}

#[test]
fn fs_on_whole_disk_forced_and_labelled() {
    let (env, s) = env_with(
        json!({"fs_setup": [{"device": "/dev/sdc", "filesystem": "ext4", "label": "data", "partition": "none", "extra_opts": ["-E", "lazy_itable_init=1"]}]}),
        Box::new(blank_disk),
    );
    handle(&env.ctx("disk_setup")).unwrap();
    assert_eq!(
        lines(&s),
        vec![
            "udevadm settle",
            "lsblk --pairs --output NAME,TYPE,FSTYPE,LABEL /dev/sdc --nodeps",
            "/usr/sbin/mkfs.ext4 -L data -F -E lazy_itable_init=1 /dev/sdc",
        ]
    );
}

#[test]
fn existing_fs_found_by_any_is_kept() {
    let (env, s) = env_with(
        json!({"fs_setup": [{"device": "/dev/sdb", "filesystem": "ext4"}]}),
        Box::new(|argv: &[String]| match argv[0].as_str() {
            "lsblk" => (
                0,
                format!("{BLANK}NAME=\"sdb1\" TYPE=\"part\" FSTYPE=\"ext4\" LABEL=\"old\"\n"),
            ),
            _ => (0, String::new()),
        }),
    );
    handle(&env.ctx("disk_setup")).unwrap();
    assert_eq!(
        lines(&s),
        vec![
            "udevadm settle",
            "lsblk --pairs --output NAME,TYPE,FSTYPE,LABEL /dev/sdb"
        ]
    );
}

#[test]
fn replace_fs_picks_the_partition_with_that_fs() {
    let (env, s) = env_with(
        json!({"fs_setup": [{"device": "/dev/sdb", "filesystem": "ext4", "label": "x", "replace_fs": "ntfs", "overwrite": true}]}),
        Box::new(|argv: &[String]| {
            match argv[0].as_str() {
            "lsblk" => (0, format!("{BLANK}NAME=\"sdb1\" TYPE=\"part\" FSTYPE=\"ntfs\" LABEL=\"Temporary Storage\"\n")),
            _ => (0, String::new()),
        }
        }),
    );
    handle(&env.ctx("disk_setup")).unwrap();
    assert_eq!(
        lines(&s).last().unwrap(),
        "/usr/sbin/mkfs.ext4 -L x -F /dev/sdb1"
    );
}

#[test]
fn auto_with_used_raw_disk_finds_nothing() {
    logcap::init();
    let (env, s) = env_with(
        json!({"fs_setup": [{"device": "/dev/sdb", "filesystem": "xfs", "partition": "auto", "label": "l"}]}),
        Box::new(|argv: &[String]| match argv[0].as_str() {
            "lsblk" => (
                0,
                "NAME=\"sdb\" TYPE=\"disk\" FSTYPE=\"ext4\" LABEL=\"\"\n".into(),
            ),
            _ => (0, String::new()),
        }),
    );
    handle(&env.ctx("disk_setup")).unwrap();
    assert!(logcap::warnings()
        .contains(&"Failed to find device during available device search.".to_string()));
    assert_eq!(lines(&s).len(), 2);
}

#[test]
fn cmd_template_runs_through_the_shell_and_warns_about_ignored_keys() {
    logcap::init();
    let (env, s) = env_with(
        json!({"fs_setup": [{"device": "/dev/sdb", "partition": "none", "filesystem": "ext4", "label": "fs1", "overwrite": true, "extra_opts": ["-q"], "cmd": "mkfs -t %(filesystem)s -L %(label)s %(device)s"}]}),
        Box::new(blank_disk),
    );
    handle(&env.ctx("disk_setup")).unwrap();
    assert_eq!(
        lines(&s).last().unwrap(),
        "/bin/sh -c mkfs -t ext4 -L fs1 /dev/sdb"
    );
    let w = logcap::warnings();
    assert!(w.contains(
        &"fs_setup:overwrite ignored because cmd was specified: mkfs -t ext4 -L fs1 /dev/sdb"
            .to_string()
    ));
    assert!(w.contains(
        &"fs_setup:extra_opts ignored because cmd was specified: mkfs -t ext4 -L fs1 /dev/sdb"
            .to_string()
    ));
}

#[test]
fn swap_uses_mkswap_and_unknown_fs_is_a_warning() {
    logcap::init();
    let (env, s) = env_with(
        json!({"fs_setup": [
            {"device": "/dev/sdb", "partition": "none", "filesystem": "swap", "label": "swap"},
            {"device": "/dev/sdc", "partition": "none", "filesystem": "zfs"}
        ]}),
        Box::new(blank_disk),
    );
    handle(&env.ctx("disk_setup")).unwrap();
    assert!(lines(&s).contains(&"/usr/sbin/mkswap -L swap -f /dev/sdb".to_string()));
    assert!(logcap::warnings()
        .contains(&"Cannot create fstype 'zfs'.  No mkfs.zfs command".to_string()));
}

#[test]
fn dotted_partition_that_is_no_block_device() {
    logcap::init();
    let (env, s) = env_with(
        json!({
            "device_aliases": {"my_alias": "/dev/sdb"},
            "fs_setup": [{"device": "my_alias.2", "filesystem": "ext4", "partition": 1}]
        }),
        Box::new(blank_disk),
    );
    handle(&env.ctx("disk_setup")).unwrap();
    let w = logcap::warnings();
    assert!(w.contains(&"Partition '2' from dotted device name 'my_alias.2' overrides 'partition' key in {'device': '/dev/sdb', 'filesystem': 'ext4', 'partition': 1, '_origname': 'my_alias.2'}".to_string()), "{w:?}");
    assert!(w.contains(&"Path %s does not exist or is not a block device".to_string()));
    assert_eq!(lines(&s), vec!["udevadm settle"]);
}

#[test]
fn nvme_partitions_get_a_p() {
    if !Host::running_as_root() {
        return;
    }
    let (env, s) = env_with(
        json!({"fs_setup": [{"device": "/dev/nvme0n1", "partition": 1, "filesystem": "ext4", "label": "d"}]}),
        Box::new(|argv: &[String]| match argv[0].as_str() {
            "lsblk" => (
                0,
                "NAME=\"nvme0n1p1\" TYPE=\"part\" FSTYPE=\"\" LABEL=\"\"\n".into(),
            ),
            _ => blank_disk(argv),
        }),
    );
    env.write("/dev/nvme0n1", "");
    let node = env.host.path("/dev/nvme0n1p1");
    // Major 60 is reserved for local use: no driver, nothing to open.
    let ok = std::process::Command::new("mknod")
        .arg(&node)
        .args(["b", "60", "1"])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    handle(&env.ctx("disk_setup")).unwrap();
    assert_eq!(
        lines(&s),
        vec![
            "udevadm settle",
            "blkid -c /dev/null /dev/nvme0n1p1",
            "lsblk --pairs --output NAME,TYPE,FSTYPE,LABEL /dev/nvme0n1p1 --nodeps",
            "/usr/sbin/mkfs.ext4 -L d /dev/nvme0n1p1",
        ]
    );
}

#[test]
fn existing_fs_with_same_label_skipped_on_explicit_partition() {
    if !Host::running_as_root() {
        return;
    }
    let (env, s) = env_with(
        json!({"fs_setup": [{"device": "/dev/sdb", "partition": 1, "filesystem": "ext4", "label": "d"}]}),
        Box::new(|argv: &[String]| match argv[0].as_str() {
            "blkid" => (
                0,
                "/dev/sdb1: LABEL=\"d\" UUID=\"u\" BLOCK_SIZE=\"4096\" TYPE=\"ext4\"\n".into(),
            ),
            _ => (0, String::new()),
        }),
    );
    let node = env.host.path("/dev/sdb1");
    assert!(std::process::Command::new("mknod")
        .arg(&node)
        .args(["b", "60", "2"])
        .status()
        .unwrap()
        .success());
    handle(&env.ctx("disk_setup")).unwrap();
    assert_eq!(
        lines(&s),
        vec!["udevadm settle", "blkid -c /dev/null /dev/sdb1"]
    );
}

#[test]
fn azure_ephemeral0_from_the_datasource_config() {
    let mut cfg = json!({
        "disk_setup": {"ephemeral0": {"table_type": "gpt", "layout": [100], "overwrite": true}},
        "fs_setup": [{"filesystem": "ext4", "device": "ephemeral0.1"}]
    });
    let (mut env, _s) = env_with(cfg.clone(), Box::new(blank_disk));
    env.instance.datasource_name = "Azure".into();
    let ctx = env.ctx("disk_setup");
    let tf = |c: &str| alias_to_device(&ctx, &json!({}), c);
    let mut disks: Vec<(String, serde_json::Value)> =
        vec![("ephemeral0".into(), cfg["disk_setup"]["ephemeral0"].clone())];
    update_disk_setup_devices(&mut disks, &tf).unwrap();
    assert_eq!(disks[0].0, "/dev/disk/cloud/azure_resource");
    assert_eq!(disks[0].1["_origname"], "ephemeral0");
    let mut fs = cfg["fs_setup"].as_array().unwrap().clone();
    update_fs_setup_devices(&mut fs, &tf).unwrap();
    assert_eq!(fs[0]["device"], "/dev/disk/cloud/azure_resource");
    assert_eq!(fs[0]["partition"], "1");

    // datasource.Azure.disk_aliases overrides the built-in name.
    cfg["datasource"] = json!({"Azure": {"disk_aliases": {"ephemeral0": "/dev/sdb"}}});
    env.cfg = cfg;
    let ctx = env.ctx("disk_setup");
    assert_eq!(
        alias_to_device(&ctx, &json!({}), "ephemeral0")
            .unwrap()
            .as_deref(),
        Some("/dev/sdb")
    );
    // NoCloud knows no such name: the alias stays as it is.
    env.instance.datasource_name = "NoCloud".into();
    let ctx = env.ctx("disk_setup");
    assert_eq!(
        alias_to_device(&ctx, &json!({}), "ephemeral0").unwrap(),
        None
    );
    assert_eq!(
        alias_to_device(&ctx, &json!({"e": "/dev/sdc"}), "e")
            .unwrap()
            .as_deref(),
        Some("/dev/sdc")
    );
}

#[test]
fn ec2_block_device_mapping_remapped_to_xvd() {
    let (mut env, _s) = env_with(json!({}), Box::new(blank_disk));
    env.instance.datasource_name = "Ec2".into();
    env.instance.metadata =
        json!({"block-device-mapping": {"ami": "/dev/sda1", "ephemeral0": "sdf"}});
    env.write("/dev/xvdf", "");
    let ctx = env.ctx("disk_setup");
    assert_eq!(
        crate::ds_devices::device_name_to_device(&ctx, "ephemeral0")
            .unwrap()
            .as_deref(),
        Some("/dev/xvdf")
    );
    // Listed but absent: ephemeral0 is dropped (LP: #744019), others kept.
    assert_eq!(
        crate::ds_devices::device_name_to_device(&ctx, "ami")
            .unwrap()
            .as_deref(),
        Some("/dev/sda1")
    );
    assert_eq!(
        crate::ds_devices::device_name_to_device(&ctx, "swap").unwrap(),
        None
    );
}

#[test]
fn renamed_disk_entries_move_to_the_end() {
    let (env, _s) = env_with(json!({}), Box::new(blank_disk));
    let ctx = env.ctx("disk_setup");
    let aliases = json!({"my_alias": "/dev/sdb", "swap_disk": "/dev/sdc"});
    let tf = |c: &str| alias_to_device(&ctx, &aliases, c);
    let mut disks: Vec<(String, serde_json::Value)> = vec![
        ("/dev/sdd".into(), json!({"layout": true})),
        ("my_alias".into(), json!({"layout": [50, 50]})),
        ("swap_disk".into(), json!({"layout": [[100, 82]]})),
    ];
    update_disk_setup_devices(&mut disks, &tf).unwrap();
    let names: Vec<&str> = disks.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["/dev/sdd", "/dev/sdb", "/dev/sdc"]);
    let bad = json!(["x"]);
    let tf = |c: &str| alias_to_device(&ctx, &bad, c);
    let err = update_disk_setup_devices(&mut disks, &tf).unwrap_err();
    assert_eq!(
        err.py_repr(),
        "AttributeError(\"'list' object has no attribute 'get'\")"
    );
}

#[test]
fn remove_layout_wipes_signatures_and_the_table_ends() {
    let (env, s) = env_with(
        json!({"disk_setup": {"/dev/sdb": {"layout": "remove"}}}),
        Box::new(|argv: &[String]| match argv[0].as_str() {
            "lsblk" if argv.last().is_some_and(|a| a == "--nodeps") => (0, BLANK.into()),
            "lsblk" => (
                0,
                format!("{BLANK}NAME=\"sdb1\" TYPE=\"part\" FSTYPE=\"ext4\" LABEL=\"\"\n"),
            ),
            _ => (0, String::new()),
        }),
    );
    env.write("/dev/sdb", &"x".repeat(3 * 1024 * 1024));
    handle(&env.ctx("disk_setup")).unwrap();
    assert!(lines(&s).contains(&"wipefs --all /dev/sdb1".to_string()));
    let data = std::fs::read(env.host.path("/dev/sdb")).unwrap();
    assert_eq!(data.len(), 3 * 1024 * 1024);
    assert!(data[..1024 * 1024].iter().all(|b| *b == 0));
    assert!(data[1024 * 1024..2 * 1024 * 1024]
        .iter()
        .all(|b| *b == b'x'));
    assert!(data[2 * 1024 * 1024..].iter().all(|b| *b == 0));
}

#[test]
fn without_udevadm_and_partprobe_the_table_is_reread_with_blockdev() {
    // Alpine images use mdev: no udevadm, and often no partprobe either.
    let (env, s) = env_with(
        json!({
            "system_info": {"distro": "alpine"},
            "disk_setup": {"/dev/sdb": {"layout": true, "overwrite": true}}
        }),
        Box::new(blank_disk),
    );
    env.host.remove_file("/usr/sbin/udevadm").unwrap();
    env.host.remove_file("/usr/sbin/partprobe").unwrap();
    handle(&env.ctx("disk_setup")).unwrap();
    assert_eq!(
        lines(&s),
        vec![
            "lsblk --pairs --output NAME,TYPE,FSTYPE,LABEL /dev/sdb --nodeps",
            "blockdev --rereadpt /dev/sdb",
            "sfdisk -l /dev/sdb <<True",
            "blockdev --getsize64 /dev/sdb",
            "blockdev --getss /dev/sdb",
            "sfdisk --force /dev/sdb <<,,83",
            "blockdev --rereadpt /dev/sdb",
        ]
    );
}

#[test]
fn a_tool_missing_in_the_target_reads_as_upstreams_oserror() {
    logcap::init();
    let (env, _s) = env_with(
        json!({"fs_setup": [{"device": "/dev/sdb", "filesystem": "ext4"}]}),
        Box::new(|argv: &[String]| match argv[0].as_str() {
            "lsblk" => (127, String::new()),
            _ => (0, String::new()),
        }),
    );
    handle(&env.ctx("disk_setup")).unwrap();
    let w = logcap::warnings();
    assert!(
        w.iter().any(|m| m.starts_with(
            "Failed during filesystem operation\nFailed during disk check for /dev/sdb\nUnexpected error while running command.\nCommand: ['lsblk', '--pairs', '--output', 'NAME,TYPE,FSTYPE,LABEL', '/dev/sdb']\nExit code: -\nReason: [Errno 2] No such file or directory: 'lsblk'\nStdout: -\nStderr: -"
        )),
        "{w:?}"
    );
}

#[test]
fn alias_onto_a_listed_device_replaces_that_entry() {
    let (env, _s) = env_with(json!({}), Box::new(blank_disk));
    let ctx = env.ctx("disk_setup");
    let aliases = json!({"data": "/dev/sdb"});
    let tf = |c: &str| alias_to_device(&ctx, &aliases, c);
    let mut disks: Vec<(String, serde_json::Value)> = vec![
        ("/dev/sdb".into(), json!({"layout": false})),
        ("data".into(), json!({"layout": true})),
        ("/dev/sdc".into(), json!("not a dict")),
    ];
    update_disk_setup_devices(&mut disks, &tf).unwrap();
    assert_eq!(
        disks,
        vec![
            ("/dev/sdc".to_string(), json!("not a dict")),
            (
                "/dev/sdb".to_string(),
                json!({"layout": true, "_origname": "data"})
            ),
        ]
    );
}

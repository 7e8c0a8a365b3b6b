use super::*;
use crate::testutil::TestEnv;
use serde_json::json;

fn env_for(ds: &str, cfg: Value) -> TestEnv {
    let mut env = TestEnv::new(cfg);
    env.instance.datasource_name = ds.into();
    env
}

#[test]
fn azure_resource_disk_is_the_builtin_ephemeral0() {
    let env = env_for("Azure", json!({}));
    let ctx = env.ctx("mounts");
    assert_eq!(
        device_name_to_device(&ctx, "ephemeral0")
            .unwrap()
            .as_deref(),
        Some(AZURE_RESOURCE_DISK)
    );
    assert_eq!(device_name_to_device(&ctx, "swap").unwrap(), None);
}

#[test]
fn configured_disk_aliases_win_over_the_builtin_one() {
    let env = env_for(
        "Azure",
        json!({"datasource": {"Azure": {"disk_aliases": {"ephemeral0": "/dev/sdz", "swap": "/dev/sdy"}}}}),
    );
    let ctx = env.ctx("mounts");
    assert_eq!(
        device_name_to_device(&ctx, "ephemeral0")
            .unwrap()
            .as_deref(),
        Some("/dev/sdz")
    );
    assert_eq!(
        device_name_to_device(&ctx, "swap").unwrap().as_deref(),
        Some("/dev/sdy")
    );
}

#[test]
fn joyent_reads_both_of_its_config_sections() {
    let env = env_for(
        "Joyent",
        json!({"datasource": {"SmartOS": {"disk_aliases": {"swap": "/dev/vdc"}}}}),
    );
    let ctx = env.ctx("mounts");
    assert_eq!(
        device_name_to_device(&ctx, "swap").unwrap().as_deref(),
        Some("/dev/vdc")
    );
    assert_eq!(
        device_name_to_device(&ctx, "ephemeral0")
            .unwrap()
            .as_deref(),
        Some(SMARTOS_EPHEMERAL)
    );
}

#[test]
fn disk_aliases_that_is_no_mapping_is_upstreams_attribute_error() {
    let env = env_for(
        "Azure",
        json!({"datasource": {"Azure": {"disk_aliases": "sdb"}}}),
    );
    assert_eq!(
        device_name_to_device(&env.ctx("mounts"), "ephemeral0").unwrap_err(),
        "'str' object has no attribute 'get'"
    );
}

#[test]
fn datasources_without_a_mapping_answer_nothing() {
    for ds in ["NoCloud", "None", "AliYun"] {
        let mut env = env_for(ds, json!({}));
        env.instance.metadata = json!({"block-device-mapping": {"ephemeral0": "/dev/sdb"}});
        env.write("/dev/sdb", "");
        assert_eq!(
            device_name_to_device(&env.ctx("mounts"), "ephemeral0").unwrap(),
            None,
            "{ds}"
        );
    }
}

#[test]
fn ec2_eucalyptus_ephemeral_and_absent_names() {
    let mut env = env_for("Ec2", json!({}));
    env.instance.metadata = json!({"block-device-mapping": {"ephemeral": "sdb", "swap": "sdc"}});
    env.write("/dev/vdb", "");
    let ctx = env.ctx("mounts");
    assert_eq!(
        device_name_to_device(&ctx, "ephemeral0")
            .unwrap()
            .as_deref(),
        Some("/dev/vdb")
    );
    // Absent and not remappable: kept as the metadata says.
    assert_eq!(
        device_name_to_device(&ctx, "swap").unwrap().as_deref(),
        Some("sdc")
    );
    assert_eq!(device_name_to_device(&ctx, "ebs0").unwrap(), None);
}

#[test]
fn openstack_prefers_the_ec2_mapping_over_labels() {
    let mut env = env_for("OpenStack", json!({}));
    env.instance.metadata =
        json!({"ec2_metadata": {"block-device-mapping": {"ami": "vda", "root": "/dev/vdz"}}});
    env.write("/dev/vda", "");
    env.write_mode("/usr/sbin/blkid", "", 0o755);
    let ctx = env.ctx("mounts");
    assert_eq!(
        device_name_to_device(&ctx, "root").unwrap().as_deref(),
        Some("/dev/vda")
    );
    assert!(env.rec.lines().is_empty());
}

#[test]
fn openstack_label_lookup_validates_what_blkid_names() {
    let env = env_for("ConfigDrive", json!({}));
    env.write_mode("/usr/sbin/blkid", "", 0o755);
    env.write("/dev/xvdb", "");
    env.rec.answer("blkid", 0, b"sdb\n");
    let ctx = env.ctx("mounts");
    assert_eq!(
        device_name_to_device(&ctx, "swap").unwrap().as_deref(),
        Some("/dev/xvdb")
    );
    assert_eq!(env.rec.lines(), ["blkid -tTYPE=swap -odevice"]);
}

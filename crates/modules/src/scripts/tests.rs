use super::*;
use crate::testutil::{logcap, TestEnv};
use serde_json::json;

#[test]
fn runs_executables_in_order_and_reports_failures() {
    logcap::init();
    let env = TestEnv::new(json!({}));
    let dir = "/var/lib/cloud/scripts/per-boot";
    env.write_mode(&format!("{dir}/20-b"), "#!/bin/sh\n", 0o755);
    env.write_mode(&format!("{dir}/10-a"), "#!/bin/sh\n", 0o700);
    env.write_mode(&format!("{dir}/30-c"), "#!/bin/sh\n", 0o755);
    env.write_mode(&format!("{dir}/40-noexec"), "#!/bin/sh\n", 0o644);
    env.host
        .create_dir_all(format!("{dir}/50-dir"), 0o755)
        .unwrap();
    env.rec.answer(&format!("{dir}/20-b"), 1, b"");
    env.rec.answer(&format!("{dir}/30-c"), 2, b"");
    let err = handle_per_boot(&env.ctx("scripts_per_boot")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Runparts: 2 failures (20-b,30-c) in 3 attempted commands"
    );
    assert_eq!(
        env.rec.lines(),
        vec![
            format!("{dir}/10-a"),
            format!("{dir}/20-b"),
            format!("{dir}/30-c")
        ]
    );
    assert!(env
        .rec
        .calls()
        .iter()
        .all(|c| c.place == ci_host::Where::Target));
    let w = logcap::warnings();
    assert!(w.contains(&format!("skipping {dir}/40-noexec as its not executable or the underlying file system is mounted without executable permissions.")), "{w:?}");
    assert!(
        w.contains(&format!(
            "Failed to run module scripts_per_boot (per-boot in {dir})"
        )),
        "{w:?}"
    );
}

#[test]
fn user_scripts_and_vendor_prefix() {
    let env = TestEnv::new(json!({"vendor_data": {"prefix": ["/usr/bin/env", "X=1"]}}));
    env.write_mode(
        "/var/lib/cloud/instances/i-test/scripts/runcmd",
        "#!/bin/sh\n",
        0o700,
    );
    env.write_mode(
        "/var/lib/cloud/instances/i-test/scripts/vendor/v1",
        "#!/bin/sh\n",
        0o700,
    );
    handle_user(&env.ctx("scripts_user")).unwrap();
    handle_vendor(&env.ctx("scripts_vendor")).unwrap();
    assert_eq!(
        env.rec.lines(),
        vec![
            "/var/lib/cloud/instances/i-test/scripts/runcmd".to_string(),
            "/usr/bin/env X=1 /var/lib/cloud/instances/i-test/scripts/vendor/v1".to_string(),
        ]
    );
}

#[test]
fn user_failure_names_the_instance_link_and_missing_dirs_are_fine() {
    logcap::init();
    let env = TestEnv::new(json!({"vendor_data": {"prefix": 5}}));
    handle_per_once(&env.ctx("scripts_per_once")).unwrap();
    handle_per_instance(&env.ctx("scripts_per_instance")).unwrap();
    handle_vendor(&env.ctx("scripts_vendor")).unwrap();
    env.write_mode(
        "/var/lib/cloud/instances/i-test/scripts/part-001",
        "#!/bin/sh\nexit 1\n",
        0o700,
    );
    env.rec
        .answer("/var/lib/cloud/instances/i-test/scripts/part-001", 1, b"");
    let err = handle_user(&env.ctx("scripts_user")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Runparts: 1 failures (part-001) in 1 attempted commands"
    );
    assert!(logcap::warnings().contains(
        &"Failed to run module scripts_user (scripts in /var/lib/cloud/instance/scripts)"
            .to_string()
    ));
    // A bad prefix only matters once there is something to run.
    env.write_mode(
        "/var/lib/cloud/instances/i-test/scripts/vendor/v",
        "#!/bin/sh\n",
        0o700,
    );
    assert!(handle_vendor(&env.ctx("scripts_vendor")).is_err());
}

#[test]
fn real_scripts_run_in_a_chroot_when_root() {
    let Some(root) = crate::testutil::chroot_root() else {
        eprintln!("note: not root or /bin/sh not copyable; chroot test skipped");
        return;
    };
    let mut env = TestEnv::new(json!({}));
    env.host = ci_host::Host::new(root.path());
    let dir = "/var/lib/cloud/scripts/per-instance";
    env.write_mode(&format!("{dir}/a"), "#!/bin/sh\necho a >> /order\n", 0o755);
    env.write_mode(
        &format!("{dir}/b"),
        "#!/bin/sh\necho b >> /order\nexit 4\n",
        0o755,
    );
    env.write_mode(&format!("{dir}/c"), "#!/bin/sh\necho c >> /order\n", 0o755);
    let err = handle_per_instance(&env.ctx("scripts_per_instance")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Runparts: 1 failures (b) in 3 attempted commands"
    );
    assert_eq!(env.read("/order"), "a\nb\nc\n");
}

#[test]
fn bytes_vendor_prefix_matches_upstream() {
    logcap::init();
    let vendor = "/var/lib/cloud/instances/i-test/scripts/vendor";
    // A bytes prefix is neither str nor list: upstream's TypeError, logged
    // as the vendor step's failure.
    let env =
        TestEnv::new(ci_yaml::load("vendor_data: {prefix: !!binary L3Vzci9iaW4vZW52}").unwrap());
    env.write_mode(&format!("{vendor}/v1"), "#!/bin/sh\n", 0o700);
    let err = handle_vendor(&env.ctx("scripts_vendor")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "exe_prefix must be None, str, or list (got bytes)"
    );
    assert_eq!(err.py_class(), "TypeError");
    assert!(logcap::warnings().contains(
        &"Failed to run module scripts_vendor (vendor in /var/lib/cloud/instance/scripts/vendor)"
            .to_string()
    ));
    assert!(env.rec.calls().is_empty());
    crate::users_groups::tests::assert_no_marker(&env);

    // Bytes words of a list go on the command line as they are.
    let env = TestEnv::new(
        ci_yaml::load("vendor_data: {prefix: [!!binary L3Vzci9iaW4vZW52, X=1]}").unwrap(),
    );
    env.write_mode(&format!("{vendor}/v1"), "#!/bin/sh\n", 0o700);
    handle_vendor(&env.ctx("scripts_vendor")).unwrap();
    assert_eq!(env.rec.lines(), [format!("/usr/bin/env X=1 {vendor}/v1")]);
    crate::users_groups::tests::assert_no_marker(&env);

    // ... which cannot hold bytes that are not UTF-8: a clear error instead.
    let env = TestEnv::new(ci_yaml::load("vendor_data: {prefix: [!!binary /w==]}").unwrap());
    env.write_mode(&format!("{vendor}/v1"), "#!/bin/sh\n", 0o700);
    let err = handle_vendor(&env.ctx("scripts_vendor")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "vendor_data.prefix: b'\\xff' is bytes that are not UTF-8 and cannot be put on a command line"
    );
    assert!(env.rec.calls().is_empty());
    crate::users_groups::tests::assert_no_marker(&env);
}

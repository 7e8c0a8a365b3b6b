//! Module names as upstream reports them, on a sandbox Debian root booted
//! with our Debian cloud.cfg (whose lists spell most modules with dashes):
//! a failing `users-groups` is recorded under that spelling in the status
//! errors and events, its semaphore keeps underscores; `ssh_import_id`
//! configured per user without the tool installed warns and still counts as
//! run; modules that find nothing to do still leave upstream's
//! semaphores; `single` with an unknown module name fails as upstream.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use serde_json::json;

const USER_DATA: &str = r#"#cloud-config
users:
  - default
  - name: alice
    ssh_import_id: [gh:someone]
  - name: bob
    ssh_redirect_user: bad
"#;

#[test]
fn failing_dashed_module_and_ssh_import_id_without_the_tool() {
    let Some(base) = debian_root() else { return };
    let sb = Sandbox::new(
        &base,
        &[
            ("meta-data", b"instance-id: iid-names\n".as_slice()),
            ("user-data", USER_DATA.as_bytes()),
        ],
    );
    assert!(!sb.path("/usr/bin/ssh-import-id").exists());
    let codes = sb.boot();
    // bob is never created, so ssh-authkey-fingerprints fails later too.
    assert_eq!(codes, vec![0, 1, 0, 1], "log:\n{}", sb.log());

    let (status, _) = sb.status_json();
    let error = "('users-groups', RuntimeError('Not creating user bob. Invalid value of ssh_redirect_user: bad. Expected values: true, default or false.'))";
    assert_eq!(status["init"]["errors"], json!([error]), "{status}");
    assert_eq!(status["errors"][0], json!(error), "{status}");
    // Upstream's `pwd.getpwnam` KeyError for the user never created.
    assert_eq!(
        status["modules-final"]["errors"],
        json!(["('ssh-authkey-fingerprints', KeyError(\"getpwnam(): name not found: 'bob'\"))"]),
        "{status}"
    );

    let log = sb.log();
    assert!(
        log.contains(
            "Running module users-groups (<module 'cloudinit.config.cc_users_groups'>) failed"
        ),
        "{log}"
    );
    assert!(log.contains("init-network/config-users-groups"), "{log}");
    assert!(
        log.contains(
            "ssh-import-id is not installed, but module ssh_import_id is configured. Skipping module."
        ),
        "{log}"
    );
    assert_eq!(
        status["modules-config"]["recoverable_errors"]["WARNING"],
        json!([
            "ssh-import-id is not installed, but module ssh_import_id is configured. Skipping module."
        ]),
        "{status}"
    );

    let sem = sb.path("/var/lib/cloud/instances/iid-names/sem");
    for name in [
        "config_users_groups",
        "config_ssh_import_id",
        "config_apt_configure",
        "config_byobu",
        "config_mounts",
        "config_reset_rmc",
        "config_install_hotplug",
    ] {
        assert!(sem.join(name).exists(), "{name} missing");
    }
}

/// With the tool installed (a fake that writes down who ran it and with
/// what), each user's ids are imported as that user through the root's
/// own sudo, inside the root.
#[test]
fn ssh_import_id_runs_the_tool_as_each_user() {
    let Some(base) = debian_root() else { return };
    let user_data = "#cloud-config\nssh_import_id: [gh:deb-one, lp:deb-two]\nusers:\n  - default\n  - name: alice\n    ssh_import_id: gh:a1,gh:a2\n";
    let sb = Sandbox::new(
        &base,
        &[
            ("meta-data", b"instance-id: iid-import\n".as_slice()),
            ("user-data", user_data.as_bytes()),
        ],
    );
    sb.write(
        "/usr/bin/ssh-import-id",
        b"#!/bin/sh\necho \"$(id -un) $HOME $*\" > /var/tmp/ssh-import-id.$(id -un)\n",
    );
    std::fs::set_permissions(
        sb.path("/usr/bin/ssh-import-id"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let codes = sb.boot();
    assert_eq!(codes, vec![0, 0, 0, 0], "log:\n{}", sb.log());
    assert_eq!(
        sb.read("/var/tmp/ssh-import-id.debian"),
        "debian /home/debian gh:deb-one lp:deb-two\n"
    );
    assert_eq!(
        sb.read("/var/tmp/ssh-import-id.alice"),
        "alice /home/alice gh:a1 gh:a2\n"
    );
    let (status, _) = sb.status_json();
    assert_eq!(status["status"], "done", "{status}");
    assert!(sb
        .path("/var/lib/cloud/instances/iid-import/sem/config_ssh_import_id")
        .exists());
}

/// `single` with a name no module has, or a removed module's: logged as
/// upstream's loader and `main_single` do, exit 1, nothing recorded.
#[test]
fn single_with_an_unknown_or_removed_module() {
    let Some(base) = debian_root() else { return };
    let sb = Sandbox::new(
        &base,
        &[("meta-data", b"instance-id: iid-single\n".as_slice())],
    );
    let codes = sb.boot();
    assert_eq!(codes, vec![0, 0, 0, 0], "log:\n{}", sb.log());

    let out = sb.ci(&["single", "--name", "nosuch"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let out = sb.ci(&["single", "--name", "rightscale_userdata"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");

    let log = sb.log();
    for line in [
        "modules.py[WARNING]: Could not find module named cc_nosuch (searched ['cc_nosuch', 'cloudinit.config.cc_nosuch'])",
        "main.py[WARNING]: Did not run nosuch, does it exist?",
        "modules.py[INFO]: Module `rightscale_userdata` has been removed from cloud-init. It may be removed from `/etc/cloud/cloud.cfg`.",
        "main.py[WARNING]: Did not run rightscale_userdata, does it exist?",
    ] {
        assert!(log.contains(line), "missing {line:?} in:\n{log}");
    }
    assert!(!log.contains("Could not find module named nosuch"), "{log}");
    assert!(!sb
        .path("/var/lib/cloud/instances/iid-single/sem/config_nosuch")
        .exists());
}

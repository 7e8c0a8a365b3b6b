use super::*;
use crate::testutil::{chroot_root, logcap, TestEnv};
use ci_host::{Host, Where};
use serde_json::json;

const WARNING: &str =
    "ssh-import-id is not installed, but module ssh_import_id is configured. Skipping module.";

fn debian(cfg: serde_json::Value) -> TestEnv {
    let mut cfg = cfg;
    cfg["system_info"] = json!({
        "distro": "debian",
        "default_user": {"name": "debian", "groups": ["sudo"]}
    });
    let mut env = TestEnv::new(cfg.clone());
    // Modules see the config without system_info (the distro keeps it).
    if let Some(m) = env.cfg.as_object_mut() {
        m.remove("system_info");
    }
    env.write(
        "/etc/passwd",
        "root:x:0:0:root:/root:/bin/bash\ndebian:x:1000:1000::/home/debian:/bin/bash\nalice:x:1001:1001::/home/alice:/bin/bash\n",
    );
    env
}

fn install(env: &TestEnv, progs: &[&str]) {
    for p in progs {
        env.write_mode(&format!("/usr/bin/{p}"), "#!/bin/sh\nexit 0\n", 0o755);
    }
}

#[test]
fn finds_the_key_at_any_depth_as_upstream() {
    assert!(key_in_nested(&json!({"ssh_import_id": []}), KEY));
    assert!(key_in_nested(
        &json!({"users": ["default", {"name": "a", "ssh_import_id": "gh:a"}]}),
        KEY
    ));
    assert!(key_in_nested(
        &json!({"a": {"b": {"ssh_import_id": 1}}}),
        KEY
    ));
    assert!(!key_in_nested(
        &json!({"users": [["x", {"ssh_import_id": 1}]]}),
        KEY
    ));
    assert!(!key_in_nested(&json!({"ssh-import-id": 1}), KEY));
}

#[test]
fn nothing_configured_is_quiet() {
    logcap::init();
    let env = debian(json!({"users": ["default", {"name": "alice"}]}));
    install(&env, &["ssh-import-id", "sudo"]);
    handle(&env.ctx("ssh_import_id")).unwrap();
    assert!(env.rec.calls().is_empty());
    assert!(logcap::warnings().is_empty());
}

#[test]
fn per_user_ids_without_the_tool_warn_as_upstream() {
    logcap::init();
    let env = debian(json!({"users": [{"name": "alice", "ssh_import_id": ["gh:someone"]}]}));
    install(&env, &["sudo"]);
    handle(&env.ctx("ssh_import_id")).unwrap();
    assert_eq!(logcap::warnings(), vec![WARNING]);
    assert!(env.rec.calls().is_empty());
}

#[test]
fn each_user_imports_its_ids_through_sudo_in_the_target() {
    logcap::init();
    let env = debian(json!({
        "ssh_import_id": ["gh:deb", "lp:deb", "gh:deb"],
        "users": [
            "default",
            {"name": "alice", "ssh-import-id": "gh:a1,gh:a2,gh:a1"},
            {"name": "root"},
        ]
    }));
    install(&env, &["ssh-import-id", "sudo", "doas"]);
    handle(&env.ctx("ssh_import_id")).unwrap();
    let calls = env.rec.calls();
    assert!(calls.iter().all(|c| c.place == Where::Target));
    assert_eq!(
        env.rec.lines(),
        vec![
            "sudo --preserve-env=https_proxy -Hu alice ssh-import-id gh:a1 gh:a2",
            "sudo --preserve-env=https_proxy -Hu debian ssh-import-id gh:deb lp:deb",
        ]
    );
    assert!(logcap::warnings().is_empty());
}

#[test]
fn the_default_users_string_is_one_id_and_doas_stands_in_for_sudo() {
    let env = debian(json!({"ssh_import_id": "gh:a,gh:b", "users": ["default"]}));
    install(&env, &["ssh-import-id", "doas"]);
    handle(&env.ctx("ssh_import_id")).unwrap();
    assert_eq!(
        env.rec.lines(),
        vec!["doas -u debian ssh-import-id gh:a,gh:b"]
    );
}

#[test]
fn neither_sudo_nor_doas_is_logged_and_not_a_failure() {
    logcap::init();
    let env = debian(json!({"ssh_import_id": ["gh:x"], "users": ["default"]}));
    install(&env, &["ssh-import-id"]);
    handle(&env.ctx("ssh_import_id")).unwrap();
    assert!(env.rec.calls().is_empty());
    assert_eq!(
        logcap::warnings(),
        vec!["Neither sudo nor doas available! Unable to import SSH ids."]
    );
}

#[test]
fn module_arguments_name_the_user_and_ids() {
    let mut env = debian(json!({"ssh_import_id": []}));
    install(&env, &["ssh-import-id", "sudo"]);
    env.args = vec!["alice".into(), "gh:one".into(), "gh:two".into()];
    handle(&env.ctx("ssh_import_id")).unwrap();
    assert_eq!(
        env.rec.lines(),
        vec!["sudo --preserve-env=https_proxy -Hu alice ssh-import-id gh:one gh:two"]
    );
}

#[test]
fn an_unknown_user_fails_after_the_others_are_done() {
    logcap::init();
    let env = debian(json!({
        "ssh_import_id": ["gh:deb"],
        "users": ["default", {"name": "ghost", "ssh_import_id": ["gh:g"]}]
    }));
    install(&env, &["ssh-import-id", "sudo"]);
    let err = handle(&env.ctx("ssh_import_id")).unwrap_err();
    assert_eq!(
        err.py_repr(),
        "KeyError(\"getpwnam(): name not found: 'ghost'\")"
    );
    assert_eq!(
        env.rec.lines(),
        vec!["sudo --preserve-env=https_proxy -Hu debian ssh-import-id gh:deb"]
    );
    assert_eq!(
        logcap::warnings(),
        vec!["ssh-import-id failed for: ghost ['gh:g']"]
    );
}

#[test]
fn a_failing_import_is_a_process_execution_error() {
    logcap::init();
    let env = debian(json!({"users": [{"name": "alice", "ssh_import_id": ["gh:a"]}]}));
    install(&env, &["ssh-import-id", "sudo"]);
    env.rec.answer("sudo", 1, b"");
    let err = handle(&env.ctx("ssh_import_id")).unwrap_err();
    assert_eq!(err.py_class(), "ProcessExecutionError");
    assert!(err.to_string().starts_with(
        "Unexpected error while running command.\nCommand: ['sudo', '--preserve-env=https_proxy', '-Hu', 'alice', 'ssh-import-id', 'gh:a']\nExit code: 1\n"
    ));
    assert_eq!(
        logcap::warnings(),
        vec![
            "Failed to run command to import alice SSH ids",
            "ssh-import-id failed for: alice ['gh:a']"
        ]
    );
}

#[test]
fn badly_typed_per_user_ids_are_skipped() {
    let env = debian(json!({"users": [{"name": "alice", "ssh_import_id": 5}]}));
    install(&env, &["ssh-import-id", "sudo"]);
    handle(&env.ctx("ssh_import_id")).unwrap();
    assert!(env.rec.calls().is_empty());
}

/// Root only: the command really runs through `chroot` in a temp root whose
/// fake `sudo` writes down its arguments.
#[test]
fn runs_inside_the_target_root() {
    let Some(dir) = chroot_root() else {
        eprintln!("skipped: needs root and chroot");
        return;
    };
    let host = Host::new(dir.path());
    let w = |p: &str, s: &str, m: u32| {
        host.write_atomic(p, s.as_bytes(), &ci_host::WriteOpts::mode(m))
            .unwrap()
    };
    w(
        "/etc/passwd",
        "root:x:0:0:root:/root:/bin/sh\nalice:x:1001:1001::/home/alice:/bin/sh\n",
        0o644,
    );
    w(
        "/usr/bin/sudo",
        "#!/bin/sh\necho \"$@\" > /sudo-args\n",
        0o755,
    );
    w("/usr/bin/ssh-import-id", "#!/bin/sh\nexit 0\n", 0o755);
    let cfg = json!({"users": [{"name": "alice", "ssh_import_id": ["gh:someone"]}]});
    let distro = ci_distro::Distro::from_config(&json!({"system_info": {"distro": "debian"}}));
    let paths = ci_state::Paths::default().with_instance("i-1");
    let inst = crate::InstanceInfo::default();
    let ctx = Ctx {
        name: "ssh-import-id",
        host: &host,
        cfg: &cfg,
        distro: &distro,
        paths: &paths,
        instance: &inst,
        args: &[],
        version: "x",
        uptime: 0.0,
    };
    handle(&ctx).unwrap();
    assert_eq!(
        host.read_to_string("/sudo-args").unwrap(),
        "--preserve-env=https_proxy -Hu alice ssh-import-id gh:someone\n"
    );
}

use super::*;
use crate::testutil::{logcap, TestEnv};
use serde_json::json;

const APT: &str = "apt-get --option=Dpkg::Options::=--force-confold --option=Dpkg::options::=--force-unsafe-io --assume-yes --quiet";

/// A target with ansible installed and the tools the module calls.
fn env_with(ansible: Value) -> TestEnv {
    let env = bare_env(ansible);
    env.rec.answer(
        "ansible-pull",
        0,
        b"ansible-pull [core 2.14.18]\n  config file = None\n",
    );
    env
}

/// [`env_with`] without the version answer (the first answer given wins).
fn bare_env(ansible: Value) -> TestEnv {
    let env = TestEnv::new(json!({ "ansible": ansible }));
    for tool in [
        "ansible",
        "ansible-pull",
        "ansible-galaxy",
        "ansible-playbook",
        "git",
        "su",
        "sh",
        "python3",
        "apt-get",
        "apt-cache",
    ] {
        env.write_mode(&format!("/usr/bin/{tool}"), "", 0o755);
    }
    env
}

fn pull_cfg(pull: Value) -> Value {
    json!({"install_method": "distro", "package_name": "ansible-core", "pull": pull})
}

#[test]
fn example1_distro_pull() {
    let env = env_with(pull_cfg(
        json!({"url": "https://git.example.org/boot.git", "playbook_name": "site.yml"}),
    ));
    handle(&env.ctx("ansible")).unwrap();
    assert_eq!(
        env.rec.lines(),
        [
            "ansible-pull --version",
            "ansible-pull --url=https://git.example.org/boot.git site.yml"
        ]
    );
    let calls = env.rec.calls();
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    assert_eq!(calls[1].env, [("HOME".to_string(), home)]);
}

#[test]
fn distro_install_when_missing_then_not_installed() {
    let env = env_with(pull_cfg(json!({"url": "u", "playbook_name": "p"})));
    std::fs::remove_file(env.host.path("/usr/bin/ansible")).unwrap();
    env.rec.answer("apt-cache", 0, b"ansible-core\n");
    let e = handle(&env.ctx("ansible")).unwrap_err();
    assert_eq!(
        e.py_repr(),
        "ValueError('command: ansible is not installed')"
    );
    assert_eq!(
        env.rec.lines(),
        [
            format!("{APT} update"),
            "apt-cache pkgnames".to_string(),
            format!("{APT} install ansible-core")
        ]
    );
}

#[test]
fn pull_options_in_config_order() {
    let env = env_with(pull_cfg(json!({
        "url": "https://git.example.org/boot.git",
        "playbook_name": "site.yml",
        "accept_host_key": true,
        "clean": false,
        "full": true,
        "diff": true,
        "checkout": "main",
        "ssh_common_args": "-o StrictHostKeyChecking=no",
        "vault_id": "prod@/etc/vault",
        "sleep": "5",
        "timeout": 30,
    })));
    handle(&env.ctx("ansible")).unwrap();
    assert_eq!(
        env.rec.calls()[1].argv,
        [
            "ansible-pull",
            "--url=https://git.example.org/boot.git",
            "--accept-host-key",
            "--full",
            "--diff",
            "--checkout=main",
            "--ssh-common-args=-o StrictHostKeyChecking=no",
            "--vault-id=prod@/etc/vault",
            "--sleep=5",
            "--timeout=30",
            "site.yml"
        ]
    );
}

#[test]
fn version_checks() {
    // Too old for --diff.
    let env = bare_env(pull_cfg(
        json!({"url": "u", "playbook_name": "p", "diff": true}),
    ));
    env.rec.answer("ansible-pull", 0, b"ansible-pull 2.6\n");
    let e = handle(&env.ctx("ansible")).unwrap_err();
    assert_eq!(
        e.py_repr(),
        "ValueError(\"Ansible version 2.6.-1doesn't support --diff flag, exiting.\")"
    );
    // Old but no --diff: runs.
    let env = bare_env(pull_cfg(json!({"url": "u", "playbook_name": "p"})));
    env.rec.answer("ansible-pull", 0, b"ansible-pull 2.5.1\n");
    handle(&env.ctx("ansible")).unwrap();
    assert_eq!(env.rec.lines().len(), 2);
    // No number at all: a warning, and the pull still runs.
    logcap::init();
    let env = bare_env(pull_cfg(
        json!({"url": "u", "playbook_name": "p", "diff": true}),
    ));
    env.rec.answer("ansible-pull", 0, b"ansible-pull (devel)\n");
    handle(&env.ctx("ansible")).unwrap();
    assert!(logcap::warnings().contains(&"Cannot parse ansible version".to_string()));
    assert_eq!(env.rec.lines()[1], "ansible-pull --url=u --diff p");
    // Nothing printed: upstream's IndexError.
    let env = bare_env(pull_cfg(json!({"url": "u", "playbook_name": "p"})));
    env.rec.answer("ansible-pull", 0, b"");
    let e = handle(&env.ctx("ansible")).unwrap_err();
    assert_eq!(e.py_repr(), "IndexError('pop from empty list')");
}

#[test]
fn version_parsing_and_ordering() {
    assert_eq!(
        first_version_run("ansible-pull [core 2.14.3]"),
        Some("2.14.3")
    );
    assert_eq!(first_version_run("x. 2"), Some("."));
    assert_eq!(first_version_run("none"), None);
    let v = |s: &str| Version::parse(s).unwrap();
    assert!(v("2.6.9") < DIFF_SINCE);
    assert!(v("2.7") < DIFF_SINCE);
    assert!(v("2.7.0") >= DIFF_SINCE);
    assert!(v("3.0") >= DIFF_SINCE);
    // Every segment is converted before the count is checked, as upstream.
    assert_eq!(
        Version::parse("1.2.3.4.x").unwrap_err().py_class(),
        "ValueError"
    );
    assert_eq!(
        Version::parse(".").unwrap_err().py_repr(),
        "ValueError(\"invalid literal for int() with base 10: ''\")"
    );
    assert_eq!(
        Version::parse("1.2.3.4.5").unwrap_err().py_class(),
        "TypeError"
    );
}

#[test]
fn run_user_goes_through_su() {
    let env = env_with(json!({
        "install_method": "distro",
        "package_name": "ansible",
        "run_user": "ops",
        "galaxy": {"actions": [["ansible-galaxy", "collection", "install", "community.general"]]},
        "pull": {"url": "u", "playbook_name": "p"},
        "setup_controller": {
            "repositories": [{"path": "/home/ops/repo", "source": "https://git.example.org/r.git"}],
            "run_ansible": [{"playbook_dir": "/home/ops/repo", "playbook_name": "a.yml", "list_hosts": true}],
        },
    }));
    env.rec.answer("su", 0, b"ansible-pull [core 2.16.0]\n");
    handle(&env.ctx("ansible")).unwrap();
    let calls = env.rec.calls();
    let lines: Vec<String> = calls.iter().map(|c| c.argv[4].clone()).collect();
    assert!(calls
        .iter()
        .all(|c| c.argv[..4] == ["su", "-", "ops", "-c"]));
    assert_eq!(
        lines,
        [
            "env PATH=$PATH ansible-galaxy collection install community.general",
            "env PATH=$PATH ansible-pull --version",
            "env PATH=$PATH ansible-pull --url=u p",
            "env PATH=$PATH git clone https://git.example.org/r.git /home/ops/repo",
            "cd /home/ops/repo && env PATH=$PATH ansible-playbook a.yml --list-hosts=True",
        ]
    );
    // su gets the environment of the boot, not upstream's extra variables.
    assert!(calls.iter().all(|c| c.env.is_empty()));
}

#[test]
fn controller_as_root_runs_in_the_playbook_dir() {
    let env = env_with(json!({
        "install_method": "distro",
        "package_name": "ansible",
        "ansible_config": "/etc/ansible/ansible.cfg",
        "setup_controller": {
            "run_ansible": [{"playbook_dir": "/srv/pb", "playbook_name": "a.yml", "check": false, "forks": 5}],
        },
    }));
    env.host.create_dir_all("/srv/pb", 0o755).unwrap();
    handle(&env.ctx("ansible")).unwrap();
    let call = &env.rec.calls()[0];
    assert_eq!(
        call.argv,
        [
            "sh",
            "-c",
            "cd \"$1\" && shift && exec \"$@\"",
            "sh",
            "/srv/pb",
            "ansible-playbook",
            "a.yml",
            "--forks=5"
        ]
    );
    assert!(call
        .env
        .contains(&("ansible_config".into(), "/etc/ansible/ansible.cfg".into())));

    // A playbook directory that is not there fails before the program runs.
    let env = env_with(json!({
        "install_method": "distro",
        "package_name": "ansible",
        "setup_controller": {"run_ansible": [{"playbook_dir": "/nope", "playbook_name": "a.yml"}]},
    }));
    let e = handle(&env.ctx("ansible")).unwrap_err();
    assert_eq!(e.py_class(), "ProcessExecutionError");
    assert!(
        e.to_string()
            .contains("Reason: [Errno 2] No such file or directory: '/nope'"),
        "{e}"
    );
    assert!(env.rec.lines().is_empty());
}

#[test]
fn galaxy_without_actions_warns_and_missing_tool_fails() {
    logcap::init();
    let env = env_with(json!({
        "install_method": "distro",
        "package_name": "ansible",
        "galaxy": {"actions": []},
    }));
    handle(&env.ctx("ansible")).unwrap();
    assert!(logcap::warnings().contains(&"Invalid config: {'actions': []}".to_string()));

    let env = env_with(json!({
        "install_method": "distro",
        "package_name": "ansible",
        "galaxy": {"actions": [["ansible-galaxy", "role", "install", "x"], ["echo", "no"]]},
    }));
    let e = handle(&env.ctx("ansible")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Unexpected error while running command.\nCommand: ['echo', 'no']\nExit code: -\nReason: [Errno 2] No such file or directory: b'echo'\nStdout: -\nStderr: -"
    );
    assert_eq!(env.rec.lines(), ["ansible-galaxy role install x"]);
}

#[test]
fn validation_messages() {
    let check = |cfg: Value, want: &str| {
        let env = env_with(cfg);
        let e = handle(&env.ctx("ansible")).unwrap_err();
        assert_eq!(e.py_class(), "ValueError");
        assert_eq!(e.to_string(), want);
        assert!(env.rec.lines().is_empty());
    };
    check(
        json!({"install_method": "distro"}),
        "Missing required key 'package_name' from {'install_method': 'distro'}",
    );
    check(
        json!({"install_method": "distro", "package_name": "a", "pull": {"url": "u"}}),
        "Missing required key 'pull/playbook_name' from {'install_method': 'distro', 'package_name': 'a', 'pull': {'url': 'u'}}",
    );
    check(
        json!({"install_method": "distro", "package_name": "a", "setup_controller": {"repositories": []}}),
        "Missing required key from {'repositories': []}",
    );
    check(
        json!({"install_method": "snap", "package_name": "a"}),
        "Invalid install method {install}",
    );
    // Empty section: nothing to do.
    let env = env_with(json!({}));
    handle(&env.ctx("ansible")).unwrap();
    let env = TestEnv::new(json!({"ansible": "x"}));
    assert_eq!(
        handle(&env.ctx("ansible")).unwrap_err().py_repr(),
        "AttributeError(\"'str' object has no attribute 'get'\")"
    );
}

#[test]
fn pip_install_as_root() {
    let env = env_with(json!({"install_method": "pip", "package_name": "ansible-core"}));
    env.host
        .create_dir_all("/usr/lib/python3.13", 0o755)
        .unwrap();
    env.write(
        "/usr/lib/python3.13/EXTERNALLY-MANAGED",
        "[externally-managed]\n",
    );
    // The interpreter has pip; `pip list` shows no ansible, then (after the
    // install) it does: the recording runner answers the same each time, so
    // make the second list answer through a different program name.
    env.rec
        .answer("/usr/bin/python3", 0, b"True\n/usr/lib/python3.13\n");
    let e = handle(&env.ctx("ansible")).unwrap_err();
    assert_eq!(
        e.py_repr(),
        "ValueError('command: ansible is not installed')"
    );
    let py = "/usr/bin/python3";
    assert_eq!(
        env.rec.lines()[1..],
        [
            format!("{py} -m pip list"),
            format!("{py} -m pip install --break-system-packages --upgrade pip"),
            format!("{py} -m pip install --break-system-packages ansible-core"),
            format!("{py} -m pip list"),
        ]
    );
}

#[test]
fn pip_installs_pip_first_and_runs_as_user() {
    let env =
        env_with(json!({"install_method": "pip", "package_name": "ansible", "run_user": "ops"}));
    std::fs::remove_file(env.host.path("/usr/bin/python3")).unwrap();
    env.rec.answer("apt-cache", 0, b"python3-pip\n");
    env.rec.answer("su", 0, b"ansible 9.1.0\n");
    handle(&env.ctx("ansible")).unwrap();
    let lines = env.rec.lines();
    assert_eq!(
        lines[0],
        "su - ops -c env PATH=$PATH /usr/bin/python3 -c import site; print(site.getuserbase())"
    );
    assert_eq!(lines[3], format!("{APT} install python3-pip"));
    assert_eq!(
        lines[4..],
        [
            "su - ops -c env PATH=$PATH /usr/bin/python3 -m pip list --user",
            "su - ops -c env PATH=$PATH /usr/bin/python3 -m pip list --user",
        ]
    );
}

#[test]
fn empty_run_user_runs_as_root_and_sections_must_be_mappings() {
    let env = env_with(json!({
        "install_method": "distro",
        "package_name": "ansible",
        "run_user": "",
        "galaxy": {"actions": [["ansible-galaxy", "role", "list"]]},
    }));
    handle(&env.ctx("ansible")).unwrap();
    assert_eq!(env.rec.lines(), ["ansible-galaxy role list"]);

    let env = env_with(json!({
        "install_method": "distro",
        "package_name": "ansible",
        "galaxy": ["ansible-galaxy", "role", "list"],
    }));
    let e = handle(&env.ctx("ansible")).unwrap_err();
    assert_eq!(
        e.py_repr(),
        "AttributeError(\"'list' object has no attribute 'get'\")"
    );
    assert!(env.rec.lines().is_empty());
}

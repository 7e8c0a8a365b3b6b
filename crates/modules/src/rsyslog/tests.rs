use super::*;
use crate::testutil::{logcap, TestEnv};
use serde_json::json;

fn exe(env: &TestEnv, path: &str) {
    env.write_mode(path, "#!/bin/sh\n", 0o755);
}

fn env_with(cfg: Value) -> TestEnv {
    let env = TestEnv::new(cfg);
    exe(&env, "/usr/sbin/service");
    exe(&env, "/usr/bin/systemctl");
    env
}

#[test]
fn example1_remotes_are_written_and_the_service_restarted() {
    let env = env_with(json!({"rsyslog": {
        "remotes": {"juju": "10.0.4.1", "maas": "192.168.1.1"},
        "service_reload_command": "auto"}}));
    handle(&env.ctx("rsyslog")).unwrap();
    assert_eq!(
        env.read("/etc/rsyslog.d/20-cloud-config.conf"),
        "# begin remotes\n*.* @10.0.4.1 # juju\n*.* @192.168.1.1 # maas\n# end remotes\n"
    );
    assert_eq!(env.mode("/etc/rsyslog.d/20-cloud-config.conf"), 0o644);
    assert_eq!(env.rec.lines(), ["service rsyslog restart"]);
}

#[test]
fn systemd_uses_reload_or_try_restart_and_the_svcname_option() {
    let env = env_with(json!({"rsyslog": {"configs": ["*.* @@h"]},
        "system_info": {"distro": "fedora", "rsyslog_svcname": "rsyslogd"}}));
    env.host
        .create_dir_all("/run/systemd/system", 0o755)
        .unwrap();
    handle(&env.ctx("rsyslog")).unwrap();
    assert_eq!(
        env.rec.lines(),
        ["systemctl reload-or-try-restart rsyslogd"]
    );
    let env = env_with(json!({"rsyslog": {"configs": ["x"]}, "system_info": {"distro": "arch"}}));
    handle(&env.ctx("rsyslog")).unwrap();
    assert_eq!(env.rec.lines(), ["systemctl reload-or-try-restart rsyslog"]);
    let env = env_with(json!({"rsyslog": {"configs": ["x"]}, "system_info": {"distro": "alpine"}}));
    exe(&env, "/sbin/rc-service");
    handle(&env.ctx("rsyslog")).unwrap();
    assert_eq!(env.rec.lines(), ["rc-service --nocolor rsyslog restart"]);
}

#[test]
fn example2_files_append_and_custom_reload_command() {
    let env = env_with(json!({"rsyslog": {
        "config_dir": "/opt/etc/rsyslog.d",
        "config_filename": "99-late-cloud-config.conf",
        "configs": ["*.* @@192.158.1.1",
            {"content": "*.*   @@192.0.2.1:10514", "filename": "01-example.conf"},
            {"content": "*.*   @@syslogd.example.com\n"}],
        "remotes": {"juju": "10.0.4.1", "maas": "192.168.1.1"},
        "service_reload_command": ["your", "syslog", "restart", "command"]}}));
    exe(&env, "/usr/bin/your");
    handle(&env.ctx("rsyslog")).unwrap();
    assert_eq!(
        env.read("/opt/etc/rsyslog.d/99-late-cloud-config.conf"),
        "*.* @@192.158.1.1\n*.*   @@syslogd.example.com\n# begin remotes\n*.* @10.0.4.1 # juju\n*.* @192.168.1.1 # maas\n# end remotes\n"
    );
    assert_eq!(
        env.read("/opt/etc/rsyslog.d/01-example.conf"),
        "*.*   @@192.0.2.1:10514\n"
    );
    assert_eq!(env.rec.lines(), ["your syslog restart command"]);
}

#[test]
fn a_failing_or_missing_reload_command_is_a_warning() {
    logcap::init();
    let env = env_with(json!({"rsyslog": {"configs": ["a"],
        "service_reload_command": "systemctl restart rsyslog"}}));
    handle(&env.ctx("rsyslog")).unwrap();
    assert!(env.rec.lines().is_empty());
    assert_eq!(
        logcap::warnings(),
        ["Failed to reload syslog Unexpected error while running command.\nCommand: systemctl restart rsyslog\nExit code: -\nReason: [Errno 2] No such file or directory: b'systemctl restart rsyslog'\nStdout: -\nStderr: -"]
    );
    let env = env_with(json!({"rsyslog": {"configs": ["a"]}}));
    env.rec.answer("service", 3, b"out1\nout2\n");
    handle(&env.ctx("rsyslog")).unwrap();
    assert_eq!(
        logcap::warnings().last().unwrap(),
        "Failed to reload syslog Unexpected error while running command.\nCommand: ['service', 'rsyslog', 'restart']\nExit code: 3\nReason: -\nStdout: out1\n        out2\nStderr: "
    );
}

#[test]
fn list_form_is_deprecated_and_reads_top_level_names() {
    let env = env_with(
        json!({"rsyslog": ["a", "b"], "rsyslog_dir": "/etc/rs", "rsyslog_filename": "x.conf"}),
    );
    handle(&env.ctx("rsyslog")).unwrap();
    assert_eq!(env.read("/etc/rs/x.conf"), "a\nb\n");
}

#[test]
fn bad_entries_are_warned_and_skipped() {
    logcap::init();
    let env = env_with(
        json!({"rsyslog": {"configs": [{"filename": "a"}, {"content": "x", "filename": "  "}, 5]}}),
    );
    handle(&env.ctx("rsyslog")).unwrap();
    assert_eq!(
        logcap::warnings(),
        [
            "No 'content' entry in config entry 1",
            "Entry 2 has an empty filename",
            "Failed to write to /etc/rsyslog.d/20-cloud-config.conf"
        ]
    );
    // The file counted as changed, so the service is still reloaded.
    assert_eq!(env.rec.lines(), ["service rsyslog restart"]);
}

#[test]
fn wrong_types_are_upstreams_value_errors() {
    let env = env_with(json!({"rsyslog": {"configs": "x"}}));
    let e = handle(&env.ctx("rsyslog")).unwrap_err();
    assert_eq!(e.py_class(), "ValueError");
    assert_eq!(
        e.to_string(),
        "Invalid type for key `configs`. Expected type(s): <class 'list'>. Current type: <class 'str'>"
    );
    let env = env_with(json!({"rsyslog": {"service_reload_command": 1}}));
    let e = handle(&env.ctx("rsyslog")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Invalid type for key `service_reload_command`. Expected type(s): (<class 'str'>, <class 'list'>). Current type: <class 'int'>"
    );
}

#[test]
fn empty_configs_do_nothing() {
    let env = env_with(json!({"rsyslog": {}}));
    handle(&env.ctx("rsyslog")).unwrap();
    assert!(env.rec.lines().is_empty());
    assert!(!env.host.exists("/etc/rsyslog.d"));
}

#[test]
fn install_is_skipped_when_check_exe_exists() {
    let env = env_with(json!({"rsyslog": {"install_rsyslog": true, "check_exe": "rsyslogd"}}));
    exe(&env, "/usr/sbin/rsyslogd");
    handle(&env.ctx("rsyslog")).unwrap();
    // Without apt the default package cannot be installed.
    let env = env_with(json!({"rsyslog": {"install_rsyslog": true}}));
    let e = handle(&env.ctx("rsyslog")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Failed to install the following packages: {'rsyslog'}. See associated package manager logs for more details."
    );
}

#[test]
fn missing_rsyslog_installs_the_configured_packages() {
    let env = env_with(json!({"rsyslog": {"install_rsyslog": true,
        "packages": ["rsyslog", "rsyslog-gnutls"]},
        "system_info": {"distro": "rhel"}}));
    exe(&env, "/usr/bin/dnf");
    handle(&env.ctx("rsyslog")).unwrap();
    assert_eq!(env.rec.lines()[0], "dnf -y install rsyslog rsyslog-gnutls");
}

#[test]
fn freebsd_enables_rsyslog_and_switches_off_syslogd() {
    logcap::init();
    let env = env_with(json!({"rsyslog": {"configs": ["a"]},
        "system_info": {"distro": "freebsd", "rsyslog_svcname": "rsyslogd"}}));
    exe(&env, "/usr/sbin/kill");
    env.rec.answer("service", 0, b"");
    handle(&env.ctx("rsyslog")).unwrap();
    let lines = env.rec.lines();
    assert_eq!(
        &lines[..4],
        [
            "service rsyslogd enable",
            "service syslogd enabled",
            "service syslogd disable",
            "service syslogd onestop",
        ]
    );
    assert_eq!(lines[4], "service rsyslogd restart");
    assert!(env
        .host
        .exists("/usr/local/etc/rsyslog.d/20-cloud-config.conf"));
    let w = logcap::warnings();
    assert!(w.contains(&"Unable to reload rc(8): no RC_PID in Environment".to_string()));
    assert!(w.contains(
        &"syslogd is running before cloud-init! Please report this as bug to the porters!"
            .to_string()
    ));
}

#[test]
fn openbsd_fails_where_upstream_has_no_enabled_action() {
    let env =
        env_with(json!({"rsyslog": {"configs": ["a"]}, "system_info": {"distro": "openbsd"}}));
    exe(&env, "/usr/sbin/rcctl");
    let e = handle(&env.ctx("rsyslog")).unwrap_err();
    assert_eq!(e.py_repr(), "KeyError('enabled')");
    assert_eq!(env.rec.lines(), ["rcctl enable rsyslog"]);
}

#[test]
fn remote_lines_parse_as_upstream() {
    let cases = [
        ("10.0.4.1", Some("juju"), Ok("*.* @10.0.4.1 # juju")),
        ("@@10.0.4.1:514", None, Ok("*.* @@10.0.4.1:514")),
        (
            "kern.* @[::1]:10514 # v6",
            None,
            Ok("kern.* @[::1]:10514 # v6"),
        ),
        ("*.* ::1", None, Err("Invalid host specification '::1'")),
        ("@@@h", None, Ok("*.* @@@h")),
        ("*.* host:0", Some("n"), Ok("*.* @host # n")),
        ("a b c", None, Err("line had multiple spaces: a b c")),
        (
            "host:port",
            None,
            Err("Invalid host specification 'host:port'"),
        ),
        ("[]", None, Err("address is required")),
        ("[a", None, Err("host spec had invalid brackets: [a")),
    ];
    for (line, name, want) in cases {
        let got = parse_remotes_line(line, name)
            .unwrap()
            .map(|r| r.to_string());
        assert_eq!(got, want.map(String::from).map_err(String::from), "{line}");
    }
    assert!(parse_remotes_line("@@:514", None).is_err());
}

#[test]
fn an_unparsable_remote_is_warned_and_left_out() {
    logcap::init();
    let mut remotes = Map::new();
    remotes.insert("bad".into(), json!("a b c"));
    remotes.insert("good".into(), json!("h"));
    remotes.insert("empty".into(), json!(""));
    assert_eq!(
        remotes_to_rsyslog_cfg(&remotes).unwrap().unwrap(),
        "# begin remotes\n*.* @h # good\n# end remotes\n"
    );
    assert_eq!(
        logcap::warnings(),
        ["failed loading remote bad: a b c [line had multiple spaces: a b c]"]
    );
}

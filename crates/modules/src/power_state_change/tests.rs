use super::*;
use crate::testutil::{logcap, TestEnv};
use serde_json::json;

fn env_with(ps: Value, distro: &str) -> TestEnv {
    TestEnv::new(json!({"power_state": ps, "system_info": {"distro": distro}}))
}

fn argv_of(ps: Value, distro: &str) -> Result<Vec<String>, String> {
    let env = env_with(ps, distro);
    let (argv, _, _) = load_power_state(&env.cfg, &env.distro)?.unwrap();
    Ok(argv.unwrap())
}

fn err_of(ps: Value) -> String {
    let env = env_with(ps, "debian");
    load_power_state(&env.cfg, &env.distro).unwrap_err()
}

#[test]
fn linux_shutdown_flags_delay_and_message() {
    assert_eq!(
        argv_of(json!({"mode": "poweroff", "message": "Bye"}), "debian").unwrap(),
        ["shutdown", "-P", "now", "Bye"]
    );
    assert_eq!(
        argv_of(json!({"mode": "reboot", "delay": 30}), "ubuntu").unwrap(),
        ["shutdown", "-r", "+30"]
    );
    assert_eq!(
        argv_of(json!({"mode": "halt", "delay": "+5"}), "rhel").unwrap(),
        ["shutdown", "-H", "+5"]
    );
    // int() of a float truncates; an empty message is left out.
    assert_eq!(
        argv_of(json!({"mode": "halt", "delay": 2.9, "message": ""}), "sles").unwrap(),
        ["shutdown", "-H", "+2"]
    );
}

#[test]
fn bsd_poweroff_is_lowercase_p() {
    for d in ["freebsd", "openbsd", "netbsd"] {
        assert_eq!(
            argv_of(json!({"mode": "poweroff"}), d).unwrap(),
            ["shutdown", "-p", "now"],
            "{d}"
        );
        assert_eq!(
            argv_of(json!({"mode": "halt"}), d).unwrap(),
            ["shutdown", "-H", "now"]
        );
    }
}

#[test]
fn alpine_uses_the_mode_command_with_seconds_and_no_message() {
    assert_eq!(
        argv_of(
            json!({"mode": "reboot", "delay": "+5", "message": "m"}),
            "alpine"
        )
        .unwrap(),
        ["reboot", "-d", "300"]
    );
    assert_eq!(
        argv_of(json!({"mode": "poweroff"}), "alpine").unwrap(),
        ["poweroff", "-d", "0"]
    );
}

#[test]
fn config_errors_carry_upstreams_messages() {
    assert_eq!(
        err_of(json!({"delay": "now"})),
        "power_state[mode] required, must be one of: halt,poweroff,reboot. found: 'None'."
    );
    assert_eq!(
        err_of(json!({"mode": "sleep"})),
        "power_state[mode] required, must be one of: halt,poweroff,reboot. found: 'sleep'."
    );
    assert_eq!(
        err_of(json!({"mode": "reboot", "delay": "soon"})),
        "power_state[delay] must be 'now' or '+m' (minutes). found 'soon'."
    );
    assert_eq!(
        err_of(json!({"mode": "reboot", "delay": null})),
        "int() argument must be a string, a bytes-like object or a real number, not 'NoneType'"
    );
    assert_eq!(
        err_of(json!({"mode": "reboot", "timeout": "long"})),
        "failed to convert timeout 'long' to float."
    );
    assert_eq!(
        err_of(json!({"mode": "reboot", "condition": 3})),
        "condition type %s invalid. must be list, bool, str"
    );
    let env = TestEnv::new(json!({"power_state": "reboot"}));
    assert_eq!(
        load_power_state(&env.cfg, &env.distro).unwrap_err(),
        "power_state is not a dict."
    );
}

#[test]
fn python_int_parsing() {
    assert_eq!(parse_py_int(" +1_0 "), Some(10));
    assert_eq!(parse_py_int("-3"), Some(-3));
    assert_eq!(parse_py_int("1__0"), None);
    assert_eq!(parse_py_int("+"), None);
    assert_eq!(parse_py_int("5m"), None);
    // A negative delay passes through, as upstream's "+%d" makes it.
    assert_eq!(
        argv_of(json!({"mode": "reboot", "delay": "-2"}), "debian").unwrap(),
        ["shutdown", "-r", "+-2"]
    );
}

#[test]
fn handle_warns_and_records_nothing_on_bad_config() {
    logcap::init();
    let env = env_with(json!({"mode": "reboot", "delay": "soon"}), "debian");
    assert!(plan(&env.ctx("power_state_change")).is_none());
    assert_eq!(
        logcap::warnings(),
        ["power_state[delay] must be 'now' or '+m' (minutes). found 'soon'. Not performing power state change!"]
    );
}

#[test]
fn false_condition_plans_nothing() {
    let env = env_with(json!({"mode": "reboot", "condition": false}), "debian");
    assert!(plan(&env.ctx("power_state_change")).is_none());
    let env = TestEnv::new(json!({}));
    assert!(plan(&env.ctx("power_state_change")).is_none());
}

#[test]
fn deferred_runs_the_command_in_the_target_after_the_condition() {
    let env = env_with(
        json!({"mode": "reboot", "message": "Rebooting machine", "condition": "test -f /x"}),
        "debian",
    );
    let d = plan(&env.ctx("power_state_change")).unwrap();
    // Nothing runs while the stage is still going.
    assert!(env.rec.lines().is_empty());
    d.run();
    let calls = env.rec.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].argv, ["/bin/sh", "-c", "test -f /x"]);
    assert_eq!(calls[0].place, ci_host::Where::Target);
    assert_eq!(
        calls[1].argv,
        ["shutdown", "-r", "now", "Rebooting machine"]
    );
    assert_eq!(calls[1].place, ci_host::Where::Target);
}

#[test]
fn condition_exit_codes_decide() {
    logcap::init();
    let env = env_with(json!({"mode": "poweroff", "condition": "check"}), "debian");
    env.rec.answer("/bin/sh", 1, b"");
    plan(&env.ctx("power_state_change")).unwrap().run();
    assert_eq!(env.rec.lines(), ["/bin/sh -c check"]);
    assert!(logcap::warnings().is_empty());

    let env = env_with(json!({"mode": "poweroff", "condition": "check"}), "debian");
    env.rec.answer("/bin/sh", 2, b"");
    plan(&env.ctx("power_state_change")).unwrap().run();
    assert_eq!(env.rec.lines(), ["/bin/sh -c check"]);
    assert_eq!(
        logcap::warnings(),
        ["check_condition command (check): unexpected exit 2. do not apply change."]
    );
}

#[test]
fn list_condition_needs_its_program_in_the_target() {
    logcap::init();
    let env = env_with(
        json!({"mode": "poweroff", "condition": ["nope", "-x"]}),
        "debian",
    );
    plan(&env.ctx("power_state_change")).unwrap().run();
    assert!(env.rec.lines().is_empty());
    assert_eq!(
        logcap::warnings(),
        ["check_condition command (['nope', '-x']): Unexpected error: [Errno 2] No such file or directory: 'nope'"]
    );
    env.write_mode("/usr/bin/nope", "#!/bin/sh\n", 0o755);
    plan(&env.ctx("power_state_change")).unwrap().run();
    assert_eq!(env.rec.lines(), ["nope -x", "shutdown -P now"]);
}

#[test]
fn non_text_message_means_no_command_runs() {
    let env = env_with(json!({"mode": "poweroff", "message": 5}), "debian");
    plan(&env.ctx("power_state_change")).unwrap().run();
    assert!(env.rec.lines().is_empty());
}

#[test]
fn handle_defers_until_run_deferred() {
    let env = env_with(json!({"mode": "halt", "delay": 1}), "debian");
    handle(&env.ctx("power_state_change")).unwrap();
    assert!(env.rec.lines().is_empty());
    run_deferred();
    assert_eq!(env.rec.lines(), ["shutdown -H +1"]);
    // Once only.
    run_deferred();
    assert_eq!(env.rec.lines().len(), 1);
}

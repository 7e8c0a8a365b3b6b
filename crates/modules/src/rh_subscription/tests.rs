use super::*;
use crate::testutil::{logcap, TestEnv};
use ci_host::{CmdError, CmdOutput, Host, Runner};
use serde_json::json;
use std::sync::{Arc, Mutex};

/// Answers `subscription-manager <subcommand...>` by the longest matching
/// argument prefix; unmatched calls succeed silently.
#[derive(Default)]
struct SubMan {
    calls: Mutex<Vec<String>>,
    answers: Vec<(&'static str, i32, &'static str, &'static str)>,
}

impl Runner for SubMan {
    fn execute(&self, _host: &Host, cmd: &Cmd) -> Result<CmdOutput, CmdError> {
        let line = cmd.argv[1..].join(" ");
        self.calls.lock().unwrap().push(line.clone());
        let hit = self
            .answers
            .iter()
            .filter(|(p, ..)| line.starts_with(p))
            .max_by_key(|(p, ..)| p.len());
        let (status, out, err) = hit.map_or((0, "", ""), |(_, s, o, e)| (*s, *o, *e));
        Ok(CmdOutput {
            status,
            stdout: out.as_bytes().to_vec(),
            stderr: err.as_bytes().to_vec(),
        })
    }
}

const NOT_REGISTERED: (&str, i32, &str, &str) =
    ("identity", 1, "", "This system is not yet registered.\n");
const REGISTERED: (&str, i32, &str, &str) = (
    "register",
    0,
    "The system has been registered with ID: 12ab-34cd \nThe registered system name is: h\n",
    "",
);

fn setup(
    sub: Value,
    answers: Vec<(&'static str, i32, &'static str, &'static str)>,
) -> (TestEnv, Arc<SubMan>) {
    let mut env = TestEnv::new(json!({"system_info": {"distro": "rhel"}, "rh_subscription": sub}));
    let runner = Arc::new(SubMan {
        answers,
        ..Default::default()
    });
    env.host = Host::with_runner(env.host.root().to_path_buf(), runner.clone());
    env.write_mode("/usr/sbin/subscription-manager", "#!/bin/sh\n", 0o755);
    (env, runner)
}

fn calls(r: &SubMan) -> Vec<String> {
    r.calls.lock().unwrap().clone()
}

#[test]
fn registers_with_user_and_password_without_logging_the_password() {
    logcap::init();
    let (env, r) = setup(
        json!({"username": "joe@foo.bar", "password": "s3cr3t"}),
        vec![NOT_REGISTERED, REGISTERED],
    );
    handle(&env.ctx("rh_subscription")).unwrap();
    assert_eq!(
        calls(&r),
        [
            "identity",
            "register --username=joe@foo.bar --password=s3cr3t"
        ]
    );
    let all = logcap::all();
    assert!(
        all.contains(
            // Upstream keeps everything after "ID: " (only trailing blanks go).
            &"Registered successfully with ID 12ab-34cd \nThe registered system name is: h"
                .to_string()
        ),
        "{all:?}"
    );
    assert!(all.contains(&"rh_subscription plugin completed successfully".to_string()));
    assert!(all.iter().all(|l| !l.contains("s3cr3t")), "{all:?}");
    assert!(logcap::warnings().is_empty());
}

#[test]
fn activation_key_with_everything_after_it() {
    logcap::init();
    let (env, r) = setup(
        json!({
            "activation-key": "foobar", "org": 12345, "auto-attach": true,
            "service-level": "self-support", "add-pool": ["p1", "p2", "gone"],
            "enable-repo": ["r-off", "r-on", "r-none"], "disable-repo": ["r-on2", "r-x"],
            "rhsm-baseurl": "http://url", "server-hostname": "foo.bar.com"
        }),
        vec![
            NOT_REGISTERED,
            REGISTERED,
            ("list --available", 0, "p1\np2\np3\n", ""),
            ("list --consumed", 0, "p3\n", ""),
            (
                "repos --list-enabled",
                0,
                "Repo ID:   r-on\nRepo ID:   r-on2\n",
                "",
            ),
            ("repos --list-disabled", 0, "Repo ID:   r-off\n", ""),
        ],
    );
    handle(&env.ctx("rh_subscription")).unwrap();
    assert_eq!(
        calls(&r),
        [
            "identity",
            "register --activationkey=foobar --org=12345 --baseurl=http://url --serverurl=foo.bar.com",
            "attach --auto --servicelevel=self-support",
            "list --available --pool-only",
            "list --consumed --pool-only",
            "attach --pool=p1 --pool=p2",
            "repos --list-enabled",
            "repos --list-disabled",
            "repos --disable=r-on2 --enable=r-off",
        ]
    );
    assert_eq!(
        logcap::warnings(),
        [
            "Pool gone is not available",
            "Repo r-none does not appear to exist"
        ]
    );
}

#[test]
fn already_registered_does_nothing_more() {
    let (env, r) = setup(json!({"activation-key": "k", "org": "o"}), vec![]);
    handle(&env.ctx("rh_subscription")).unwrap();
    assert_eq!(calls(&r), ["identity"]);
}

#[test]
fn not_configured_runs_nothing() {
    let (env, r) = setup(json!({"username": "joe"}), vec![]);
    handle(&env.ctx("rh_subscription")).unwrap();
    assert!(calls(&r).is_empty());
}

#[test]
fn bad_keys_and_service_level_without_auto_attach_are_warnings() {
    logcap::init();
    let (env, r) = setup(
        json!({"activation-key": "k", "org": "o", "bogus": 1}),
        vec![NOT_REGISTERED],
    );
    handle(&env.ctx("rh_subscription")).unwrap();
    assert_eq!(calls(&r), ["identity"]);
    let w = logcap::warnings();
    assert!(
        w[0].starts_with(
            "bogus is not a valid key for rh_subscription. Valid keys are: org, activation-key, "
        ),
        "{w:?}"
    );
    assert_eq!(w[1], "rh_subscription plugin did not complete successfully");

    let (env, _) = env_sl();
    handle(&env.ctx("rh_subscription")).unwrap();
    assert!(logcap::warnings().contains(
        &"The service-level key must be used in conjunction with the auto-attach key.  Please re-run with auto-attach: True".to_string()
    ));
}

fn env_sl() -> (TestEnv, Arc<SubMan>) {
    setup(
        json!({"activation-key": "k", "org": "o", "service-level": "x", "auto-attach": false}),
        vec![NOT_REGISTERED],
    )
}

#[test]
fn failed_registration_warns_with_stderr() {
    logcap::init();
    let (env, _) = setup(
        json!({"username": "u", "password": "p"}),
        vec![
            NOT_REGISTERED,
            (
                "register",
                70,
                "",
                "Invalid username or password.\nTry again\n",
            ),
        ],
    );
    handle(&env.ctx("rh_subscription")).unwrap();
    assert_eq!(
        logcap::warnings(),
        [
            "Registration failed due to: Invalid username or password.\n        Try again",
            "Registration failed or did not run completely",
            "rh_subscription plugin did not complete successfully",
        ]
    );
}

#[test]
fn register_output_without_an_id_fails_the_module() {
    let (env, _) = setup(
        json!({"activation-key": "k", "org": "o"}),
        vec![NOT_REGISTERED, ("register", 0, "ok\n", "")],
    );
    let e = handle(&env.ctx("rh_subscription")).unwrap_err();
    assert_eq!(e.py_repr(), "IndexError('list index out of range')");
}

#[test]
fn missing_tool_is_an_incomplete_registration() {
    logcap::init();
    let (env, r) = setup(json!({"username": "u", "password": "p"}), vec![]);
    env.host
        .remove_file("/usr/sbin/subscription-manager")
        .unwrap();
    handle(&env.ctx("rh_subscription")).unwrap();
    assert!(calls(&r).is_empty());
    assert_eq!(
        logcap::warnings(),
        [
            "Registration failed or did not run completely",
            "rh_subscription plugin did not complete successfully",
        ]
    );
}

#[test]
fn incomplete_credentials_and_non_list_pools() {
    logcap::init();
    let (env, _) = setup(json!({"activation-key": "k"}), vec![NOT_REGISTERED]);
    handle(&env.ctx("rh_subscription")).unwrap();
    assert_eq!(
        logcap::warnings(),
        [
            "Unable to register system due to incomplete information.",
            "Use either activationkey and org *or* userid and password",
            "Registration failed or did not run completely",
            "rh_subscription plugin did not complete successfully",
        ]
    );
    let (env, r) = setup(
        json!({"activation-key": "k", "org": "o", "add-pool": "p1"}),
        vec![NOT_REGISTERED, REGISTERED],
    );
    handle(&env.ctx("rh_subscription")).unwrap();
    assert_eq!(calls(&r).len(), 2);
    assert!(logcap::warnings().contains(&"Pools must in the format of a list".to_string()));
}

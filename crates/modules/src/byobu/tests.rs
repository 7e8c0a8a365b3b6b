use super::*;
use crate::testutil::{logcap, TestEnv};
use serde_json::json;

fn env(cfg: Value) -> TestEnv {
    let env = TestEnv::new(cfg);
    env.write_mode("/usr/bin/byobu", "#!/bin/sh\n", 0o755);
    env
}
use serde_json::Value;

const SYS_ON: &str = "echo \"byobu byobu/launch-by-default boolean true\" | debconf-set-selections && dpkg-reconfigure byobu --frontend=noninteractive || X=$(($X+1)); ";
const SYS_OFF: &str = "echo \"byobu byobu/launch-by-default boolean false\" | debconf-set-selections && dpkg-reconfigure byobu --frontend=noninteractive || X=$(($X+1)); ";

fn script(env: &TestEnv) -> Vec<String> {
    env.rec.calls().iter().map(|c| c.argv[2].clone()).collect()
}

#[test]
fn enable_user_also_enables_system() {
    let env = env(json!({"byobu_by_default": "enable-user", "users": ["default"]}));
    handle(&env.ctx("byobu")).unwrap();
    let calls = env.rec.calls();
    assert_eq!(calls[0].argv[..2], ["/bin/sh", "-c"]);
    assert_eq!(
        script(&env),
        [format!(
            "X=0;  sudo -Hu \"debian\" byobu-launcher-install || X=$(($X+1)); {SYS_ON} exit $X"
        )]
    );
}

#[test]
fn disable_system_and_plain_disable() {
    let env1 = env(json!({"byobu_by_default": "disable-system"}));
    handle(&env1.ctx("byobu")).unwrap();
    assert_eq!(script(&env1), [format!("X=0; {SYS_OFF} exit $X")]);
    let env2 = env(
        json!({"byobu_by_default": "disable", "users": ["default"], "system_info": {"distro": "ubuntu",
        "default_user": {"name": "ubuntu"}}}),
    );
    handle(&env2.ctx("byobu")).unwrap();
    assert_eq!(
        script(&env2),
        [format!(
            "X=0;  sudo -Hu \"ubuntu\" byobu-launcher-uninstall || X=$(($X+1)); {SYS_OFF} exit $X"
        )]
    );
}

#[test]
fn short_forms_args_and_unknown_values() {
    logcap::init();
    let mut env1 = env(json!({"byobu_by_default": "disable"}));
    env1.args = vec!["system".into()];
    handle(&env1.ctx("byobu")).unwrap();
    assert_eq!(script(&env1), [format!("X=0; {SYS_ON} exit $X")]);
    let env2 = env(json!({"byobu_by_default": "sometimes"}));
    handle(&env2.ctx("byobu")).unwrap();
    assert!(env2.rec.calls().is_empty());
    assert_eq!(
        logcap::warnings(),
        ["Unknown value sometimes for byobu_by_default"]
    );
}

#[test]
fn no_default_user_is_a_warning_and_system_still_runs() {
    logcap::init();
    let env = env(json!({"byobu_by_default": "enable-user",
        "system_info": {"distro": "debian", "default_user": null}}));
    handle(&env.ctx("byobu")).unwrap();
    assert_eq!(script(&env), [format!("X=0; {SYS_ON} exit $X")]);
    assert_eq!(
        logcap::warnings(),
        ["No default byobu user provided, can not launch install for the default user"]
    );
}

#[test]
fn unset_skips_and_a_failing_script_fails_the_module() {
    let env1 = env(json!({}));
    handle(&env1.ctx("byobu")).unwrap();
    assert!(env1.rec.calls().is_empty());
    let env2 = env(json!({"byobu_by_default": "enable-system"}));
    env2.rec.answer("/bin/sh", 1, b"");
    let e = handle(&env2.ctx("byobu")).unwrap_err();
    assert_eq!(e.py_class(), "ProcessExecutionError");
    assert!(e.to_string().contains("Exit code: 1"));
    // byobu missing and no apt to install it: upstream's installer error.
    let env3 = TestEnv::new(json!({"byobu_by_default": "enable"}));
    let e = handle(&env3.ctx("byobu")).unwrap_err();
    assert_eq!(e.py_class(), "PackageInstallerError");
    assert!(env3.rec.calls().is_empty());
}

#[test]
fn missing_byobu_is_installed_through_the_package_layer_first() {
    let env = TestEnv::new(json!({"byobu_by_default": "enable-system"}));
    env.write_mode("/usr/bin/apt-get", "", 0o755);
    env.write_mode("/usr/bin/apt-cache", "", 0o755);
    env.rec.answer("apt-cache", 0, b"byobu\n");
    handle(&env.ctx("byobu")).unwrap();
    let lines = env.rec.lines();
    assert!(lines[0].starts_with("apt-get ") && lines[0].ends_with(" update"));
    assert_eq!(lines[1], "apt-cache pkgnames");
    assert!(lines[2].ends_with(" --assume-yes --quiet install byobu"));
    assert!(lines[3].starts_with("/bin/sh -c X=0; "));
}

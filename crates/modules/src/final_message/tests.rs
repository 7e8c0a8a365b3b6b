use super::*;
use crate::testutil::{logcap, TestEnv};
use serde_json::json;

fn env_with(cfg: Value) -> TestEnv {
    let mut env = TestEnv::new(cfg);
    env.instance.datasource = "DataSourceNoCloud [seed=/dev/vdb]".into();
    env.instance.datasource_name = "NoCloud".into();
    env.host
        .create_dir_all("/var/lib/cloud/instances/i-test", 0o755)
        .unwrap();
    env
}

#[test]
fn default_message_and_boot_finished() {
    logcap::init();
    let env = env_with(json!({}));
    env.write("/proc/uptime", "42.17 80.00\n");
    handle(&env.ctx("final_message")).unwrap();
    let logged = logcap::all();
    let msg = logged
        .iter()
        .find(|m| m.starts_with("Cloud-init v. 25.1.4 finished at "))
        .unwrap();
    assert!(
        msg.ends_with(". Datasource DataSourceNoCloud [seed=/dev/vdb].  Up 42.17 seconds"),
        "{msg}"
    );
    let fin = env.read("/var/lib/cloud/instances/i-test/boot-finished");
    assert!(fin.starts_with("42.17 - "), "{fin}");
    assert!(fin.ends_with(" +0000 - v. 25.1.4\n"), "{fin}");
    assert!(logcap::warnings().is_empty());
}

#[test]
fn basic_and_jinja_templates_with_upper_case_names() {
    logcap::init();
    let env = env_with(json!({"final_message": "done $VERSION ${datasource} up $UPTIME"}));
    env.write("/proc/uptime", "12.50 1.00\n");
    handle(&env.ctx("final_message")).unwrap();
    assert!(logcap::all()
        .contains(&"done 25.1.4 DataSourceNoCloud [seed=/dev/vdb] up 12.50".to_string()));
    let env = env_with(json!({"final_message": "## template: jinja\n{{ VERSION }}/{{ nope }}"}));
    handle(&env.ctx("final_message")).unwrap();
    assert!(logcap::all().contains(&"25.1.4/CI_MISSING_JINJA_VAR/nope".to_string()));
}

#[test]
fn fallback_datasource_warns_unless_it_was_the_only_choice() {
    logcap::init();
    let mut env = env_with(json!({}));
    env.instance.datasource_name = "None".into();
    handle(&env.ctx("final_message")).unwrap();
    assert_eq!(
        logcap::warnings(),
        vec!["Used fallback datasource".to_string()]
    );
    env.cfg = json!({"datasource_list": ["None"]});
    handle(&env.ctx("final_message")).unwrap();
    assert_eq!(logcap::warnings().len(), 1);
}

#[test]
fn template_errors_and_missing_instance_dir_warn() {
    logcap::init();
    let env = TestEnv::new(json!({"final_message": "## template: jinja\n{% if %}"}));
    handle(&env.ctx("final_message")).unwrap();
    let w = logcap::warnings();
    assert!(w.iter().any(|m| m.starts_with("Failed to render templated final message: Unable to parse Jinja template due to syntax error")), "{w:?}");
    assert!(
        w.contains(
            &"Failed to write boot finished file /var/lib/cloud/instances/i-test/boot-finished"
                .to_string()
        ),
        "{w:?}"
    );
}

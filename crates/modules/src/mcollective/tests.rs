use super::*;
use crate::testutil::TestEnv;
use serde_json::json;

fn tools(env: &TestEnv) {
    for t in ["apt-get", "apt-cache", "service"] {
        env.write_mode(&format!("/usr/bin/{t}"), "#!/bin/sh\n", 0o755);
    }
    env.rec.answer("apt-cache", 0, b"mcollective\n");
}

#[test]
fn example_config_with_certificates() {
    let env = TestEnv::new(json!({"mcollective": {"conf": {
        "loglevel": "debug",
        "plugin.stomp.host": "dbhost",
        "public-cert": "PUB\n",
        "private-cert": "PRIV\n",
        "collectives": {"main": "mc", "port": 61613, "list": ["a", "b"]},
        "ttl": 60
    }}}));
    tools(&env);
    handle(&env.ctx("mcollective")).unwrap();
    assert_eq!(
        env.read("/etc/mcollective/server.cfg"),
        "loglevel = debug\nplugin.stomp.host = dbhost\nplugin.ssl_server_public = /etc/mcollective/ssl/server-public.pem\n\
securityprovider = ssl\nplugin.ssl_server_private = /etc/mcollective/ssl/server-private.pem\nttl = 60\n\
[collectives]\nmain = mc\nport = 61613\nlist = a, b\n"
    );
    assert_eq!(env.mode("/etc/mcollective/server.cfg"), 0o644);
    assert_eq!(env.read(PUBCERT_FILE), "PUB\n");
    assert_eq!(env.mode(PUBCERT_FILE), 0o644);
    assert_eq!(env.mode(PRICERT_FILE), 0o600);
    assert!(!env.host.exists("/etc/mcollective/server.cfg.old"));
    let lines = env.rec.lines();
    assert!(
        lines.iter().any(|l| l.ends_with("install mcollective")),
        "{lines:?}"
    );
    assert_eq!(lines.last().unwrap(), "service mcollective restart");
}

#[test]
fn existing_file_is_merged_and_kept_as_old() {
    let env =
        TestEnv::new(json!({"mcollective": {"conf": {"loglevel": "info", "extra": {"k": "v"}}}}));
    tools(&env);
    env.write_mode(
        "/etc/mcollective/server.cfg",
        "# mc\nloglevel = warn\nlibdir = /usr/lib\n",
        0o640,
    );
    handle(&env.ctx("mcollective")).unwrap();
    assert_eq!(
        env.read("/etc/mcollective/server.cfg"),
        "# mc\nloglevel = info\nlibdir = /usr/lib\n[extra]\nk = v\n"
    );
    assert_eq!(
        env.read("/etc/mcollective/server.cfg.old"),
        "# mc\nloglevel = warn\nlibdir = /usr/lib\n"
    );
    assert_eq!(env.mode("/etc/mcollective/server.cfg.old"), 0o640);
}

#[test]
fn no_conf_installs_and_restarts_only() {
    let env = TestEnv::new(json!({"mcollective": {}}));
    tools(&env);
    handle(&env.ctx("mcollective")).unwrap();
    assert!(!env.host.exists("/etc/mcollective"));
    assert_eq!(
        env.rec.lines().last().unwrap(),
        "service mcollective restart"
    );
}

#[test]
fn install_failure_stops_the_module() {
    let env = TestEnv::new(json!({"mcollective": {"conf": {"a": "b"}}}));
    for t in ["apt-get", "apt-cache", "service"] {
        env.write_mode(&format!("/usr/bin/{t}"), "#!/bin/sh\n", 0o755);
    }
    let e = handle(&env.ctx("mcollective")).unwrap_err();
    assert_eq!(e.py_class(), "PackageInstallerError");
    assert!(!env.host.exists("/etc/mcollective/server.cfg"));
    assert!(!env.rec.lines().iter().any(|l| l.starts_with("service")));
}

#[test]
fn rhel_installs_with_dnf() {
    let env = TestEnv::new(json!({"system_info": {"distro": "rhel"}, "mcollective": {}}));
    for t in ["dnf", "service"] {
        env.write_mode(&format!("/usr/bin/{t}"), "#!/bin/sh\n", 0o755);
    }
    handle(&env.ctx("mcollective")).unwrap();
    let lines = env.rec.lines();
    assert!(
        lines.contains(&"dnf -y install mcollective".to_string()),
        "{lines:?}"
    );
}

use super::*;
use crate::testutil::{logcap, TestEnv};
use serde_json::json;
use std::io::{Read, Write};

/// Executables the module looks for in the target.
fn tools(env: &TestEnv, names: &[&str]) {
    for n in names {
        let path = if n.starts_with('/') {
            n.to_string()
        } else {
            format!("/usr/bin/{n}")
        };
        env.write_mode(&path, "#!/bin/sh\n", 0o755);
    }
}

#[test]
fn packages_conf_csr_exec_and_services() {
    let env = TestEnv::new(json!({"puppet": {
        "package_name": "puppet",
        "version": "7.7.0",
        "exec": true,
        "exec_args": "--test --noop",
        "conf_file": "/etc/puppet/puppet.conf",
        "csr_attributes_path": "/etc/puppet/csr_attributes.yaml",
        "conf": {
            "agent": {"server": "ps.example.org", "certname": "%i.Example.ORG", "Runinterval": 30},
            "main": {"logdir": "/var/log/p"}
        },
        "csr_attributes": {"extension_requests": {"pp_uuid": "ED80"}}
    }}));
    tools(&env, &["apt-get", "apt-cache", "puppet", "service"]);
    env.rec.answer("apt-cache", 0, b"puppet\nvim\n");
    env.rec.answer("puppet", 0, b"/etc/puppet/ignored.conf\n");
    env.write(
        "/etc/puppet/puppet.conf",
        "[main]\n  logdir = /old\n# note\n",
    );
    handle(&env.ctx("puppet")).unwrap();
    let lines = env.rec.lines();
    assert!(
        lines.iter().any(|l| l.ends_with("install puppet=7.7.0")),
        "{lines:?}"
    );
    let tail: Vec<&String> = lines
        .iter()
        .skip_while(|l| !l.starts_with("puppet "))
        .collect();
    assert_eq!(
        tail,
        [
            "puppet config print config",
            "puppet config print ssldir",
            "puppet config print csr_attributes",
            "service puppet-agent.service start",
            "puppet agent --test --noop",
            "service puppet-agent.service start",
        ]
    );
    assert_eq!(
        env.read("/etc/puppet/puppet.conf"),
        "[main]\nlogdir = /var/log/p\n\n[agent]\nserver = ps.example.org\ncertname = i-test.example.org\nruninterval = 30\n\n"
    );
    // Moved aside before each section's write: `.old` holds the first
    // section's result.
    assert_eq!(
        env.read("/etc/puppet/puppet.conf.old"),
        "[main]\nlogdir = /old\n\n[agent]\nserver = ps.example.org\ncertname = i-test.example.org\nruninterval = 30\n\n"
    );
    assert_eq!(
        env.read("/etc/puppet/csr_attributes.yaml"),
        "extension_requests:\n  pp_uuid: ED80\n"
    );
}

#[test]
fn first_installable_package_and_defaults_from_puppet() {
    logcap::init();
    let env = TestEnv::new(json!({"puppet": {"csr_attributes": {"a": 1}, "start_service": false}}));
    tools(&env, &["apt-get", "apt-cache", "puppet"]);
    env.rec.answer("apt-cache", 0, b"puppet\n");
    env.rec
        .answer("puppet", 0, b"/etc/puppetlabs/csr.yaml  \n\n");
    handle(&env.ctx("puppet")).unwrap();
    let installs: Vec<String> = env
        .rec
        .lines()
        .into_iter()
        .filter(|l| l.contains(" install"))
        .collect();
    assert_eq!(installs.len(), 1, "{installs:?}");
    assert!(installs[0].ends_with("install puppet"));
    assert_eq!(env.read("/etc/puppetlabs/csr.yaml"), "a: 1\n");
    assert!(!env.rec.lines().iter().any(|l| l.starts_with("service")));
    assert!(logcap::warnings().is_empty(), "{:?}", logcap::warnings());
}

#[test]
fn no_installable_package_warns_then_puppet_missing_fails() {
    logcap::init();
    let env = TestEnv::new(json!({"puppet": {}}));
    tools(&env, &["apt-get", "apt-cache"]);
    let err = handle(&env.ctx("puppet")).unwrap_err();
    assert!(logcap::warnings()
        .contains(&"No installable puppet package in any of: puppet-agent, puppet".to_string()));
    assert_eq!(err.py_class(), "ProcessExecutionError");
    assert!(err
        .to_string()
        .contains("Command: ['puppet', 'config', 'print', 'config']\nExit code: -\nReason: [Errno 2] No such file or directory: b'puppet'"));
}

#[test]
fn service_falls_back_then_warns() {
    logcap::init();
    let env = TestEnv::new(json!({"puppet": {"install": false}}));
    tools(&env, &["puppet", "service"]);
    env.rec.answer("service", 1, b"");
    handle(&env.ctx("puppet")).unwrap();
    let svc: Vec<String> = env
        .rec
        .lines()
        .into_iter()
        .filter(|l| l.starts_with("service"))
        .collect();
    assert_eq!(
        svc,
        [
            "service puppet-agent.service start",
            "service puppet.service start",
            "service puppet-agent.service start",
            "service puppet.service start",
        ]
    );
    let w = logcap::warnings();
    assert!(w.contains(
        &"Could not 'enable' any of the following services: puppet-agent, puppet".to_string()
    ));
    assert!(w.contains(
        &"Could not 'start' any of the following services: puppet-agent, puppet".to_string()
    ));
}

#[test]
fn rhel_spells_versions_with_a_dash_and_uses_systemctl() {
    let env = TestEnv::new(json!({
        "system_info": {"distro": "rhel"},
        "puppet": {"version": "8.1", "package_name": "puppet-agent"}
    }));
    tools(&env, &["dnf", "puppet", "systemctl"]);
    env.host
        .create_dir_all("/run/systemd/system", 0o755)
        .unwrap();
    handle(&env.ctx("puppet")).unwrap();
    let lines = env.rec.lines();
    assert!(
        lines.contains(&"dnf -y install puppet-agent-8.1".to_string()),
        "{lines:?}"
    );
    assert!(lines.contains(&"systemctl enable puppet-agent.service".to_string()));
    assert!(lines.contains(&"systemctl start puppet-agent.service".to_string()));
}

#[test]
fn version_without_install_warns() {
    logcap::init();
    let env =
        TestEnv::new(json!({"puppet": {"install": false, "version": "7", "start_service": false}}));
    tools(&env, &["puppet"]);
    handle(&env.ctx("puppet")).unwrap();
    assert!(logcap::warnings()
        .contains(&"Puppet install set to false but version supplied, doing nothing.".to_string()));
    assert!(!env.rec.lines().iter().any(|l| l.contains("install")));
}

#[test]
fn unknown_install_type_skips_the_agent_run() {
    logcap::init();
    let env = TestEnv::new(
        json!({"puppet": {"install_type": "tarball", "exec": true, "start_service": false}}),
    );
    tools(&env, &["puppet"]);
    handle(&env.ctx("puppet")).unwrap();
    assert!(logcap::warnings().contains(&"Unknown puppet install type 'tarball'".to_string()));
    assert!(!env.rec.lines().iter().any(|l| l.contains(" agent")));
}

#[test]
fn ca_cert_needs_the_puppet_user() {
    let env = TestEnv::new(json!({"puppet": {
        "install": false, "ssl_dir": "/var/lib/puppet/ssl",
        "conf": {"ca_cert": "CERT\n"}
    }}));
    tools(&env, &["puppet"]);
    env.write("/etc/puppet.conf", "");
    env.rec.answer("puppet", 0, b"/etc/puppet.conf\n");
    let err = handle(&env.ctx("puppet")).unwrap_err();
    assert_eq!(err.py_class(), "OSError");
    assert!(err.to_string().contains("'puppet'"), "{err}");
    // The directory is made before the owner is looked up.
    assert_eq!(env.mode("/var/lib/puppet/ssl"), 0o771);
    assert!(!env.host.exists("/var/lib/puppet/ssl/certs"));
}

#[test]
fn ca_cert_with_aio_is_root_owned() {
    let env = TestEnv::new(json!({"puppet": {
        "install": false, "install_type": "aio", "start_service": false,
        "ssl_dir": "/etc/puppetlabs/puppet/ssl",
        "conf": {"ca_cert": "CERT\n", "agent": {"server": "x"}}
    }}));
    tools(&env, &[AIO_BIN]);
    env.write("/etc/puppetlabs/puppet/puppet.conf", "[main]\n");
    env.rec
        .answer(AIO_BIN, 0, b"/etc/puppetlabs/puppet/puppet.conf\n");
    // All three settings answer the same in this runner, so the SSL
    // directory is configured.
    let env2 = env;
    handle(&env2.ctx("puppet")).unwrap();
    assert_eq!(
        env2.read("/etc/puppetlabs/puppet/ssl/certs/ca.pem"),
        "CERT\n"
    );
    assert_eq!(env2.mode("/etc/puppetlabs/puppet/ssl"), 0o771);
    assert_eq!(env2.mode("/etc/puppetlabs/puppet/ssl/certs"), 0o755);
    assert_eq!(env2.mode("/etc/puppetlabs/puppet/ssl/certs/ca.pem"), 0o644);
    assert_eq!(
        env2.read("/etc/puppetlabs/puppet/puppet.conf"),
        "[main]\n\n[agent]\nserver = x\n\n"
    );
    assert_eq!(
        env2.read("/etc/puppetlabs/puppet/puppet.conf.old"),
        "[main]\n\n"
    );
}

/// A one-request HTTP server on 127.0.0.1 answering `body`.
fn serve_once(body: &'static str) -> (String, std::thread::JoinHandle<String>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://127.0.0.1:{}/install.sh",
        l.local_addr().unwrap().port()
    );
    let t = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut buf = [0u8; 4096];
        let n = s.read(&mut buf).unwrap();
        let req = String::from_utf8_lossy(&buf[..n]).to_string();
        write!(
            s,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        req
    });
    (url, t)
}

#[test]
fn aio_fetches_and_runs_the_installer() {
    let (url, server) = serve_once("#!/bin/sh\necho installing\n");
    let env = TestEnv::new(json!({"puppet": {
        "install_type": "aio", "aio_install_url": url, "version": "7.7.0",
        "collection": "puppet7", "start_service": false
    }}));
    tools(&env, &[AIO_BIN]);
    handle(&env.ctx("puppet")).unwrap();
    assert!(server
        .join()
        .unwrap()
        .starts_with("GET /install.sh HTTP/1.1"));
    let calls = env.rec.calls();
    let first = &calls[0].argv;
    assert!(first[0].starts_with("/var/tmp/cloud-init/tmp"), "{first:?}");
    assert!(first[0].ends_with("/puppet-install"));
    assert_eq!(first[1..], ["-v", "7.7.0", "-c", "puppet7", "--cleanup"]);
    assert_eq!(env.mode("/var/tmp/cloud-init"), 0o1777);
    // The script's directory is gone after the run.
    assert!(env.host.list_dir("/var/tmp/cloud-init").is_empty());
    assert_eq!(calls[1].argv, [AIO_BIN, "config", "print", "config"]);
}

#[test]
fn aio_url_requests_refuses_is_a_url_error() {
    let env = TestEnv::new(json!({"puppet": {"install_type": "aio"}}));
    let e = fetch::readurl("file:///srv/install.sh", 1, Duration::ZERO).unwrap_err();
    assert_eq!(e.py_class(), "UrlError");
    assert_eq!(
        e.to_string(),
        "No connection adapters were found for 'file:///srv/install.sh'"
    );
    let e = fetch::readurl("http:///x", 0, Duration::ZERO).unwrap_err();
    assert_eq!(e.to_string(), "Invalid URL 'http:///x': No host supplied");
    assert!(env.rec.calls().is_empty());
}

#[test]
fn exec_args_forms() {
    logcap::init();
    assert_eq!(agent_args(None), ["--test"]);
    assert_eq!(agent_args(Some(&json!(["--a", 1]))), ["--a", "1"]);
    assert_eq!(agent_args(Some(&json!(" --a  --b "))), ["--a", "--b"]);
    assert_eq!(agent_args(Some(&json!(3))), ["--test"]);
    assert!(logcap::warnings()
        .iter()
        .any(|w| w.contains("Unknown type <class 'int'>")));
}

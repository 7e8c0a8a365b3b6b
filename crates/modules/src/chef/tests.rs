use super::*;
use crate::testutil::{logcap, TestEnv};
use serde_json::json;

fn exe(env: &TestEnv, path: &str) {
    env.write_mode(path, "#!/bin/sh\n", 0o755);
}

/// The rendered file without its dated header line.
fn body(text: &str) -> String {
    let (head, rest) = text.split_once('\n').unwrap();
    assert!(
        head.starts_with("# Created by cloud-init v. 25.1.4 on "),
        "{head}"
    );
    rest.to_string()
}

#[test]
fn client_rb_firstboot_dirs_and_key() {
    let env = TestEnv::new(json!({"chef": {
        "server_url": "https://chef.example.org:4000",
        "validation_name": "org-validator",
        "validation_cert": "KEY\n",
        "chef_license": "accept",
        "show_time": "off",
        "encrypted_data_bag_secret": "/etc/chef/secret/key",
        "run_list": ["recipe[apache2]"],
        "initial_attributes": {"apache": {"prefork": {"maxclients": 100}}},
        "unknown_key": 1
    }}));
    exe(&env, CHEF_EXEC);
    handle(&env.ctx("chef")).unwrap();
    assert_eq!(
        body(&env.read("/etc/chef/client.rb")),
        "chef_license           \"accept\"\nlog_level              :info\nssl_verify_mode        :verify_none\n\
log_location           \"/var/log/chef/client.log\"\nvalidation_client_name \"org-validator\"\n\
validation_key         \"/etc/chef/validation.pem\"\nclient_key             \"/etc/chef/client.pem\"\n\
chef_server_url        \"https://chef.example.org:4000\"\nenvironment            \"_default\"\n\
node_name              \"i-test\"\njson_attribs           \"/etc/chef/firstboot.json\"\n\
file_cache_path        \"/var/chef/cache\"\nfile_backup_path       \"/var/chef/backup\"\n\
pid_file               \"/var/run/chef/client.pid\"\nencrypted_data_bag_secret \"/etc/chef/secret/key\"\n\n"
    );
    assert_eq!(
        env.read("/etc/chef/firstboot.json"),
        r#"{"run_list": ["recipe[apache2]"], "apache": {"prefork": {"maxclients": 100}}}"#
    );
    assert_eq!(env.read("/etc/chef/validation.pem"), "KEY\n");
    for d in CHEF_DIRS {
        assert!(env.host.is_dir(d), "{d}");
    }
    assert!(env.host.is_dir("/etc/chef/secret"));
    // Installed and no `exec`: nothing runs.
    assert!(env.rec.calls().is_empty());
}

#[test]
fn the_targets_template_wins() {
    let env =
        TestEnv::new(json!({"chef": {"server_url": "s", "validation_name": 7, "node_name": null}}));
    exe(&env, CHEF_EXEC);
    env.write(
        "/etc/cloud/templates/chef_client.rb.tmpl",
        "## template:jinja\n{{generated_by}}\n{% if show_time %}\nname={{node_name}} v={{validation_name}}\n{% endif %}\n",
    );
    handle(&env.ctx("chef")).unwrap();
    assert_eq!(body(&env.read("/etc/chef/client.rb")), "name=None v=7\n\n");
}

#[test]
fn missing_server_url_is_a_key_error() {
    let env = TestEnv::new(json!({"chef": {"validation_name": "v"}}));
    let e = handle(&env.ctx("chef")).unwrap_err();
    assert_eq!(e.py_repr(), "KeyError(\"'server_url'\")");
    // The directories come first.
    assert!(env.host.is_dir("/var/chef/cache"));
}

#[test]
fn system_cert_without_key_warns_and_custom_dirs() {
    logcap::init();
    let env = TestEnv::new(json!({"chef": {
        "server_url": "s", "validation_name": "v", "validation_cert": "system",
        "directories": ["/srv/chef"], "firstboot_path": ""
    }}));
    exe(&env, CHEF_EXEC);
    handle(&env.ctx("chef")).unwrap();
    assert!(logcap::warnings().contains(
        &"chef validation_cert provided as 'system', but validation_key path '/etc/chef/validation.pem' does not exist.".to_string()
    ));
    assert!(env.host.is_dir("/srv/chef"));
    assert!(!env.host.exists("/var/chef/backup"));
    assert!(!env.host.exists("/etc/chef/firstboot.json"));
    assert!(body(&env.read("/etc/chef/client.rb"))
        .contains("validation_key         \"/etc/chef/validation.pem\"\n"));
}

#[test]
fn packages_install_then_exec_and_delete_key() {
    let env = TestEnv::new(json!({"chef": {
        "server_url": "s", "validation_name": "v", "validation_cert": "K",
        "exec": true, "exec_arguments": "--once", "delete_validation_post_exec": true,
        "force_install": true
    }}));
    exe(&env, "/usr/bin/apt-get");
    exe(&env, "/usr/bin/apt-cache");
    exe(&env, CHEF_EXEC);
    env.rec.answer("apt-cache", 0, b"chef\n");
    handle(&env.ctx("chef")).unwrap();
    let lines = env.rec.lines();
    assert!(
        lines.iter().any(|l| l.ends_with("install chef")),
        "{lines:?}"
    );
    assert_eq!(lines.last().unwrap(), "/usr/bin/chef-client --once");
    assert!(!env.host.exists(VALIDATION_PEM));
}

#[test]
fn gems_link_ruby_and_run_by_default() {
    let env = TestEnv::new(json!({"chef": {
        "server_url": "s", "validation_name": "v", "install_type": "gems",
        "version": "18.2", "ruby_version": "3.1", "force_install": true
    }}));
    exe(&env, CHEF_EXEC);
    exe(&env, "/usr/bin/apt-get");
    exe(&env, "/usr/bin/apt-cache");
    exe(&env, "/usr/bin/gem3.1");
    env.rec.answer("apt-cache", 0, b"ruby3.1\nruby3.1-dev\n");
    handle(&env.ctx("chef")).unwrap();
    assert_eq!(
        env.host.read_link("/usr/bin/gem").unwrap().to_str(),
        Some("/usr/bin/gem3.1")
    );
    assert_eq!(
        env.host.read_link("/usr/bin/ruby").unwrap().to_str(),
        Some("/usr/bin/ruby3.1")
    );
    let lines = env.rec.lines();
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with("install ruby3.1 ruby3.1-dev")),
        "{lines:?}"
    );
    let n = lines.len();
    assert_eq!(
        lines[n - 2],
        "/usr/bin/gem install chef -v 18.2 --no-ri --no-rdoc --bindir /usr/bin -q"
    );
    assert_eq!(lines[n - 1], "/usr/bin/chef-client -d -i 1800 -s 20");
}

#[test]
fn omnibus_failure_is_upstreams_url_error_without_retries() {
    let env = TestEnv::new(json!({"chef": {
        "server_url": "s", "validation_name": "v", "install_type": "omnibus",
        "omnibus_url": "file:///srv/install.sh"
    }}));
    let start = std::time::Instant::now();
    let e = handle(&env.ctx("chef")).unwrap_err();
    // No retries configured: one attempt, no pause.
    assert!(start.elapsed() < Duration::from_millis(900));
    assert_eq!(
        e.py_repr(),
        "UrlError(\"No connection adapters were found for 'file:///srv/install.sh'\")"
    );
    // client.rb and firstboot.json are written before the install.
    assert!(env.host.exists("/etc/chef/client.rb"));
}

#[test]
fn omnibus_runs_the_fetched_script_with_the_version() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://127.0.0.1:{}/install.sh",
        l.local_addr().unwrap().port()
    );
    let server = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut s, _) = l.accept().unwrap();
        let mut buf = [0u8; 2048];
        let _ = s.read(&mut buf).unwrap();
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nx=1")
            .unwrap();
    });
    let env = TestEnv::new(json!({"chef": {
        "server_url": "s", "validation_name": "v", "install_type": "omnibus",
        "omnibus_url": url, "omnibus_version": "18", "exec": true, "exec_arguments": ["-o", 1],
        "force_install": true
    }}));
    exe(&env, CHEF_EXEC);
    handle(&env.ctx("chef")).unwrap();
    server.join().unwrap();
    let calls = env.rec.calls();
    assert!(calls[0].argv[0].ends_with("/chef-omnibus-install"));
    assert_eq!(calls[0].argv[1..], ["-v", "18"]);
    assert_eq!(calls[1].argv, [CHEF_EXEC, "-o", "1"]);
}

#[test]
fn unknown_install_type_warns_and_skips_the_run() {
    logcap::init();
    let env = TestEnv::new(json!({"chef": {
        "server_url": "s", "validation_name": "v", "install_type": "msi", "exec": true
    }}));
    handle(&env.ctx("chef")).unwrap();
    assert!(logcap::warnings().contains(&"Unknown chef install type 'msi'".to_string()));
    assert!(env.rec.calls().is_empty());
}

#[test]
fn old_cache_files_move() {
    let env = TestEnv::new(json!({"chef": {"server_url": "s", "validation_name": "v"}}));
    exe(&env, CHEF_EXEC);
    env.write("/var/cache/chef/a", "A");
    env.write("/var/cache/chef/b", "old");
    env.write("/var/chef/cache/b", "new");
    handle(&env.ctx("chef")).unwrap();
    assert_eq!(env.read("/var/chef/cache/a"), "A");
    assert_eq!(env.read("/var/chef/cache/b"), "new");
    assert!(env.host.exists("/var/cache/chef/b"));
}

#[test]
fn parents_like_python() {
    assert_eq!(parent("/var/log/chef/client.log"), "/var/log/chef");
    assert_eq!(parent("/x"), "/");
    assert_eq!(parent("rel"), "");
}

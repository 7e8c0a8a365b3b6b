use super::*;
use crate::testutil::{logcap, TestEnv};
use serde_json::json;

/// The file without its dated first line.
fn body(env: &TestEnv, path: &str) -> String {
    let text = env.read(path);
    let (first, rest) = text.split_once('\n').unwrap();
    assert!(first.starts_with("# Created by cloud-init on "), "{first}");
    rest.to_string()
}

#[test]
fn writes_one_ini_file_per_repo_with_yum_value_forms() {
    let env = TestEnv::new(json!({
        "system_info": {"distro": "rhel"},
        "yum_repos": {
            "my package stream": {
                "baseurl": ["http://a/$basearch/", "http://b/"],
                "Enable-GPGCheck": true,
                "repo_gpgcheck": 1,
                "enabled": false,
                "cost": 1.5,
                "name": "Stream",
            }
        }
    }));
    handle(&env.ctx("yum_add_repo")).unwrap();
    assert_eq!(
        body(&env, "/etc/yum.repos.d/my-package-stream.repo"),
        "[my-package-stream]\nbaseurl = http://a/$basearch/\n\thttp://b/\nenable_gpgcheck = 1\nrepo_gpgcheck = 1\nenabled = 0\ncost = 1.5\nname = Stream\n\n"
    );
    assert_eq!(env.mode("/etc/yum.repos.d/my-package-stream.repo"), 0o644);
}

#[test]
fn custom_dir_existing_and_pending_files_are_skipped() {
    logcap::init();
    let env = TestEnv::new(json!({
        "yum_repo_dir": "/store/repos",
        "yum_repos": {
            "old": {"baseurl": "http://new/"},
            "a b": {"baseurl": "http://first/"},
            "a-b": {"baseurl": "http://second/"},
        }
    }));
    env.write("/store/repos/old.repo", "keep");
    handle(&env.ctx("yum_add_repo")).unwrap();
    assert_eq!(env.read("/store/repos/old.repo"), "keep");
    assert!(body(&env, "/store/repos/a-b.repo").contains("http://first/"));
    let all = logcap::all();
    assert!(
        all.contains(&"Skipping repo old, file /store/repos/old.repo already exists!".to_string())
    );
    assert!(
        all.contains(&"Skipping repo a-b, file /store/repos/a-b.repo already pending!".to_string())
    );
    assert!(logcap::warnings().is_empty());
}

#[test]
fn repo_without_a_url_key_is_warned_about_and_skipped() {
    logcap::init();
    let env = TestEnv::new(json!({
        "yum_repos": {"nourl": {"name": "x"}, "empty": null, "ok": {"MirrorList": "http://m"}}
    }));
    handle(&env.ctx("yum_add_repo")).unwrap();
    assert!(!env.host.exists("/etc/yum.repos.d/nourl.repo"));
    assert!(!env.host.exists("/etc/yum.repos.d/empty.repo"));
    assert_eq!(
        body(&env, "/etc/yum.repos.d/ok.repo"),
        "[ok]\nmirrorlist = http://m\n\n"
    );
    assert_eq!(
        logcap::warnings(),
        [
            "Repository nourl should contain atleast one of the following configuration entries: baseurl, metalink, mirrorlist, skipping!",
            "Repository empty should contain atleast one of the following configuration entries: baseurl, metalink, mirrorlist, skipping!",
        ]
    );
}

#[test]
fn no_repos_is_a_quiet_skip() {
    let env = TestEnv::new(json!({"yum_repos": {}}));
    handle(&env.ctx("yum_add_repo")).unwrap();
    assert!(!env.host.exists("/etc/yum.repos.d"));
}

#[test]
fn a_bare_percent_fails_as_configparser_does() {
    let env = TestEnv::new(json!({"yum_repos": {"p": {"baseurl": "http://x/a%20b"}}}));
    let e = handle(&env.ctx("yum_add_repo")).unwrap_err();
    assert_eq!(
        e.py_repr(),
        "ValueError(\"invalid interpolation syntax in 'http://x/a%20b' at position 10\")"
    );
    assert!(check_interpolation("a%%b%(x)s").is_ok());
}

#[test]
fn joins_like_os_path() {
    assert_eq!(
        py_join("/etc/yum.repos.d/", "a.repo"),
        "/etc/yum.repos.d/a.repo"
    );
    assert_eq!(py_join("/store", "a.repo"), "/store/a.repo");
    assert_eq!(py_join("/store", "/abs.repo"), "/abs.repo");
    assert_eq!(py_join("rel", "a.repo"), "/rel/a.repo");
}

use super::*;
use crate::testutil::{logcap, TestEnv};
use serde_json::json;

fn suse(zypper: Value) -> TestEnv {
    TestEnv::new(json!({"system_info": {"distro": "opensuse"}, "zypper": zypper}))
}

#[test]
fn repo_files_get_defaults_and_configobj_quoting() {
    let env = suse(json!({"repos": [
        {"id": "opensuse-oss", "baseurl": "http://dl/oss/", "name": "os, oss", "Auto-Refresh": true},
        {"id": "two words", "baseurl": ["http://a/", "http://b/"], "enabled": false, "gpgkey": "k#1", "note": " x"},
    ]}));
    handle(&env.ctx("zypper_add_repo")).unwrap();
    assert_eq!(
        env.read("/etc/zypp/repos.d/opensuse-oss.repo"),
        "[opensuse-oss]\nbaseurl = http://dl/oss/\nname = \"os, oss\"\nauto_refresh = 1\nenabled = 1\nautorefresh = 1"
    );
    assert_eq!(
        env.read("/etc/zypp/repos.d/two_words.repo"),
        "[two words]\nbaseurl = '''http://a/\n    http://b/'''\nenabled = 0\ngpgkey = \"k#1\"\nnote = \" x\"\nautorefresh = 1"
    );
}

#[test]
fn config_is_appended_to_zypp_conf_and_configdir_refused() {
    logcap::init();
    let env = suse(json!({
        "config": {"download.use_deltarpm": true, "reposdir": "/etc/zypp/repos.dir", "configdir": "/x", "off": false},
        "repos": [{"id": "r", "baseurl": "http://r/"}],
    }));
    env.write(ZYPP_CONF, "[main]\n");
    handle(&env.ctx("zypper_add_repo")).unwrap();
    assert_eq!(
        env.read(ZYPP_CONF),
        "[main]\n# Added via cloud.cfg\ndownload.use_deltarpm=True\nreposdir=/etc/zypp/repos.dir"
    );
    assert!(env.host.exists("/etc/zypp/repos.dir/r.repo"));
    assert_eq!(
        logcap::warnings(),
        ["Changing the location of the zypper configuration is not supported, skipping \"configdir\" setting"]
    );
}

#[test]
fn missing_zypp_conf_fails_as_upstream_reading_it() {
    let env = suse(json!({"config": {"a": "b"}, "repos": [{"id": "r", "baseurl": "u"}]}));
    let e = handle(&env.ctx("zypper_add_repo")).unwrap_err();
    assert_eq!(
        e.py_repr(),
        "FileNotFoundError(2, 'No such file or directory')"
    );
    assert!(!env.host.exists("/etc/zypp/repos.d/r.repo"));
}

#[test]
fn incomplete_existing_and_pending_repos_are_skipped() {
    logcap::init();
    let env = suse(json!({"repos": [
        {"baseurl": "http://no-id/"},
        {"id": "old", "baseurl": "http://x/"},
        {"id": "dup", "baseurl": "http://first/"},
        {"id": "dup", "baseurl": "http://second/"},
    ]}));
    env.write("/etc/zypp/repos.d/old.repo", "keep");
    handle(&env.ctx("zypper_add_repo")).unwrap();
    assert_eq!(env.read("/etc/zypp/repos.d/old.repo"), "keep");
    assert!(env
        .read("/etc/zypp/repos.d/dup.repo")
        .contains("http://first/"));
    assert_eq!(
        logcap::warnings(),
        ["Repo config at index 0 is missing required config keys: id"]
    );
    let all = logcap::all();
    assert!(all.contains(
        &"Skipping repo dup, file /etc/zypp/repos.d/dup.repo already pending!".to_string()
    ));
}

#[test]
fn no_repos_means_no_change_even_with_config() {
    let env = suse(json!({"config": {"a": "b"}}));
    env.write(ZYPP_CONF, "orig\n");
    handle(&env.ctx("zypper_add_repo")).unwrap();
    assert_eq!(env.read(ZYPP_CONF), "orig\n");
}

#[test]
fn quoting_follows_configobj() {
    assert_eq!(quote("plain", true).unwrap(), "plain");
    assert_eq!(quote("", true).unwrap(), "\"\"");
    assert_eq!(quote("say \"hi\"", true).unwrap(), "'say \"hi\"'");
    assert_eq!(quote("it's", true).unwrap(), "it's");
    assert_eq!(quote("a'b\"c", true).unwrap(), "'''a'b\"c'''");
    assert_eq!(quote("a,b", false).unwrap(), "\"a,b\"");
    assert!(quote("a\nb", false).is_err());
}

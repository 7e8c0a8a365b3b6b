//! Bytes (`!!binary`) in `users`/`user`/`groups`: the outcomes upstream's
//! `ug_util.normalize_users_groups` gives for the same YAML (oracle runs).

use super::*;
use crate::testutil::logcap;
use ci_pyval::binary::is_binary_str;
use serde_json::json;

fn debian() -> Distro {
    Distro::from_config(
        &json!({"system_info": {"distro": "debian", "default_user": {
        "name": "debian", "groups": ["adm", "sudo"], "lock_passwd": true}}}),
    )
}

fn norm(yaml: &str) -> Result<(UserList, GroupList), String> {
    let cfg = ci_yaml::load(yaml).unwrap();
    normalize_users_groups(&cfg, &debian()).map_err(|e| e.to_string())
}

/// The failure's message; upstream raises TypeError for every one.
fn err(yaml: &str) -> String {
    let cfg = ci_yaml::load(yaml).unwrap();
    let e = normalize_users_groups(&cfg, &debian()).unwrap_err();
    assert_eq!(e.py_class(), "TypeError", "{yaml}");
    e.to_string()
}

#[test]
fn bytes_where_upstream_raises() {
    assert_eq!(
        err("users: [!!binary Ym9i]"),
        "User config must be dictionary/list or string  types only and not bytes"
    );
    assert_eq!(
        err("users: {bob: !!binary Ym9i}"),
        "Unmappable user value type bytes for key bob"
    );
    assert_eq!(
        err("groups: !!binary Ym9i"),
        "Group config must be list, dict or string type only but found bytes"
    );
    assert_eq!(
        err("groups: [!!binary Ym9i]"),
        "Unknown group name type bytes"
    );
    assert_eq!(
        err("groups: [{g: !!binary Ym9i}]"),
        "Bad group member type bytes"
    );
    // Upstream fails on these later, in create_group's member look-up.
    assert_eq!(
        err("groups: [{g: [!!binary Ym9i]}]"),
        "getpwnam() argument must be str, not bytes (a member of group g in 'groups' is bytes)"
    );
    assert_eq!(
        err("groups: {g: !!binary Ym9i}"),
        "getpwnam() argument must be str, not int (the members of group g in 'groups' are bytes)"
    );
    // Upstream: "'<' not supported between instances of 'str' and ...".
    for y in [
        "users: [default, {name: debian, groups: !!binary Ym9i}]",
        "users: [default, {name: debian, groups: [!!binary Ym9i]}]",
    ] {
        assert_eq!(
            err(y),
            "The default user debian's 'groups' must be str, not bytes"
        );
    }
}

#[test]
fn bytes_where_upstream_warns_or_keeps_bytes() {
    logcap::init();
    let (users, groups) = norm("users: !!binary Ym9i").unwrap();
    assert!(users.is_empty() && groups.is_empty());
    assert!(logcap::warnings().contains(
        &"Format for 'users' key must be a comma-separated string or a dictionary or a list but found bytes"
            .to_string()
    ));
    let (users, _) = norm("user: !!binary Ym9i\nusers: [default]").unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].0, "debian");
    assert!(logcap::warnings().contains(
        &"Format for 'user' key must be a string or dictionary and not bytes".to_string()
    ));
    // A bytes name stays bytes (upstream fails on it only when creating the user).
    for y in ["users: [{name: !!binary Ym9i}]", "users: [[!!binary Ym9i]]"] {
        let (users, _) = norm(y).unwrap();
        assert_eq!(users.len(), 1);
        assert!(is_binary_str(&users[0].0), "{y}: {:?}", users[0].0);
        assert_eq!(users[0].1["default"], false);
    }
    // A user's own bytes `groups` are left for add_user to judge.
    let (users, _) = norm("users: [{name: a, groups: !!binary Ym9i}]").unwrap();
    assert!(ci_pyval::binary::is_binary(&users[0].1["groups"]));
    for m in logcap::all() {
        assert!(!m.contains('\u{FDD0}'), "{m}");
    }
}

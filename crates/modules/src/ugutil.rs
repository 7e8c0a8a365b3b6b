//! Upstream's `ug_util`: the `users`/`user`/`groups` keys normalised into
//! an ordered list of users (default user marked) and of groups.

use crate::ModuleError;
use ci_distro::Distro;
use ci_pyval::binary::{is_binary, is_binary_str};
use ci_pyval::{is_true, py_str, py_type, truthy};
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::sync::Mutex;

pub type UserList = Vec<(String, Map<String, Value>)>;
pub type GroupList = Vec<(String, Vec<String>)>;

static DEPRECATED_SEEN: Mutex<Option<HashSet<String>>> = Mutex::new(None);

/// Upstream's `lifecycle.deprecate`: logged once per process at the
/// DEPRECATED level (the `DEPRECATED:` target prefix tells the logger).
pub fn deprecate(what: &str, since: &str, extra: &str) {
    let removal = since
        .split_once('.')
        .and_then(|(y, m)| y.parse::<u32>().ok().map(|y| format!("{}.{m}", y + 5)))
        .unwrap_or_else(|| "a future version".into());
    let msg = format!(
        "{what} is deprecated in {since} and scheduled to be removed in {removal}. {extra}"
    );
    let msg = msg.trim_end().to_string();
    if let Ok(mut seen) = DEPRECATED_SEEN.lock() {
        if !seen.get_or_insert_with(HashSet::new).insert(msg.clone()) {
            return;
        }
    }
    log::warn!(target: "DEPRECATED:lifecycle.py", "{msg}");
}

/// `util.uniq_merge`: strings split on commas (not stripped), order kept, deduplicated.
/// Bytes come back as their marker string (a marker holds no comma or
/// blank), so callers can see them: upstream keeps them as `bytes`, which
/// later break as names (see [`is_binary_str`] checks at each caller).
fn uniq_merge(lists: &[&Value]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for l in lists {
        let items: Vec<String> = match l {
            Value::String(s) if is_binary_str(s) => vec![s.clone()],
            Value::String(s) => s
                .trim()
                .split(',')
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect(),
            Value::Array(a) => a.iter().map(name_of).collect(),
            Value::Null => Vec::new(),
            other => vec![py_str(other)],
        };
        for i in items {
            if !out.contains(&i) {
                out.push(i);
            }
        }
    }
    out
}

/// A name as upstream holds it: `str()` of scalars, but bytes stay bytes
/// (the marker string), because upstream passes them on unconverted.
fn name_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => py_str(other),
    }
}

fn uniq_merge_sorted(lists: &[&Value]) -> Vec<String> {
    let mut v = uniq_merge(lists);
    v.sort();
    v
}

/// `util.mergemanydict`: earlier mappings win; nested mappings merge.
pub fn merge_first_wins(sources: &[&Map<String, Value>]) -> Map<String, Value> {
    let mut out = Map::new();
    for src in sources {
        for (k, v) in src.iter() {
            match (out.get_mut(k), v) {
                (Some(Value::Object(have)), Value::Object(more)) => {
                    let merged = merge_first_wins(&[&*have, more]);
                    *have = merged;
                }
                (Some(_), _) => {}
                (None, _) => {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
    }
    out
}

fn normalize_groups(cfg: &Value) -> Result<GroupList, ModuleError> {
    let mut grouped: Vec<(String, Vec<Value>)> = Vec::new();
    let mut add =
        |name: String, members: Vec<Value>| match grouped.iter_mut().find(|(n, _)| *n == name) {
            Some((_, m)) => m.extend(members),
            None => grouped.push((name, members)),
        };
    match cfg {
        Value::String(s) if !is_binary_str(s) => {
            for g in s.trim().split(',') {
                add(g.to_string(), Vec::new());
            }
        }
        Value::Array(items) => {
            for i in items {
                match i {
                    Value::Object(m) => {
                        for (k, v) in m {
                            match v {
                                Value::Array(a) => add(k.clone(), a.clone()),
                                Value::String(s) if !is_binary_str(s) => {
                                    add(k.clone(), vec![v.clone()])
                                }
                                other => {
                                    return Err(ModuleError::with_class(
                                        "TypeError",
                                        format!("Bad group member type {}", py_type(other)),
                                    ))
                                }
                            }
                        }
                    }
                    Value::String(s) if !is_binary_str(s) => add(s.clone(), Vec::new()),
                    other => {
                        return Err(ModuleError::with_class(
                            "TypeError",
                            format!("Unknown group name type {}", py_type(other)),
                        ))
                    }
                }
            }
        }
        Value::Object(m) => {
            for (k, v) in m {
                let members = match v {
                    // Upstream iterates a bytes value into ints and fails
                    // on the first one in `create_group`'s user lookup.
                    Value::String(s) if is_binary_str(s) => {
                        return Err(ModuleError::with_class("TypeError", format!(
                            "getpwnam() argument must be str, not int (the members of group {k} in 'groups' are bytes)"
                        )))
                    }
                    Value::Array(a) => a.clone(),
                    Value::Null => Vec::new(),
                    other => vec![other.clone()],
                };
                add(k.clone(), members);
            }
        }
        other => {
            return Err(ModuleError::with_class(
                "TypeError",
                format!(
                    "Group config must be list, dict or string type only but found {}",
                    py_type(other)
                ),
            ))
        }
    }
    let mut out = GroupList::new();
    for (n, members) in grouped {
        // Upstream keeps bytes members and fails on them later, inside
        // `create_group`'s user lookup (`getpwnam()` takes only str), after
        // creating the groups before it (or, mixed with str members, at
        // once when sorting them). We stop before touching any group,
        // naming the group.
        if let Some(m) = members.iter().find(|m| is_binary(m)) {
            return Err(ModuleError::with_class("TypeError", format!(
                "getpwnam() argument must be str, not {} (a member of group {n} in 'groups' is bytes)",
                py_type(m)
            )));
        }
        let refs: Vec<&Value> = members.iter().collect();
        out.push((n, uniq_merge_sorted(&refs)));
    }
    Ok(out)
}

fn set_user(users: &mut UserList, name: &str, cfg: Map<String, Value>) {
    match users.iter_mut().find(|(n, _)| n == name) {
        Some((_, have)) => *have = cfg,
        None => users.push((name.to_string(), cfg)),
    }
}

fn take_user(users: &mut UserList, name: &str) -> Option<Map<String, Value>> {
    let pos = users.iter().position(|(n, _)| n == name)?;
    Some(users.remove(pos).1)
}

fn normalize_users(
    u_cfg: &Value,
    def_user_cfg: &Map<String, Value>,
) -> Result<UserList, ModuleError> {
    let items: Vec<Value> = match u_cfg {
        Value::Object(m) => {
            let mut out = Vec::new();
            for (k, v) in m {
                match v {
                    Value::Bool(_) | Value::Number(_) => {
                        if is_true(v) {
                            out.push(Value::String(k.clone()));
                        }
                    }
                    Value::String(s) if !is_binary_str(s) => {
                        if is_true(v) {
                            out.push(Value::String(k.clone()));
                        }
                    }
                    Value::Object(o) => {
                        let mut o = o.clone();
                        o.insert("name".into(), Value::String(k.clone()));
                        out.push(Value::Object(o));
                    }
                    other => {
                        return Err(ModuleError::with_class(
                            "TypeError",
                            format!("Unmappable user value type {} for key {k}", py_type(other)),
                        ))
                    }
                }
            }
            out
        }
        Value::String(s) if !is_binary_str(s) => uniq_merge_sorted(&[u_cfg])
            .into_iter()
            .map(Value::String)
            .collect(),
        Value::Array(a) => a.clone(),
        _ => Vec::new(),
    };
    let mut users: UserList = Vec::new();
    for item in &items {
        match item {
            Value::String(s) if is_binary_str(s) => {
                return Err(ModuleError::with_class(
                    "TypeError",
                    format!(
                        "User config must be dictionary/list or string  types only and not {}",
                        py_type(item)
                    ),
                ))
            }
            Value::String(_) | Value::Array(_) => {
                for u in uniq_merge(&[item]) {
                    if !u.is_empty() && !users.iter().any(|(n, _)| *n == u) {
                        users.push((u, Map::new()));
                    }
                }
            }
            Value::Object(o) => {
                let mut o = o.clone();
                let n = o
                    .remove("name")
                    .map(|v| name_of(&v))
                    .unwrap_or_else(|| "default".into());
                let prev = users
                    .iter()
                    .find(|(x, _)| *x == n)
                    .map(|(_, c)| c.clone())
                    .unwrap_or_default();
                set_user(&mut users, &n, merge_first_wins(&[&prev, &o]));
            }
            other => {
                return Err(ModuleError::with_class(
                    "TypeError",
                    format!(
                        "User config must be dictionary/list or string  types only and not {}",
                        py_type(other)
                    ),
                ))
            }
        }
    }
    for (_, cfg) in users.iter_mut() {
        let fixed: Map<String, Value> = cfg
            .iter()
            .filter_map(|(k, v)| {
                let k = k.replace('-', "_").trim().to_string();
                (!k.is_empty()).then_some((k, v.clone()))
            })
            .collect();
        *cfg = fixed;
    }
    let mut def_user: Option<String> = None;
    if let Some(def_config) = take_user(&mut users, "default") {
        if !def_user_cfg.is_empty() {
            let mut base = def_user_cfg.clone();
            let name = base.remove("name").map(|v| py_str(&v)).unwrap_or_default();
            let def_groups = base.remove("groups").unwrap_or(Value::Array(Vec::new()));
            let mut parsed = take_user(&mut users, &name).unwrap_or_default();
            let parsed_groups = parsed
                .get("groups")
                .cloned()
                .unwrap_or(Value::Array(Vec::new()));
            let merged_groups = uniq_merge_sorted(&[&parsed_groups, &def_groups]);
            // Upstream sorts and joins these as str and fails on bytes
            // (`'<' not supported ...` or `sequence item ...: expected str
            // instance`, depending on the mix); say which key instead.
            if merged_groups.iter().any(|g| is_binary_str(g)) {
                return Err(ModuleError::with_class(
                    "TypeError",
                    format!("The default user {name}'s 'groups' must be str, not bytes"),
                ));
            }
            parsed.insert("groups".into(), Value::String(merged_groups.join(",")));
            users.push((
                name.clone(),
                merge_first_wins(&[&base, &def_config, &parsed]),
            ));
            def_user = Some(name);
        }
    }
    for (n, cfg) in users.iter_mut() {
        cfg.insert(
            "default".into(),
            Value::Bool(def_user.as_deref() == Some(n.as_str())),
        );
    }
    Ok(users)
}

/// Upstream's `normalize_users_groups(cfg, distro)`.
pub fn normalize_users_groups(
    cfg: &Value,
    distro: &Distro,
) -> Result<(UserList, GroupList), ModuleError> {
    let mut old_user = Map::new();
    if let Some(u) = cfg.get("user").filter(|u| truthy(u)) {
        match u {
            Value::String(s) if !is_binary_str(s) => {
                old_user.insert("name".into(), Value::String(s.clone()));
                deprecate("'user' of type string", "22.2", "Use 'users' list instead.");
            }
            Value::Object(m) => old_user = m.clone(),
            other => log::warn!(
                "Format for 'user' key must be a string or dictionary and not {}",
                py_type(other)
            ),
        }
    }
    let distro_user = distro.default_user().unwrap_or_default();
    let default_user_config = merge_first_wins(&[&old_user, &distro_user]);

    let mut base_users = cfg
        .get("users")
        .cloned()
        .unwrap_or(Value::Array(Vec::new()));
    match &base_users {
        Value::Object(_) => deprecate(
            "'users' of type <class 'dict'>",
            "22.2",
            "Use 'users' as a list.",
        ),
        Value::String(s) if !is_binary_str(s) => deprecate(
            "'users' of type <class 'str'>",
            "22.2",
            "Use 'users' as a list.",
        ),
        Value::Array(_) => {}
        other => {
            log::warn!(
                "Format for 'users' key must be a comma-separated string or a dictionary or a list but found {}",
                py_type(other)
            );
            base_users = Value::Array(Vec::new());
        }
    }
    if !old_user.is_empty() {
        match &mut base_users {
            Value::Array(a) => a.push(serde_json::json!({"name": "default"})),
            Value::Object(m) => {
                let v = m.get("default").cloned().unwrap_or(Value::Bool(true));
                m.insert("default".into(), v);
            }
            Value::String(s) => s.push_str(",default"),
            _ => {}
        }
    }
    let groups = match cfg.get("groups") {
        Some(g) => normalize_groups(g)?,
        None => Vec::new(),
    };
    let users = normalize_users(&base_users, &default_user_config)?;
    Ok((users, groups))
}

/// The default user's name and config (`default: true`), if any.
pub fn extract_default(users: &UserList) -> Option<(String, Map<String, Value>)> {
    users
        .iter()
        .find(|(_, c)| c.get("default").map(truthy).unwrap_or(false))
        .map(|(n, c)| {
            let mut c = c.clone();
            c.remove("default");
            (n.clone(), c)
        })
}

/// Version and time for the headers of files upstream stamps.
pub fn stamp(version: &str) -> ci_distro::Stamp {
    ci_distro::Stamp {
        version: version.to_string(),
        date: ci_state::timefmt::rfc2822(ci_state::timefmt::now_epoch()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn debian() -> Distro {
        Distro::from_config(
            &json!({"system_info": {"distro": "debian", "default_user": {
            "name": "debian", "shell": "/bin/bash", "groups": ["adm", "sudo"],
            "sudo": ["ALL=(ALL) NOPASSWD:ALL"], "lock_passwd": true, "gecos": "Debian"}}}),
        )
    }

    fn names(u: &UserList) -> Vec<&str> {
        u.iter().map(|(n, _)| n.as_str()).collect()
    }

    // Expected values printed by the oracle's ug_util.normalize_users_groups.
    #[test]
    fn matches_upstream_normalisation() {
        let cfg = json!({"users": [{"name": "default", "shell": "/bin/zsh", "groups": "x, y"}, "bob, al",
            {"name": "debian", "gecos": "Me", "sudo": false}],
            "groups": ["g1", {"g2": ["a", "b"]}, {"g2": "c"}]});
        let (users, groups) = normalize_users_groups(&cfg, &debian()).unwrap();
        assert_eq!(names(&users), ["bob", " al", "debian"]);
        let d = &users[2].1;
        assert_eq!(d["shell"], "/bin/bash");
        assert_eq!(d["gecos"], "Debian");
        assert_eq!(d["groups"], "x, y");
        assert_eq!(d["sudo"], json!(["ALL=(ALL) NOPASSWD:ALL"]));
        assert_eq!(d["default"], true);
        assert_eq!(users[0].1["default"], false);
        assert_eq!(
            groups,
            vec![
                ("g1".to_string(), vec![]),
                ("g2".to_string(), vec!["a".into(), "b".into(), "c".into()])
            ]
        );

        let (users, _) =
            normalize_users_groups(&json!({"user": "joe", "users": ["default"]}), &debian())
                .unwrap();
        assert_eq!(names(&users), ["joe"]);
        assert_eq!(users[0].1["groups"], "adm,sudo");
        let (users, _) = normalize_users_groups(
            &json!({"user": {"name": "joe", "shell": "/bin/sh"}}),
            &debian(),
        )
        .unwrap();
        assert_eq!(users[0].1["shell"], "/bin/sh");
        let (users, _) = normalize_users_groups(
            &json!({"users": {"default": true, "bob": {"uid": 5}, "x": false}}),
            &debian(),
        )
        .unwrap();
        assert_eq!(names(&users), ["bob", "debian"]);
        assert_eq!(users[0].1["uid"], 5);
        let (users, _) =
            normalize_users_groups(&json!({"users": "default, bob"}), &debian()).unwrap();
        assert_eq!(names(&users), ["bob", "debian"]);
        assert_eq!(extract_default(&users).unwrap().0, "debian");
        let (users, _) = normalize_users_groups(
            &json!({"users": [{"name": "a", "lock-passwd": false}]}),
            &debian(),
        )
        .unwrap();
        assert_eq!(users[0].1["lock_passwd"], false);
        assert!(extract_default(&users).is_none());
        assert!(normalize_users_groups(&json!({"groups": 5}), &debian()).is_err());
    }
}

#[cfg(test)]
mod bytes_tests;

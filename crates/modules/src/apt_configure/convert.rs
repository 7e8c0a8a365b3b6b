//! Upstream's v1 → v2 → v3 conversion: a v1 `apt_sources` list becomes a
//! mapping, and the v2 top-level `apt_*` keys move under `apt` (unless
//! `apt` is already given, in which case they are dropped after checking
//! that they agree with it).

use crate::ugutil::deprecate;
use crate::ModuleError;
use ci_pyval::{py_list, py_str};
use serde_json::{Map, Value};

/// Old key → new key under `apt` (`None`: the mirror keys, which become a
/// `primary` entry). Upstream swaps the https and ftp proxy targets; that
/// is kept, since configs written against it rely on it.
const OLD_KEYS: &[(&str, Option<&str>)] = &[
    ("apt_sources", Some("sources")),
    ("apt_mirror", None),
    ("apt_mirror_search", None),
    ("apt_mirror_search_dns", None),
    ("apt_proxy", Some("proxy")),
    ("apt_http_proxy", Some("http_proxy")),
    ("apt_ftp_proxy", Some("https_proxy")),
    ("apt_https_proxy", Some("ftp_proxy")),
    ("apt_preserve_sources_list", Some("preserve_sources_list")),
    ("apt_custom_sources_list", Some("sources_list")),
    ("add_apt_repo_match", Some("add_apt_repo_match")),
];

const MIRROR_KEYS: &[(&str, &str)] = &[
    ("apt_mirror", "uri"),
    ("apt_mirror_search", "search"),
    ("apt_mirror_search_dns", "search_dns"),
];

fn value_error(msg: String) -> ModuleError {
    ModuleError::with_class("ValueError", msg)
}

pub(super) fn to_v3(cfg: &mut Map<String, Value>) -> Result<(), ModuleError> {
    if let Some(srcs) = cfg.get("apt_sources").filter(|v| !v.is_null()).cloned() {
        cfg.insert("apt_sources".into(), v1_to_v2(srcs)?);
    }
    v2_to_v3(cfg)
}

fn v1_to_v2(srclist: Value) -> Result<Value, ModuleError> {
    deprecate("Config key 'apt_sources'", "22.1", "Use 'apt' instead");
    match srclist {
        Value::Array(items) => {
            log::debug!("apt config: convert V1 to V2 format (source list to dict)");
            let mut out = Map::new();
            for item in items {
                let Value::Object(mut ent) = item else {
                    return Err(ModuleError::with_class(
                        "TypeError",
                        format!("unknown apt_sources entry: {}", py_str(&item)),
                    ));
                };
                let key = match ent.get("filename") {
                    Some(f) => py_str(f),
                    None => {
                        // Entries without a filename share one file but each
                        // needs its own key to be processed.
                        ent.insert(
                            "filename".into(),
                            Value::String("cloud_config_sources.list".into()),
                        );
                        random_key(&out, "cloud_config_sources.list")
                    }
                };
                out.insert(key, Value::Object(ent));
            }
            Ok(Value::Object(out))
        }
        Value::Object(m) => Ok(Value::Object(m)),
        _ => Err(value_error("unknown apt_sources format".into())),
    }
}

/// Upstream's `rand_dict_key`: eight random characters, `_`, the postfix.
fn random_key(taken: &Map<String, Value>, postfix: &str) -> String {
    const ALPHABET: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut n = 0u64;
    loop {
        let head = ci_host::random::pick_chars(ALPHABET, 8).unwrap_or_else(|_| format!("{n:08}"));
        let key = format!("{head}_{postfix}");
        if !taken.contains_key(&key) {
            return key;
        }
        n += 1;
    }
}

fn v2_to_v3(cfg: &mut Map<String, Value>) -> Result<(), ModuleError> {
    let mut to_convert: Vec<&str> = Vec::new();
    for (old, _) in OLD_KEYS {
        match cfg.get(*old) {
            Some(v) if v.is_null() || v.as_str() == Some("") => {
                cfg.remove(*old);
            }
            Some(_) => to_convert.push(old),
            None => {}
        }
    }
    if to_convert.is_empty() {
        return Ok(());
    }
    deprecate(
        &format!("The following config key(s): {}", py_list(&to_convert)),
        "22.1",
        "",
    );

    if let Some(new) = cfg.get("apt").filter(|v| !v.is_null()).cloned() {
        // Both formats given: the new one wins, the old keys must agree.
        deprecate(
            "Support for combined old and new apt module keys",
            "22.1",
            "",
        );
        for old in to_convert {
            let verify = cfg.remove(old).unwrap_or(Value::Null);
            let Some(Some(newkey)) = OLD_KEYS.iter().find(|(k, _)| *k == old).map(|(_, n)| *n)
            else {
                continue;
            };
            if let Some(v) = new.get(newkey).filter(|v| !v.is_null() && **v != verify) {
                return Err(value_error(format!(
                    "Old and New apt format defined with unequal values {} vs {} @ {old}",
                    py_str(&verify),
                    py_str(v)
                )));
            }
        }
        return Ok(());
    }

    let mut apt = Map::new();
    for (old, new) in OLD_KEYS {
        if let Some(new) = new {
            if let Some(v) = cfg.get(*old).filter(|v| !v.is_null()).cloned() {
                apt.insert((*new).into(), v);
                cfg.remove(*old);
            }
        }
    }
    let mut mirror = Map::new();
    mirror.insert(
        "arches".into(),
        Value::Array(vec![Value::String("default".into())]),
    );
    let mut converted = false;
    for (old, new) in MIRROR_KEYS {
        if let Some(v) = cfg.get(*old).filter(|v| !v.is_null()).cloned() {
            mirror.insert((*new).into(), v);
            cfg.remove(*old);
            converted = true;
        }
    }
    if converted {
        apt.insert("primary".into(), Value::Array(vec![Value::Object(mirror)]));
    }
    cfg.insert("apt".into(), Value::Object(apt));
    Ok(())
}

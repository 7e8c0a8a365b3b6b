//! `users_groups`: create groups and users (the default user from
//! `system_info.default_user`), sudo/doas rules, passwords, authorized keys.

use crate::sshutil::{self, DISABLE_USER_OPTS};
use crate::ugutil::{self, deprecate};
use crate::{Ctx, ModResult, ModuleError};
use ci_distro::Stamp;
use ci_pyval::binary::{decode, is_binary, is_binary_str};
use ci_pyval::{py_str, py_type, truthy};
use log::{debug, warn};
use serde_json::{Map, Value};

const NO_HOME: &[&str] = &["no_create_home", "system"];
const NEED_HOME: &[&str] = &["ssh_authorized_keys", "ssh_import_id", "ssh_redirect_user"];

fn merr(e: impl std::fmt::Display) -> ModuleError {
    ModuleError::new(e.to_string())
}

/// A user name as upstream prints it: bytes names (kept as bytes by the
/// normalisation) show as `b'...'`.
fn shown(name: &str) -> String {
    py_str(&Value::String(name.to_string()))
}

pub fn handle(ctx: &Ctx) -> ModResult {
    let (users, groups) = ugutil::normalize_users_groups(ctx.cfg, ctx.distro)?;
    let default_user = ugutil::extract_default(&users).map(|(n, _)| n);
    let cloud_keys = ctx.instance.public_keys.clone();
    let stamp = ugutil::stamp(ctx.version);

    for (name, members) in &groups {
        ctx.distro
            .create_group(ctx.host, name, members)
            .map_err(merr)?;
    }
    for (name, config) in users {
        let user = shown(&name);
        let mut config = config;
        let set = |keys: &[&str]| -> Vec<String> {
            keys.iter()
                .filter(|k| config.get(**k).is_some_and(truthy))
                .map(|k| k.to_string())
                .collect()
        };
        let (no_home, need_home) = (set(NO_HOME), set(NEED_HOME));
        if !no_home.is_empty() && !need_home.is_empty() {
            return Err(ModuleError::new(format!(
                "Not creating user {user}. Key(s) {} cannot be provided with {}",
                need_home.join(", "),
                no_home.join(", ")
            )));
        }
        let redirect = config
            .remove("ssh_redirect_user")
            .unwrap_or(Value::Bool(false));
        if truthy(&redirect) {
            if config.contains_key("ssh_authorized_keys") || config.contains_key("ssh_import_id") {
                return Err(ModuleError::new(format!(
                    "Not creating user {user}. ssh_redirect_user cannot be provided with ssh_import_id or ssh_authorized_keys"
                )));
            }
            if !(redirect == Value::Bool(true) || redirect == Value::String("default".into())) {
                return Err(ModuleError::new(format!(
                    "Not creating user {user}. Invalid value of ssh_redirect_user: {}. Expected values: true, default or false.",
                    py_str(&redirect)
                )));
            }
            match &default_user {
                None => warn!(
                    "Ignoring ssh_redirect_user: {} for {user}. No default_user defined. Perhaps missing cloud configuration users:  [default, ..].",
                    py_str(&redirect)
                ),
                Some(d) => {
                    config.insert("ssh_redirect_user".into(), Value::String(d.clone()));
                    config.insert(
                        "cloud_public_ssh_keys".into(),
                        Value::Array(cloud_keys.iter().cloned().map(Value::String).collect()),
                    );
                }
            }
        }
        create_user(ctx, &name, &config, &stamp)?;
    }
    Ok(())
}

/// Upstream's `distro.create_user`: ensure the user exists, then apply
/// passwords, locking, doas/sudo and SSH keys (also for existing users).
/// `name` may hold bytes (see `ugutil`); upstream only fails on that when
/// it looks the user up.
pub fn create_user(ctx: &Ctx, name: &str, kw: &Map<String, Value>, stamp: &Stamp) -> ModResult {
    let (host, distro) = (ctx.host, ctx.distro);
    let raw_name = name;
    let name_shown = shown(raw_name);
    let name = name_shown.as_str();
    if let Some(snapuser) = kw.get("snapuser") {
        let mut argv = vec!["snap", "create-user", "--sudoer", "--json"];
        if kw.get("known").is_some_and(truthy) {
            argv.push("--known");
        }
        // Upstream hands bytes to the command line as they are.
        let s = match decode(snapuser) {
            Some(b) => String::from_utf8(b).map_err(|_| {
                ModuleError::new(format!(
                    "'snapuser' of user {name} is bytes that are not UTF-8; cannot pass it to snap"
                ))
            })?,
            None => py_str(snapuser),
        };
        argv.push(&s);
        debug!("Adding snap user {name}");
        let out = host
            .run(&ci_host::Cmd::new(argv).in_target())
            .map_err(|e| {
                warn!("Failed to create snap user {name}");
                merr(e)
            })?;
        debug!(
            "snap create-user returned: {}:{}",
            out.stdout_str(),
            out.stderr_str()
        );
        return Ok(());
    }
    if is_binary_str(raw_name) {
        // Upstream's first look-up of the user, `pwd.getpwnam(name)`.
        return Err(ModuleError::with_class(
            "TypeError",
            "getpwnam() argument must be str, not bytes",
        ));
    }
    let pre_existing = if host.user(name).is_some() {
        !distro.add_user(host, name, kw).map_err(merr)?
    } else {
        !distro
            .add_user(host, name, &useradd_kw(kw)?)
            .map_err(merr)?
    };

    let mut has_existing_password = false;
    let mut blank_specified = false;
    let mut password_specified = false;
    let mut password_key = "";
    for (key, hashed) in [("plain_text_passwd", false), ("hashed_passwd", true)] {
        if let Some(v) = kw.get(key) {
            password_specified = true;
            password_key = key;
            if truthy(v) {
                distro
                    .set_passwd(host, name, &py_str(v), hashed)
                    .map_err(merr)?;
            } else {
                blank_specified = true;
            }
        }
    }
    if pre_existing {
        if !password_specified {
            if kw.contains_key("passwd") {
                password_key = "passwd";
                warn!("'passwd' in user-data is ignored for existing user {name}");
            }
            has_existing_password = !distro.has_empty_password(host, name);
        }
    } else if let Some(v) = kw.get("passwd") {
        password_specified = true;
        password_key = "passwd";
        if !truthy(v) {
            blank_specified = true;
        }
    }

    if kw.get("lock_passwd").map(truthy).unwrap_or(true) {
        distro.lock_passwd(host, name).map_err(merr)?;
    } else if has_existing_password || password_specified {
        if blank_specified {
            debug!("Allowing unlocking empty password for {name} based on empty '{password_key}' in user-data");
        }
        distro.unlock_passwd(host, name).map_err(merr)?;
    } else if pre_existing {
        warn!(
            "Not unlocking blank password for existing user {name}. 'lock_passwd: false' present in user-data but no existing password set and no 'plain_text_passwd'/'hashed_passwd' provided in user-data"
        );
    } else {
        warn!(
            "Not unlocking password for user {name}. 'lock_passwd: false' present in user-data but no 'passwd'/'plain_text_passwd'/'hashed_passwd' provided in user-data"
        );
    }

    if let Some(doas) = kw.get("doas").filter(|d| truthy(d)) {
        check_doas(doas)?;
        distro
            .write_doas_rules(host, name, doas, stamp)
            .map_err(merr)?;
    }
    match kw.get("sudo") {
        Some(Value::Bool(false)) => deprecate(
            &format!("The value of 'false' in user {name}'s 'sudo' config"),
            "22.2",
            "Use 'null' instead.",
        ),
        // Upstream refuses a rules value that is neither list nor str.
        Some(rules) if is_binary(rules) => {
            return Err(ModuleError::with_class(
                "TypeError",
                "Can not create sudoers rule addition with type 'bytes'",
            ))
        }
        Some(rules) if truthy(rules) => distro
            .write_sudo_rules(host, name, rules, stamp)
            .map_err(merr)?,
        _ => {}
    }

    if let Some(keys) = kw.get("ssh_authorized_keys") {
        let keys: Vec<String> = match keys {
            Value::String(s) if !is_binary_str(s) => vec![s.clone()],
            Value::Object(m) => m.values().map(py_str).collect(),
            Value::Array(a) => a.iter().map(py_str).collect(),
            Value::Null => {
                return Err(ModuleError::with_class(
                    "TypeError",
                    "'NoneType' object is not iterable",
                ))
            }
            other => {
                warn!(
                    "Invalid type '<class '{}'>' detected for 'ssh_authorized_keys', expected list, string, dict, or set.",
                    py_type(other)
                );
                Vec::new()
            }
        };
        known_user(host, name)?;
        sshutil::setup_user_keys(host, &sshutil::dedup(keys), name, None)
            .map_err(ModuleError::new)?;
    }
    if let Some(redirect) = kw.get("ssh_redirect_user") {
        let cloud_keys: Vec<String> = match kw.get("cloud_public_ssh_keys") {
            Some(Value::Array(a)) => a.iter().map(py_str).collect(),
            _ => Vec::new(),
        };
        if cloud_keys.is_empty() {
            warn!(
                "Unable to disable SSH logins for {name} given ssh_redirect_user: {}. No cloud public-keys present.",
                py_str(redirect)
            );
        } else {
            let opts = DISABLE_USER_OPTS
                .replace("$USER", &py_str(redirect))
                .replace("$DISABLE_USER", name);
            known_user(host, name)?;
            sshutil::setup_user_keys(host, &sshutil::dedup(cloud_keys), name, Some(&opts))
                .map_err(ModuleError::new)?;
        }
    }
    Ok(())
}

/// Upstream looks the user up with `pwd.getpwnam` before installing keys: a
/// user that was not created (its tool failed) is a `KeyError`.
fn known_user(host: &ci_host::Host, name: &str) -> ModResult {
    match host.user(name) {
        Some(_) => Ok(()),
        None => Err(ModuleError::with_class(
            "KeyError",
            format!("getpwnam(): name not found: {}", ci_pyval::py_quote(name)),
        )),
    }
}

/// Upstream matches each doas rule against a str pattern: a bytes rules
/// value iterates into ints, a bytes rule is refused by `re`.
fn check_doas(doas: &Value) -> ModResult {
    if is_binary(doas) {
        return Err(ModuleError::with_class(
            "TypeError",
            "expected string or bytes-like object, got 'int'",
        ));
    }
    if let Value::Array(rules) = doas {
        if rules.iter().any(is_binary) {
            return Err(ModuleError::with_class(
                "TypeError",
                "cannot use a string pattern on a bytes-like object",
            ));
        }
    }
    Ok(())
}

/// Keys whose value upstream's `add_user` puts after a `useradd` option,
/// and only when it is a str.
const USERADD_OPTS: &[&str] = &[
    "gecos",
    "homedir",
    "primary_group",
    "passwd",
    "shell",
    "expiredate",
    "inactive",
    "selinux_user",
];

/// The settings for creating a new user as upstream's `add_user` treats
/// bytes: it fails on bytes `groups` (and on bytes among them), and leaves
/// out any other option whose value is not a str.
fn useradd_kw(kw: &Map<String, Value>) -> Result<Map<String, Value>, ModuleError> {
    if let Some(groups) = kw.get("groups").filter(|g| truthy(g)) {
        if is_binary(groups) {
            // Bytes iterate into ints, which have no `.strip()`.
            return Err(ModuleError::with_class(
                "AttributeError",
                "'int' object has no attribute 'strip'",
            ));
        }
        if let Value::Array(items) = groups {
            if let Some(i) = items.iter().position(is_binary) {
                return Err(ModuleError::with_class(
                    "TypeError",
                    format!("sequence item {i}: expected str instance, bytes found"),
                ));
            }
        }
        let creates = kw.get("create_groups").map(truthy).unwrap_or(true);
        if creates && kw.get("primary_group").is_some_and(is_binary) {
            // Upstream creates the other missing groups first; we stop
            // before creating any.
            return Err(ModuleError::with_class(
                "TypeError",
                "getgrnam() argument must be str, not bytes",
            ));
        }
    }
    let mut out = kw.clone();
    out.retain(|k, v| !(USERADD_OPTS.contains(&k.as_str()) && is_binary(v)));
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests;

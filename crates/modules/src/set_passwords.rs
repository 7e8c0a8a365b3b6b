//! `set_passwords`: `chpasswd` users (text, hash, RANDOM), `password` for
//! the default user, expiry, and `ssh_pwauth` (PasswordAuthentication).

use crate::sshutil;
use crate::ugutil::{self, deprecate};
use crate::{Ctx, ModResult, ModuleError};
use ci_distro::ServiceAction;
use ci_host::{random, Host};
use ci_pyval::binary::{decode, is_binary, text};
use ci_pyval::{is_false, is_true, py_str};
use log::{debug, warn};
use serde_json::Value;
use std::io::Write;

const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

/// Upstream's `rand_user_password`: 20 characters with at least one digit,
/// lower, upper and punctuation character, shuffled. Without randomness
/// from the OS there is no password (an error), never a guessable one.
pub fn rand_user_password() -> Result<String, random::RandomError> {
    const DIGITS: &str = "0123456789";
    const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
    const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let classes = [DIGITS, LOWER, UPPER, PUNCTUATION];
    let mut out = String::with_capacity(20);
    for class in classes {
        out.push_str(&random::pick_chars(class, 1)?);
    }
    out.push_str(&random::pick_chars(&classes.concat(), 20 - classes.len())?);
    let mut chars: Vec<char> = out.chars().collect();
    random::shuffle(&mut chars)?;
    Ok(chars.into_iter().collect())
}

/// Generated passwords go to the machine's console only, as upstream: not
/// to stderr, which the `output` setting copies into
/// cloud-init-output.log, and not to the log. A sandbox root (`--root`)
/// has no console of its own, so nothing is shown there.
fn show_on_console(host: &Host, text: &str) {
    if host.is_sandbox() {
        return;
    }
    if let Ok(mut con) = std::fs::OpenOptions::new().write(true).open("/dev/console") {
        let _ = con.write_all(text.as_bytes());
        let _ = con.flush();
    }
}

/// A random password for `user`, or the module's error when the OS has no
/// randomness to give.
fn random_password_for(user: &str) -> Result<String, ModuleError> {
    rand_user_password()
        .map_err(|e| ModuleError::new(format!("cannot generate a random password for {user}: {e}")))
}

/// A `$1$`, `$2a$`, `$2y$`, `$5$` or `$6$` crypt hash (upstream's regex `\$(1|2a|2y|5|6)(\$.+){2}`).
fn looks_hashed(p: &str) -> bool {
    let rest = ["$1$", "$2a$", "$2y$", "$5$", "$6$"]
        .iter()
        .find_map(|pre| p.strip_prefix(pre));
    match rest {
        Some(r) => r.find('$').is_some_and(|i| i > 0 && i + 1 < r.len()) && !p.contains(':'),
        None => false,
    }
}

/// One `chpasswd.users` entry as upstream shows it (`str()`, so bytes read
/// `b'...'`), with where bytes sit in its (name, password) pair: upstream
/// joins the pair with `":".join`, which refuses bytes.
struct Entry {
    name: String,
    password: String,
    bytes_at: Option<usize>,
    /// The name for `passwd --expire`: upstream puts bytes on the command
    /// line as they are.
    arg: String,
}

fn users_by_type(users: &[Value], ty: &str) -> Vec<Entry> {
    users
        .iter()
        // A bytes `type` equals none of the str types, as upstream.
        .filter(|u| match u.get("type") {
            Some(t) => text(t) == Some(ty),
            None => ty == "hash",
        })
        .filter_map(|u| {
            let name = u.get("name")?;
            let password = u.get("password");
            let bytes_at = if is_binary(name) {
                Some(0)
            } else if password.is_some_and(is_binary) {
                Some(1)
            } else {
                None
            };
            let arg = decode(name)
                .and_then(|b| String::from_utf8(b).ok())
                .unwrap_or_else(|| py_str(name));
            Some(Entry {
                arg,
                name: py_str(name),
                password: password.map(py_str).unwrap_or_else(|| "RANDOM".into()),
                bytes_at,
            })
        })
        .collect()
}

/// Upstream's `TypeError` from joining a pair that holds bytes; checked
/// before `chpasswd` runs, so no `b'...'` text is ever set as a password.
fn bytes_error<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> Option<ModuleError> {
    entries.into_iter().find_map(|e| {
        e.bytes_at.map(|i| {
            ModuleError::with_class(
                "TypeError",
                format!("sequence item {i}: expected str instance, bytes found"),
            )
        })
    })
}

/// Set PasswordAuthentication; restart sshd only when it changed and is running.
pub fn handle_ssh_pwauth(ctx: &Ctx, pw_auth: Option<&Value>) -> ModResult {
    let service = ctx.distro.ssh_service(ctx.host);
    let cfg_name = "PasswordAuthentication";
    if pw_auth.and_then(text).is_some() {
        deprecate(
            "Using a string value for the 'ssh_pwauth' key",
            "22.2",
            "Use a boolean value with 'ssh_pwauth'.",
        );
    }
    let value = match pw_auth {
        Some(v) if is_true(v) => "yes",
        Some(v) if is_false(v) => "no",
        other => {
            let bmsg = format!("Leaving SSH config '{cfg_name}' unchanged.");
            match other {
                None | Some(Value::Null) => debug!("{bmsg} ssh_pwauth=None"),
                Some(v) if text(v).is_some_and(|s| s.to_lowercase() == "unchanged") => {
                    debug!("{bmsg} ssh_pwauth={}", py_str(v))
                }
                Some(v) => warn!("{bmsg} Unrecognized value: ssh_pwauth={}", py_str(v)),
            }
            return Ok(());
        }
    };
    let updated = sshutil::update_ssh_config(ctx.host, &[(cfg_name, value)])?;
    if !updated {
        debug!("No need to restart SSH service, {cfg_name} not updated.");
        return Ok(());
    }
    // Under --root the runner skips these (the SSH daemon running here is
    // this machine's), unless --machine-commands says the target's run.
    let host = ctx.host;
    let distro = ctx.distro;
    let restart = |extra: &[&str]| {
        match host.run(&distro.service_cmd(host, ServiceAction::Restart, &service, extra)) {
            Ok(_) => debug!("Restarted the SSH daemon."),
            Err(e) => warn!(
                "'ssh_pwauth' configuration may not be applied. Cloud-init was unable to restart SSH daemon due to error: '{e}'"
            ),
        }
    };
    if distro.uses_systemd(host) {
        let state = host.run(
            &ci_host::Cmd::new([
                "systemctl",
                "show",
                "--property",
                "ActiveState",
                "--value",
                service.as_str(),
            ])
            .in_target(),
        )?;
        let state = state.stdout_str().trim().to_lowercase();
        if matches!(state.as_str(), "active" | "activating" | "reloading") {
            restart(&["--job-mode=ignore-dependencies"]);
        }
    } else {
        restart(&[]);
    }
    Ok(())
}

pub fn handle(ctx: &Ctx) -> ModResult {
    let (host, distro) = (ctx.host, ctx.distro);
    let mut chfg = ctx.get("chpasswd").cloned().unwrap_or(Value::Null);
    let password: Option<String> = match ctx.args.first() {
        Some(a) => {
            if let Some(m) = chfg.as_object_mut() {
                m.remove("list");
            }
            Some(a.clone())
        }
        None => ctx.get("password").filter(|v| !v.is_null()).map(py_str),
    };
    let mut expire = true;
    let mut plist: Vec<String> = Vec::new();
    let mut users_list: Vec<Value> = Vec::new();
    if let Value::Object(ch) = &chfg {
        users_list = match ch.get("users") {
            Some(Value::Array(a)) => a.clone(),
            Some(Value::Null) | None => Vec::new(),
            Some(other) => vec![other.clone()],
        };
        if let Some(list) = ch.get("list").filter(|l| ci_pyval::truthy(l)) {
            deprecate("Config key 'lists'", "22.3", "Use 'users' instead.");
            match list {
                Value::Array(a) => {
                    debug!("Handling input for chpasswd as list.");
                    // Upstream splits each line with a str separator, which
                    // bytes refuse before any password is set.
                    if a.iter().any(is_binary) {
                        return Err(ModuleError::with_class(
                            "TypeError",
                            "a bytes-like object is required, not 'str'",
                        ));
                    }
                    plist = a.iter().map(py_str).collect();
                }
                other => {
                    deprecate(
                        "The chpasswd multiline string",
                        "22.2",
                        "Use string type instead.",
                    );
                    debug!("Handling input for chpasswd as multiline string.");
                    plist = py_str(other).lines().map(str::to_string).collect();
                }
            }
        }
        if let Some(e) = ch.get("expire") {
            expire = is_true(e);
        }
    }
    if users_list.is_empty() && plist.is_empty() {
        if let Some(pw) = password.filter(|p| !p.is_empty()) {
            let (users, _) = ugutil::normalize_users_groups(ctx.cfg, distro)?;
            match ugutil::extract_default(&users) {
                // A bytes name (kept by `ugutil`) shows as `b'...'`, as
                // upstream's `"%s:%s"` formats it.
                Some((user, _)) => plist = vec![format!("{}:{pw}", py_str(&Value::String(user)))],
                None => warn!("No default or defined user to change password for."),
            }
        }
    }

    let mut errors: Vec<ModuleError> = Vec::new();
    if !plist.is_empty() || !users_list.is_empty() {
        let text_users = users_by_type(&users_list, "text");
        let hash_users = users_by_type(&users_list, "hash");
        let random_users = users_by_type(&users_list, "RANDOM");
        // RANDOM entries get a generated (str) password, so only their name counts.
        let plain_bytes = bytes_error(
            text_users
                .iter()
                .chain(random_users.iter().filter(|e| e.bytes_at == Some(0))),
        );
        let hashed_bytes = bytes_error(&hash_users);
        let mut plain: Vec<(String, String)> = Vec::new();
        let mut users: Vec<String> = Vec::new();
        let mut users_args: Vec<String> = Vec::new();
        for e in text_users {
            users.push(e.name.clone());
            users_args.push(e.arg);
            plain.push((e.name, e.password));
        }
        let mut hashed: Vec<(String, String)> = Vec::new();
        let mut hashed_users: Vec<String> = Vec::new();
        let mut hashed_args: Vec<String> = Vec::new();
        for e in hash_users {
            hashed_users.push(e.name.clone());
            hashed_args.push(e.arg);
            hashed.push((e.name, e.password));
        }
        let mut randlist: Vec<String> = Vec::new();
        for Entry {
            name: user, arg, ..
        } in random_users
        {
            let pw = random_password_for(&user)?;
            users.push(user.clone());
            users_args.push(arg);
            randlist.push(format!("{user}:{pw}"));
            plain.push((user, pw));
        }
        for line in &plist {
            let Some((u, p)) = line.split_once(':') else {
                return Err(ModuleError::with_class(
                    "ValueError",
                    "not enough values to unpack (expected 2, got 1)",
                ));
            };
            if looks_hashed(p) {
                hashed.push((u.into(), p.into()));
                hashed_users.push(u.into());
                hashed_args.push(u.into());
            } else {
                let p = if p == "R" || p == "RANDOM" {
                    let r = random_password_for(u)?;
                    randlist.push(format!("{u}:{r}"));
                    r
                } else {
                    p.to_string()
                };
                plain.push((u.into(), p));
                users.push(u.into());
                users_args.push(u.into());
            }
        }
        if !users.is_empty() {
            debug!("Changing password for {users:?}:");
            let res = match plain_bytes {
                Some(e) => Err(e),
                None => distro
                    .chpasswd(host, &plain, false)
                    .map_err(|e| ModuleError::new(e.to_string())),
            };
            if let Err(e) = res {
                warn!("Failed to set passwords with chpasswd for {users:?}");
                errors.push(e);
            }
        }
        if !hashed_users.is_empty() {
            debug!("Setting hashed password for {hashed_users:?}:");
            let res = match hashed_bytes {
                Some(e) => Err(e),
                None => distro
                    .chpasswd(host, &hashed, true)
                    .map_err(|e| ModuleError::new(e.to_string())),
            };
            if let Err(e) = res {
                warn!("Failed to set hashed passwords with chpasswd for {hashed_users:?}");
                errors.push(e);
            }
        }
        if !randlist.is_empty() {
            let text = format!(
                "Set the following 'random' passwords\n\n{}\n",
                randlist.join("\n")
            );
            show_on_console(host, &text);
        }
        if expire {
            let mut expired: Vec<String> = Vec::new();
            for (u, arg) in users
                .iter()
                .zip(&users_args)
                .chain(hashed_users.iter().zip(&hashed_args))
            {
                match distro.expire_passwd(host, arg) {
                    Ok(()) => expired.push(u.clone()),
                    Err(e) => {
                        warn!("Failed to set 'expire' for {u}");
                        errors.push(ModuleError::new(e.to_string()));
                    }
                }
            }
            if !expired.is_empty() {
                debug!("Expired passwords for: {expired:?} users");
            }
        }
    }
    handle_ssh_pwauth(ctx, ctx.get("ssh_pwauth"))?;
    if let Some(last) = errors.pop() {
        debug!(
            "{} errors occurred, re-raising the last one",
            errors.len() + 1
        );
        return Err(last);
    }
    Ok(())
}

#[cfg(test)]
mod bytes_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_passwords_have_every_class() {
        for _ in 0..20 {
            let p = rand_user_password().unwrap();
            assert_eq!(p.chars().count(), 20);
            assert!(p.chars().any(|c| c.is_ascii_digit()));
            assert!(p.chars().any(|c| c.is_ascii_lowercase()));
            assert!(p.chars().any(|c| c.is_ascii_uppercase()));
            assert!(p.chars().any(|c| PUNCTUATION.contains(c)));
        }
        assert_ne!(rand_user_password().unwrap(), rand_user_password().unwrap());
    }

    #[test]
    fn hash_detection() {
        assert!(looks_hashed("$6$rounds=4096$salt$hash"));
        assert!(looks_hashed("$1$x$y"));
        assert!(!looks_hashed("$6$onlyone"));
        assert!(!looks_hashed("plain"));
        assert!(!looks_hashed("$7$a$b"));
    }
}

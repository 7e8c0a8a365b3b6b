//! Users, groups and passwords: the commands upstream's distro classes run,
//! pointed at the target root.
//!
//! In a sandbox (root other than `/`) the machine's own shadow-utils run
//! with `--root DIR` (FreeBSD: `pw -R DIR`), so the busybox variants are
//! only chosen when provisioning the running system. Tools without a root
//! option run inside the target (`chroot`).

use crate::{Distro, Family};
use ci_host::{Cmd, CmdError, CmdOutput, Host};
use ci_pyval::binary::{decode, is_binary, text};
use ci_pyval::{py_repr, py_str, truthy};
use log::{debug, info, warn};
use serde_json::{Map, Value};

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error(transparent)]
    Cmd(#[from] CmdError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Msg(String),
}

/// Version and time for the `# Created by cloud-init v. X on DATE` headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    pub version: String,
    /// RFC 2822 time, as upstream's `util.time_rfc2822()`.
    pub date: String,
}

impl Stamp {
    /// Upstream's `util.make_header(base=...)`: `# Created by ...`, `# Added by ...`.
    pub fn header(&self, base: &str) -> String {
        let mut title = String::new();
        let mut chars = base.chars();
        if let Some(c) = chars.next() {
            title.extend(c.to_uppercase());
            title.push_str(&chars.as_str().to_lowercase());
        }
        format!(
            "# {title} by cloud-init v. {} on {}",
            self.version, self.date
        )
    }
}

const PATH_DIRS: &[&str] = &[
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// Run and accept the listed exit codes.
pub(crate) fn run_rcs(host: &Host, cmd: &Cmd, rcs: &[i32]) -> Result<CmdOutput, CmdError> {
    let out = host.runner().execute(host, cmd)?;
    if !rcs.contains(&out.status) {
        return Err(CmdError::Failed {
            cmd: cmd.display(),
            status: out.status,
            stderr: out.stderr_str().trim().to_string(),
        });
    }
    Ok(out)
}

fn log_form(argv: &[String]) -> String {
    format!("{argv:?}")
}

impl Distro {
    /// Upstream's `subp.which` for a tool the agent will run: present in
    /// the target, or (in a sandbox, where the machine's own tools run with
    /// a root option) on this machine.
    pub fn which(&self, host: &Host, prog: &str) -> bool {
        let in_target = PATH_DIRS
            .iter()
            .any(|d| host.resolve(format!("{d}/{prog}")).is_file());
        in_target
            || (host.is_sandbox()
                && PATH_DIRS
                    .iter()
                    .any(|d| std::path::Path::new(&format!("{d}/{prog}")).is_file()))
    }

    /// Upstream's `util.system_is_snappy` (Ubuntu Core): users go to extrausers.
    pub fn is_snappy(&self, host: &Host) -> bool {
        let os_release = host.read_to_string("/etc/os-release").unwrap_or_default();
        let core = os_release.lines().any(|l| {
            l.strip_prefix("ID=")
                .map(|v| {
                    v.trim()
                        .trim_matches(|c| c == '"' || c == '\'')
                        .eq_ignore_ascii_case("ubuntu-core")
                })
                .unwrap_or(false)
        });
        core || host.kernel_cmdline().contains("snap_core=")
            || host
                .read_to_string("/etc/system-image/channel.ini")
                .map(|c| c.to_lowercase().contains("ubuntu-core"))
                .unwrap_or(false)
            || host.is_dir("/etc/system-image/config.d")
    }

    /// A shadow-utils command with `--root DIR` when the root is not `/`.
    pub fn shadow_cmd(&self, host: &Host, prog: &str, args: &[&str]) -> Cmd {
        let mut argv = vec![prog.to_string()];
        if host.is_sandbox() {
            argv.push("--root".into());
            argv.push(host.root().to_string_lossy().into_owned());
        }
        argv.extend(args.iter().map(|s| s.to_string()));
        Cmd::new(argv)
    }

    /// FreeBSD `pw`, run inside the target as upstream runs it in a chroot
    /// (a `--root` target is a FreeBSD tree, whose own `pw` edits its files).
    fn pw_cmd(&self, _host: &Host, args: &[&str]) -> Cmd {
        let mut argv = vec!["pw".to_string()];
        argv.extend(args.iter().map(|s| s.to_string()));
        Cmd::new(argv).in_target()
    }

    /// Busybox `passwd` on Alpine (a symlink to bbsuid) when no shadow-utils:
    /// only relevant when provisioning the running system.
    fn busybox_passwd(&self, host: &Host) -> bool {
        self.family == Family::Alpine
            && !host.is_sandbox()
            && host
                .read_link("/usr/bin/passwd")
                .map(|p| p.to_string_lossy().contains("bbsuid"))
                .unwrap_or(false)
    }

    /// Create `name` as upstream's `add_user`; `Ok(false)` when it exists.
    pub fn add_user(
        &self,
        host: &Host,
        name: &str,
        cfg: &Map<String, Value>,
    ) -> Result<bool, AccountError> {
        if host.user(name).is_some() {
            info!("User {name} already exists, skipping.");
            return Ok(false);
        }
        let mut kw = cfg.clone();
        if self.family == Family::Alpine && kw.remove("selinux_user").is_some() {
            warn!("Ignoring selinux_user parameter for Alpine Linux");
        }
        if self.family == Family::FreeBsd {
            return self.pw_useradd(host, name, &kw);
        }
        let busybox = self.family == Family::Alpine && !self.which(host, "useradd");
        let create_groups = kw
            .remove("create_groups")
            .map(|v| truthy(&v))
            .unwrap_or(true);
        let mut groups: Vec<String> = Vec::new();
        // A bytes primary group only matters when groups are created:
        // upstream then fails looking it up, after the other groups.
        let mut bytes_primary = false;
        if let Some(g) = kw.get("groups").filter(|g| truthy(g)) {
            groups = group_names(name, g)?;
            groups = groups.iter().map(|g| g.trim().to_string()).collect();
            kw.insert("groups".into(), Value::String(groups.join(",")));
            if let Some(p) = kw.get("primary_group").filter(|p| truthy(p)) {
                if is_binary(p) {
                    bytes_primary = true;
                } else {
                    groups.push(py_str(p));
                }
            }
        }
        if create_groups {
            for g in &groups {
                if host.group(g).is_none() {
                    self.create_group(host, g, &[])?;
                    debug!("created group '{g}' for user '{name}'");
                }
            }
            if bytes_primary {
                return Err(AccountError::Msg(format!(
                    "Invalid 'primary_group' for user {name}: a group name must be a string, not bytes"
                )));
            }
        }
        if let Some(uid) = kw.get("uid").map(py_str) {
            kw.insert("uid".into(), Value::String(uid));
        }
        if busybox {
            return self.busybox_adduser(host, name, &kw);
        }

        let mut argv: Vec<String> = vec!["useradd".into()];
        if host.is_sandbox() {
            argv.push("--root".into());
            argv.push(host.root().to_string_lossy().into_owned());
        }
        argv.push(name.into());
        if self.is_snappy(host) {
            argv.push("--extrausers".into());
        }
        let mut shown = argv.clone();
        let mut sorted: Vec<(&String, &Value)> = kw.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        for (key, val) in sorted {
            let opt = match key.as_str() {
                "gecos" => Some("--comment"),
                "homedir" => Some("--home"),
                "primary_group" => Some("--gid"),
                "uid" => Some("--uid"),
                "groups" => Some("--groups"),
                "passwd" => Some("--password"),
                "shell" => Some("--shell"),
                "expiredate" => Some("--expiredate"),
                "inactive" => Some("--inactive"),
                "selinux_user" => Some("--selinux-user"),
                _ => None,
            };
            let flag = match key.as_str() {
                "no_user_group" => Some("--no-user-group"),
                "system" => Some("--system"),
                "no_log_init" => Some("--no-log-init"),
                _ => None,
            };
            match (opt, flag, text(val)) {
                (Some(o), _, Some(s)) if !s.is_empty() => {
                    argv.push(o.into());
                    argv.push(s.to_string());
                    shown.push(o.into());
                    shown.push(if key == "passwd" {
                        "REDACTED".into()
                    } else {
                        s.to_string()
                    });
                }
                (_, Some(f), _) if truthy(val) => {
                    argv.push(f.into());
                    shown.push(f.into());
                }
                _ => {}
            }
        }
        let no_home = kw.get("no_create_home").map(truthy).unwrap_or(false)
            || kw.get("system").map(truthy).unwrap_or(false);
        let home_flag = if no_home { "-M" } else { "-m" };
        argv.push(home_flag.into());
        shown.push(home_flag.into());
        debug!("Adding user {name}");
        let cmd = Cmd::new(argv).redact(log_form(&shown));
        if let Err(e) = host.run(&cmd) {
            warn!("Failed to create user {name}");
            return Err(e.into());
        }
        Ok(true)
    }

    fn busybox_adduser(
        &self,
        host: &Host,
        name: &str,
        kw: &Map<String, Value>,
    ) -> Result<bool, AccountError> {
        let mut argv: Vec<String> = vec!["adduser".into(), "-D".into()];
        let mut extra_groups: Vec<String> = Vec::new();
        let mut passwd: Option<String> = None;
        let mut sorted: Vec<(&String, &Value)> = kw.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        for (key, val) in sorted {
            let opt = match key.as_str() {
                "gecos" => Some("-g"),
                "homedir" => Some("-h"),
                "primary_group" => Some("-G"),
                "shell" => Some("-s"),
                "uid" => Some("-u"),
                _ => None,
            };
            match (opt, text(val)) {
                (Some(o), Some(s)) if !s.is_empty() => {
                    argv.push(o.into());
                    argv.push(s.to_string());
                }
                (None, Some(s)) if !s.is_empty() && key == "groups" => {
                    extra_groups = s.split(',').map(str::to_string).collect();
                }
                (None, Some(s)) if !s.is_empty() && key == "passwd" => {
                    passwd = Some(s.to_string());
                }
                (None, _) if key == "system" && truthy(val) => argv.push("-S".into()),
                _ => {}
            }
        }
        if kw.get("no_create_home").map(truthy).unwrap_or(false)
            || kw.get("system").map(truthy).unwrap_or(false)
        {
            argv.push("-H".into());
        }
        argv.push(name.into());
        debug!("Adding user {name}");
        if let Err(e) = host.run(&Cmd::new(argv).in_target()) {
            warn!("Failed to create user {name}");
            return Err(e.into());
        }
        for g in extra_groups {
            debug!("Adding user to group {g}");
            if let Err(e) = host.run(&Cmd::new(["addgroup", name, g.as_str()]).in_target()) {
                warn!("Failed to add user {name} to group {g}");
                return Err(e.into());
            }
        }
        if let Some(p) = passwd {
            self.set_passwd(host, name, &p, true)?;
        }
        Ok(true)
    }

    fn pw_useradd(
        &self,
        host: &Host,
        name: &str,
        kw: &Map<String, Value>,
    ) -> Result<bool, AccountError> {
        let mut args: Vec<String> = vec!["useradd".into(), "-n".into(), name.into()];
        // Upstream walks the options in the order they were given here.
        for (key, val) in kw {
            let opt = match key.as_str() {
                "homedir" => Some("-d"),
                "gecos" => Some("-c"),
                "primary_group" => Some("-g"),
                "groups" => Some("-G"),
                "shell" => Some("-s"),
                "inactive" => Some("-E"),
                "uid" => Some("-u"),
                _ => None,
            };
            let flag = match key.as_str() {
                "no_user_group" => Some("--no-user-group"),
                "system" => Some("--system"),
                "no_log_init" => Some("--no-log-init"),
                _ => None,
            };
            match (opt, flag, val) {
                // Upstream takes text and numbers only, so bytes are skipped.
                (Some(o), _, Value::String(_) | Value::Number(_))
                    if truthy(val) && !is_binary(val) =>
                {
                    args.push(o.into());
                    args.push(py_str(val));
                }
                (_, Some(f), v) if truthy(v) => args.push(f.into()),
                _ => {}
            }
        }
        if kw.contains_key("no_create_home") || kw.contains_key("system") {
            args.push("-d/nonexistent".into());
        } else {
            let home = match kw.get("homedir") {
                Some(h) if is_binary(h) => {
                    return Err(AccountError::Msg(format!(
                        "Invalid 'homedir' for user {name}: a path must be a string, not bytes"
                    )))
                }
                Some(h) => py_str(h),
                None => format!("/usr/home/{name}"),
            };
            args.push(format!("-d{home}"));
            args.push("-m".into());
        }
        info!("Adding user {name}");
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        if let Err(e) = host.run(&self.pw_cmd(host, &refs)) {
            warn!("Failed to create user {name}");
            return Err(e.into());
        }
        if let Some(p) = kw.get("passwd").filter(|v| !v.is_null()) {
            // Upstream pipes a bytes password to `pw` as it is.
            let raw = decode(p).unwrap_or_else(|| py_str(p).into_bytes());
            self.set_passwd_bytes(host, name, &raw, true)?;
        }
        Ok(true)
    }

    /// Create a group (warned and skipped when it exists), then add members.
    pub fn create_group(
        &self,
        host: &Host,
        name: &str,
        members: &[String],
    ) -> Result<(), AccountError> {
        let busybox = self.family == Family::Alpine && !self.which(host, "groupadd");
        if host.group(name).is_some() {
            warn!("Skipping creation of existing group '{name}'");
        } else {
            let cmd = if self.family == Family::FreeBsd {
                self.pw_cmd(host, &["group", "add", name])
            } else if busybox {
                Cmd::new(["addgroup", name]).in_target()
            } else {
                let mut c = self.shadow_cmd(host, "groupadd", &[name]);
                if self.is_snappy(host) {
                    c.argv.push("--extrausers".into());
                }
                c
            };
            match host.run(&cmd) {
                Ok(_) => info!("Created new group {name}"),
                Err(e) => {
                    warn!("Failed to create group {name}");
                    debug!("Failed to create group {name}: {e}");
                }
            }
        }
        for member in members {
            if host.user(member).is_none() {
                warn!(
                    "Unable to add group member '{member}' to group '{name}'; user does not exist."
                );
                continue;
            }
            let cmd = if self.family == Family::FreeBsd {
                self.pw_cmd(host, &["usermod", "-n", member, "-G", name])
            } else if busybox {
                Cmd::new(["addgroup", member.as_str(), name]).in_target()
            } else {
                self.shadow_cmd(host, "usermod", &["-a", "-G", name, member])
            };
            match host.run(&cmd) {
                Ok(_) => info!("Added user '{member}' to group '{name}'"),
                Err(e) if self.family == Family::FreeBsd => {
                    warn!("Failed to add user '{member}' to group '{name}'");
                    debug!("{e}");
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Disable password logins (`passwd -l`, else `usermod --lock`).
    pub fn lock_passwd(&self, host: &Host, name: &str) -> Result<(), AccountError> {
        if self.family == Family::FreeBsd {
            return host
                .run(&self.pw_cmd(host, &["usermod", name, "-w", "no"]))
                .map(|_| ())
                .map_err(|e| {
                    warn!("Failed to lock password login for user {name}");
                    e.into()
                });
        }
        if self.busybox_passwd(host) {
            // Busybox exits 1 when the password is already locked.
            return run_rcs(host, &Cmd::new(["passwd", "-l", name]).in_target(), &[0, 1])
                .map(|_| ())
                .map_err(|e| {
                    warn!("Failed to disable password for user {name}");
                    e.into()
                });
        }
        let cmd = if self.which(host, "passwd") {
            self.shadow_cmd(host, "passwd", &["-l", name])
        } else if self.which(host, "usermod") {
            self.shadow_cmd(host, "usermod", &["--lock", name])
        } else {
            return Err(AccountError::Msg(format!(
                "Unable to lock user account '{name}'. No tools available.   Tried: ['passwd', 'usermod']."
            )));
        };
        host.run(&cmd).map(|_| ()).map_err(|e| {
            warn!("Failed to disable password for user {name}");
            e.into()
        })
    }

    /// Enable password logins; a blank password is set when the tool
    /// refuses to unlock an account without one.
    pub fn unlock_passwd(&self, host: &Host, name: &str) -> Result<(), AccountError> {
        if self.family == Family::FreeBsd {
            debug!("Dragonfly BSD/FreeBSD password lock is not reversible, ignoring unlock for user {name}");
            return Ok(());
        }
        if self.busybox_passwd(host) {
            return run_rcs(host, &Cmd::new(["passwd", "-u", name]).in_target(), &[0, 1])
                .map(|_| ())
                .map_err(|e| {
                    warn!("Failed to unlock password for user {name}");
                    e.into()
                });
        }
        let cmd = if self.which(host, "passwd") {
            self.shadow_cmd(host, "passwd", &["-u", name])
        } else if self.which(host, "usermod") {
            self.shadow_cmd(host, "usermod", &["--unlock", name])
        } else {
            return Err(AccountError::Msg(format!(
                "Unable to unlock user account '{name}'. No tools available.   Tried: ['passwd', 'usermod']."
            )));
        };
        let out = run_rcs(host, &cmd, &[0, 3]).map_err(|e| {
            warn!("Failed to enable password for user {name}");
            AccountError::from(e)
        })?;
        if !out.stderr.is_empty() {
            let blank = if self.which(host, "passwd") {
                self.shadow_cmd(host, "passwd", &["-d", name])
            } else {
                self.shadow_cmd(host, "usermod", &["--password", "''", name])
            };
            host.run(&blank).map_err(|e| {
                warn!("Failed to set blank password for user {name}");
                AccountError::from(e)
            })?;
        }
        Ok(())
    }

    /// `-e` for hashes. In a sandbox a plain password also gets `-c METHOD`
    /// (the target's `ENCRYPT_METHOD`, else SHA512): that makes chpasswd hash
    /// it itself, as PAM (what it uses otherwise) cannot work under `--root`.
    fn chpasswd_args(&self, host: &Host, hashed: bool) -> Vec<String> {
        if hashed {
            return vec!["-e".into()];
        }
        if !host.is_sandbox() {
            return Vec::new();
        }
        let method = host
            .read_to_string("/etc/login.defs")
            .unwrap_or_default()
            .lines()
            .find_map(|l| {
                let mut it = l.split_whitespace();
                (it.next() == Some("ENCRYPT_METHOD"))
                    .then(|| it.next().map(str::to_string))
                    .flatten()
            })
            .unwrap_or_else(|| "SHA512".into());
        vec!["-c".into(), method]
    }

    /// Set one password (`chpasswd`, `-e` for a hash), never logging it.
    pub fn set_passwd(
        &self,
        host: &Host,
        user: &str,
        passwd: &str,
        hashed: bool,
    ) -> Result<(), AccountError> {
        self.set_passwd_bytes(host, user, passwd.as_bytes(), hashed)
    }

    /// [`Distro::set_passwd`] for a password that need not be text
    /// (upstream hands a `!!binary` password to the tool as it is).
    pub fn set_passwd_bytes(
        &self,
        host: &Host,
        user: &str,
        passwd: &[u8],
        hashed: bool,
    ) -> Result<(), AccountError> {
        let cmd = if self.family == Family::FreeBsd {
            self.pw_cmd(
                host,
                &["usermod", user, if hashed { "-H" } else { "-h" }, "0"],
            )
            .stdin(passwd.to_vec())
        } else {
            let args = self.chpasswd_args(host, hashed);
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            let mut payload = format!("{user}:").into_bytes();
            payload.extend_from_slice(passwd);
            self.shadow_cmd(host, "chpasswd", &refs).stdin(payload)
        };
        host.run(&cmd.redact(format!("chpasswd for {user}")))
            .map(|_| ())
            .map_err(|e| {
                warn!("Failed to set password for {user}");
                e.into()
            })
    }

    /// Set several passwords in one `chpasswd` call (one `pw` per user on BSD).
    pub fn chpasswd(
        &self,
        host: &Host,
        list: &[(String, String)],
        hashed: bool,
    ) -> Result<(), AccountError> {
        if self.is_bsd() {
            for (u, p) in list {
                self.set_passwd(host, u, p, hashed)?;
            }
            return Ok(());
        }
        let mut payload = list
            .iter()
            .map(|(u, p)| format!("{u}:{p}"))
            .collect::<Vec<_>>()
            .join("\n");
        payload.push('\n');
        let args = self.chpasswd_args(host, hashed);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let users: Vec<&str> = list.iter().map(|(u, _)| u.as_str()).collect();
        let cmd = self
            .shadow_cmd(host, "chpasswd", &refs)
            .stdin(payload.into_bytes())
            .redact(format!("chpasswd for {}", users.join(",")));
        host.run(&cmd)?;
        Ok(())
    }

    /// Force a password change at next login.
    pub fn expire_passwd(&self, host: &Host, user: &str) -> Result<(), AccountError> {
        if self.family == Family::FreeBsd {
            return host
                .run(&self.pw_cmd(host, &["usermod", user, "-p", "01-Jan-1970"]))
                .map(|_| ())
                .map_err(|e| {
                    warn!("Failed to set pw expiration for {user}");
                    e.into()
                });
        }
        if self.busybox_passwd(host) {
            return self.expire_in_shadow(host, user);
        }
        host.run(&self.shadow_cmd(host, "passwd", &["--expire", user]))
            .map(|_| ())
            .map_err(|e| {
                warn!("Failed to set 'expire' for {user}");
                e.into()
            })
    }

    /// Busybox `passwd` cannot expire: zero the "last change" field.
    fn expire_in_shadow(&self, host: &Host, user: &str) -> Result<(), AccountError> {
        let path = self.shadow_fn();
        let text = host.read_to_string(path).map_err(|e| {
            warn!("Failed to read {path} file, file not found");
            AccountError::from(e)
        })?;
        let mut changed = false;
        let mut found = false;
        let lines: Vec<String> = text
            .split('\n')
            .map(|l| {
                let mut f: Vec<&str> = l.split(':').collect();
                if !found && f.first() == Some(&user) && f.len() > 2 {
                    found = true;
                    debug!("Found /etc/shadow line matching user {user}");
                    if let Some(last_change) = f.get_mut(2).filter(|v| **v != "0") {
                        *last_change = "0";
                        changed = true;
                    }
                }
                f.join(":")
            })
            .collect();
        if !found {
            warn!("Failed to set 'expire' for {user}");
        } else if changed {
            debug!("Expiring password for user {user}");
            let mode = file_mode(host, path).unwrap_or(0o640);
            host.write_atomic(
                path,
                lines.join("\n").as_bytes(),
                &ci_host::WriteOpts::mode(mode),
            )?;
        } else {
            debug!("Password for user {user} is already expired");
        }
        Ok(())
    }

    /// True when the user's password field is empty or only locked-empty.
    pub fn has_empty_password(&self, host: &Host, user: &str) -> bool {
        let mut files = vec![self.shadow_fn()];
        if self.is_snappy(host) {
            files.insert(0, "/var/lib/extrausers/shadow");
        }
        for f in files {
            let Ok(text) = host.read_to_string(f) else {
                continue;
            };
            let entry = text
                .lines()
                .find(|l| l.split(':').next() == Some(user) && l.contains(':'));
            let Some(line) = entry else {
                debug!("User {user} not found in {f}");
                continue;
            };
            debug!("User {user} found in {f}. Checking for empty password");
            let pw = line.split(':').nth(1).unwrap_or("");
            if self.empty_password_fields().contains(&pw) {
                return true;
            }
        }
        false
    }
}

/// A user's `groups` value as group names, as upstream reads it: a
/// comma-separated string, a list, or (deprecated) a dict's keys. Bytes
/// anywhere in it make upstream fail (it cannot split or join them), so
/// they are an error naming the user and the key.
fn group_names(user: &str, groups: &Value) -> Result<Vec<String>, AccountError> {
    let bytes_err = |what: String| {
        AccountError::Msg(format!(
            "Invalid 'groups' for user {user}: {what} is bytes; use a comma-delimited string or a list of group names"
        ))
    };
    Ok(match groups {
        v if is_binary(v) => return Err(bytes_err("the value".into())),
        Value::String(s) => s.split(',').map(str::to_string).collect(),
        Value::Object(m) => {
            crate::sudoers::deprecate(
                &format!("The user {user} has a 'groups' config value of type dict"),
                "22.3",
                "Use a comma-delimited string or array instead: group1,group2.",
            );
            if let Some(k) = m.keys().find(|k| ci_pyval::binary::is_binary_str(k)) {
                return Err(bytes_err(format!(
                    "key {}",
                    py_repr(&Value::String(k.clone()))
                )));
            }
            m.keys().cloned().collect()
        }
        Value::Array(a) => {
            if let Some(v) = a.iter().find(|v| is_binary(v)) {
                return Err(bytes_err(format!("entry {}", py_repr(v))));
            }
            a.iter().map(py_str).collect()
        }
        other => vec![py_str(other)],
    })
}

pub(crate) fn file_mode(host: &Host, path: &str) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(host.resolve(path))
        .ok()
        .map(|m| m.permissions().mode() & 0o7777)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ci_host::RecordingRunner;
    use std::sync::Arc;

    const NONCHAR: char = '\u{FDD0}';

    /// A user's config as the YAML loader gives it.
    fn user_cfg(yaml: &str) -> Map<String, Value> {
        match ci_yaml::load(yaml).unwrap() {
            Value::Object(m) => m,
            other => panic!("not a mapping: {other:?}"),
        }
    }

    fn sandbox(distro: &str) -> (tempfile::TempDir, Host, Arc<RecordingRunner>, Distro) {
        let d = tempfile::tempdir().unwrap();
        let r = Arc::new(RecordingRunner::new());
        let h = Host::with_runner(d.path(), r.clone());
        let distro = Distro::from_config(&serde_json::json!({"system_info": {"distro": distro}}));
        (d, h, r, distro)
    }

    /// Nothing the commands got (argv, stdin, log form) holds the marker.
    fn assert_no_marker(r: &RecordingRunner) {
        for c in r.calls() {
            for a in &c.argv {
                assert!(!a.contains(NONCHAR), "marker in argv {:?}", c.argv);
            }
            let stdin = String::from_utf8_lossy(c.stdin.as_deref().unwrap_or_default());
            assert!(!stdin.contains(NONCHAR), "marker in stdin of {:?}", c.argv);
            assert!(!c.redacted.unwrap_or_default().contains(NONCHAR));
        }
    }

    fn useradd(r: &RecordingRunner) -> Vec<String> {
        r.calls()
            .into_iter()
            .find(|c| c.argv.first().map(String::as_str) == Some("useradd"))
            .map(|c| c.argv)
            .unwrap()
    }

    #[test]
    fn useradd_skips_bytes_options_like_upstream() {
        let (d, h, r, distro) = sandbox("debian");
        let cfg = user_cfg(
            "gecos: !!binary Qm9i\nshell: !!binary L2Jpbi9zaA==\npasswd: !!binary JDYkeA==\n\
             homedir: /srv/bob\nuid: !!binary MTAwMA==\nsystem: !!binary eA==\ngroups: 'a, b'\n",
        );
        assert!(distro.add_user(&h, "bob", &cfg).unwrap());
        assert_no_marker(&r);
        let root = d.path().to_string_lossy().into_owned();
        // Bytes options are not text, so upstream leaves them out; `uid`
        // goes through str() first, and a bytes `system` is still true.
        assert_eq!(
            useradd(&r),
            [
                "useradd", "--root", &root, "bob", "--groups", "a,b", "--home", "/srv/bob",
                "--system", "--uid", "b'1000'", "-M"
            ]
        );
    }

    #[test]
    fn empty_bytes_groups_are_no_groups() {
        let (_d, h, r, distro) = sandbox("debian");
        let cfg = user_cfg("groups: !!binary \"\"\n");
        assert!(distro.add_user(&h, "bob", &cfg).unwrap());
        assert_no_marker(&r);
        let argv = useradd(&r);
        assert!(!argv.iter().any(|a| a == "--groups"), "{argv:?}");
        assert_eq!(r.calls().len(), 1);
    }

    #[test]
    fn bytes_groups_are_an_error_naming_the_key() {
        for yaml in [
            "groups: !!binary YWRtaW4=\n",
            "groups: [wheel, !!binary YWRtaW4=]\n",
        ] {
            let (_d, h, r, distro) = sandbox("debian");
            let err = distro
                .add_user(&h, "bob", &user_cfg(yaml))
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("Invalid 'groups' for user bob: "), "{err}");
            assert!(err.contains("bytes"), "{err}");
            assert!(!err.contains(NONCHAR), "{err}");
            assert!(r.calls().is_empty(), "{:?}", r.lines());
        }
        let (_d, h, _r, distro) = sandbox("debian");
        let err = distro
            .add_user(&h, "bob", &user_cfg("groups: [!!binary YWRtaW4=]\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("entry b'admin'"), "{err}");
    }

    #[test]
    fn bytes_primary_group_fails_only_when_creating_groups() {
        let (d, h, r, distro) = sandbox("debian");
        let cfg = user_cfg("groups: wheel\nprimary_group: !!binary YWRtaW4=\n");
        let err = distro.add_user(&h, "bob", &cfg).unwrap_err().to_string();
        assert!(err.contains("'primary_group' for user bob"), "{err}");
        // The text groups before it were created, as upstream does.
        let root = d.path().to_string_lossy().into_owned();
        assert_eq!(r.lines(), [format!("groupadd --root {root} wheel")]);
        assert_no_marker(&r);

        let (_d, h, r, distro) = sandbox("debian");
        let cfg =
            user_cfg("groups: wheel\nprimary_group: !!binary YWRtaW4=\ncreate_groups: false\n");
        assert!(distro.add_user(&h, "bob", &cfg).unwrap());
        assert_no_marker(&r);
        assert!(!useradd(&r).iter().any(|a| a == "--gid"));
    }

    #[test]
    fn pw_useradd_skips_bytes_and_pipes_bytes_password() {
        let (_d, h, r, distro) = sandbox("freebsd");
        let cfg = user_cfg("gecos: !!binary Qm9i\nshell: /bin/sh\npasswd: !!binary JDYkeA==\n");
        assert!(distro.add_user(&h, "bob", &cfg).unwrap());
        assert_no_marker(&r);
        let calls = r.calls();
        assert!(calls[0].argv.ends_with(&[
            "useradd".to_string(),
            "-n".into(),
            "bob".into(),
            "-s".into(),
            "/bin/sh".into(),
            "-d/usr/home/bob".into(),
            "-m".into()
        ]));
        assert!(calls[1].argv.ends_with(&[
            "usermod".to_string(),
            "bob".into(),
            "-H".into(),
            "0".into()
        ]));
        assert_eq!(calls[1].stdin.as_deref(), Some(&b"$6$x"[..]));

        let (_d, h, r, distro) = sandbox("freebsd");
        let err = distro
            .add_user(&h, "bob", &user_cfg("homedir: !!binary L2hvbWUvYg==\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("'homedir' for user bob"), "{err}");
        assert!(r.calls().is_empty());
    }
}

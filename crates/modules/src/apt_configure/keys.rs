//! Keys for apt: armored keys dearmored with the target's `gpg` into
//! `/etc/apt/trusted.gpg.d/<name>.gpg`, or, for sources that name their
//! key file with `$KEY_FILE`, into `/etc/apt/cloud-init.gpg.d/<name>.gpg`;
//! key ids fetched from a keyserver first. gpg runs with its home in a
//! private temporary directory of the target, removed afterwards.

use super::Ctx;
use crate::subp::{self, ExecError};
use crate::{ModResult, ModuleError};
use ci_host::{Cmd, WriteOpts};
use ci_pyval::py_str;
use serde_json::{Map, Value};

const TRUSTED_DIR: &str = "/etc/apt/trusted.gpg.d/";
const HARDENED_DIR: &str = "/etc/apt/cloud-init.gpg.d/";
const DEFAULT_KEYSERVER: &str = "keyserver.ubuntu.com";

/// Upstream's `GPG` context: a `GNUPGHOME` made on first use.
pub struct Gpg<'a> {
    ctx: &'a Ctx<'a>,
    home: Option<String>,
}

impl<'a> Gpg<'a> {
    pub(super) fn new(ctx: &'a Ctx<'a>) -> Self {
        Gpg { ctx, home: None }
    }

    fn home(&mut self) -> String {
        if let Some(h) = &self.home {
            return h.clone();
        }
        let name = ci_host::random::pick_chars("abcdefghijklmnopqrstuvwxyz0123456789_", 8)
            .unwrap_or_else(|_| "gpghome".into());
        let dir = format!("/tmp/tmp{name}");
        if let Err(e) = self.ctx.host.create_dir_all(&dir, 0o700) {
            log::debug!("Could not make gpg's home {dir}: {e}");
        }
        self.home = Some(dir.clone());
        dir
    }

    fn cmd<I, S>(&mut self, argv: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let home = self.home();
        Cmd::new(argv).env("GNUPGHOME", home).in_target()
    }

    fn run(&mut self, cmd: &Cmd) -> Result<ci_host::CmdOutput, ExecError> {
        if self.ctx.host.which_target(&cmd.argv[0]).is_none() {
            let shown = subp::shown_list(&cmd.argv);
            return Err(subp::not_started(
                &shown,
                &subp::missing_program(&cmd.argv[0]),
            ));
        }
        subp::run(self.ctx.host, cmd, &subp::shown_list(&cmd.argv), &[0])
    }

    fn dearmor(&mut self, key: &str) -> Result<Vec<u8>, ExecError> {
        let cmd = self
            .cmd(["gpg", "--dearmor"])
            .stdin(key.as_bytes().to_vec());
        self.run(&cmd).map(|o| o.stdout)
    }

    fn export_armour(&mut self, key: &str) -> Option<String> {
        let cmd = self.cmd(["gpg", "--export", "--armour", key]);
        match self.run(&cmd) {
            Ok(o) => Some(o.stdout_str()),
            Err(e) => {
                log::debug!("Failed to export armoured key \"{key}\": {e}");
                None
            }
        }
    }

    fn recv_key(&mut self, key: &str, keyserver: &str) -> ModResult {
        log::debug!("Importing key '{key}' from keyserver '{keyserver}'");
        let mut sleeps = [1u64, 1].into_iter();
        let mut trynum = 0;
        loop {
            trynum += 1;
            let cmd = self.cmd([
                "gpg".to_string(),
                "--no-tty".into(),
                format!("--keyserver={keyserver}"),
                "--recv-keys".into(),
                key.to_string(),
            ]);
            let err = match self.run(&cmd) {
                Ok(_) => {
                    log::debug!(
                        "Imported key '{key}' from keyserver '{keyserver}' on try {trynum}"
                    );
                    return Ok(());
                }
                Err(e) => e,
            };
            match sleeps.next() {
                Some(nap) => {
                    log::debug!(
                        "Import failed with exit code {}, will try again in {nap}s",
                        err.exit_code.map(|c| c.to_string()).unwrap_or_else(|| "None".into())
                    );
                    std::thread::sleep(std::time::Duration::from_secs(nap));
                }
                None => {
                    return Err(ModuleError::with_class(
                        "ValueError",
                        format!(
                            "Failed to import key '{key}' from keyserver '{keyserver}' after {trynum} tries: {err}"
                        ),
                    ))
                }
            }
        }
    }

    fn delete_key(&mut self, key: &str) {
        let cmd = self.cmd(["gpg", "--batch", "--yes", "--delete-keys", key]);
        if let Err(e) = self.run(&cmd) {
            log::warn!("Failed delete key \"{key}\": {e}");
        }
    }

    /// Upstream's `getkeybyid`: the key from gpg's own ring, else from the
    /// keyserver (the imported key is deleted again).
    fn key_by_id(&mut self, keyid: &str, keyserver: &str) -> Result<Option<String>, ModuleError> {
        if let Some(k) = self.export_armour(keyid).filter(|k| !k.is_empty()) {
            return Ok(Some(k));
        }
        let res = self.recv_key(keyid, keyserver);
        let armour = match res {
            Ok(()) => Ok(self.export_armour(keyid)),
            Err(e) => {
                log::error!("Failed to obtain gpg key {keyid}");
                log::debug!("{e}");
                Err(e)
            }
        };
        self.delete_key(keyid);
        armour
    }

    /// Upstream's `kill_gpg`: stop the agents gpg started, once gpg ran.
    pub(super) fn cleanup(self) {
        let Some(home) = self.home.clone() else {
            return;
        };
        let host = self.ctx.host;
        if host.which_target("gpgconf").is_some() {
            let cmd = Cmd::new(["gpgconf", "--kill", "all"])
                .env("GNUPGHOME", home.clone())
                .in_target();
            if let Err(e) = subp::run(host, &cmd, &subp::shown_list(&cmd.argv), &[0]) {
                log::warn!("Failed to clean up gpg process: {e}");
            }
        } else {
            let argv = [
                "ps",
                "-o",
                "ppid,pid",
                "-C",
                "keyboxd",
                "-C",
                "dirmngr",
                "-C",
                "gpg-agent",
            ];
            let cmd = Cmd::new(argv).in_target();
            let res = if !host.exists("/proc/self") {
                // A root without /proc (a sandbox) has no process table to
                // look at: no agents of ours can be running there.
                log::debug!("No /proc in the target: no gpg agents to stop");
                Ok(ci_host::CmdOutput::default())
            } else if host.which_target("ps").is_none() {
                Err(subp::not_started(
                    &subp::shown_list(&argv),
                    &subp::missing_program("ps"),
                ))
            } else {
                subp::run(host, &cmd, &subp::shown_list(&argv), &[0, 1])
            };
            match res {
                Ok(out) => kill_root_agents(host, &out.stdout_str()),
                Err(e) => log::warn!("Failed to clean up gpg process: {e}"),
            }
        }
        if let Err(e) = host.remove_dir_all(&home) {
            log::debug!("Could not remove gpg's home {home}: {e}");
        }
    }
}

/// Agents re-parented to init are gpg's leftovers. Under a sandbox root
/// the process table is not the target's, so nothing is killed there.
fn kill_root_agents(host: &ci_host::Host, ps: &str) {
    let pids: Vec<i32> = ps
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let ppid = w.next()?.parse::<i32>().ok()?;
            let pid = w.next()?.parse::<i32>().ok()?;
            (ppid == 1).then_some(pid)
        })
        .collect();
    if pids.is_empty() || host.is_sandbox() {
        return;
    }
    log::debug!("Killing gpg-agent and dirmngr pids: {pids:?}");
    for pid in pids {
        let _ = host.run(&Cmd::new(["kill", "-9", &pid.to_string()]));
    }
}

/// Upstream's `add_apt_key`: fetch a `keyid` (unless `key` is given), then
/// dearmor `key` into the key directory. Returns the key file written
/// (`/dev/null` when gpg failed), or `None` when the entry has no key.
pub(super) fn add_apt_key(
    ctx: &Ctx,
    ent: &mut Map<String, Value>,
    gpg: &mut Gpg,
    hardened: bool,
    file_name: Option<&str>,
) -> Result<Option<String>, ModuleError> {
    let _ = ctx;
    if ent.contains_key("keyid") && !ent.contains_key("key") {
        let keyserver = ent
            .get("keyserver")
            .map(py_str)
            .unwrap_or_else(|| DEFAULT_KEYSERVER.into());
        let keyid = ent.get("keyid").map(py_str).unwrap_or_default();
        let key = gpg.key_by_id(&keyid, &keyserver)?;
        ent.insert("key".into(), key.map(Value::String).unwrap_or(Value::Null));
    }
    let Some(key) = ent.get("key").cloned() else {
        return Ok(None);
    };
    let file_name = match file_name {
        Some(f) => f.to_string(),
        None => ent.get("filename").map(py_str).unwrap_or_default(),
    };
    let key_text = match &key {
        Value::Null => String::new(),
        other => py_str(other),
    };
    log::debug!("Adding key:\n'{key_text}'");
    Ok(Some(add_key_file(
        gpg,
        &key_text,
        &stem(&file_name),
        hardened,
    )))
}

/// `pathlib.Path(name).stem`: the last component without its last suffix.
pub(super) fn stem(name: &str) -> String {
    let last = name.rsplit('/').next().unwrap_or(name);
    match last.rfind('.') {
        Some(i) if i > 0 => last[..i].to_string(),
        _ => last.to_string(),
    }
}

fn add_key_file(gpg: &mut Gpg, key: &str, name: &str, hardened: bool) -> String {
    if name.is_empty() {
        log::warn!("Unknown filename, failed to add key: \"{key}\"");
        return "/dev/null".into();
    }
    let dir = if hardened { HARDENED_DIR } else { TRUSTED_DIR };
    let data = match gpg.dearmor(key) {
        Ok(d) => d,
        Err(e) => {
            log::warn!("Gpg error, failed to add key: {key}");
            log::debug!("{e}");
            return "/dev/null".into();
        }
    };
    let path = format!("{dir}{name}.gpg");
    if let Err(e) = gpg
        .ctx
        .host
        .write_atomic(&path, &data, &WriteOpts::mode(0o644))
    {
        log::warn!("Gpg error, failed to add key: {key}");
        log::debug!("{e}");
        return "/dev/null".into();
    }
    path
}

/// Upstream's `add_mirror_keys`: keys of the `primary` and `security`
/// entries, into `primary.gpg` / `security.gpg`; the template gets their
/// paths as `primary_key` / `security_key`.
pub(super) fn add_mirror_keys(
    ctx: &Ctx,
    apt: &mut Map<String, Value>,
    gpg: &mut Gpg,
) -> Result<Map<String, Value>, ModuleError> {
    let mut keys = Map::new();
    for which in ["primary", "security"] {
        let Some(Value::Array(items)) = apt.get_mut(which) else {
            continue;
        };
        for item in items.iter_mut() {
            let Value::Object(ent) = item else {
                continue;
            };
            if let Some(path) = add_apt_key(ctx, ent, gpg, false, Some(which))? {
                if !path.is_empty() {
                    keys.insert(format!("{which}_key"), Value::String(path));
                }
            }
        }
    }
    Ok(keys)
}

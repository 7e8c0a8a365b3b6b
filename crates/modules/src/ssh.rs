//! `ssh`: host keys (delete, provided, generated in parallel), host
//! certificates, authorized keys for the default user and root's
//! "login as the default user" block.

use crate::sshutil;
use crate::ugutil;
use crate::{Ctx, ModResult};
use ci_host::{Cmd, Host};
use ci_pyval::binary::{decode, is_binary, is_binary_str};
use ci_pyval::{is_true, py_str, truthy};
use log::{debug, warn};
use serde_json::Value;
use std::io::Write;

mod deferred;
mod keyfile;
pub mod pregen;

pub const GENERATE_KEY_NAMES: &[&str] = &["rsa", "ecdsa", "ed25519"];

fn key_file(t: &str) -> String {
    format!("/etc/ssh/ssh_host_{t}_key")
}

/// Target file and mode for an `ssh_keys` entry (`rsa_private`, ...).
fn config_key_file(key: &str) -> Option<(String, u32)> {
    let (t, kind) = key.rsplit_once('_')?;
    if !GENERATE_KEY_NAMES.contains(&t) {
        return None;
    }
    match kind {
        "private" => Some((key_file(t), 0o600)),
        "public" => Some((format!("{}.pub", key_file(t)), 0o644)),
        "certificate" => Some((format!("{}-cert.pub", key_file(t)), 0o644)),
        _ => None,
    }
}

fn cfg_bool(ctx: &Ctx, key: &str, default: bool) -> bool {
    match ctx.get(key) {
        None => default,
        Some(v) => is_true(v),
    }
}

/// `util.get_cfg_option_list`: a list as is, a scalar as a one-item list, null as empty.
fn cfg_list(v: Option<&Value>) -> Option<Vec<String>> {
    match v? {
        Value::Null => Some(Vec::new()),
        Value::Array(a) => Some(a.iter().map(py_str).collect()),
        other => Some(vec![py_str(other)]),
    }
}

fn delete_host_keys(host: &Host) {
    for name in host.list_dir("/etc/ssh") {
        let Some(rest) = name.strip_prefix("ssh_host_") else {
            continue;
        };
        if !rest.contains("key") {
            continue;
        }
        let path = format!("/etc/ssh/{name}");
        debug!("Attempting to remove {path}");
        if let Err(e) = host.remove_file(&path) {
            warn!("Failed deleting key file {path}");
            debug!("{e}");
        }
    }
}

fn write_provided_keys(ctx: &Ctx, keys: &serde_json::Map<String, Value>) {
    let host = ctx.host;
    let mut certs: Vec<(String, String)> = Vec::new();
    for (key, val) in keys {
        let Some((path, mode)) = config_key_file(key) else {
            let reason = if is_sk_key(key) {
                "unsupported"
            } else {
                "unrecognized"
            };
            warn!("Skipping {reason} ssh_keys entry: \"{key}\"");
            continue;
        };
        // Upstream writes a bytes value as it is.
        let content = decode(val).unwrap_or_else(|| py_str(val).into_bytes());
        if let Err(e) = host.write_atomic(&path, &content, &ci_host::WriteOpts::mode(mode)) {
            warn!("Failed writing {path}: {e}");
            continue;
        }
        if key.ends_with("_certificate") {
            certs.push(("HostCertificate".into(), path));
        }
    }
    if let Err(e) = sshutil::append_ssh_config(host, &certs) {
        warn!("Failed writing HostCertificate lines: {e}");
    }
    for t in GENERATE_KEY_NAMES {
        let (private, public) = (format!("{t}_private"), format!("{t}_public"));
        if keys.contains_key(&public) || !keys.contains_key(&private) {
            continue;
        }
        let (pf, pubf) = (key_file(t), format!("{}.pub", key_file(t)));
        // The redirect is done by a shell on this machine: hand it paths
        // already resolved inside the root.
        let (hp, hpub) = match (host.try_resolve(&pf), host.try_resolve(&pubf)) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => {
                warn!("Failed generating a key for {pubf} from {pf}: {e}");
                continue;
            }
        };
        let script = format!(
            "o=$(ssh-keygen -yf \"{}\") && echo \"$o\" root@localhost > \"{}\"",
            hp.display(),
            hpub.display()
        );
        match host.run(&Cmd::new(["sh", "-xc", script.as_str()])) {
            Ok(_) => debug!("Generated a key for {pubf} from {pf}"),
            Err(e) => {
                warn!("Failed generating a key for {pubf} from {pf}");
                debug!("{e}");
            }
        }
    }
}

fn is_sk_key(key: &str) -> bool {
    ["ecdsa-sk_", "ed25519-sk_"].iter().any(|p| {
        key.strip_prefix(p)
            .is_some_and(|k| matches!(k, "private" | "public" | "certificate"))
    })
}

fn fips_enabled(host: &Host) -> bool {
    host.read_to_string("/proc/sys/crypto/fips_enabled")
        .map(|s| s.trim() == "1")
        .unwrap_or(false)
}

/// `sshd -V` on the target: the upstream version as (major, minor).
fn sshd_version(host: &Host) -> Option<(u32, u32)> {
    let out = host
        .runner()
        .execute(host, &Cmd::new(["sshd", "-V"]).in_target())
        .ok()?;
    let text = format!("{}{}", out.stderr_str(), out.stdout_str());
    let line = text.lines().find_map(|l| l.strip_prefix("OpenSSH_"))?;
    let full = line.split(',').next()?;
    let v = full.split(['p', ' ']).next()?;
    let mut it = v.split('.');
    Some((
        it.next()?.parse().ok()?,
        it.next().and_then(|m| m.parse().ok()).unwrap_or(0),
    ))
}

/// Red Hat: before OpenSSH 9 private keys are 0640 and group `ssh_keys`.
fn set_redhat_keyfile_perms(host: &Host, keyfile: &str) {
    let old = sshd_version(host).is_some_and(|v| v < (9, 0));
    let private = if old { 0o640 } else { 0o600 };
    if let Some(g) = host.group("ssh_keys") {
        let _ = host.chown(keyfile, None, Some(g.gid));
    }
    let _ = host.set_mode(keyfile, private);
    let _ = host.set_mode(format!("{keyfile}.pub"), 0o644);
}

/// The key file for `ssh-keygen -f`, resolved inside the root. ssh-keygen
/// also writes `<file>.pub`, following a link there on this machine, so a
/// link in that place is refused.
fn keygen_target(host: &Host, key: &str) -> std::io::Result<String> {
    let f = host.try_resolve_arg(key)?;
    let public = format!("{f}.pub");
    if std::fs::symlink_metadata(&public).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{public} is a symbolic link; not writing a key through it"),
        ));
    }
    Ok(f)
}

type KeyResult = Result<ci_host::CmdOutput, ci_host::CmdError>;

/// `ssh-keygen` for type `t` into its place under /etc/ssh.
fn run_keygen(host: &Host, t: &str, comment: Option<&str>) -> KeyResult {
    let f = keygen_target(host, &key_file(t)).map_err(|e| ci_host::CmdError::Spawn {
        cmd: "ssh-keygen".into(),
        source: e,
    })?;
    let mut argv = vec!["ssh-keygen", "-t", t, "-N", "", "-f", f.as_str()];
    if let Some(c) = comment {
        argv.extend(["-C", c]);
    }
    let cmd = Cmd::new(argv).env("LANG", "C");
    host.runner().execute(host, &cmd)
}

/// ssh-keygen's own comment, `<user>@<gethostname()>`; the module runs as root.
fn default_key_comment() -> String {
    let uname = rustix::system::uname();
    format!("root@{}", uname.nodename().to_string_lossy())
}

/// Install the key of type `t` made ahead of time as ssh-keygen would have
/// made it in place; the text ssh-keygen would have printed, or `None` when
/// there is no usable key (ssh-keygen runs then).
fn install_pregen(
    host: &Host,
    run_dir: &std::path::Path,
    t: &str,
    comment: Option<&str>,
) -> Option<String> {
    let asked = std::time::Instant::now();
    let key = pregen::take(host, run_dir, t)?;
    // Whether RSA is still the tail of the boot shows here.
    debug!(
        "Waited {:.3} seconds for the pre-generated {t} host key",
        asked.elapsed().as_secs_f64()
    );
    let placed = keygen_target(host, &key_file(t))
        .and_then(|shown| Ok((shown, host.canonical(key_file(t))?)));
    let (shown, target) = match placed {
        Ok(p) => p,
        Err(e) => {
            debug!("Not installing the pre-generated {t} host key: {e}");
            return None;
        }
    };
    let comment = comment.map_or_else(default_key_comment, str::to_string);
    match key.install(host, &target, &shown, &comment) {
        Ok(text) => Some(text),
        Err(e) => {
            debug!("Not installing the pre-generated {t} host key: {e}");
            None
        }
    }
}

/// The key types `ssh_genkeytypes` asks for (upstream's default without
/// it), ed25519 left out under FIPS; and whether it was left out.
fn wanted_key_types(host: &Host, genkeytypes: Option<&Value>) -> (Vec<String>, bool) {
    let genkeys = cfg_list(genkeytypes)
        .unwrap_or_else(|| GENERATE_KEY_NAMES.iter().map(|s| s.to_string()).collect());
    let fips = fips_enabled(host);
    let names: Vec<String> = genkeys
        .iter()
        .filter(|k| !(fips && *k == "ed25519"))
        .cloned()
        .collect();
    let dropped = names.len() != genkeys.len();
    (names, dropped)
}

/// Generate the host keys the config asks for and that are missing.
/// Returns whether some were handed off (`ssh_deferred_keytypes`): those
/// are installed later in the stage, which then discards what is left of
/// the keys made ahead of time.
fn generate_host_keys(ctx: &Ctx) -> bool {
    let host = ctx.host;
    let (names, dropped) = wanted_key_types(host, ctx.get("ssh_genkeytypes"));
    if dropped {
        debug!("skipping keys that are not supported in fips mode: ed25519");
    }
    let todo: Vec<String> = names
        .into_iter()
        .filter(|t| !host.exists(key_file(t)))
        .collect();
    if todo.is_empty() {
        return false;
    }
    if let Err(e) = host.create_dir_all("/etc/ssh", 0o755) {
        warn!("Failed creating /etc/ssh: {e}");
        return false;
    }
    // ssh-keygen names the key after the running system; under --root that
    // would be this machine, so name it after the target as a boot would.
    let comment = host.is_sandbox().then(|| {
        let name = host
            .read_to_string("/etc/hostname")
            .ok()
            .and_then(|h| h.lines().next().map(|l| l.trim().to_string()))
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".to_string());
        format!("root@{name}")
    });
    let comment = comment.as_deref();
    let run_dir = ctx.paths.run_dir.as_path();
    let report = Report {
        quiet: cfg_bool(ctx, "ssh_quiet_keygen", false),
        redhat: ctx.distro.family == ci_distro::Family::RedHat,
    };
    let (early, fresh): (Vec<&String>, Vec<&String>) =
        todo.iter().partition(|t| pregen::started(host, run_dir, t));
    let (later, early) = deferred::split(ctx, early);
    // Key generation (RSA above all) is the slow part of first boot: run the
    // types at once, the ones not made ahead of time first, so waiting for
    // a pre-generated key overlaps with them.
    let results: Vec<(String, KeyResult)> = std::thread::scope(|s| {
        let mut handles: Vec<_> = fresh
            .into_iter()
            .map(|t| (t, s.spawn(move || run_keygen(host, t, comment))))
            .collect();
        let mut done: Vec<(String, KeyResult)> = Vec::new();
        let mut used: Vec<&str> = Vec::new();
        for t in early {
            match install_pregen(host, run_dir, t, comment) {
                Some(text) => {
                    used.push(t);
                    done.push((t.clone(), Ok(printed(text))));
                }
                None => handles.push((t, s.spawn(move || run_keygen(host, t, comment)))),
            }
        }
        if !used.is_empty() {
            debug!("Installed pre-generated host key types {}", used.join(", "));
        }
        for (t, h) in handles {
            let res = h.join().unwrap_or(Err(ci_host::CmdError::Empty));
            done.push((t.clone(), res));
        }
        // Printed in the configured order, as before.
        done.sort_by_key(|(t, _)| todo.iter().position(|x| x == t));
        done
    });
    for (t, res) in results {
        report.key(host, &t, res);
    }
    if later.is_empty() {
        return false;
    }
    deferred::hand_off(deferred::Deferred {
        host: host.clone(),
        distro: ctx.distro.clone(),
        run_dir: run_dir.to_path_buf(),
        comment: comment.map(str::to_string),
        report,
        types: later,
    });
    true
}

/// What ssh-keygen would have printed, as its result.
fn printed(text: String) -> ci_host::CmdOutput {
    ci_host::CmdOutput {
        status: 0,
        stdout: text.into_bytes(),
        stderr: Vec::new(),
    }
}

/// How a generated key is reported and finished.
#[derive(Debug, Clone, Copy)]
struct Report {
    quiet: bool,
    redhat: bool,
}

impl Report {
    fn key(&self, host: &Host, t: &str, res: KeyResult) {
        let keyfile = key_file(t);
        match res {
            Ok(out) if out.status == 0 => {
                if !self.quiet {
                    let mut so = std::io::stdout();
                    let _ = so.write_all(&out.stdout);
                    let _ = so.flush();
                }
                if self.redhat {
                    set_redhat_keyfile_perms(host, &keyfile);
                }
            }
            Ok(out)
                if out.status == 1
                    && out.stderr_str().to_lowercase().starts_with("unknown key") =>
            {
                debug!("ssh-keygen: unknown key type '{t}'");
            }
            Ok(out) => {
                warn!("Failed generating key type {t} to file {keyfile}");
                debug!(
                    "ssh-keygen exited {}: {}",
                    out.status,
                    out.stderr_str().trim()
                );
            }
            Err(e) => {
                warn!("Failed generating key type {t} to file {keyfile}");
                debug!("{e}");
            }
        }
    }
}

/// Install keys for the default user and the root block (`disable_root`).
pub fn apply_credentials(
    host: &Host,
    keys: &[String],
    user: Option<&str>,
    disable_root: bool,
    opts: &str,
) -> Result<(), String> {
    if let Some(u) = user {
        sshutil::setup_user_keys(host, keys, u, None)?;
    }
    let prefix = if disable_root {
        opts.replace("$USER", user.unwrap_or("NONE"))
            .replace("$DISABLE_USER", "root")
    } else {
        String::new()
    };
    sshutil::setup_user_keys(host, keys, "root", Some(&prefix))
}

pub fn handle(ctx: &Ctx) -> ModResult {
    let host = ctx.host;
    // Upstream tests this one for truth, not with `is_true` (so any
    // non-empty string or bytes deletes).
    if ctx.get("ssh_deletekeys").map(truthy).unwrap_or(true) {
        delete_host_keys(host);
    }
    let mut handed_off = false;
    match ctx.get("ssh_keys") {
        Some(Value::Object(keys)) => write_provided_keys(ctx, keys),
        Some(_) => warn!("Skipping ssh_keys: expected a mapping"),
        None => handed_off = generate_host_keys(ctx),
    }
    if !handed_off {
        // Keys made ahead of time and not installed are not kept.
        pregen::discard(host, &ctx.paths.run_dir);
    }

    // Publishing host keys is a datasource feature; NoCloud and None have nothing to publish.
    let publish = match ctx.get("ssh_publish_hostkeys") {
        Some(v) => v.get("enabled").map(is_true).unwrap_or(true),
        None => true,
    };
    if publish {
        debug!(
            "No host key publishing for datasource {}",
            ctx.instance.datasource_name
        );
    }

    let creds = || -> Result<(), String> {
        let (users, _) =
            ugutil::normalize_users_groups(ctx.cfg, ctx.distro).map_err(|e| e.to_string())?;
        let user = ugutil::extract_default(&users).map(|(n, _)| n);
        if user.as_deref().is_some_and(is_binary_str) {
            // Upstream's look-up of a bytes default user name.
            return Err("getpwnam() argument must be str, not bytes".to_string());
        }
        let disable_root = cfg_bool(ctx, "disable_root", true);
        let opts = match ctx.get("disable_root_opts") {
            Some(Value::Null) | None => sshutil::DISABLE_USER_OPTS.to_string(),
            // Upstream calls `.replace("$USER", user)` on the bytes, which
            // fails after the default user's keys are in place (below).
            Some(v) if is_binary(v) && disable_root => String::new(),
            Some(v) => py_str(v),
        };
        let bytes_opts = disable_root && ctx.get("disable_root_opts").is_some_and(is_binary);
        let mut keys: Vec<String> = Vec::new();
        if cfg_bool(ctx, "allow_public_ssh_keys", true) {
            keys.extend(ctx.instance.public_keys.iter().cloned());
        } else {
            debug!("Skipping import of publish SSH keys per config setting: allow_public_ssh_keys=False");
        }
        match ctx.get("ssh_authorized_keys") {
            Some(Value::Array(a)) => keys.extend(a.iter().map(py_str)),
            // Upstream `list.extend`s a bytes value into ints, none of
            // which is a valid key line, so nothing gets installed.
            Some(v) if is_binary(v) => {}
            Some(Value::String(s)) => keys.push(s.clone()),
            _ => {}
        }
        if bytes_opts {
            if let Some(u) = user.as_deref() {
                sshutil::setup_user_keys(host, &sshutil::dedup(keys), u, None)?;
            }
            return Err("a bytes-like object is required, not 'str'".to_string());
        }
        apply_credentials(
            host,
            &sshutil::dedup(keys),
            user.as_deref(),
            disable_root,
            &opts,
        )
    };
    if let Err(e) = creds() {
        warn!("Applying SSH credentials failed!");
        debug!("{e}");
    }
    Ok(())
}

#[cfg(test)]
mod bytes_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// ssh-keygen runs on this machine and writes `<key>` and `<key>.pub`:
    /// the key path is resolved inside the root, and a link in the place of
    /// the public key is refused rather than written through.
    #[test]
    fn keygen_target_stays_inside_the_root() {
        let d = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let host = Host::new(d.path());
        let ssh = d.path().join("etc/ssh");
        std::fs::create_dir_all(&ssh).unwrap();
        symlink(outside.path().join("key"), ssh.join("ssh_host_ed25519_key")).unwrap();
        let got = keygen_target(&host, "/etc/ssh/ssh_host_ed25519_key").unwrap();
        let inside = d
            .path()
            .join(outside.path().join("key").strip_prefix("/").unwrap());
        assert_eq!(got, inside.to_string_lossy());
        symlink(
            outside.path().join("key.pub"),
            ssh.join("ssh_host_rsa_key.pub"),
        )
        .unwrap();
        let e = keygen_target(&host, "/etc/ssh/ssh_host_rsa_key").unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
    }
}

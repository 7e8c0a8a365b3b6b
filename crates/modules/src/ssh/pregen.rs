//! Host keys made ahead of the ssh module. RSA generation takes seconds
//! under emulation and sshd waits for it, so an early stage starts
//! `ssh-keygen` for each type the module will want into
//! `<run_dir>/hostkeys`, and the module installs those keys instead of
//! generating its own.
//!
//! Each generator runs with its stdin on `<type>.lock`, locked (`flock`) by
//! the starter before the spawn: the child shares that open file, so the
//! lock is held exactly as long as ssh-keygen runs, even after the stage
//! that started it has exited. Taking a key waits on that lock. Anything
//! wrong (no generator, a failed or killed one, a damaged file) makes the
//! module run ssh-keygen itself, as it would have without this.

use super::keyfile::{self, KeygenOutput, OpenSshKey};
use super::{key_file, wanted_key_types, GENERATE_KEY_NAMES};
use crate::registry::canonical_name;
use ci_host::{Host, WriteOpts};
use ci_pyval::truthy;
use log::debug;
use rustix::fs::{flock, FlockOperation};
use rustix::io::Errno;
use serde_json::Value;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

/// `O_NOFOLLOW` for [`OpenOptionsExt::custom_flags`]: paths here are
/// resolved inside the root first, so a link found at open time was
/// swapped in since.
const NOFOLLOW: i32 = rustix::fs::OFlags::NOFOLLOW.bits() as i32;

/// Generators this process started, reaped once they are known to be done
/// so they do not stay zombies for the rest of a long stage.
static CHILDREN: Mutex<Vec<Child>> = Mutex::new(Vec::new());

const MODULE_LISTS: &[&str] = &[
    "cloud_init_modules",
    "cloud_config_modules",
    "cloud_final_modules",
];

/// `<run_dir>/hostkeys`, a target path.
fn dir(run_dir: &Path) -> PathBuf {
    run_dir.join("hostkeys")
}

fn lock_name(t: &str) -> String {
    format!("{t}.lock")
}

fn key_name(t: &str) -> String {
    format!("ssh_host_{t}_key")
}

fn ssh_module_listed(cfg: &Value) -> bool {
    MODULE_LISTS.iter().any(|list| {
        let Some(Value::Array(entries)) = cfg.get(*list) else {
            return false;
        };
        entries.iter().any(|e| {
            let name = match e {
                Value::String(s) => Some(s.as_str()),
                Value::Array(parts) => parts.first().and_then(Value::as_str),
                Value::Object(m) => m.get("name").and_then(Value::as_str),
                _ => None,
            };
            name.is_some_and(|n| canonical_name(n) == "ssh")
        })
    })
}

/// The types the ssh module will generate with this config, as
/// `generate_host_keys` decides. Only the types ssh-keygen is known to make
/// are started: anything else is left to the module and its messages.
fn planned_types(host: &Host, cfg: &Value) -> Vec<String> {
    if !ssh_module_listed(cfg) || cfg.get("ssh_keys").is_some() {
        return Vec::new();
    }
    let (genkeys, _) = wanted_key_types(host, cfg.get("ssh_genkeytypes"));
    let delete = cfg.get("ssh_deletekeys").map(truthy).unwrap_or(true);
    let mut out: Vec<String> = Vec::new();
    for t in genkeys {
        let unknown = !GENERATE_KEY_NAMES.contains(&t.as_str());
        // With ssh_deletekeys the module removes existing keys first.
        let kept = !delete && host.exists(key_file(&t));
        if unknown || kept || out.contains(&t) {
            continue;
        }
        out.push(t);
    }
    out
}

fn open_nofollow(p: &Path, opts: &mut OpenOptions) -> io::Result<File> {
    opts.custom_flags(NOFOLLOW).open(p)
}

fn lock_wait(f: &File) -> io::Result<()> {
    loop {
        match flock(f, FlockOperation::LockExclusive) {
            Err(Errno::INTR) => continue,
            r => return r.map_err(io::Error::from),
        }
    }
}

/// Start the generator of `t`; `Ok(false)` when one was already started
/// this boot (its lock file exists).
fn spawn_one(host: &Host, d: &Path, t: &str) -> io::Result<bool> {
    let lock_t = d.join(lock_name(t));
    let lock = match open_nofollow(
        &host.try_resolve(&lock_t)?,
        OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600),
    ) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => return Err(e),
    };
    let spawned = (|| {
        lock_wait(&lock)?;
        // ssh-keygen asks before overwriting, and would follow a link.
        let key_t = d.join(key_name(t));
        host.remove_file(&key_t)?;
        host.remove_file(d.join(format!("{}.pub", key_name(t))))?;
        let out = open_nofollow(
            &host.try_resolve(d.join(format!("{t}.out")))?,
            OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600),
        )?;
        let key = host.try_resolve(&key_t)?;
        // The Command (and with it our copies of the lock and output files)
        // is gone at the end of this statement: the child alone then holds
        // the lock.
        Command::new("ssh-keygen")
            .args(["-t", t, "-N", "", "-C", "", "-f"])
            .arg(&key)
            .env("LANG", "C")
            .stdin(Stdio::from(lock))
            .stdout(Stdio::from(out))
            .stderr(Stdio::null())
            // Its own group: a signal for the stage's group is not for it.
            .process_group(0)
            .spawn()
    })();
    match spawned {
        Ok(child) => {
            if let Ok(mut c) = CHILDREN.lock() {
                c.push(child);
            }
            Ok(true)
        }
        Err(e) => {
            // No lock file: the module does not wait for a key that will not come.
            let _ = host.remove_file(&lock_t);
            Err(e)
        }
    }
}

fn reap() {
    if let Ok(mut c) = CHILDREN.lock() {
        c.retain_mut(|ch| matches!(ch.try_wait(), Ok(None)));
    }
}

/// Start generating, in the background, the host keys the ssh module will
/// want with the system config `cfg`. Returns the types started. Never
/// fails: whatever is not started here the module generates itself.
pub fn start(host: &Host, run_dir: &Path, cfg: &Value) -> Vec<String> {
    let types = planned_types(host, cfg);
    if types.is_empty() {
        return Vec::new();
    }
    let d = dir(run_dir);
    let made = host
        .create_dir_all(&d, 0o700)
        .and_then(|()| host.set_mode(&d, 0o700));
    if let Err(e) = made {
        debug!("Not pre-generating host keys: {e}");
        return Vec::new();
    }
    let mut started = Vec::new();
    for t in types {
        match spawn_one(host, &d, &t) {
            Ok(true) => started.push(t),
            Ok(false) => {}
            Err(e) => debug!("Not pre-generating the {t} host key: {e}"),
        }
    }
    if !started.is_empty() {
        debug!("Pre-generating host key types {}", started.join(", "));
    }
    started
}

/// A key made ahead of time, checked and ready to install.
#[derive(Debug)]
pub(crate) struct Pregen {
    key: OpenSshKey,
    alg: String,
    out: KeygenOutput,
}

impl Pregen {
    /// Write the key as `ssh-keygen -f <target>` (which prints `shown`)
    /// would have, with `comment`; returns the text it would have printed.
    pub(crate) fn install(
        &self,
        host: &Host,
        target: &Path,
        shown: &str,
        comment: &str,
    ) -> io::Result<String> {
        let public = PathBuf::from(format!("{}.pub", target.display()));
        host.write_atomic(
            target,
            self.key.to_pem(comment).as_bytes(),
            &WriteOpts::mode(0o600),
        )?;
        let line = keyfile::public_line(&self.alg, &self.key.public, comment);
        if let Err(e) = host.write_atomic(&public, line.as_bytes(), &WriteOpts::mode(0o644)) {
            // Leave no half key behind: ssh-keygen will not overwrite one.
            let _ = host.remove_file(target);
            return Err(e);
        }
        Ok(self.out.render(shown, comment))
    }
}

/// Whether a generator was started for `t` (done or not).
pub(crate) fn started(host: &Host, run_dir: &Path, t: &str) -> bool {
    host.lexists(dir(run_dir).join(lock_name(t)))
}

fn alg_of(t: &str, alg: &str) -> bool {
    match t {
        "rsa" => alg == "ssh-rsa",
        "ecdsa" => alg.starts_with("ecdsa-sha2-nistp"),
        "ed25519" => alg == "ssh-ed25519",
        _ => false,
    }
}

fn load(host: &Host, d: &Path, t: &str) -> Result<Pregen, String> {
    let read = |name: String| host.read_to_string(d.join(name)).map_err(|e| e.to_string());
    let key = OpenSshKey::parse(&read(key_name(t))?)?;
    let (alg, blob) = keyfile::parse_public_line(&read(format!("{}.pub", key_name(t)))?)?;
    if !alg_of(t, &alg) {
        return Err(format!("the public key is {alg}, not {t}"));
    }
    if blob != key.public {
        return Err("the public key is not the private key's".into());
    }
    let mut head = (alg.len() as u32).to_be_bytes().to_vec();
    head.extend_from_slice(alg.as_bytes());
    if !blob.starts_with(&head) {
        return Err(format!("the key is not {alg}"));
    }
    let text = read(format!("{t}.out"))?;
    if !text.starts_with(&format!("Generating public/private {t} key pair.\n")) {
        return Err(format!("ssh-keygen did not print the {t} header"));
    }
    let out = KeygenOutput::parse(&text)?;
    Ok(Pregen { key, alg, out })
}

/// The pre-generated key of type `t`, waiting for its generator to finish;
/// `None` when there is none or it is unusable (the module then runs
/// ssh-keygen itself).
pub(crate) fn take(host: &Host, run_dir: &Path, t: &str) -> Option<Pregen> {
    let d = dir(run_dir);
    let lock = host
        .try_resolve(d.join(lock_name(t)))
        .and_then(|p| open_nofollow(&p, OpenOptions::new().read(true)));
    let lock = match lock {
        Ok(f) => f,
        Err(e) => {
            if e.kind() != io::ErrorKind::NotFound {
                debug!("Not using a pre-generated {t} host key: {e}");
            }
            return None;
        }
    };
    if let Err(e) = lock_wait(&lock) {
        debug!("Not using a pre-generated {t} host key: {e}");
        return None;
    }
    reap();
    let loaded = load(host, &d, t);
    // Unlocked explicitly, not by closing: a child another thread forks
    // meanwhile holds a copy of this open file until it execs, and would
    // keep the lock (and `discard` away) that long.
    let _ = flock(&lock, FlockOperation::Unlock);
    match loaded {
        Ok(p) => Some(p),
        Err(e) => {
            debug!("Not using the pre-generated {t} host key: {e}");
            None
        }
    }
}

/// Remove the pre-generated keys, unless a generator still runs (it would
/// write into a removed directory's place; `/run` goes at shutdown anyway).
pub fn discard(host: &Host, run_dir: &Path) {
    let d = dir(run_dir);
    if !host.lexists(&d) {
        return;
    }
    for name in host.list_dir(&d) {
        if !name.ends_with(".lock") {
            continue;
        }
        let Ok(f) = host
            .try_resolve(d.join(&name))
            .and_then(|p| open_nofollow(&p, OpenOptions::new().read(true)))
        else {
            continue;
        };
        let probe = flock(&f, FlockOperation::NonBlockingLockExclusive);
        // Let go at once, for the same reason as in `take`.
        let _ = flock(&f, FlockOperation::Unlock);
        if let Err(Errno::WOULDBLOCK) = probe {
            debug!("Leaving {}: a host key generator still runs", d.display());
            return;
        }
    }
    reap();
    // The directory itself, not a link that may stand in its place.
    let removed = host
        .canonical(&d)
        .and_then(|real| host.remove_dir_all(real));
    if let Err(e) = removed {
        debug!("Failed to remove {}: {e}", d.display());
    }
}

#[cfg(test)]
#[path = "pregen_tests.rs"]
mod tests;

//! Who owns a running stage. A stage process holds an exclusive `flock` on
//! `/run/cloud-init/.stage-<stage>.lock` from before it records its start
//! until after it records its finish. The kernel drops the lock when the
//! process ends however it ends (SIGKILL, the OOM killer, `panic = "abort"`),
//! so a stage that has a start, no finish and a free lock died: its process
//! cannot write that down itself, the next stage and `status` do.
//!
//! A lock, not a stored PID: PIDs are reused, a lock cannot outlive its
//! holder. The file also carries the PID, for people and for the message.
//! `/run` is a tmpfs, so a lock file never describes an earlier boot.

use crate::paths::Paths;
use crate::status_file::Stage;
use ci_host::Host;
use rustix::fs::{flock, FlockOperation};
use rustix::io::Errno;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// `O_NOFOLLOW` for [`OpenOptionsExt::custom_flags`].
const NOFOLLOW: i32 = rustix::fs::OFlags::NOFOLLOW.bits() as i32;

/// How long a starting stage waits for a `status` probe to let go.
const ACQUIRE_PATIENCE: Duration = Duration::from_secs(3);

/// `/run/cloud-init/.stage-<key>.lock`.
pub fn lock_path(paths: &Paths, stage: Stage) -> PathBuf {
    paths.run_file(&format!(".stage-{}.lock", stage.key()))
}

/// Held by the stage process for as long as the stage runs; dropping it
/// (or the process dying) releases the lock.
#[derive(Debug)]
pub struct StageLock {
    file: File,
    path: PathBuf,
}

impl StageLock {
    /// The stage recorded its finish: remove the lock file, so a finished
    /// boot leaves `/run/cloud-init` as upstream's does. Only here: a stage
    /// that unwinds from a panic drops its lock without finishing, and the
    /// file left behind is what tells that it died.
    pub fn finished(self) {
        // Removed while still held: a probe that opened it meanwhile finds
        // the finish in status.json once it gets the lock.
        if let Err(e) = std::fs::remove_file(&self.path) {
            log::debug!("Failed to remove {}: {e}", self.path.display());
        }
        drop(self.file);
    }
}

/// Take the lock of `stage` for this process and write our PID into it.
/// `None` when the lock file cannot be made (read-only `/run`: the stage
/// then runs untracked, as before) or another live process runs the same
/// stage (it owns the record).
pub fn acquire(host: &Host, paths: &Paths, stage: Stage) -> Option<StageLock> {
    if let Err(e) = host.create_dir_all(&paths.run_dir, 0o755) {
        log::debug!("Not tracking stage {}: {e}", stage.key());
        return None;
    }
    // Resolved inside the root and opened without following a link: an
    // image's link here must not make us create or lock this machine's files.
    let p = match host.try_resolve(lock_path(paths, stage)) {
        Ok(p) => p,
        Err(e) => {
            log::debug!("Not tracking stage {}: {e}", stage.key());
            return None;
        }
    };
    // No truncation before the lock: a live holder's PID must survive.
    let mut file = match OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .custom_flags(NOFOLLOW)
        .open(&p)
    {
        Ok(f) => f,
        Err(e) => {
            log::debug!("Not tracking stage {}: {}: {e}", stage.key(), p.display());
            return None;
        }
    };
    let began = Instant::now();
    loop {
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => break,
            // `status` holds a shared lock for a moment while it looks.
            Err(Errno::WOULDBLOCK) if began.elapsed() < ACQUIRE_PATIENCE => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => {
                log::warn!(
                    "Stage {} is not tracked: {} is locked ({e}); is another cloud-init {} running?",
                    stage.key(),
                    p.display(),
                    stage.key()
                );
                return None;
            }
        }
    }
    let pid = std::process::id();
    let written = file
        .set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| writeln!(file, "{pid}"));
    if let Err(e) = written {
        // The lock is what counts; the PID is only for the message.
        log::debug!("Failed to write {}: {e}", p.display());
    }
    Some(StageLock { file, path: p })
}

/// Wait until no process holds the lock of `stage`. The network stage tells
/// systemd it is ready before growpart and resizefs are done, so the unit
/// of the next stage may start while it still runs; the next stage waits
/// here so that the stages keep their order. True when it had to wait.
pub fn wait_released(host: &Host, paths: &Paths, stage: Stage) -> bool {
    let Ok(p) = host.try_resolve(lock_path(paths, stage)) else {
        return false;
    };
    // A finished stage removed its file: nothing to wait for.
    let Ok(file) = OpenOptions::new()
        .read(true)
        .custom_flags(NOFOLLOW)
        .open(&p)
    else {
        return false;
    };
    match flock(&file, FlockOperation::NonBlockingLockShared) {
        Ok(()) => false,
        Err(Errno::WOULDBLOCK) => {
            log::debug!("Waiting for stage {} to finish", stage.key());
            if let Err(e) = flock(&file, FlockOperation::LockShared) {
                log::debug!("Cannot wait for {}: {e}", p.display());
            }
            true
        }
        Err(e) => {
            log::debug!("Cannot probe {}: {e}", p.display());
            false
        }
    }
}

/// What the lock of a stage says about its process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// A process holds the lock: the stage is running.
    Alive,
    /// Nobody holds it: the process that ran the stage has ended. The PID
    /// it wrote, when readable.
    Gone { pid: Option<u32> },
    /// No lock file (written by a build that does not lock, or `/run` was
    /// not writable) or it cannot be probed: nothing can be said.
    Unknown,
}

/// Probe the lock of `stage`. When it is free, `still_unfinished` is asked
/// while the probe holds it, so a stage that finished between the caller's
/// read of status.json and the probe (it records its finish before it lets
/// go) is not taken for dead: answer from a fresh read.
pub fn probe(
    host: &Host,
    paths: &Paths,
    stage: Stage,
    still_unfinished: impl FnOnce() -> bool,
) -> Owner {
    let Ok(p) = host.try_resolve(lock_path(paths, stage)) else {
        return Owner::Unknown;
    };
    let Ok(mut file) = OpenOptions::new()
        .read(true)
        .custom_flags(NOFOLLOW)
        .open(&p)
    else {
        return Owner::Unknown;
    };
    match flock(&file, FlockOperation::NonBlockingLockShared) {
        Ok(()) => {
            let mut text = String::new();
            let pid = file
                .read_to_string(&mut text)
                .ok()
                .and_then(|_| text.trim().parse().ok());
            if still_unfinished() {
                Owner::Gone { pid }
            } else {
                Owner::Alive
            }
        }
        Err(Errno::WOULDBLOCK) => Owner::Alive,
        Err(e) => {
            log::debug!("Cannot probe {}: {e}", p.display());
            Owner::Unknown
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_stage_waits_for_a_running_stage() {
        let d = tempfile::tempdir().unwrap();
        let h = Host::new(d.path());
        let p = Paths::default();
        assert!(!wait_released(&h, &p, Stage::Init), "no lock file: no wait");
        let lock = acquire(&h, &p, Stage::Init).unwrap();
        let started = Instant::now();
        let holder = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            lock.finished();
        });
        assert!(wait_released(&h, &p, Stage::Init));
        assert!(started.elapsed() >= Duration::from_millis(250));
        holder.join().unwrap();
        assert!(!wait_released(&h, &p, Stage::Init));
    }

    #[test]
    fn held_lock_is_alive_released_lock_is_gone_with_pid() {
        let d = tempfile::tempdir().unwrap();
        let h = Host::new(d.path());
        let p = Paths::default();
        assert_eq!(probe(&h, &p, Stage::Init, || true), Owner::Unknown);
        let lock = acquire(&h, &p, Stage::Init).unwrap();
        assert!(h.exists("/run/cloud-init/.stage-init.lock"));
        assert_eq!(probe(&h, &p, Stage::Init, || true), Owner::Alive);
        // Another stage's lock is independent.
        assert_eq!(probe(&h, &p, Stage::ModulesConfig, || true), Owner::Unknown);
        drop(lock);
        assert!(h.exists("/run/cloud-init/.stage-init.lock"));
        assert_eq!(
            probe(&h, &p, Stage::Init, || true),
            Owner::Gone {
                pid: Some(std::process::id())
            }
        );
        // Finished meanwhile: not dead.
        assert_eq!(probe(&h, &p, Stage::Init, || false), Owner::Alive);
        // A stage that finished leaves no lock file.
        acquire(&h, &p, Stage::Init).unwrap().finished();
        assert!(!h.exists("/run/cloud-init/.stage-init.lock"));
        assert_eq!(probe(&h, &p, Stage::Init, || true), Owner::Unknown);
    }

    #[test]
    fn second_holder_is_refused_and_probe_does_not_block_the_stage() {
        let d = tempfile::tempdir().unwrap();
        let h = Host::new(d.path());
        let p = Paths::default();
        let first = acquire(&h, &p, Stage::ModulesFinal).unwrap();
        let t = Instant::now();
        assert!(acquire(&h, &p, Stage::ModulesFinal).is_none());
        assert!(t.elapsed() >= ACQUIRE_PATIENCE);
        drop(first);
        // A probe releases its shared lock when done; the stage gets it.
        assert!(matches!(
            probe(&h, &p, Stage::ModulesFinal, || true),
            Owner::Gone { .. }
        ));
        assert!(acquire(&h, &p, Stage::ModulesFinal).is_some());
    }
}

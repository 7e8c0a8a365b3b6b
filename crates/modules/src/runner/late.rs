//! Work a module hands off to finish while the list goes on: today only the
//! host keys `ssh_deferred_keytypes` lets sshd start without. The stage
//! waits for all of it before it ends, so what follows the stage (the
//! config stage, `status --wait`) sees a finished machine.

use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::Instant;

static JOBS: Mutex<Vec<(String, JoinHandle<()>)>> = Mutex::new(Vec::new());

/// Run `job` on its own thread from now on; `what` names it in the log.
/// Runs it in place when no thread can be started.
pub(crate) fn spawn(what: &str, job: impl FnOnce() + Send + 'static) {
    let job = std::sync::Arc::new(Mutex::new(Some(job)));
    let for_thread = job.clone();
    let spawned = std::thread::Builder::new()
        .name(what.to_string())
        .spawn(move || {
            if let Some(f) = for_thread.lock().ok().and_then(|mut j| j.take()) {
                f();
            }
        });
    match spawned {
        Ok(handle) => {
            if let Ok(mut jobs) = JOBS.lock() {
                jobs.push((what.to_string(), handle));
            }
        }
        Err(e) => {
            log::debug!("Running {what} now: no thread for it ({e})");
            if let Some(f) = job.lock().ok().and_then(|mut j| j.take()) {
                f();
            }
        }
    }
}

/// Wait for every job handed off so far.
pub fn wait_all() {
    let jobs: Vec<(String, JoinHandle<()>)> = match JOBS.lock() {
        Ok(mut jobs) => jobs.drain(..).collect(),
        Err(_) => return,
    };
    for (what, handle) in jobs {
        let started = Instant::now();
        if handle.join().is_err() {
            log::warn!("{what} did not finish");
        }
        log::debug!(
            "Waited {:.3} seconds for {what} at the end of the stage",
            started.elapsed().as_secs_f64()
        );
    }
}

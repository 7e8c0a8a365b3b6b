//! Timing of the network stage's module list, for time to SSH.
//!
//! The list still runs in its order, one module after the other, with two
//! exceptions that change only when things happen, never what they do:
//!
//! - growpart and resizefs grow the root disk on a thread of their own
//!   while the list goes on. A later module that may need the grown disk
//!   (one that can install packages, write a swap file or partition disks)
//!   waits for them first; the stage ends only once they are done.
//! - Once the modules sshd needs (accounts, their keys, host keys,
//!   passwords) are done, the stage says so (`on_ready`), so that the SSH
//!   daemon may start while the rest of the stage goes on.

use serde_json::Value;

/// Grow the root disk; nothing else in a stage reads what they change.
const BESIDE: &[&str] = &["growpart", "resizefs"];

/// What sshd needs in place before it starts.
const FOR_SSH: &[&str] = &["users_groups", "ssh", "set_passwords"];

/// Modules known not to need the grown disk: they edit small files, add
/// accounts and keys, or mount what is already there. Any other module
/// waits for growpart and resizefs before it runs.
const NEEDS_NO_SPACE: &[&str] = &[
    "seed_random",
    "set_hostname",
    "update_hostname",
    "update_etc_hosts",
    "users_groups",
    "ssh",
    "set_passwords",
    "mounts",
];

/// How one active module of the list is run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Role {
    /// On the disk lane, beside the list.
    Beside,
    /// In the list; `waits`: joins the disk lane first; `for_ssh`: one of
    /// the modules sshd needs.
    Main { waits: bool, for_ssh: bool },
}

/// Roles for the active modules (registry names), in list order.
pub(crate) fn plan(names: &[&str], cfg: &Value) -> Vec<Role> {
    names
        .iter()
        .map(|n| {
            if BESIDE.contains(n) {
                Role::Beside
            } else {
                Role::Main {
                    waits: needs_grown_disk(n, cfg),
                    for_ssh: FOR_SSH.contains(n),
                }
            }
        })
        .collect()
}

fn needs_grown_disk(name: &str, cfg: &Value) -> bool {
    if !NEEDS_NO_SPACE.contains(&name) {
        return true;
    }
    // A swap file is sized from, and written to, the root filesystem.
    name == "mounts" && cfg.get("swap").is_some_and(|v| !v.is_null())
}

/// When the disk modules run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskLane {
    /// In list order on this thread (sandboxes: a harness compares the
    /// order of recorded commands).
    Off,
    /// On their own thread from their place in the list.
    AtItsPlace,
    /// On their own thread once sshd may start (or inline, in order, when
    /// a module that needs them comes first): with few CPUs, growing the
    /// disk beside the list takes the CPU the accounts and host keys need.
    AfterReady,
}

/// After the readiness point nothing left in the stage is on the way to a
/// login, while sshd, the user's session and networkd start on the same few
/// CPUs: the thread calling this (and the commands it runs, which inherit
/// it) yields to them. Not in a sandbox run (`Off`), whose threads are a
/// test's.
fn step_back(mode: DiskLane) {
    if mode == DiskLane::Off {
        return;
    }
    // On Linux the niceness is per thread; `None` is the calling one. A
    // unit that set a lower priority (a higher niceness) keeps it.
    let now = rustix::process::getpriority_process(None).unwrap_or(0);
    if now >= AFTER_READY_NICE {
        return;
    }
    if let Err(e) = rustix::process::setpriority_process(None, AFTER_READY_NICE) {
        log::debug!("Could not lower the stage's priority after the readiness point: {e}");
    }
}

/// The niceness of what runs after the readiness point.
const AFTER_READY_NICE: i32 = 10;

/// Run the active modules `0..roles.len()` with `run`, returning their
/// outcomes in list order. `on_ready` is called once, on this thread, when
/// every `for_ssh` module has run, or at the end when there is none.
pub(crate) fn execute<T: Send>(
    roles: &[Role],
    run: &(dyn Fn(usize) -> T + Sync),
    failed: impl Fn() -> T,
    on_ready: &dyn Fn(),
    mode: DiskLane,
) -> Vec<T> {
    type Lane<'s, T> = Option<std::thread::ScopedJoinHandle<'s, Vec<(usize, T)>>>;
    let mut out: Vec<Option<T>> = roles.iter().map(|_| None).collect();
    let mut ssh_left = roles
        .iter()
        .filter(|r| matches!(r, Role::Main { for_ssh: true, .. }))
        .count();
    let mut ready = false;
    std::thread::scope(|s| {
        let mut lane: Lane<'_, T> = None;
        let start = |idx: Vec<usize>, after_ready: bool| {
            s.spawn(move || {
                if after_ready {
                    step_back(mode);
                }
                idx.into_iter().map(|k| (k, run(k))).collect()
            })
        };
        let join = |lane: &mut Lane<'_, T>, batch: &[usize], out: &mut Vec<Option<T>>| {
            if let Some(h) = lane.take() {
                match h.join() {
                    Ok(done) => done.into_iter().for_each(|(i, t)| out[i] = Some(t)),
                    Err(_) => batch.iter().for_each(|&i| out[i] = Some(failed())),
                }
            }
        };
        // On the lane (`batch`), or waiting for the readiness point (`pending`).
        let mut batch: Vec<usize> = Vec::new();
        let mut pending: Vec<usize> = Vec::new();
        let mut i = 0;
        while i < roles.len() {
            if mode != DiskLane::Off
                && lane.is_none()
                && pending.is_empty()
                && roles[i] == Role::Beside
            {
                // The run of disk modules from here, in order.
                let end = (i..roles.len())
                    .find(|&j| roles[j] != Role::Beside)
                    .unwrap_or(roles.len());
                if mode == DiskLane::AtItsPlace {
                    batch = (i..end).collect();
                    lane = Some(start(batch.clone(), ready));
                } else {
                    pending = (i..end).collect();
                }
                i = end;
                continue;
            }
            let waits = match roles[i] {
                Role::Beside => true,
                Role::Main { waits, .. } => waits,
            };
            if waits {
                join(&mut lane, &batch, &mut out);
                for k in std::mem::take(&mut pending) {
                    out[k] = Some(run(k));
                }
            }
            out[i] = Some(run(i));
            if let Role::Main { for_ssh: true, .. } = roles[i] {
                ssh_left -= 1;
                if ssh_left == 0 && !ready {
                    ready = true;
                    on_ready();
                    step_back(mode);
                    if !pending.is_empty() {
                        batch = std::mem::take(&mut pending);
                        lane = Some(start(batch.clone(), true));
                    }
                }
            }
            i += 1;
        }
        if !ready {
            // Nothing sshd needs in this list: ready once the list is done,
            // the disk modules aside.
            on_ready();
        }
        if !pending.is_empty() {
            batch = std::mem::take(&mut pending);
            lane = Some(start(batch.clone(), true));
        }
        join(&mut lane, &batch, &mut out);
    });
    out.into_iter().map(|o| o.unwrap_or_else(&failed)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    const DEBIAN: &[&str] = &[
        "seed_random",
        "bootcmd",
        "write_files",
        "growpart",
        "resizefs",
        "disk_setup",
        "mounts",
        "set_hostname",
        "update_hostname",
        "update_etc_hosts",
        "ca_certs",
        "rsyslog",
        "users_groups",
        "ssh",
    ];

    #[test]
    fn disk_modules_go_beside_and_package_writers_wait() {
        let roles = plan(DEBIAN, &json!({}));
        let beside: Vec<&str> = DEBIAN
            .iter()
            .zip(&roles)
            .filter(|(_, r)| **r == Role::Beside)
            .map(|(n, _)| *n)
            .collect();
        assert_eq!(beside, ["growpart", "resizefs"]);
        let waiting: Vec<&str> = DEBIAN
            .iter()
            .zip(&roles)
            .filter(|(_, r)| matches!(r, Role::Main { waits: true, .. }))
            .map(|(n, _)| *n)
            .collect();
        assert_eq!(
            waiting,
            [
                "bootcmd",
                "write_files",
                "disk_setup",
                "ca_certs",
                "rsyslog"
            ]
        );
        let with_swap = plan(&["mounts"], &json!({"swap": {"filename": "/swap"}}));
        assert_eq!(
            with_swap,
            [Role::Main {
                waits: true,
                for_ssh: false
            }]
        );
        assert_eq!(
            plan(&["mounts"], &json!({"swap": null})),
            [Role::Main {
                waits: false,
                for_ssh: false
            }]
        );
    }

    /// Runs DEBIAN's list with every module taking `ms(name)` and records
    /// start and end times and when readiness came.
    fn timed(
        names: &[&str],
        cfg: Value,
        mode: DiskLane,
        ms: fn(&str) -> u64,
    ) -> (Vec<(Duration, Duration)>, Duration) {
        let t0 = Instant::now();
        let roles = plan(names, &cfg);
        let ready = Mutex::new(None);
        let run = |i: usize| {
            let s = t0.elapsed();
            std::thread::sleep(Duration::from_millis(ms(names[i])));
            (s, t0.elapsed())
        };
        let spans = execute(
            &roles,
            &run,
            || (Duration::MAX, Duration::MAX),
            &|| {
                let mut r = ready.lock().unwrap();
                assert!(r.is_none(), "ready twice");
                *r = Some(t0.elapsed());
            },
            mode,
        );
        let ready = ready.lock().unwrap().expect("never ready");
        (spans, ready)
    }

    fn slow_disk(n: &str) -> u64 {
        match n {
            "growpart" => 400,
            "resizefs" => 100,
            _ => 10,
        }
    }

    /// DEBIAN's list as it runs with no user-data for the modules that
    /// need some (none of them waits for the disk then).
    fn without_configured_modules() -> Vec<&'static str> {
        DEBIAN
            .iter()
            .copied()
            .filter(|n| !["disk_setup", "ca_certs", "rsyslog"].contains(n))
            .collect()
    }

    #[test]
    fn sshd_is_ready_before_the_disk_is_grown() {
        let quiet = without_configured_modules();
        let (spans, ready) = timed(&quiet, json!({}), DiskLane::AtItsPlace, slow_disk);
        let at = |n: &str| spans[quiet.iter().position(|x| *x == n).unwrap()];
        let (_, ssh_end) = at("ssh");
        let (grow_start, _) = at("growpart");
        let (resize_start, resize_end) = at("resizefs");
        assert!(ready >= ssh_end, "ready before ssh finished");
        assert!(ready < resize_end, "readiness waited for the disk lane");
        assert!(
            at("users_groups").0 < resize_end,
            "users waited for the disk"
        );
        // The lane keeps its own order, and starts after write_files.
        assert!(resize_start >= at("growpart").1);
        assert!(grow_start >= at("write_files").1);
    }

    #[test]
    fn with_few_cpus_the_disk_waits_for_the_readiness_point() {
        let quiet = without_configured_modules();
        let (spans, ready) = timed(&quiet, json!({}), DiskLane::AfterReady, slow_disk);
        let at = |n: &str| spans[quiet.iter().position(|x| *x == n).unwrap()];
        assert!(ready >= at("ssh").1);
        assert!(at("growpart").0 >= ready, "{spans:?} {ready:?}");
        assert!(at("resizefs").0 >= at("growpart").1);
        // A module that needs the disk runs them first, in order, inline.
        let (spans, _) = timed(DEBIAN, json!({}), DiskLane::AfterReady, slow_disk);
        let at = |n: &str| spans[DEBIAN.iter().position(|x| *x == n).unwrap()];
        assert!(at("growpart").0 >= at("write_files").1);
        assert!(at("disk_setup").0 >= at("resizefs").1);
        assert!(at("resizefs").0 >= at("growpart").1);
    }

    #[test]
    fn a_module_that_needs_space_waits_for_the_lane() {
        let (spans, ready) = timed(DEBIAN, json!({}), DiskLane::AtItsPlace, slow_disk);
        let at = |n: &str| spans[DEBIAN.iter().position(|x| *x == n).unwrap()];
        assert!(at("disk_setup").0 >= at("resizefs").1);
        assert!(ready >= at("ssh").1);
    }

    #[test]
    fn without_concurrency_the_list_runs_in_order() {
        let (spans, ready) = timed(DEBIAN, json!({}), DiskLane::Off, slow_disk);
        for w in spans.windows(2) {
            assert!(w[1].0 >= w[0].1, "{spans:?}");
        }
        assert!(ready >= spans.last().unwrap().1);
    }

    #[test]
    fn without_ssh_modules_readiness_comes_at_the_end_of_the_list() {
        let names = ["bootcmd", "growpart", "resizefs", "update_etc_hosts"];
        let (spans, ready) = timed(&names, json!({}), DiskLane::AtItsPlace, slow_disk);
        assert!(ready >= spans[3].1);
        // The disk lane may still run: readiness does not wait for it.
        assert!(ready < spans[2].1, "{spans:?} {ready:?}");
        // Late modules after the readiness point still run, and the
        // outcomes come back in list order.
        assert_eq!(spans.len(), 4);
    }

    #[test]
    fn modules_after_the_readiness_point_run_after_it() {
        let names = ["users_groups", "ssh", "seed_random"];
        let (spans, ready) = timed(&names, json!({}), DiskLane::AtItsPlace, |_| 30);
        assert!(
            ready >= spans[1].1 && ready <= spans[2].0,
            "{spans:?} {ready:?}"
        );
    }

    /// After the readiness point the rest of the stage (the list on this
    /// thread and the disk lane) runs niced; before it, nothing is.
    #[test]
    fn what_runs_after_the_readiness_point_yields_the_cpu() {
        let names = [
            "users_groups",
            "ssh",
            "growpart",
            "resizefs",
            "scripts_user",
        ];
        let roles = plan(&names, &json!({}));
        // Each test runs on a thread of its own: this one starts at 0.
        let base = rustix::process::getpriority_process(None).unwrap();
        let nice = |_: usize| rustix::process::getpriority_process(None).unwrap();
        let seen = execute(&roles, &nice, || -1, &|| {}, DiskLane::AfterReady);
        let after = base.max(AFTER_READY_NICE);
        assert_eq!(seen, [base, base, after, after, after]);
        // Never in a sandbox run.
        let std_thread = std::thread::spawn(move || {
            // (It starts with its spawner's niceness.)
            let base = rustix::process::getpriority_process(None).unwrap();
            let nice = |_: usize| rustix::process::getpriority_process(None).unwrap();
            (base, execute(&roles, &nice, || -1, &|| {}, DiskLane::Off))
        });
        let (base, seen) = std_thread.join().unwrap();
        assert_eq!(seen, [base; 5]);
    }
}

use super::*;
use crate::testutil::logcap;
use ci_host::{RecordingRunner, WriteOpts};
use serde_json::json;
use std::cell::RefCell;
use std::collections::HashSet;
use std::sync::Arc;

#[derive(Default)]
struct MemSems(RefCell<HashSet<String>>);
impl Semaphores for MemSems {
    fn has_run(&self, name: &str, _f: Frequency) -> bool {
        self.0.borrow().contains(name)
    }
    fn mark_run(&self, name: &str, _f: Frequency) -> std::io::Result<()> {
        self.0.borrow_mut().insert(name.to_string());
        Ok(())
    }
}
impl MemSems {
    fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.0.borrow().iter().cloned().collect();
        v.sort();
        v
    }
}

#[derive(Default)]
struct Rec(RefCell<Vec<String>>);
impl Events for Rec {
    fn start(&self, n: &str, d: &str) {
        self.0.borrow_mut().push(format!("start {n} {d}"));
    }
    fn finish(&self, n: &str, r: &str, _d: &str) {
        self.0.borrow_mut().push(format!("finish {n} {r}"));
    }
}

/// A temp root, the config given (with `system_info.distro`), and a runner
/// that records commands.
struct World {
    _dir: tempfile::TempDir,
    host: Host,
    rec: Arc<RecordingRunner>,
    cfg: Value,
    distro: Distro,
    paths: Paths,
    inst: InstanceInfo,
}

impl World {
    fn new(distro: &str, cfg: Value) -> World {
        let dir = tempfile::tempdir().unwrap();
        let rec = Arc::new(RecordingRunner::new());
        let host = Host::with_runner(dir.path(), rec.clone());
        World {
            _dir: dir,
            host,
            rec,
            cfg,
            distro: Distro::from_config(&json!({"system_info": {"distro": distro}})),
            paths: Paths::default().with_instance("i-1"),
            inst: InstanceInfo {
                instance_id: "i-1".into(),
                datasource_name: "NoCloud".into(),
                ..Default::default()
            },
        }
    }

    fn env<'a>(&'a self, prefix: &'a str) -> StageEnv<'a> {
        StageEnv {
            host: &self.host,
            cfg: &self.cfg,
            distro: &self.distro,
            paths: &self.paths,
            instance: &self.inst,
            version: "x",
            uptime: 0.0,
            event_prefix: prefix,
        }
    }

    fn run(&self, prefix: &str, list: Value) -> (StageReport, MemSems, Rec) {
        let entries = parse_module_list(Some(&list), "x");
        let sems = MemSems::default();
        let ev = Rec::default();
        let r = run_modules(&self.env(prefix), &entries, &sems, &ev, None);
        (r, sems, ev)
    }
}

fn outcomes(r: &StageReport) -> Vec<(&str, Outcome)> {
    r.outcomes
        .iter()
        .map(|(n, o)| (n.as_str(), o.clone()))
        .collect()
}

#[test]
fn parses_all_entry_forms() {
    let v =
        json!(["ssh", ["runcmd", "always", "a", 1], {"name": "locale", "frequency": "once"}, 5]);
    let l = parse_module_list(Some(&v), "cloud_init_modules");
    assert_eq!(l.len(), 3);
    assert_eq!(l[1].frequency, Some(Frequency::Always));
    assert_eq!(l[1].args, vec!["a", "1"]);
    assert_eq!(l[2].frequency, Some(Frequency::Once));
}

#[test]
fn frequencies_skip_and_unknown_modules() {
    let w = World::new("ubuntu", json!({"runcmd": ["true"]}));
    let list = json!(["runcmd", "bootcmd", "nope", "migrator"]);
    let entries = parse_module_list(Some(&list), "x");
    let sems = MemSems::default();
    let ev = Rec::default();
    let env = w.env("modules-config");
    let r = run_modules(&env, &entries, &sems, &ev, None);
    assert_eq!(
        outcomes(&r),
        vec![
            ("runcmd", Outcome::Ran),
            ("bootcmd", Outcome::Skipped),
            ("nope", Outcome::Unknown),
        ]
    );
    let r2 = run_modules(&env, &entries[..1], &sems, &ev, None);
    assert_eq!(r2.outcomes[0].1, Outcome::AlreadyRan);
    let r3 = run_modules(&env, &entries[..1], &sems, &ev, Some(Frequency::Always));
    assert_eq!(r3.outcomes[0].1, Outcome::Ran);
    assert!(ev.0.borrow()[0].starts_with("start modules-config/config-runcmd"));
}

#[test]
fn unknown_and_removed_modules_are_logged_as_upstream() {
    logcap::init();
    let w = World::new("debian", json!({}));
    let (r, _, _) = w.run(
        "modules-final",
        json!(["no-such-thing", "emit_upstart", "refresh_rmc_and_interface"]),
    );
    assert_eq!(
        outcomes(&r),
        vec![
            ("no-such-thing", Outcome::Unknown),
            ("refresh_rmc_and_interface", Outcome::Unknown)
        ]
    );
    let warns = logcap::warnings();
    assert!(warns.contains(&"Could not find module named cc_no_such_thing (searched ['cc_no_such_thing', 'cloudinit.config.cc_no_such_thing'])".to_string()), "{warns:?}");
    assert!(logcap::all().contains(&"Module `emit_upstart` has been removed from cloud-init. It may be removed from `/etc/cloud/cloud.cfg`.".to_string()));
}

/// A failing module listed with dashes is named with dashes in the status
/// errors, its events and its log lines; its semaphore uses underscores.
#[test]
fn module_names_keep_the_module_list_spelling() {
    logcap::init();
    let w = World::new("debian", json!({}));
    w.host
        .write_atomic(
            "/var/lib/cloud/scripts/per-instance/fail.sh",
            b"#!/bin/sh\nexit 1\n",
            &WriteOpts::mode(0o755),
        )
        .unwrap();
    w.rec
        .answer("/var/lib/cloud/scripts/per-instance/fail.sh", 1, b"");
    let (r, sems, ev) = w.run("modules-final", json!(["scripts-per-instance"]));
    assert_eq!(
        r.errors(),
        vec!["('scripts-per-instance', RuntimeError('Runparts: 1 failures (fail.sh) in 1 attempted commands'))"]
    );
    assert_eq!(sems.names(), vec!["config_scripts_per_instance"]);
    assert_eq!(
        *ev.0.borrow(),
        vec![
            "start modules-final/config-scripts-per-instance running config-scripts-per-instance with frequency once-per-instance",
            "finish modules-final/config-scripts-per-instance FAIL",
        ]
    );
    assert!(logcap::warnings().contains(
        &"Running module scripts-per-instance (<module 'cloudinit.config.cc_scripts_per_instance'>) failed"
            .to_string()
    ));
    // A second run with the underscore spelling finds the same semaphore.
    let entries = parse_module_list(Some(&json!(["scripts_per_instance"])), "x");
    let again = run_modules(&w.env("modules-final"), &entries, &sems, &ev, None);
    assert_eq!(again.outcomes[0].1, Outcome::AlreadyRan);
}

#[test]
fn inapplicable_modules_are_logged_by_their_list_names() {
    logcap::init();
    let w = World::new("debian", json!({}));
    let (r, sems, ev) = w.run(
        "modules-config",
        json!(["apt-pipelining", "disable-ec2-metadata"]),
    );
    assert!(r.outcomes.iter().all(|(_, o)| *o == Outcome::Skipped));
    assert!(sems.names().is_empty() && ev.0.borrow().is_empty());
    assert!(logcap::all().contains(
        &"Skipping modules 'apt-pipelining,disable-ec2-metadata' because no applicable config is provided."
            .to_string()
    ));
}

#[test]
fn modules_not_verified_on_the_distro_are_skipped_unless_overridden() {
    logcap::init();
    let w = World::new("debian", json!({"snap": {"commands": ["true"]}}));
    let (r, sems, ev) = w.run("modules-config", json!(["snap", "ssh-import-id"]));
    assert_eq!(outcomes(&r)[0], ("snap", Outcome::Skipped));
    assert!(logcap::warnings().is_empty(), "{:?}", logcap::warnings());
    assert!(logcap::all().contains(
        &"Skipping modules 'snap' because they are not verified on distro 'debian'.  To run anyway, add them to 'unverified_modules' in config."
            .to_string()
    ));
    // ssh_import_id is verified on debian: it runs (nothing configured).
    assert_eq!(outcomes(&r)[1], ("ssh-import-id", Outcome::Ran));
    assert_eq!(sems.names(), vec!["config_ssh_import_id"]);
    assert_eq!(ev.0.borrow().len(), 2);

    // apk_configure is verified on alpine only; listed, it runs here.
    let w = World::new(
        "debian",
        json!({
            "apk_repos": {"preserve_repositories": true},
            "unverified_modules": ["apk_configure"]
        }),
    );
    let (r, sems, _) = w.run("modules-config", json!(["apk_configure"]));
    assert_eq!(outcomes(&r), vec![("apk_configure", Outcome::Ran)]);
    assert_eq!(sems.names(), vec!["config_apk_configure"]);
    assert!(logcap::all().contains(&"running unverified_modules: 'apk_configure'".to_string()));

    let w = World::new("fedora", json!({}));
    let (r, sems, _) = w.run("modules-config", json!(["ssh_import_id", "fan"]));
    assert!(r.outcomes.iter().all(|(_, o)| *o == Outcome::Skipped));
    assert!(sems.names().is_empty());
}

#[test]
fn single_runs_without_the_section_checks() {
    let w = World::new("fedora", json!({}));
    // fan is verified on ubuntu only, and has an activate key: `single`
    // runs it anyway, and without its key upstream's finds nothing to do.
    let (r, sems, ev) = w.run("single", json!(["fan"]));
    assert_eq!(outcomes(&r), vec![("fan", Outcome::Ran)]);
    assert_eq!(sems.names(), vec!["config_fan"]);
    assert!(
        ev.0.borrow()[1].ends_with("config-fan SUCCESS"),
        "{:?}",
        ev.0.borrow()
    );
    let (r, sems, _) = w.run("single", json!(["puppet"]));
    assert_eq!(outcomes(&r), vec![("puppet", Outcome::Ran)]);
    assert_eq!(sems.names(), vec!["config_puppet"]);
    let (r, _, _) = w.run("single", json!(["runcmd"]));
    assert_eq!(outcomes(&r), vec![("runcmd", Outcome::Ran)]);
}

#[test]
fn failing_semaphore_write_fails_the_module_without_running_it() {
    struct Broken;
    impl Semaphores for Broken {
        fn has_run(&self, _: &str, _: Frequency) -> bool {
            false
        }
        fn mark_run(&self, _: &str, _: Frequency) -> std::io::Result<()> {
            Err(std::io::Error::other("read-only"))
        }
    }
    let w = World::new("debian", json!({"runcmd": ["true"]}));
    let entries = parse_module_list(Some(&json!(["runcmd"])), "x");
    let r = run_modules(
        &w.env("modules-config"),
        &entries,
        &Broken,
        &Rec::default(),
        None,
    );
    assert_eq!(
        r.errors(),
        vec!["('runcmd', LockFailure('Failed to acquire lock for config-runcmd'))"]
    );
    assert!(!w.host.exists(w.paths.instance_file("scripts/runcmd")));
}

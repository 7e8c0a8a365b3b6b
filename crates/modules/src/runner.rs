//! Runs a stage's module list as upstream's module runner does: parse the
//! list entries, skip modules without applicable config, honour frequencies
//! through semaphores, record failures and keep going.

use crate::registry::{canonical_name, lookup, Frequency, ModuleSpec, REMOVED};
use crate::{Ctx, InstanceInfo};
use ci_distro::Distro;
use ci_host::Host;
use ci_state::Paths;
use serde_json::Value;
use std::time::Instant;

/// One entry of `cloud_init_modules` / `cloud_config_modules` / `cloud_final_modules`.
#[derive(Debug, Clone, PartialEq)]
pub struct ModuleEntry {
    pub name: String,
    pub frequency: Option<Frequency>,
    pub args: Vec<String>,
}

/// Parse a module list: `name`, `[name, frequency, args...]` or
/// `{name, frequency, args}`. Malformed entries are warned about and dropped.
pub fn parse_module_list(v: Option<&Value>, section: &str) -> Vec<ModuleEntry> {
    let items = match v {
        Some(Value::Array(a)) => a.as_slice(),
        None | Some(Value::Null) => return Vec::new(),
        Some(other) => {
            log::warn!(
                "Failed to read '{section}' item configuration: expected a list, got {other}"
            );
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for item in items {
        let entry = match item {
            Value::String(s) => Some(ModuleEntry {
                name: s.trim().to_string(),
                frequency: None,
                args: Vec::new(),
            }),
            Value::Array(parts) => match parts.split_first() {
                Some((Value::String(name), rest)) => {
                    let frequency = rest
                        .first()
                        .and_then(Value::as_str)
                        .and_then(Frequency::parse_module_list);
                    let args = rest.iter().skip(1).map(value_word).collect();
                    Some(ModuleEntry {
                        name: name.trim().to_string(),
                        frequency,
                        args,
                    })
                }
                _ => None,
            },
            Value::Object(m) => m
                .get("name")
                .and_then(Value::as_str)
                .map(|name| ModuleEntry {
                    name: name.trim().to_string(),
                    frequency: m
                        .get("frequency")
                        .and_then(Value::as_str)
                        .and_then(Frequency::parse_module_list),
                    args: match m.get("args") {
                        Some(Value::Array(a)) => a.iter().map(value_word).collect(),
                        _ => Vec::new(),
                    },
                }),
            _ => None,
        };
        match entry {
            Some(e) if !e.name.is_empty() => out.push(e),
            _ => log::warn!("Failed to read '{section}' item configuration: {item}"),
        }
    }
    out
}

fn value_word(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Where "has this run?" is remembered (instance or global semaphores).
pub trait Semaphores {
    fn has_run(&self, name: &str, freq: Frequency) -> bool;
    fn mark_run(&self, name: &str, freq: Frequency) -> std::io::Result<()>;
}

/// Receives the `start:`/`finish:` reporting events of each module.
pub trait Events {
    fn start(&self, name: &str, description: &str);
    fn finish(&self, name: &str, result: &str, description: &str);
}

/// What happened to one module.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Ran,
    Failed(String),
    /// Already ran at this frequency.
    AlreadyRan,
    /// No applicable config, or not built yet and not asked for.
    Skipped,
    /// Not built in cloud-init-rs yet but its config is present (warned).
    NotBuilt,
    Unknown,
}

/// The shared part of every module's context during one stage.
pub struct StageEnv<'a> {
    pub host: &'a Host,
    pub cfg: &'a Value,
    pub distro: &'a Distro,
    pub paths: &'a Paths,
    pub instance: &'a InstanceInfo,
    pub version: &'a str,
    pub uptime: f64,
    /// Event prefix: `init-network`, `modules-config`, `modules-final`, `single`.
    pub event_prefix: &'a str,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct StageReport {
    pub outcomes: Vec<(String, Outcome)>,
}

impl StageReport {
    /// Upstream records failures as the string form of `(name, exception)`.
    pub fn errors(&self) -> Vec<String> {
        self.outcomes
            .iter()
            .filter_map(|(n, o)| match o {
                Outcome::Failed(e) => Some(format!("('{n}', {})", py_repr_exception(e))),
                _ => None,
            })
            .collect()
    }

    pub fn failed(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|(_, o)| matches!(o, Outcome::Failed(_)) || matches!(o, Outcome::Unknown))
            .count()
    }
}

fn py_repr_exception(msg: &str) -> String {
    format!(
        "RuntimeError('{}')",
        msg.replace('\\', "\\\\").replace('\'', "\\'")
    )
}

/// `apt_configure` runs on every Debian boot; Debian's own cloud.cfg sets
/// `apt: {preserve_sources_list: true}`, which asks for nothing to be done.
/// Any other `apt` setting is a request we cannot honour yet.
fn asks_apt(module: &str, cfg: &Value) -> bool {
    module == "apt_configure"
        && cfg
            .get("apt")
            .and_then(Value::as_object)
            .is_some_and(|m| m.keys().any(|k| k != "preserve_sources_list"))
}

fn has_any_key(cfg: &Value, keys: &[&str]) -> bool {
    keys.iter().any(|k| cfg.get(*k).is_some())
}

/// Run every module of `entries` in order.
pub fn run_modules(
    env: &StageEnv,
    entries: &[ModuleEntry],
    sems: &dyn Semaphores,
    events: &dyn Events,
    forced: Option<Frequency>,
) -> StageReport {
    let mut report = StageReport::default();
    let mut skipped_no_cfg: Vec<String> = Vec::new();
    for entry in entries {
        let canon = canonical_name(&entry.name);
        if REMOVED.contains(&canon.as_str()) {
            log::info!("Module '{canon}' has been removed from cloud-init. It is no longer needed and can be removed from config.");
            continue;
        }
        let Some(spec) = lookup(&entry.name) else {
            log::warn!(
                "Could not find module named {} (searched ['cc_{canon}', 'cloudinit.config.cc_{canon}'])",
                entry.name
            );
            report.outcomes.push((canon, Outcome::Unknown));
            continue;
        };
        if !spec.activate_keys.is_empty() && !has_any_key(env.cfg, spec.activate_keys) {
            skipped_no_cfg.push(spec.name.to_string());
            report
                .outcomes
                .push((spec.name.to_string(), Outcome::Skipped));
            continue;
        }
        let outcome = run_one(env, spec, entry, sems, events, forced);
        report.outcomes.push((spec.name.to_string(), outcome));
    }
    if !skipped_no_cfg.is_empty() {
        log::info!(
            "Skipping modules '{}' because no applicable config is provided.",
            skipped_no_cfg.join(",")
        );
    }
    report
}

fn run_one(
    env: &StageEnv,
    spec: &ModuleSpec,
    entry: &ModuleEntry,
    sems: &dyn Semaphores,
    events: &dyn Events,
    forced: Option<Frequency>,
) -> Outcome {
    let Some(handler) = spec.handler else {
        let asked = has_any_key(env.cfg, spec.activate_keys)
            || has_any_key(env.cfg, spec.watched_keys)
            || asks_apt(spec.name, env.cfg);
        if asked {
            log::warn!(
                "Module {} is not supported by cloud-init-rs yet; its configuration was ignored",
                spec.name
            );
            return Outcome::NotBuilt;
        }
        log::debug!(
            "Module {} is not built in cloud-init-rs; nothing configured for it",
            spec.name
        );
        return Outcome::Skipped;
    };
    let freq = forced.or(entry.frequency).unwrap_or(spec.frequency);
    let run_name = format!("config-{}", spec.name);
    let sem_name = format!("config_{}", spec.name);
    let event = format!("{}/{run_name}", env.event_prefix);
    if freq != Frequency::Always && sems.has_run(&sem_name, freq) {
        log::debug!("{run_name} already ran (freq={})", freq.as_str());
        events.start(
            &event,
            &format!("running {run_name} with frequency {}", freq.as_str()),
        );
        events.finish(&event, "SUCCESS", &format!("{run_name} previously ran"));
        return Outcome::AlreadyRan;
    }
    events.start(
        &event,
        &format!("running {run_name} with frequency {}", freq.as_str()),
    );
    log::debug!(
        "Running module {} ({run_name}) with frequency {}",
        spec.name,
        freq.as_str()
    );
    let ctx = Ctx {
        name: spec.name,
        host: env.host,
        cfg: env.cfg,
        distro: env.distro,
        paths: env.paths,
        instance: env.instance,
        args: &entry.args,
        version: env.version,
        uptime: env.uptime,
    };
    let started = Instant::now();
    let result = handler(&ctx);
    let took = started.elapsed().as_secs_f64();
    if freq != Frequency::Always {
        if let Err(e) = sems.mark_run(&sem_name, freq) {
            log::warn!("Failed to write semaphore for {run_name}: {e}");
        }
    }
    match result {
        Ok(()) => {
            events.finish(
                &event,
                "SUCCESS",
                &format!("{run_name} ran successfully and took {took:.3} seconds"),
            );
            Outcome::Ran
        }
        Err(e) => {
            log::warn!(
                "Running module {} (<module 'cc_{}'>) failed",
                spec.name,
                spec.name
            );
            log::debug!("{} failed: {e}", spec.name);
            events.finish(
                &event,
                "FAIL",
                &format!("running {run_name} with frequency {} failed", freq.as_str()),
            );
            Outcome::Failed(e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::cell::RefCell;
    use std::collections::HashSet;

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

    #[test]
    fn apt_settings_beyond_preserving_sources_are_flagged() {
        assert!(!asks_apt(
            "apt_configure",
            &json!({"apt": {"preserve_sources_list": true}})
        ));
        assert!(asks_apt(
            "apt_configure",
            &json!({"apt": {"preserve_sources_list": true, "proxy": "http://p"}})
        ));
        assert!(!asks_apt("apt_configure", &json!({})));
        assert!(!asks_apt("byobu", &json!({"apt": {"proxy": "x"}})));
    }

    #[test]
    fn parses_all_entry_forms() {
        let v = json!(["ssh", ["runcmd", "always", "a", 1], {"name": "locale", "frequency": "once"}, 5]);
        let l = parse_module_list(Some(&v), "cloud_init_modules");
        assert_eq!(l.len(), 3);
        assert_eq!(l[1].frequency, Some(Frequency::Always));
        assert_eq!(l[1].args, vec!["a", "1"]);
        assert_eq!(l[2].frequency, Some(Frequency::Once));
    }

    #[test]
    fn frequencies_skip_and_unknown_modules() {
        let d = tempfile::tempdir().unwrap();
        let host = Host::new(d.path());
        let cfg = json!({"runcmd": ["true"], "growpart": {"mode": "auto"}});
        let distro = Distro::from_config(&json!({}));
        let paths = Paths::default().with_instance("i-1");
        let inst = InstanceInfo::default();
        let env = StageEnv {
            host: &host,
            cfg: &cfg,
            distro: &distro,
            paths: &paths,
            instance: &inst,
            version: "x",
            uptime: 0.0,
            event_prefix: "modules-config",
        };
        let entries = parse_module_list(
            Some(&json!([
                "runcmd", "bootcmd", "growpart", "resizefs", "nope", "migrator"
            ])),
            "x",
        );
        let sems = MemSems::default();
        let ev = Rec::default();
        let r = run_modules(&env, &entries, &sems, &ev, None);
        let got: Vec<_> = r
            .outcomes
            .iter()
            .map(|(n, o)| (n.as_str(), o.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("runcmd", Outcome::Ran),
                ("bootcmd", Outcome::Skipped),
                ("growpart", Outcome::NotBuilt),
                ("resizefs", Outcome::Skipped),
                ("nope", Outcome::Unknown),
            ]
        );
        let r2 = run_modules(&env, &entries[..1], &sems, &ev, None);
        assert_eq!(r2.outcomes[0].1, Outcome::AlreadyRan);
        let r3 = run_modules(&env, &entries[..1], &sems, &ev, Some(Frequency::Always));
        assert_eq!(r3.outcomes[0].1, Outcome::Ran);
        assert!(ev.0.borrow()[0].starts_with("start modules-config/config-runcmd"));
    }
}

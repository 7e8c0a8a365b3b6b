//! Runs a stage's module list as upstream's module runner does: parse the
//! list entries, skip modules without applicable config, honour frequencies
//! through semaphores, record failures and keep going.

use crate::registry::{canonical_name, lookup, module_file_name, Frequency, ModuleSpec, REMOVED};
use crate::{Ctx, Handler, InstanceInfo, ModuleError};
use ci_distro::Distro;
use ci_host::Host;
use ci_pyval::py_quote;
use ci_state::sem::canon_sem_name;
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
    /// Failed; holds Python's `repr()` of upstream's exception
    /// (`RuntimeError('...')`), as the status records it.
    Failed(String),
    /// Already ran at this frequency.
    AlreadyRan,
    /// No applicable config, or not verified on this distro.
    Skipped,
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
    /// Event prefix: `init-network`, `modules-config`, `modules-final`,
    /// `single`. With `single` the module runs unconditionally, as
    /// upstream's `run_single` skips the activate-key and distro checks.
    pub event_prefix: &'a str,
}

/// Outcomes are named as the module list spells the module (`users-groups`),
/// as upstream names them in events, logs and the status `errors`.
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
                Outcome::Failed(repr) => Some(format!("({}, {repr})", py_quote(n))),
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

/// Whether `name` (as spelled in the module list) is listed in
/// `unverified_modules`. Upstream tests `name in cfg["unverified_modules"]`,
/// which for a string is a substring test.
fn unverified_override(cfg: &Value, name: &str) -> bool {
    match cfg.get("unverified_modules") {
        Some(Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(name)),
        Some(Value::String(s)) => s.contains(name),
        _ => false,
    }
}

/// Upstream logs the section and module bookkeeping from `modules.py`.
const MODULES_PY: &str = "modules.py";

fn has_any_key(cfg: &Value, keys: &[&str]) -> bool {
    keys.iter().any(|k| cfg.get(*k).is_some())
}

/// Run every module of `entries` in order, as upstream's `run_section`:
/// unknown and removed modules are reported first, then the modules
/// without applicable config and those not verified on this distro are
/// left out (and logged), then the rest run.
pub fn run_modules(
    env: &StageEnv,
    entries: &[ModuleEntry],
    sems: &dyn Semaphores,
    events: &dyn Events,
    forced: Option<Frequency>,
) -> StageReport {
    let (mut slots, active) = select(env, entries);
    for (i, entry, spec) in active {
        let outcome = run_one(env, spec, entry, sems, events, forced);
        slots[i] = Some((entry.name.clone(), outcome));
    }
    late::wait_all();
    StageReport {
        outcomes: slots.into_iter().flatten().collect(),
    }
}

/// How the network stage times its module list (see [`lanes`]).
pub struct Schedule<'a> {
    /// When growpart and resizefs run.
    pub disk_lane: DiskLane,
    /// Called once, when what sshd needs is in place.
    pub on_ready: &'a dyn Fn(),
}

/// [`run_modules`] with the network stage's timing: the same modules, the
/// same outcomes, but growpart and resizefs run beside the list and
/// `on_ready` tells when SSH may start.
pub fn run_modules_scheduled(
    env: &StageEnv,
    entries: &[ModuleEntry],
    sems: &(dyn Semaphores + Sync),
    events: &(dyn Events + Sync),
    forced: Option<Frequency>,
    schedule: &Schedule,
) -> StageReport {
    let (mut slots, active) = select(env, entries);
    let names: Vec<&str> = active.iter().map(|(_, _, spec)| spec.name).collect();
    let roles = lanes::plan(&names, env.cfg);
    let run = |k: usize| {
        let (_, entry, spec) = active[k];
        run_one(env, spec, entry, sems, events, forced)
    };
    let outcomes = lanes::execute(
        &roles,
        &run,
        || Outcome::Unknown,
        schedule.on_ready,
        schedule.disk_lane,
    );
    for ((i, entry, _), outcome) in active.iter().zip(outcomes) {
        slots[*i] = Some((entry.name.clone(), outcome));
    }
    late::wait_all();
    StageReport {
        outcomes: slots.into_iter().flatten().collect(),
    }
}

type Slots = Vec<Option<(String, Outcome)>>;
type Active<'e> = Vec<(usize, &'e ModuleEntry, &'static ModuleSpec)>;

/// Upstream's selection: the outcomes of the modules that will not run
/// (by list position) and the modules that will.
fn select<'e>(env: &StageEnv, entries: &'e [ModuleEntry]) -> (Slots, Active<'e>) {
    let single = env.event_prefix == "single";
    let mut slots: Slots = vec![None; entries.len()];
    let mut found: Vec<(usize, &ModuleEntry, &'static ModuleSpec)> = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let canon = canonical_name(&entry.name);
        if REMOVED.contains(&canon.as_str()) {
            log::info!(target: MODULES_PY, "Module `{canon}` has been removed from cloud-init. It may be removed from `/etc/cloud/cloud.cfg`.");
            continue;
        }
        let Some(spec) = lookup(&entry.name) else {
            let file = module_file_name(&entry.name);
            log::warn!(
                target: MODULES_PY,
                "Could not find module named {file} (searched ['{file}', 'cloudinit.config.{file}'])"
            );
            slots[i] = Some((entry.name.clone(), Outcome::Unknown));
            continue;
        };
        found.push((i, entry, spec));
    }

    let mut inapplicable: Vec<&str> = Vec::new();
    let mut unverified: Vec<&str> = Vec::new();
    let mut overridden: Vec<&str> = Vec::new();
    let mut active: Active<'e> = Vec::new();
    for (i, entry, spec) in found {
        let name = entry.name.as_str();
        if single {
            active.push((i, entry, spec));
            continue;
        }
        if !spec.activate_keys.is_empty() && !has_any_key(env.cfg, spec.activate_keys) {
            inapplicable.push(name);
            slots[i] = Some((name.to_string(), Outcome::Skipped));
            continue;
        }
        if !spec.verified_on(&env.distro.name) {
            if !unverified_override(env.cfg, name) {
                unverified.push(name);
                slots[i] = Some((name.to_string(), Outcome::Skipped));
                continue;
            }
            overridden.push(name);
        }
        active.push((i, entry, spec));
    }
    if !inapplicable.is_empty() {
        log::info!(
            target: MODULES_PY,
            "Skipping modules '{}' because no applicable config is provided.",
            inapplicable.join(",")
        );
    }
    if !unverified.is_empty() {
        log::info!(
            target: MODULES_PY,
            "Skipping modules '{}' because they are not verified on distro '{}'.  To run anyway, add them to 'unverified_modules' in config.",
            unverified.join(","),
            env.distro.name
        );
    }
    if !overridden.is_empty() {
        log::info!(target: MODULES_PY, "running unverified_modules: '{}'", overridden.join(", "));
    }

    (slots, active)
}

fn run_one(
    env: &StageEnv,
    spec: &ModuleSpec,
    entry: &ModuleEntry,
    sems: &dyn Semaphores,
    events: &dyn Events,
    forced: Option<Frequency>,
) -> Outcome {
    let name = entry.name.as_str();
    let handler: Handler = spec.handler;
    let freq = forced.or(entry.frequency).unwrap_or(spec.frequency);
    // Upstream names the run after the module list's spelling; the
    // semaphore canonicalises dashes.
    let run_name = format!("config-{name}");
    let sem_name = canon_sem_name(&run_name);
    let event = format!("{}/{run_name}", env.event_prefix);
    let description = format!("running {run_name} with frequency {}", freq.as_str());
    let module_repr = format!("<module 'cloudinit.config.cc_{}'>", spec.name);
    log::debug!(
        target: MODULES_PY,
        "Running module {name} ({module_repr}) with frequency {}",
        freq.as_str()
    );
    events.start(&event, &description);
    if freq != Frequency::Always && sems.has_run(&sem_name, freq) {
        log::debug!(target: "helpers.py", "{run_name} already ran (freq={})", freq.as_str());
        events.finish(&event, "SUCCESS", &format!("{run_name} previously ran"));
        return Outcome::AlreadyRan;
    }
    // Upstream takes the semaphore before running the module and keeps it
    // when the module fails; without it the module does not run.
    if freq != Frequency::Always {
        if let Err(e) = sems.mark_run(&sem_name, freq) {
            log::warn!("Failed writing semaphore file for {run_name}: {e}");
            log::warn!(target: MODULES_PY, "Running module {name} ({module_repr}) failed");
            events.finish(&event, "FAIL", &description.to_string());
            return Outcome::Failed(
                ModuleError::with_class(
                    "LockFailure",
                    format!("Failed to acquire lock for {run_name}"),
                )
                .py_repr(),
            );
        }
    }
    let ctx = Ctx {
        name,
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
            log::warn!(target: MODULES_PY, "Running module {name} ({module_repr}) failed");
            log::debug!("{name} failed: {e}");
            events.finish(&event, "FAIL", &description);
            Outcome::Failed(e.py_repr())
        }
    }
}

mod lanes;
pub(crate) mod late;
pub use lanes::DiskLane;

#[cfg(test)]
mod tests;

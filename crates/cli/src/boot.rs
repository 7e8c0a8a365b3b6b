//! The boot stages: `init --local`, `init`, `modules --mode config|final`
//! and `single`. Each is a cut through one pipeline; the state under
//! /var/lib/cloud and /run/cloud-init carries values between the cuts.

use crate::consume;
use crate::net_events;
use crate::net_wait::{decide_network_wait, NetWait, SKIP_NETWORK};
use ci_config::load::{load_config, LoadOptions};
use ci_distro::Distro;
use ci_host::Host;
use ci_modules::runner::{self, Events, ModuleEntry, Semaphores, StageEnv};
use ci_modules::{Ctx, Frequency, HotplugFacts, InstanceInfo};
use ci_sources::ephemeral::SystemNet;
use ci_sources::{Datasource, SearchEvent, SourceContext, SourceOptions, Stage as DsStage};
use ci_state::identity::PlatformIdentity;
use ci_state::instance::{self, Existing};
use ci_state::instance_data::{self, InstanceFacts, SysInfo};
use ci_state::log::{self as clog, EventResult};
use ci_state::status_file::{self, Stage, StageOutcome};
use ci_state::{sem, Paths};
use serde_json::{json, Value};
use std::path::PathBuf;

/// What every stage starts from.
pub struct Boot {
    pub host: Host,
    pub files: Vec<PathBuf>,
    pub force: bool,
    /// The open log file, for `syslog_fix_perms` in the init stages.
    pub log_file: Option<std::fs::File>,
}

/// A datasource restored or found in this stage, with how it was obtained.
struct Found {
    ds: Box<dyn Datasource>,
}

impl Boot {
    pub(crate) fn system_config(&self) -> Value {
        load_config(&self.host, &LoadOptions::from_env(&self.files)).0
    }

    /// System config plus the datasource's own config and the instance's
    /// user/vendor cloud-config, with upstream's precedence.
    pub(crate) fn full_config(&self, ds: &dyn Datasource) -> Value {
        let mut opts = LoadOptions::from_env(&self.files);
        opts.instance = true;
        opts.datasource = ds.ds_config();
        load_config(&self.host, &opts).0
    }

    fn source_options(&self) -> SourceOptions {
        SourceOptions::default()
    }

    /// Run one stage with status.json bookkeeping and warning capture.
    fn staged(
        &self,
        stage: Stage,
        banner: &str,
        event: &str,
        event_desc: &str,
        body: impl FnOnce(&mut Vec<String>) -> Option<String>,
    ) -> i32 {
        let cfg = self.system_config();
        let paths = crate::paths_of(&cfg);
        let uptime = self.host.uptime();
        clog::start_capture();
        clog::log_banner(
            crate::VERSION,
            banner,
            &clog::uptime_text(&self.host),
            ci_state::timefmt::now_epoch(),
        );
        // After the banner, as upstream: a failure is logged in this stage
        // and reaches its recoverable errors.
        if let (Stage::InitLocal | Stage::Init, Some(f)) = (stage, &self.log_file) {
            crate::cmds::fix_log_perms(&self.host, &cfg, f);
        }
        // `running` is held until after the finish is written: while it is
        // held, `status` and the next stage know this process runs the stage.
        let (mut status, running) =
            match status_file::stage_begin(&self.host, &paths, stage, uptime) {
                Ok((s, lock)) => (Some(s), lock),
                Err(e) => {
                    log::warn!("Failed to write status.json: {e}");
                    (None, None)
                }
            };
        clog::event_start(event, event_desc);
        let mut errors = Vec::new();
        let datasource = body(&mut errors);
        let result = if errors.is_empty() {
            EventResult::Success
        } else {
            EventResult::Fail
        };
        clog::event_finish(event, result, event_desc);
        if let Some((user, sys)) = own_cpu_seconds() {
            log::debug!(
                "{banner} used {user:.2} s user and {sys:.2} s system CPU (this process, children excluded)"
            );
        }
        let recoverable = clog::take_captured();
        let code = errors.len() as i32;
        if let Some(st) = status.as_mut() {
            let outcome = StageOutcome {
                datasource,
                errors,
                recoverable_errors: recoverable,
            };
            let finished = status_file::stage_finish(
                &self.host,
                &paths,
                st,
                stage,
                outcome,
                self.host.uptime(),
            );
            // What the stage wrote is on disk before the next one starts.
            self.host.sync_root();
            if let Err(e) = finished {
                log::warn!("Failed to write status.json: {e}");
            } else if let Some(lock) = running {
                lock.finished();
            }
        } else {
            self.host.sync_root();
        }
        code
    }

    pub fn init(&self, local: bool) -> i32 {
        let (stage, banner, event, desc) = if local {
            (
                Stage::InitLocal,
                "init-local",
                "init-local",
                "searching for local datasources",
            )
        } else {
            (
                Stage::Init,
                "init",
                "init-network",
                "searching for network datasources",
            )
        };
        self.staged(stage, banner, event, desc, |errors| {
            self.init_body(local, event, errors)
        })
    }

    fn init_body(&self, local: bool, event: &str, errors: &mut Vec<String>) -> Option<String> {
        let cfg = self.system_config();
        let paths = crate::paths_of(&cfg);
        if let Err(e) = instance::ensure_initial_dirs(&self.host, &paths) {
            log::warn!("Failed to create state directories: {e}");
        }
        if local {
            instance::purge_cache(&self.host, &paths, false);
            if !self.host.is_sandbox() && !self.host.lexists(paths.instance_link()) {
                // No instance has run on this disk yet, so whatever the
                // datasource says this one is new: start the host keys now
                // rather than after the search (RSA is sshd's tail).
                ci_modules::pregenerate_host_keys(&self.host, &paths.run_dir, &cfg);
            }
        }
        let manual = ci_pyval::cfg_bool(&cfg, "manual_cache_clean", false)
            || instance::manual_clean_marker(&self.host, &paths);
        let existing = if local && !manual {
            Existing::Check
        } else {
            Existing::Trust
        };
        let ds_stage = if local {
            DsStage::Local
        } else {
            DsStage::Network
        };
        if !local && !self.host.exists(paths.run_file(SKIP_NETWORK)) {
            log::debug!("Will wait for network connectivity before continuing");
            NetWait::new(&self.host).ensure();
        }
        // Local-stage datasources that reach their metadata over the network
        // bring it up themselves, temporarily; never in a sandbox, whose
        // network would be this machine's.
        let system_net = (local && !self.host.is_sandbox())
            .then(|| SystemNet::new(&self.host, &cfg).with_tmp_dir(paths.run_file("tmp")));
        let mut ctx = SourceContext::new(&self.host, &cfg, ds_stage);
        if let Some(net) = &system_net {
            ctx = ctx.with_net(net);
        }
        let found = match self.restore(&ctx, &paths, existing, event) {
            Some(f) => Some(f),
            None => self
                .search(&ctx, &cfg, event)
                .map(|f| self.keep_identity(f, &cfg, &paths)),
        };
        let bring_up = !local && !ci_pyval::cfg_bool(&cfg, "disable_network_activation", false);
        let Some(found) = found else {
            if local {
                log::debug!("No local datasource found");
            } else {
                log::warn!("No instance datasource found! Likely bad things to come!");
            }
            if !self.force {
                // Upstream still configures networking (the fallback NIC).
                consume::network_config(&self.host, &paths, None, &cfg, true, bring_up);
                if !local {
                    errors.push("No instance datasource found.".to_string());
                }
            }
            return None;
        };
        let mut ds = found.ds;
        let display = ds.display();
        let iid = ds.instance_id();
        let paths = paths.with_instance(&iid);
        let reflected = match instance::reflect_instance(
            &self.host,
            &paths,
            &iid,
            &instance::datasource_line(ds.class_name(), &display),
        ) {
            Ok(r) => r,
            Err(e) => {
                errors.push(format!("Failed to set up instance {iid}: {e}"));
                return Some(display);
            }
        };
        if ds.dsname() != "None" {
            if let Some(id) = PlatformIdentity::read(&self.host) {
                if let Err(e) = id.store(&self.host, &paths) {
                    log::warn!("Failed to record the platform identity: {e}");
                }
            }
        }
        if let Err(e) = instance::write_cache(&self.host, &paths, &ds.to_cache(), manual) {
            log::warn!("Failed to write datasource cache: {e}");
        }
        self.persist_instance_data(ds.as_ref(), &cfg, &paths);
        let event_cfg = self.full_config(ds.as_ref());
        if reflected.new_instance && !self.host.is_sandbox() {
            // RSA keys take seconds under emulation; sshd waits for them.
            ci_modules::pregenerate_host_keys(&self.host, &paths.run_dir, &event_cfg);
        }
        if local {
            // Before the network comes up, so that a DHCP client already
            // sends this name. This boot's user-data is not consumed yet: the
            // config holds only what an earlier boot of this instance left.
            self.maybe_set_hostname(&event_cfg, &paths, ds.as_ref(), "local", "network");
        }
        let apply =
            net_events::should_apply(&ctx, &paths, &mut ds, &event_cfg, reflected.new_instance);
        consume::network_config(&self.host, &paths, Some(ds.as_ref()), &cfg, apply, bring_up);
        if local {
            decide_network_wait(&self.host, &paths, ds.as_ref());
        }
        if local && ds.dsmode() != ci_sources::Dsmode::Local {
            return Some(display);
        }
        // Network stage (or a local-mode datasource): user-data and init modules.
        // The hostname is tried again before this boot's user-data is
        // consumed, so the config is still the one the local stage used (plus
        // the cloud-config an earlier boot of this instance left).
        let pre_consume = self.full_config(ds.as_ref());
        self.maybe_set_hostname(
            &pre_consume,
            &paths,
            ds.as_ref(),
            "init-net",
            "modules:config",
        );
        let rejected =
            consume::user_and_vendor_data(&self.host, &paths, ds.as_ref(), &cfg, event, errors);
        if errors.is_empty() && rejected.is_none() {
            crate::schema_boot::validate_user_data(&self.host, &paths);
        }
        let full = self.full_config(ds.as_ref());
        consume::combined_config(&self.host, &paths, &full);
        if errors.is_empty() {
            let entries =
                runner::parse_module_list(full.get("cloud_init_modules"), "cloud_init_modules");
            let ready = || crate::notify::ready("accounts, SSH keys and host keys are in place");
            let schedule = runner::Schedule {
                disk_lane: disk_lane(&self.host),
                on_ready: &ready,
            };
            let report = self.run_entries(
                &full,
                &paths,
                ds.as_ref(),
                &entries,
                RunHow::plain("init-network"),
                Some(&schedule),
            );
            errors.extend(report.errors());
        }
        // Strict mode: the modules ran without the user-data; the stage fails.
        errors.extend(rejected);
        Some(display)
    }

    /// Upstream's `_maybe_set_hostname`: when the config or the
    /// datasource's metadata names a host, run `set_hostname` now, outside
    /// the module list (no semaphore, no event). It remembers what it set in
    /// `data/set-hostname`, so the module later sees no change; a failure is
    /// only noted, as the module runs again in `retry_stage`.
    fn maybe_set_hostname(
        &self,
        cfg: &Value,
        paths: &Paths,
        ds: &dyn Datasource,
        stage: &str,
        retry_stage: &str,
    ) {
        if !names_a_host(&self.host, cfg, ds) {
            return;
        }
        let Some(handler) = ci_modules::lookup("set_hostname").map(|m| m.handler) else {
            return;
        };
        let distro = Distro::from_config(cfg);
        let info = instance_info(&self.host, ds, cfg);
        let module_cfg = strip_system_info(cfg);
        let ctx = Ctx {
            name: "set_hostname",
            host: &self.host,
            cfg: &module_cfg,
            distro: &distro,
            paths,
            instance: &info,
            args: &[],
            version: crate::VERSION,
            uptime: self.host.uptime(),
        };
        if let Err(e) = handler(&ctx) {
            log::debug!(
                "Failed setting hostname in {stage} stage. Will retry in {retry_stage} stage. Error: {e}."
            );
        }
    }

    /// `_restore_from_checked_cache`: reuse the cached datasource if allowed.
    fn restore(
        &self,
        ctx: &SourceContext,
        paths: &Paths,
        existing: Existing,
        event: &str,
    ) -> Option<Found> {
        let name = format!("{event}/check-cache");
        clog::event_start(
            &name,
            &format!(
                "attempting to read from cache [{}]",
                match existing {
                    Existing::Check => "check",
                    Existing::Trust => "trust",
                }
            ),
        );
        let cached = instance::read_cache(&self.host, paths)
            .and_then(|v| ci_sources::from_cache(&v, &self.source_options()).ok());
        let Some(ds) = cached else {
            clog::event_finish(&name, EventResult::Success, "no cache found");
            return None;
        };
        let run_iid = self
            .host
            .read_to_string(paths.run_file(".instance-id"))
            .ok()
            .map(|s| s.trim().to_string());
        let (reuse, msg) = instance::cache_decision(
            existing,
            &ds.instance_id(),
            &ds.display(),
            run_iid.as_deref(),
            &mut || ds.check_instance_id(ctx),
        );
        clog::event_finish(&name, EventResult::Success, &msg);
        log::debug!("{msg}");
        reuse.then_some(Found { ds })
    }

    fn search(&self, ctx: &SourceContext, cfg: &Value, event: &str) -> Option<Found> {
        let list: Vec<String> = match cfg.get("datasource_list") {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        };
        let mut on_event = |e: &SearchEvent| match e {
            SearchEvent::Start { name, description } => {
                clog::event_start(&format!("{event}/{name}"), description)
            }
            SearchEvent::Finish {
                name,
                result,
                message,
            } => {
                let r = match result {
                    ci_sources::EventResult::Success => EventResult::Success,
                    ci_sources::EventResult::Fail => EventResult::Fail,
                };
                clog::event_finish(&format!("{event}/{name}"), r, message)
            }
        };
        match ci_sources::find_source(ctx, &list, &self.source_options(), &mut on_event) {
            Ok(Some(ds)) => Some(Found { ds }),
            Ok(None) => None,
            Err(e) => {
                log::warn!("Datasource search failed: {e}");
                None
            }
        }
    }

    /// Stable identity (`ci_state::identity`): the `None` fallback after a
    /// failed search keeps the previous instance when the machine's platform
    /// identity is the one that instance recorded.
    fn keep_identity(&self, found: Found, cfg: &Value, paths: &Paths) -> Found {
        if found.ds.dsname() != "None" {
            return found;
        }
        let listed_others = cfg
            .get("datasource_list")
            .and_then(Value::as_array)
            .is_some_and(|l| l.iter().any(|d| d.as_str().is_some_and(|n| n != "None")));
        let prev = instance::previous_instance_id(&self.host, paths);
        if !listed_others
            || prev == instance::NO_PREVIOUS_INSTANCE_ID
            || prev == found.ds.instance_id()
        {
            return found;
        }
        let (Some(recorded), Some(now)) = (
            PlatformIdentity::load(&self.host, paths, &prev),
            PlatformIdentity::read(&self.host),
        ) else {
            log::debug!("No platform identity to compare with instance {prev}");
            return found;
        };
        if recorded != now {
            log::info!(
                "Platform identity changed since instance {prev} ({} -> {}): a new instance",
                recorded.describe(),
                now.describe()
            );
            return found;
        }
        let cache = paths.clone().with_instance(&prev).instance_file("obj.json");
        let cached = self
            .host
            .read_to_string(&cache)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|v| ci_sources::from_cache(&v, &self.source_options()).ok())
            .filter(|ds| ds.instance_id() == prev);
        let ds = cached
            .unwrap_or_else(|| Box::new(ci_sources::NoneSource::keeping(found.ds.stage(), &prev)));
        log::warn!(
            "No datasource answered; keeping instance {prev} ({}): the platform identity is unchanged ({}), so per-instance modules do not run again and host keys stay",
            ds.display(),
            now.describe()
        );
        Found { ds }
    }

    fn persist_instance_data(&self, ds: &dyn Datasource, cfg: &Value, paths: &Paths) {
        let facts = instance_facts(&self.host, ds, cfg);
        if let Err(e) = instance_data::persist(&self.host, paths, &facts) {
            log::warn!("Failed to write instance-data: {e}");
        }
    }

    /// Run one module list; returns the stage errors for failed modules.
    fn run_section(
        &self,
        cfg: &Value,
        paths: &Paths,
        ds: &dyn Datasource,
        section: &str,
        how: RunHow,
    ) -> Vec<String> {
        let entries = runner::parse_module_list(cfg.get(section), section);
        self.run_entries(cfg, paths, ds, &entries, how, None)
            .errors()
    }

    fn run_entries(
        &self,
        cfg: &Value,
        paths: &Paths,
        ds: &dyn Datasource,
        entries: &[ModuleEntry],
        how: RunHow,
        schedule: Option<&runner::Schedule>,
    ) -> runner::StageReport {
        let RunHow { prefix, forced } = how;
        let distro = Distro::from_config(cfg);
        let info = instance_info(&self.host, ds, cfg);
        let module_cfg = strip_system_info(cfg);
        let env = StageEnv {
            host: &self.host,
            cfg: &module_cfg,
            distro: &distro,
            paths,
            instance: &info,
            version: crate::VERSION,
            uptime: self.host.uptime(),
            event_prefix: prefix,
        };
        let sems = StateSems {
            host: &self.host,
            paths,
        };
        match schedule {
            Some(sch) => {
                runner::run_modules_scheduled(&env, entries, &sems, &LogEvents, forced, sch)
            }
            None => runner::run_modules(&env, entries, &sems, &LogEvents, forced),
        }
    }

    /// The datasource stored by an earlier stage of this boot.
    pub(crate) fn cached_datasource(&self, paths: &Paths) -> Option<Box<dyn Datasource>> {
        let v = instance::read_cache(&self.host, paths)?;
        match ci_sources::from_cache(&v, &self.source_options()) {
            Ok(ds) => Some(ds),
            Err(e) => {
                log::warn!("Failed to restore the datasource cache: {e}");
                None
            }
        }
    }

    pub fn modules(&self, mode: &str) -> i32 {
        let (stage, banner, event, section) = match mode {
            "final" => (
                Stage::ModulesFinal,
                "modules:final",
                "modules-final",
                "cloud_final_modules",
            ),
            _ => (
                Stage::ModulesConfig,
                "modules:config",
                "modules-config",
                "cloud_config_modules",
            ),
        };
        let desc = format!("running modules for {mode}");
        if stage == Stage::ModulesConfig {
            // The network stage may still be growing the disk after it let
            // SSH start (see crate::notify).
            let sys = self.system_config();
            ci_state::stage_lock::wait_released(&self.host, &crate::paths_of(&sys), Stage::Init);
        }
        let code = self.staged(stage, banner, event, &desc, |errors| {
            let sys = self.system_config();
            let base_paths = crate::paths_of(&sys);
            let Some(ds) = self.cached_datasource(&base_paths) else {
                let msg = format!(
                    "Can not apply stage {mode}, no datasource found! Likely bad things to come!"
                );
                log::warn!("{msg}");
                if !self.force {
                    errors.push(msg);
                }
                return None;
            };
            let paths = base_paths.with_instance(&ds.instance_id());
            let cfg = self.full_config(ds.as_ref());
            if !self.host.exists(paths.run_file("instance-data.json")) {
                self.persist_instance_data(ds.as_ref(), &sys, &paths);
            }
            errors.extend(self.run_section(
                &cfg,
                &paths,
                ds.as_ref(),
                section,
                RunHow::plain(event),
            ));
            Some(ds.display())
        });
        if stage == Stage::ModulesFinal {
            // After the stage's status is written: the report goes to the
            // log only, not into status.json's recoverable errors.
            let sys = self.system_config();
            let log_file = sys
                .get("def_log_file")
                .and_then(Value::as_str)
                .unwrap_or(ci_state::known_problems::DEFAULT_LOG_FILE);
            ci_state::known_problems::log_known_problems(&self.host, log_file);
        }
        // Upstream's power_state_change child acts once this process is
        // gone: all of the stage's state is written by now.
        ci_modules::power_state_change::run_deferred();
        code
    }

    /// `single --name N [--frequency F]`: exit 0 ran, 1 failed or not found.
    pub fn single(&self, name: &str, freq: Option<Frequency>, args: Vec<String>) -> i32 {
        let sys = self.system_config();
        clog::log_banner(
            crate::VERSION,
            "single",
            &clog::uptime_text(&self.host),
            ci_state::timefmt::now_epoch(),
        );
        let base_paths = crate::paths_of(&sys);
        let Some(ds) = self.cached_datasource(&base_paths) else {
            if !self.force {
                eprintln!(
                    "Can not apply stage single, no datasource found! Likely bad things to come!"
                );
                return 1;
            }
            return self.single_with(
                &sys,
                &base_paths,
                &ci_sources::NoneSource::new(DsStage::Network),
                name,
                freq,
                args,
            );
        };
        let paths = base_paths.with_instance(&ds.instance_id());
        let cfg = self.full_config(ds.as_ref());
        self.single_with(&cfg, &paths, ds.as_ref(), name, freq, args)
    }

    fn single_with(
        &self,
        cfg: &Value,
        paths: &Paths,
        ds: &dyn Datasource,
        name: &str,
        freq: Option<Frequency>,
        args: Vec<String>,
    ) -> i32 {
        // Unknown and removed names go to the runner too: it logs them as
        // upstream's module loader does, then nothing has run.
        let entry = ModuleEntry {
            name: name.to_string(),
            frequency: None,
            args,
        };
        let report = self.run_entries(
            cfg,
            paths,
            ds,
            &[entry],
            RunHow {
                forced: freq,
                ..RunHow::plain("single")
            },
            None,
        );
        ci_modules::power_state_change::run_deferred();
        match report.outcomes.first() {
            Some((_, runner::Outcome::Failed(_))) => {
                log::warn!(target: "main.py", "Ran {name} but it failed!");
                1
            }
            Some((_, runner::Outcome::Unknown)) | None => {
                log::warn!(target: "main.py", "Did not run {name}, does it exist?");
                1
            }
            _ => 0,
        }
    }
}

/// Whether the config (`fqdn`, `hostname`) or the metadata alone (no
/// fallback to the machine's current name) gives a hostname: upstream's
/// `get_hostname_fqdn(..., metadata_only=True)` yielding a non-empty one.
fn names_a_host(host: &Host, cfg: &Value, ds: &dyn Datasource) -> bool {
    if let Some(fqdn) = cfg.get("fqdn") {
        let hostname = ci_pyval::cfg_str(cfg, "hostname").unwrap_or_else(|| {
            let fqdn = ci_pyval::py_str(fqdn);
            fqdn.split('.').next().unwrap_or_default().to_string()
        });
        return !hostname.is_empty();
    }
    if let Some(h) = cfg.get("hostname") {
        // `a.b` gives `a`; a leading dot keeps the whole value: both non-empty
        // exactly when the value is.
        return ci_pyval::truthy(h);
    }
    ds.get_hostname(host, false, true)
        .hostname
        .is_some_and(|h| !h.is_empty())
}

/// Module configuration never sees `system_info` (kept for the distro).
fn strip_system_info(cfg: &Value) -> Value {
    let mut c = cfg.clone();
    if let Some(m) = c.as_object_mut() {
        m.remove("system_info");
    }
    c
}

pub fn instance_facts(host: &Host, ds: &dyn Datasource, cfg: &Value) -> InstanceFacts {
    // Upstream hands datasources the restricted config: `system_info` is
    // reported once, at the top level of instance-data, not in merged_cfg.
    let mut merged_system_cfg = cfg.clone();
    if let Some(m) = merged_system_cfg.as_object_mut() {
        m.remove("_doc");
        m.remove("system_info");
    }
    InstanceFacts {
        cloud_name: ds.cloud_name(),
        platform: ds.platform_type(),
        subplatform: ds.subplatform(),
        region: ds.region(),
        availability_zone: ds.availability_zone(),
        instance_id: ds.instance_id(),
        local_hostname: ds.local_hostname(host),
        public_ssh_keys: ds.public_ssh_keys(),
        ds: json!({ "meta_data": ds.metadata() }),
        merged_system_cfg,
        sys_info: SysInfo::detect(host),
        sensitive_keys: instance_data::DEFAULT_SENSITIVE_KEYS
            .iter()
            .map(|s| s.to_string())
            .collect(),
    }
}

fn instance_info(host: &Host, ds: &dyn Datasource, cfg: &Value) -> InstanceInfo {
    let facts = instance_facts(host, ds, cfg);
    InstanceInfo {
        instance_id: ds.instance_id(),
        // The datasource's name with its domain and without a fallback to
        // the machine's own name: the hostname modules need both the fqdn
        // (`local-hostname: a.example.com` gives `a` and `a.example.com`)
        // and to know when the metadata names no host (the `localhost`
        // default is then left alone).
        local_hostname: ds.get_hostname(host, true, true).hostname,
        public_keys: ds.public_ssh_keys(),
        datasource: ds.display(),
        datasource_name: ds.dsname().to_string(),
        metadata: ds.metadata().clone(),
        v1: facts.v1(),
        hotplug: hotplug_facts(host, ds, cfg),
    }
}

/// Network hotplug as upstream's `install_hotplug` sees it.
pub(crate) fn hotplug_facts(host: &Host, ds: &dyn Datasource, cfg: &Value) -> HotplugFacts {
    // Quiet: this runs for every module list; the module logs upstream's
    // warnings about `updates` itself.
    let paths = crate::paths_of(cfg);
    let (allowed, event_warnings) = net_events::allowed_events_quiet(host, &paths, ds, cfg);
    HotplugFacts {
        supported: ds.supported_update_events().contains(&"hotplug"),
        enabled: allowed.iter().any(|e| e == "hotplug"),
        extra_udev_rules: ds.extra_hotplug_udev_rules().map(str::to_string),
        event_warnings,
    }
}

/// When the network stage grows the disk: beside the list when a CPU is
/// free for it (one makes the accounts, one the RSA host key), after the
/// readiness point otherwise; in order under --root.
fn disk_lane(host: &Host) -> runner::DiskLane {
    if host.is_sandbox() {
        return runner::DiskLane::Off;
    }
    match std::thread::available_parallelism() {
        Ok(n) if n.get() >= 3 => runner::DiskLane::AtItsPlace,
        _ => runner::DiskLane::AfterReady,
    }
}

/// This process's user and system CPU time so far (its threads included,
/// the commands it ran not), from the kernel's `/proc/self/stat`: the
/// agent's own share of a boot, kept in docs/benchmarks.md.
fn own_cpu_seconds() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, in clock ticks
    // (USER_HZ, 100 on Linux).
    let ticks = |i: usize| f.get(i)?.parse::<f64>().ok().map(|t| t / 100.0);
    Some((ticks(11)?, ticks(12)?))
}

/// Semaphores kept by the state crate.
struct StateSems<'a> {
    host: &'a Host,
    paths: &'a Paths,
}

impl Semaphores for StateSems<'_> {
    fn has_run(&self, name: &str, freq: Frequency) -> bool {
        sem::has_run(self.host, self.paths, name, freq).unwrap_or(false)
    }
    fn mark_run(&self, name: &str, freq: Frequency) -> std::io::Result<()> {
        sem::mark_run(self.host, self.paths, name, freq)
            .map_err(|e| std::io::Error::other(e.to_string()))
    }
}

/// How a module list runs: its event prefix and a frequency forced by
/// `single --frequency`.
struct RunHow<'a> {
    prefix: &'a str,
    forced: Option<Frequency>,
}

impl<'a> RunHow<'a> {
    fn plain(prefix: &'a str) -> Self {
        RunHow {
            prefix,
            forced: None,
        }
    }
}

/// Module events go to the log as upstream's reporting events.
struct LogEvents;

impl Events for LogEvents {
    fn start(&self, name: &str, description: &str) {
        clog::event_start(name, description);
    }
    fn finish(&self, name: &str, result: &str, description: &str) {
        let r = match result {
            "SUCCESS" => EventResult::Success,
            "WARN" => EventResult::Warn,
            _ => EventResult::Fail,
        };
        clog::event_finish(name, r, description);
    }
}

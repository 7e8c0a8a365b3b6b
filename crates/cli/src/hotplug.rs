//! `cloud-init devel hotplug-hook -s net query|enable|handle`: what the
//! `cloud-init-hotplugd` service runs for each udev network add/remove
//! event, and how an administrator turns network hotplug on after boot.

use crate::args::{HotplugAction, HotplugHookArgs};
use crate::boot::{hotplug_facts, Boot};
use crate::net_events::allowed_events;
use ci_host::{Host, WriteOpts};
use ci_sources::{Datasource, SourceContext, Stage as DsStage};
use ci_state::{instance, Paths};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// `hotplug.enabled` under the cloud dir: the scopes `enable` turned on.
const ENABLED_FILE: &str = "hotplug.enabled";
/// The pauses after each failed attempt; the attempt count follows.
const ATTEMPT_WAITS: [u64; 5] = [1, 3, 5, 10, 30];

pub(crate) fn hotplug_hook(boot: &Boot, a: &HotplugHookArgs) -> i32 {
    let (udevaction, devpath) = match &a.action {
        HotplugAction::Handle {
            devpath,
            udevaction,
        } => (Some(udevaction.as_str()), Some(devpath.as_str())),
        _ => (None, None),
    };
    let action = match a.action {
        HotplugAction::Query => "query",
        HotplugAction::Handle { .. } => "handle",
        HotplugAction::Enable => "enable",
    };
    log::debug!(
        "hotplug-hook called with the following arguments: {{hotplug_action: {action}, subsystem: {}, udevaction: {}, devpath: {}}}",
        a.subsystem,
        udevaction.unwrap_or("None"),
        devpath.unwrap_or("None"),
    );
    let hook = Hook::new(boot);
    let code = match &a.action {
        HotplugAction::Query => hook.query(),
        HotplugAction::Enable => hook.enable(&a.subsystem),
        HotplugAction::Handle {
            devpath,
            udevaction,
        } => {
            let waits = if a.no_wait {
                Waits::none()
            } else {
                Waits::upstream()
            };
            match hook.handle(devpath, udevaction, &waits) {
                Ok(()) => 0,
                Err(e) => {
                    log::error!("Received fatal exception handling hotplug!\n{e}");
                    eprintln!("{e}");
                    1
                }
            }
        }
    };
    log::debug!("Exiting hotplug handler");
    code
}

/// How long `handle` pauses; tests pass zeros.
pub(crate) struct Waits {
    attempts: Vec<Duration>,
    /// Whether the datasource's forced-retry window is kept.
    retry_window: bool,
}

impl Waits {
    fn upstream() -> Self {
        Waits {
            attempts: ATTEMPT_WAITS
                .iter()
                .map(|s| Duration::from_secs(*s))
                .collect(),
            retry_window: true,
        }
    }

    pub(crate) fn none() -> Self {
        Waits {
            attempts: vec![Duration::ZERO; ATTEMPT_WAITS.len()],
            retry_window: false,
        }
    }
}

struct Hook<'a> {
    boot: &'a Boot,
    host: &'a Host,
    sys: Value,
    paths: Paths,
}

/// No cached datasource and `None` is not a candidate.
struct NotFound;

/// A datasource with network hotplug enabled, its config and state paths.
struct Enabled {
    ds: Box<dyn Datasource>,
    cfg: Value,
    paths: Paths,
}

impl<'a> Hook<'a> {
    fn new(boot: &'a Boot) -> Self {
        let sys = boot.system_config();
        let paths = crate::paths_of(&sys);
        Hook {
            boot,
            host: &boot.host,
            sys,
            paths,
        }
    }

    /// Upstream's `fetch(existing="trust")` with no datasource allowed to
    /// search: the cached one, else `None` when the list names it.
    fn fetch(&self) -> Result<Box<dyn Datasource>, NotFound> {
        if let Some(ds) = self.boot.cached_datasource(&self.paths) {
            return Ok(ds);
        }
        let listed = self
            .sys
            .get("datasource_list")
            .and_then(Value::as_array)
            .is_some_and(|l| l.iter().any(|v| v.as_str() == Some("None")));
        if listed {
            return Ok(Box::new(ci_sources::NoneSource::new(DsStage::Network)));
        }
        Err(NotFound)
    }

    /// Upstream's `initialize_datasource`: the datasource when network
    /// hotplug is supported and enabled for it.
    fn initialize(&self) -> Result<Option<Enabled>, NotFound> {
        log::debug!("Fetching datasource");
        let ds = self.fetch()?;
        let paths = self.paths.clone().with_instance(&ds.instance_id());
        let cfg = self.boot.full_config(ds.as_ref());
        if !ds.supported_update_events().contains(&"hotplug") {
            log::debug!("hotplug not supported for event of type net");
            return Ok(None);
        }
        if !allowed_events(self.host, &paths, ds.as_ref(), &cfg)
            .iter()
            .any(|e| e == "hotplug")
        {
            log::debug!("Event Denied: scopes=['network'] EventType=hotplug");
            log::debug!("hotplug not enabled for event of type net");
            return Ok(None);
        }
        log::debug!("Event Allowed: scope=network EventType=hotplug");
        Ok(Some(Enabled { ds, cfg, paths }))
    }

    fn query(&self) -> i32 {
        match self.initialize() {
            Ok(Some(_)) => println!("enabled"),
            Ok(None) => println!("disabled"),
            Err(NotFound) => {
                println!("Unable to determine hotplug state. No datasource detected");
                return 1;
            }
        }
        0
    }

    fn enable(&self, subsystem: &str) -> i32 {
        if !Host::running_as_root() {
            eprintln!("Root is required. Try prepending your command with sudo.");
            return 1;
        }
        let Ok(ds) = self.fetch() else {
            return 1;
        };
        if !ds.supported_update_events().contains(&"hotplug") {
            eprintln!("hotplug not supported for event of {subsystem}");
            return 1;
        }
        let file = self.paths.cloud_dir.join(ENABLED_FILE);
        let mut content = read_enabled_file(self.host, &file);
        let scopes = content
            .get("scopes")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if scopes.iter().any(|s| s.as_str() == Some("network")) {
            eprintln!(
                "Not installing hotplug for event of type {subsystem}. Reason: Already done."
            );
        } else {
            let mut scopes = scopes;
            scopes.push(json!("network"));
            content["scopes"] = Value::Array(scopes);
            let body = ci_state::pyjson::dumps(&content, &ci_state::pyjson::COMPACT);
            if let Err(e) = self
                .host
                .write_atomic(&file, body.as_bytes(), &WriteOpts::mode(0o640))
            {
                log::error!("Received fatal exception handling hotplug!\n{e}");
                eprintln!("{e}");
                return 1;
            }
            let cfg = self.boot.full_config(ds.as_ref());
            let facts = hotplug_facts(self.host, ds.as_ref(), &cfg);
            for w in &facts.event_warnings {
                log::warn!("{w}");
            }
            if let Err(e) = ci_modules::install_hotplug::install(self.host, &facts, true) {
                log::error!("Received fatal exception handling hotplug!\n{e}");
                eprintln!("{e}");
                return 1;
            }
        }
        println!("Enabled cloud-init hotplug for subsystem={subsystem}");
        0
    }

    /// Upstream's `handle_hotplug`.
    fn handle(&self, devpath: &str, action: &str, waits: &Waits) -> Result<(), String> {
        let Enabled { mut ds, cfg, paths } = match self.initialize() {
            Ok(Some(found)) => found,
            Ok(None) => return Ok(()),
            Err(NotFound) => {
                return Err("Did not find any data source, searched classes: ()".into())
            }
        };
        log::debug!("Creating net event handler");
        let event = NetEvent::new(self.host, devpath, action);
        let ctx = SourceContext::new(self.host, &self.sys, DsStage::Network);
        let attempt = |ds: &mut Box<dyn Datasource>| {
            try_hotplug(&event, &ctx, ds, &cfg, &paths, &waits.attempts)
        };
        match ds.hotplug_retry_settings() {
            Some((period, total)) if waits.retry_window => {
                let start = Instant::now();
                while start.elapsed() < total {
                    attempt(&mut ds)?;
                    log::debug!("Gathering network configuration again due to IMDS limitations.");
                    std::thread::sleep(period);
                }
                Ok(())
            }
            _ => attempt(&mut ds),
        }
    }
}

/// `hotplug.enabled`, or `{"scopes": []}` (upstream's
/// `read_hotplug_enabled_file`).
fn read_enabled_file(host: &Host, file: &std::path::Path) -> Value {
    let mut content = match host.read_to_string(file) {
        Ok(text) => match serde_json::from_str::<Value>(&text) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => json!({}),
            Err(e) => {
                log::warn!(
                    "Ignoring contents of {} because it is not decodable. Error: {e}",
                    file.display()
                );
                json!({"scopes": []})
            }
        },
        Err(_) => {
            log::debug!("File not found: {}", file.display());
            json!({"scopes": []})
        }
    };
    if content.get("scopes").is_none() {
        content["scopes"] = json!([]);
    }
    content
}

/// One udev event for a network device.
struct NetEvent<'a> {
    host: &'a Host,
    devpath: &'a str,
    /// The device's name: the last component of its sysfs path.
    name: String,
    /// Its MAC, read through the root's sysfs; `None` when unreadable.
    mac: Option<String>,
    add: bool,
}

impl<'a> NetEvent<'a> {
    fn new(host: &'a Host, devpath: &'a str, action: &str) -> Self {
        let name = devpath
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        let mac = host
            .read_to_string(format!("/sys/class/net/{name}/address"))
            .ok()
            .map(|s| s.trim().to_string());
        NetEvent {
            host,
            devpath,
            name,
            mac,
            add: action == "add",
        }
    }

    fn id(&self) -> &str {
        self.mac.as_deref().unwrap_or("False")
    }

    /// Whether the device's MAC is in the config, compared with whether
    /// the event expects it there.
    fn detect(&self, cfg: Option<&Value>) -> Result<(), String> {
        let found: Vec<Value> = cfg
            .and_then(|c| ci_net::parse(c).ok().flatten())
            .and_then(|p| p.state(&Default::default()).ok())
            .map(|st| {
                st.iter_interfaces()
                    .filter(|i| {
                        self.mac.is_some()
                            && i.get("mac_address").and_then(Value::as_str) == self.mac.as_deref()
                    })
                    .map(|i| Value::Object(i.clone()))
                    .collect()
            })
            .unwrap_or_default();
        log::debug!(
            "Ifaces with ID={} : {}",
            self.id(),
            ci_pyval::py_repr(&Value::Array(found.clone()))
        );
        let present = !found.is_empty();
        if present != self.add {
            return Err(format!(
                "Failed to detect {} in updated metadata",
                self.id()
            ));
        }
        Ok(())
    }

    /// Render the refreshed config without bringing everything up, then
    /// bring this device up (add) or down (remove).
    fn apply(&self, cfg: &Value, netcfg: Option<&Value>) -> Result<(), String> {
        let netcfg = netcfg.ok_or_else(|| "No network config to apply".to_string())?;
        let parsed = match ci_net::parse(netcfg) {
            Ok(Some(p)) => p,
            Ok(None) => return Err("Network config is disabled".into()),
            Err(e) => return Err(e.to_string()),
        };
        let system_info = cfg.get("system_info").cloned().unwrap_or(Value::Null);
        let distro = system_info
            .get("distro")
            .and_then(Value::as_str)
            .unwrap_or("ubuntu")
            .to_string();
        if crate::consume::render_parsed(self.host, &parsed, &system_info, &distro).is_none() {
            return Err("Unable to render networking".into());
        }
        let priority = crate::consume::activator_priority(&system_info);
        let activator =
            ci_net::activate::select(self.host, priority.as_deref()).map_err(|e| e.to_string())?;
        if self.host.is_sandbox() {
            // The interfaces under --root are this machine's, not the target's.
            log::debug!(
                "Not bringing {} {} under --root {}",
                if self.add { "up" } else { "down" },
                self.name,
                self.host.root().display()
            );
            return Ok(());
        }
        self.activate(activator)
    }

    fn activate(&self, activator: ci_net::activate::Activator) -> Result<(), String> {
        if self.add {
            if !activator.bring_up_interface(self.host, &self.name) {
                return Err(format!("Failed to bring up device: {}", self.devpath));
            }
        } else if !activator.bring_down_interface(self.host, &self.name) {
            return Err(format!("Failed to bring down device: {}", self.devpath));
        }
        Ok(())
    }
}

/// Upstream's `try_hotplug`: refresh, detect, apply, cache; each failure is
/// followed by a pause and another attempt, the last failure is returned.
fn try_hotplug(
    event: &NetEvent,
    ctx: &SourceContext,
    ds: &mut Box<dyn Datasource>,
    cfg: &Value,
    paths: &Paths,
    waits: &[Duration],
) -> Result<(), String> {
    let mut last = "Bug while processing hotplug event.".to_string();
    for (n, wait) in waits.iter().enumerate() {
        log::debug!("subsystem=net update attempt {n}/{}", waits.len());
        match one_attempt(event, ctx, ds, cfg, paths) {
            Ok(()) => return Ok(()),
            Err(e) => {
                log::debug!("Exception while processing hotplug event. {e}");
                std::thread::sleep(*wait);
                last = e;
            }
        }
    }
    Err(last)
}

fn one_attempt(
    event: &NetEvent,
    ctx: &SourceContext,
    ds: &mut Box<dyn Datasource>,
    cfg: &Value,
    paths: &Paths,
) -> Result<(), String> {
    log::debug!("Refreshing metadata");
    log::debug!("Update datasource metadata and network config due to events: hotplug");
    if !matches!(ds.get_data(ctx), Ok(true)) {
        log::debug!(
            "Datasource {} not updated for events: hotplug",
            ds.display()
        );
        return Err(format!(
            "Datasource {} not updated for event hotplug",
            ds.display()
        ));
    }
    let netcfg = ds.network_config();
    if !ds.skip_hotplug_detect() {
        log::debug!("Detecting device in updated metadata");
        event.detect(netcfg.as_ref())?;
    }
    log::debug!("Applying config change");
    event.apply(cfg, netcfg.as_ref())?;
    log::debug!("Updating cache");
    let manual = ci_pyval::cfg_bool(cfg, "manual_cache_clean", false);
    instance::write_cache(event.host, paths, &ds.to_cache(), manual).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests;

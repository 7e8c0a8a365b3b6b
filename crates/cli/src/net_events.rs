//! Whether a boot applies the network configuration again: a new instance
//! always does; otherwise only for an update event (`boot`, `boot-legacy`)
//! that the user's `updates.network.when` or the datasource's defaults
//! enable, and after the datasource refreshed its metadata for it.

use ci_host::{Host, WriteOpts};
use ci_sources::{Datasource, SourceContext};
use ci_state::Paths;
use serde_json::Value;

/// The scope upstream knows (`EventScope`).
const SCOPES: &[&str] = &["network"];
const EVENTS: &[&str] = &["boot", "boot-new-instance", "boot-legacy", "hotplug"];
/// `/run/cloud-init/sem/<this>`: the config was applied during this boot.
const APPLIED_SEM: &str = "sem/apply_network_config.once";

/// Events enabled for the network scope: the user's `updates` when it names
/// the scope, else the datasource's defaults; plus `hotplug` when the
/// source supports it and `hotplug.enabled` lists the scope.
pub(crate) fn allowed_events(
    host: &Host,
    paths: &Paths,
    ds: &dyn Datasource,
    cfg: &Value,
) -> Vec<String> {
    let (allowed, warnings) = allowed_events_quiet(host, paths, ds, cfg);
    for w in warnings {
        log::warn!("{w}");
    }
    if ds.supported_update_events().contains(&"hotplug") && hotplug_enabled(host, paths) {
        log::debug!(
            "Adding event: scope=network EventType=hotplug found in {}",
            paths.cloud_dir.join("hotplug.enabled").display()
        );
    }
    log::debug!("Allowed events: {{network: {allowed:?}}}");
    allowed
}

/// [`allowed_events`] without logging: the events, and the warnings
/// upstream logs for a bad `updates` (for a caller that logs them when
/// upstream would).
pub(crate) fn allowed_events_quiet(
    host: &Host,
    paths: &Paths,
    ds: &dyn Datasource,
    cfg: &Value,
) -> (Vec<String>, Vec<String>) {
    let mut warnings = Vec::new();
    let user = user_events(cfg.get("updates"), &mut warnings);
    let mut allowed: Vec<String> = match user {
        Some(list) => list,
        None => ds
            .default_update_events()
            .iter()
            .map(|s| s.to_string())
            .collect(),
    };
    if ds.supported_update_events().contains(&"hotplug")
        && hotplug_enabled(host, paths)
        && !allowed.iter().any(|e| e == "hotplug")
    {
        allowed.push("hotplug".into());
    }
    (allowed, warnings)
}

/// `updates: {network: {when: [...]}}`; an unknown scope or event is
/// warned about and ignored as upstream does (a bad event empties the list).
fn user_events(updates: Option<&Value>, warnings: &mut Vec<String>) -> Option<Vec<String>> {
    let map = updates?.as_object()?;
    let mut network = None;
    for (scope, v) in map {
        if !SCOPES.contains(&scope.as_str()) {
            warnings.push(format!("'{scope}' is not a valid EventScope! Update data will be ignored for '{scope}' scope"));
            continue;
        }
        let when: Vec<String> = v
            .get("when")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(ci_pyval::py_str).collect())
            .unwrap_or_default();
        match when.iter().find(|e| !EVENTS.contains(&e.as_str())) {
            Some(bad) => {
                warnings.push(format!("'{bad}' is not a valid EventType! Update data will be ignored for '{scope}' scope"));
                network = Some(Vec::new());
            }
            None => network = Some(when),
        }
    }
    network
}

fn hotplug_enabled(host: &Host, paths: &Paths) -> bool {
    let file = paths.cloud_dir.join("hotplug.enabled");
    host.read_to_string(file)
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|v| v.get("scopes").cloned())
        .and_then(|s| s.as_array().cloned())
        .is_some_and(|s| s.iter().any(|x| x.as_str() == Some("network")))
}

/// Upstream's decision in `apply_network_config`: apply for a new
/// instance; else for `boot` (once per boot) or `boot-legacy` when the
/// event is enabled and the datasource refreshed its metadata for it.
pub(crate) fn should_apply(
    ctx: &SourceContext,
    paths: &Paths,
    ds: &mut Box<dyn Datasource>,
    cfg: &Value,
    new_instance: bool,
) -> bool {
    if new_instance {
        return true;
    }
    let host = ctx.host;
    let enabled_and_updated = |event: &str, ds: &mut Box<dyn Datasource>| {
        let allowed = allowed_events(host, paths, ds.as_ref(), cfg);
        if !allowed.iter().any(|e| e == event) {
            log::debug!("Event Denied: scopes=['network'] EventType={event}");
            return false;
        }
        log::debug!("Event Allowed: scope=network EventType={event}");
        if !ds.supported_update_events().contains(&event) {
            log::debug!(
                "Datasource {} not updated for events: {event}",
                ds.display()
            );
            return false;
        }
        log::debug!("Update datasource metadata and network config due to events: {event}");
        match ds.get_data(ctx) {
            Ok(true) => true,
            Ok(false) | Err(_) => {
                log::debug!(
                    "Datasource {} not updated for events: {event}",
                    ds.display()
                );
                false
            }
        }
    };
    let boot = !host.exists(paths.run_file(APPLIED_SEM)) && enabled_and_updated("boot", ds);
    boot || enabled_and_updated("boot-legacy", ds)
}

/// Remember that the config was applied during this boot.
pub(crate) fn mark_applied(host: &Host, paths: &Paths) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default();
    let body = format!("{}: {now}\n", std::process::id());
    if let Err(e) = host.write_atomic(
        paths.run_file(APPLIED_SEM),
        body.as_bytes(),
        &WriteOpts::mode(0o644),
    ) {
        log::warn!(
            "Failed to write {}: {e}",
            paths.run_file(APPLIED_SEM).display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user_events_of(v: Option<&Value>) -> Option<Vec<String>> {
        user_events(v, &mut Vec::new())
    }

    #[test]
    fn user_updates_override_the_datasource_defaults() {
        assert_eq!(user_events(None, &mut Vec::new()), None);
        assert_eq!(
            user_events_of(Some(&json!({"network": {"when": ["boot", "hotplug"]}}))),
            Some(vec!["boot".to_string(), "hotplug".to_string()])
        );
        assert_eq!(
            user_events_of(Some(&json!({"network": {"when": ["boot", "reboot"]}}))),
            Some(vec![])
        );
        assert_eq!(
            user_events_of(Some(&json!({"storage": {"when": ["boot"]}}))),
            None
        );
    }

    #[test]
    fn defaults_and_hotplug_file() {
        let d = tempfile::tempdir().unwrap();
        let host = Host::new(d.path());
        let paths = Paths::default();
        let ds = ci_sources::NoneSource::new(ci_sources::Stage::Network);
        assert_eq!(
            allowed_events(&host, &paths, &ds, &json!({})),
            ["boot-new-instance"]
        );
        host.write_atomic(
            "/var/lib/cloud/hotplug.enabled",
            br#"{"scopes": ["network"]}"#,
            &WriteOpts::mode(0o644),
        )
        .unwrap();
        assert_eq!(
            allowed_events(
                &host,
                &paths,
                &ds,
                &json!({"updates": {"network": {"when": ["boot"]}}})
            ),
            ["boot", "hotplug"]
        );
    }
}

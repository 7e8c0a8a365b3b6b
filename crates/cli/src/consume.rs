//! Turning the datasource's data into instance state: network config,
//! user-data and vendor-data parts, and the combined config.

use crate::schema_boot::Strict;
use ci_host::{Cmd, Host, WriteOpts};
use ci_sources::Datasource;
use ci_state::log as clog;
use ci_state::{instance_data, sem, Paths};
use ci_userdata::{Fetcher, HttpFetcher, Kind, ProcessOptions, Processed};
use serde_json::Value;
use std::path::PathBuf;

/// Find the network configuration as upstream does (kernel command line,
/// initramfs, system config, datasource, then the fallback NIC) and, when
/// `apply` (a new instance, an enabled update event, or no datasource at
/// all), persist it as `instances/<iid>/network-config.json`, render it with
/// the first available renderer of the distro and, with `bring_up` (the
/// network stage), bring it up through the first available activator. The
/// local stage renders before network-pre.target, so the network services
/// start with the files in place.
pub fn network_config(
    host: &Host,
    paths: &Paths,
    ds: Option<&dyn Datasource>,
    cfg: &Value,
    apply: bool,
    bring_up: bool,
) {
    if host.exists(paths.data_file("upgraded-network")) {
        log::info!("network config is disabled by upgraded-network");
        return;
    }
    let system = cfg.get("network").filter(|v| !v.is_null()).cloned();
    let initramfs = match ci_net::cmdline::read_initramfs_config(host) {
        Ok(v) => v,
        Err(e) => {
            log::warn!("Failed to read initramfs network config: {e}");
            None
        }
    };
    let candidates = [
        (
            "cmdline",
            ci_net::cmdline::read_kernel_cmdline_config(&host.kernel_cmdline()),
        ),
        ("initramfs", initramfs),
        ("system_cfg", system),
        ("ds", ds.and_then(|d| d.network_config())),
    ];
    let found = candidates
        .into_iter()
        .find_map(|(src, v)| v.map(|v| (src, v)));
    let system_info = cfg.get("system_info").cloned().unwrap_or(Value::Null);
    let distro = system_info
        .get("distro")
        .and_then(Value::as_str)
        .unwrap_or("ubuntu")
        .to_string();
    let (source, netcfg) = match found {
        Some(f) => f,
        None => match ci_net::fallback::distro_fallback_config(host, &distro, &system_info) {
            Some(fb) => ("fallback", fb),
            None => {
                log::info!("network config is disabled by fallback");
                return;
            }
        },
    };
    let (source, netcfg, parsed) = match ci_net::parse(&netcfg) {
        Ok(Some(p)) => (source, netcfg, p),
        Ok(None) => {
            log::info!("network config is disabled by {source}");
            return;
        }
        Err(e) => {
            // A broken config must not cost the machine its network: fall back.
            // The schema's key paths and messages, as `cloud-init schema -t
            // network-config` prints them, when it sees the problem too.
            let problems =
                ci_schema::validate_with_schema(&netcfg, ci_schema::network_config_schema(&netcfg));
            let why = if problems.errors.is_empty() {
                e.to_string()
            } else {
                problems
                    .errors
                    .iter()
                    .map(|p| p.format())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            log::warn!("network-config failed schema validation! Invalid network config from {source}: {why}; applying the fallback config instead");
            let fallback = ci_net::fallback::distro_fallback_config(host, &distro, &system_info)
                .and_then(|fb| ci_net::parse(&fb).ok().flatten().map(|p| (fb, p)));
            match fallback {
                Some((fb, p)) => ("fallback", fb, p),
                None => return,
            }
        }
    };
    if !apply {
        log::debug!("No network config applied. Neither a new instance nor datasource network update allowed");
        return;
    }
    if ds.is_some() {
        let body = ci_state::pyjson::json_dumps(&netcfg) + "\n";
        // Through the `instance` link, as upstream's get_ipath_cur: the run
        // link names that path, not the instance's own directory.
        let file = paths.instance_link().join("network-config.json");
        if let Err(e) = host.write_atomic(&file, body.as_bytes(), &WriteOpts::mode(0o600)) {
            log::warn!("Failed to write {}: {e}", file.display());
        }
        if let Err(e) = host.symlink(&file, paths.run_file("network-config.json")) {
            log::debug!("Failed to link network-config.json: {e}");
        }
    }
    validate_network_config(host, &netcfg);
    log::info!(
        "Applying network configuration from {source} bringup={}: {}",
        if bring_up { "True" } else { "False" },
        ci_pyval::py_repr(&netcfg)
    );
    crate::net_events::mark_applied(host, paths);
    let Some(opts) = render_parsed(host, &parsed, &system_info, &distro) else {
        return;
    };
    if !bring_up {
        log::debug!("Not bringing up newly configured network interfaces");
        return;
    }
    if host.is_sandbox() {
        // The interfaces under --root are this machine's, not the target's.
        log::debug!(
            "Not bringing up network interfaces under --root {}",
            host.root().display()
        );
        return;
    }
    log::debug!("Bringing up newly configured network interfaces");
    let Some(activator) = select_activator(host, &system_info) else {
        return;
    };
    let devices: Vec<String> = parsed
        .state(&opts.macs)
        .map(|st| {
            st.iter_interfaces()
                .filter_map(|i| i.get("name").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    activator.bring_up_all(host, &devices);
}

/// Render a parsed network config with the first available renderer of
/// `system_info.network.renderers` (upstream's `_write_network_state`);
/// `None` (logged) when nothing could be rendered. Returns the options used,
/// whose MAC map names the interfaces.
pub(crate) fn render_parsed(
    host: &Host,
    parsed: &ci_net::NetworkConfig,
    system_info: &Value,
    distro: &str,
) -> Option<ci_net::RenderOptions> {
    let priority: Option<Vec<String>> = system_info
        .get("network")
        .and_then(|n| n.get("renderers"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        });
    let renderer = match ci_net::select::select(host, priority.as_deref(), distro) {
        Ok(r) => r,
        // Upstream's line, which people grep for; the key it concerns on its own line.
        Err(ci_net::NetError::Invalid { path, msg }) => {
            log::error!("Unable to render networking. Network config is likely broken: {msg}");
            log::debug!("The renderers come from {path}");
            return None;
        }
        Err(e) => {
            log::error!("Unable to render networking. Network config is likely broken: {e}");
            return None;
        }
    };
    let mut opts = ci_net::RenderOptions::new(distro);
    opts.macs = ci_net::fallback::interfaces_by_mac(host);
    match ci_net::render(parsed, renderer, &opts)
        .and_then(|files| ci_net::write_files(host, &files))
    {
        Ok(_) => log::debug!("Rendered network configuration with {}", renderer.name()),
        Err(e) => {
            log::error!("Unable to render networking. Network config is likely broken: {e}");
            return None;
        }
    }
    Some(opts)
}

/// The activator of `system_info.network.activators` (or the default
/// order) that the target has; `None` after upstream's warning.
pub(crate) fn select_activator(
    host: &Host,
    system_info: &Value,
) -> Option<ci_net::activate::Activator> {
    let activators = activator_priority(system_info);
    match ci_net::activate::select(host, activators.as_deref()) {
        Ok(a) => Some(a),
        Err(e) => {
            log::debug!("{e}");
            log::warn!("No network activator found, not bringing up network interfaces");
            None
        }
    }
}

/// `system_info.network.activators`, the priority list for
/// [`ci_net::activate::select`].
pub(crate) fn activator_priority(system_info: &Value) -> Option<Vec<String>> {
    system_info
        .get("network")
        .and_then(|n| n.get("activators"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
}

/// Upstream checks the config it is about to apply against the
/// network-config schema and warns without details (they may hold wifi
/// passwords); the config is still applied. Upstream skips v2 when netplan
/// is installed (netplan validates it), so do we.
fn validate_network_config(host: &Host, netcfg: &Value) {
    let inner = netcfg.get("network").unwrap_or(netcfg);
    let v2 = inner.get("version").and_then(Value::as_i64) == Some(2);
    if v2
        && ["/usr/sbin/netplan", "/sbin/netplan"]
            .iter()
            .any(|p| host.resolve(p).is_file())
    {
        return;
    }
    let problems =
        ci_schema::validate_with_schema(netcfg, ci_schema::network_config_schema(netcfg));
    if !problems.deprecations.is_empty() {
        let list: Vec<String> = problems.deprecations.iter().map(|p| p.format()).collect();
        log::warn!(
            target: "DEPRECATED:schema.py",
            "Deprecated cloud-config provided: {}",
            list.join(", ")
        );
    }
    if !problems.errors.is_empty() {
        log::warn!("network-config failed schema validation! You may run 'sudo cloud-init schema --system' to check the details.");
    }
}

fn instance_data_sensitive(host: &Host, paths: &Paths) -> Option<Value> {
    let text = host
        .read_to_string(paths.run_file("instance-data-sensitive.json"))
        .ok()?;
    serde_json::from_str(&text).ok()
}

fn write(host: &Host, path: PathBuf, data: &[u8], mode: u32) {
    if let Err(e) = host.write_atomic(&path, data, &WriteOpts::mode(mode)) {
        log::warn!("Failed to write {}: {e}", path.display());
    }
}

/// Store raw and processed user-data and vendor-data in the instance dir
/// and, once per instance, hand their parts out: cloud-config files,
/// scripts for the scripts_* modules. Boothooks run on every boot.
/// Errors that upstream raises on (a failed include, bad gzip) are recorded
/// as the stage error "Consuming user data failed!".
/// Upstream's `consume-user-data`, `consume-vendor-data` and
/// `consume-vendor-data2` steps, reported as events under `event` (the
/// stage's), so that `analyze` shows them as it does on upstream's logs.
pub fn user_and_vendor_data(
    host: &Host,
    paths: &Paths,
    ds: &dyn Datasource,
    cfg: &Value,
    event: &str,
    errors: &mut Vec<String>,
) -> Option<String> {
    let iid = ds.instance_id();
    let strict = Strict::from_config(cfg);
    let fetcher = HttpFetcher::upstream_include().with_host(host.clone());
    let first =
        !sem::has_run(host, paths, "consume_data", sem::Frequency::PerInstance).unwrap_or(false);
    let idata = instance_data_sensitive(host, paths);
    let user_event = format!("{event}/consume-user-data");
    clog::event_start(&user_event, "reading and applying user-data");
    let allow_userdata = ci_pyval::cfg_bool(cfg, "allow_userdata", true);
    let user_raw: &[u8] = if allow_userdata {
        ds.userdata_raw().unwrap_or_default()
    } else {
        log::debug!("allow_userdata = False: discarding user-data");
        b""
    };
    let launch_index = ds.launch_index().and_then(|v| match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    });
    let mut failed = false;
    let user = consume_one(
        host,
        paths,
        &iid,
        Kind::User,
        user_raw,
        launch_index,
        idata.clone(),
        first,
        &[],
        &fetcher,
        strict,
        true,
    );
    failed |= !user.errors.is_empty();
    finish_event(&user_event, "reading and applying user-data", &user.errors);
    for (kind, raw, step) in [
        (Kind::Vendor, ds.vendordata_raw(), "consume-vendor-data"),
        (Kind::Vendor2, ds.vendordata2_raw(), "consume-vendor-data2"),
    ] {
        let name = format!("{event}/{step}");
        let desc = if kind == Kind::Vendor {
            "reading and applying vendor-data"
        } else {
            "reading and applying vendor-data2"
        };
        clog::event_start(&name, desc);
        let raw = raw.unwrap_or_default();
        write(host, paths.instance_file(kind.raw_file()), raw, 0o600);
        if raw.is_empty() {
            write(host, paths.instance_file(kind.processed_file()), b"", 0o600);
            finish_event(&name, desc, &[]);
            continue;
        }
        let cfg_name = if kind == Kind::Vendor {
            "vendor_data"
        } else {
            "vendor_data2"
        };
        // User cloud-config may turn vendor-data off.
        let user_cc = user
            .cloud_config
            .as_ref()
            .filter(|_| user.rejected.is_none());
        let user_vd = user_cc.and_then(|c| c.get(cfg_name));
        let vd = user_vd.or_else(|| cfg.get(cfg_name));
        // Upstream: `util.is_true(cfg.get("enabled", True))`.
        let enabled = vd
            .and_then(|v| v.get("enabled"))
            .cloned()
            .unwrap_or(serde_json::Value::Bool(true));
        let enabled = ci_pyval::is_true(&enabled);
        // Upstream stores the processed blob before it asks whether
        // vendor-data is wanted; when it is not, nothing is handed out.
        let disabled: Vec<String> = if enabled {
            vd.and_then(|v| v.get("disabled_handlers"))
                .map(|v| ci_modules::util::str_list(Some(v)))
                .unwrap_or_default()
        } else {
            log::debug!("{cfg_name} consumption is disabled.");
            Vec::new()
        };
        let p = consume_one(
            host,
            paths,
            &iid,
            kind,
            raw,
            None,
            idata.clone(),
            first,
            &disabled,
            &fetcher,
            Strict::default(),
            enabled,
        );
        if enabled {
            failed |= !p.errors.is_empty();
            finish_event(&name, desc, &p.errors);
        } else {
            finish_event(&name, desc, &[]);
        }
    }
    if failed {
        log::warn!("Consuming user data failed!");
        errors.push("Consuming user data failed!".to_string());
        return None;
    }
    if first {
        if let Err(e) = sem::mark_run(host, paths, "consume_data", sem::Frequency::PerInstance) {
            log::warn!("Failed to write semaphore consume_data: {e}");
        }
    }
    user.rejected
}

fn finish_event(name: &str, desc: &str, errors: &[String]) {
    let result = if errors.is_empty() {
        clog::EventResult::Success
    } else {
        clog::EventResult::Fail
    };
    clog::event_finish(name, result, desc);
}

#[allow(clippy::too_many_arguments)]
fn consume_one(
    host: &Host,
    paths: &Paths,
    iid: &str,
    kind: Kind,
    raw: &[u8],
    launch_index: Option<i64>,
    instance_data: Option<Value>,
    first: bool,
    disabled_handlers: &[String],
    fetcher: &dyn Fetcher,
    strict: Strict,
    hand_out: bool,
) -> Consumed {
    write(host, paths.instance_file(kind.raw_file()), raw, 0o600);
    let opts = ProcessOptions {
        kind,
        launch_index: if kind == Kind::User {
            launch_index
        } else {
            None
        },
        instance_data,
        include_once_cache: Some(paths.instance_file("data/urlcache")),
        host: Some(host),
        disabled_handlers: disabled_handlers.to_vec(),
    };
    let p = ci_userdata::process(raw, &opts, fetcher);
    write(
        host,
        paths.instance_file(kind.processed_file()),
        &p.processed_mime,
        0o600,
    );
    if !hand_out {
        return Consumed::from(p);
    }
    if !p.errors.is_empty() {
        return Consumed::from(p);
    }
    let rejected = if first {
        crate::schema_boot::strict_verdict(
            strict,
            &crate::schema_boot::text_to_check(raw, &p.cloud_config_text),
        )
    } else {
        None
    };
    if rejected.is_some() {
        // Nothing from this user-data reaches the modules.
        write(
            host,
            paths.instance_file(kind.cloud_config_file()),
            b"",
            0o600,
        );
        crate::schema_boot::record_rejected(
            host,
            paths,
            &crate::schema_boot::text_to_check(raw, &p.cloud_config_text),
        );
        return Consumed {
            rejected,
            ..Consumed::from(p)
        };
    }
    if first {
        write(
            host,
            paths.instance_file(kind.cloud_config_file()),
            p.cloud_config_text.as_bytes(),
            0o600,
        );
        let cloud_dir = paths.cloud_dir.clone();
        let idir = paths.instance_dir();
        for s in &p.scripts {
            write(host, s.path(&cloud_dir, &idir), &s.content, 0o700);
        }
    }
    for hook in &p.boothooks {
        let path = paths.instance_file(&format!("boothooks/{}", hook.filename));
        write(host, path.clone(), &hook.content, 0o700);
        let cmd = Cmd::new([path.to_string_lossy().into_owned()])
            .in_target()
            .env("INSTANCE_ID", iid);
        match host.run(&cmd) {
            Ok(out) => {
                print!("{}", out.stdout_str());
                eprint!("{}", out.stderr_str());
            }
            Err(e) => log::warn!("Boothooks script {} execution error: {e}", path.display()),
        }
    }
    Consumed::from(p)
}

/// What consuming one blob left: upstream's processing result, and the
/// strict-mode rejection if any.
struct Consumed {
    processed: Processed,
    rejected: Option<String>,
}

impl From<Processed> for Consumed {
    fn from(processed: Processed) -> Self {
        Consumed {
            processed,
            rejected: None,
        }
    }
}

impl std::ops::Deref for Consumed {
    type Target = Processed;
    fn deref(&self) -> &Processed {
        &self.processed
    }
}

/// `/run/cloud-init/combined-cloud-config.json` and the sensitive
/// instance-data's `system_info`/`features`.
pub fn combined_config(host: &Host, paths: &Paths, full: &Value) {
    let system_info = full.get("system_info").cloned().unwrap_or(Value::Null);
    if let Err(e) = instance_data::write_combined_cloud_config(
        host,
        paths,
        full,
        &system_info,
        &instance_data::upstream_features(),
    ) {
        log::warn!("Failed to write combined-cloud-config.json: {e}");
    }
}

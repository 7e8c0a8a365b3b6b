//! `lxd`: set LXD up with `lxd init` (flags from `lxd.init`, or a whole
//! `lxd.preseed` document on stdin) and optionally a network bridge, either
//! through the old packaging's debconf questions or with `lxc network`
//! commands. LXD comes from the snap when missing, and the userspace tools
//! of the chosen storage backends from the distro's packages.

use crate::subp::{missing_program, not_started, run as run_cmd, shown_list, ExecError};
use crate::{Ctx, ModResult, ModuleError};
use ci_host::Cmd;
use ci_pyval::{py_list, py_str, py_type, truthy};
use serde_json::{Map, Value};

const DEFAULT_NETWORK: &str = "lxdbr0";
const BRIDGE_DEFAULTS_FILE: &str = "/etc/default/lxd-bridge";
const DEBCONF_COMMUNICATE: &str = "debconf-communicate";
/// `lxd init --auto` flags, in the order upstream passes them.
const INIT_KEYS: [&str; 7] = [
    "network_address",
    "network_port",
    "storage_backend",
    "storage_create_device",
    "storage_create_loop",
    "storage_pool",
    "trust_password",
];

pub fn handle(ctx: &Ctx) -> ModResult {
    let lxd = match ctx.get("lxd") {
        Some(v) if truthy(v) => v,
        _ => {
            log::debug!(
                "Skipping module named {}, not present or disabled by cfg",
                ctx.name
            );
            return Ok(());
        }
    };
    let Value::Object(lxd) = lxd else {
        return Err(ModuleError::with_class(
            "ValueError",
            format!(
                "lxd config must be a dictionary. found a '{}'",
                py_type(lxd)
            ),
        ));
    };
    wait_for_snap_seeded(ctx)?;

    let empty_map = Value::Object(Map::new());
    let empty_str = Value::String(String::new());
    let init = lxd.get("init").unwrap_or(&empty_map);
    let preseed = lxd.get("preseed").unwrap_or(&empty_str);
    let bridge = lxd.get("bridge").unwrap_or(&empty_map);
    validate(init, bridge, preseed)?;

    if ctx.host.which_target("lxd").is_none() {
        subp(ctx, &["snap", "install", "lxd"], None, &[0]).map_err(|e| {
            ModuleError::new(format!("Failed to install lxd from snap: {}", e.text))
        })?;
    }
    let packages = required_packages(ctx, init, preseed);
    if !packages.is_empty() {
        if let Err(e) = crate::pkg::install_packages(ctx, &packages) {
            if e.py_class() != "ProcessExecutionError" {
                return Err(e);
            }
            log::warn!("failed to install packages {}: {e}", py_list(&packages));
            return Ok(());
        }
    }

    subp(ctx, &["lxd", "waitready", "--timeout=300"], None, &[0]).map_err(pee)?;
    if let Some(text) = preseed.as_str().filter(|s| !s.is_empty()) {
        subp(ctx, &["lxd", "init", "--preseed"], Some(text), &[0]).map_err(pee)?;
        return Ok(());
    }
    if truthy(init) {
        init_lxd(ctx, init)?;
    }
    if truthy(bridge) {
        setup_bridge(ctx, bridge, truthy(init))?;
    }
    Ok(())
}

/// Upstream's `util.wait_for_snap_seeded`: once per machine, wait for
/// snapd to have seeded when the target has `snap`. The semaphore is taken
/// before the wait and kept when it fails, as upstream's lock is.
pub(crate) fn wait_for_snap_seeded(ctx: &Ctx) -> ModResult {
    use ci_state::sem::{has_run, mark_run, Frequency};
    let name = "snap-seeded";
    let sem_err = |e: ci_state::sem::SemError| ModuleError::new(e.to_string());
    if has_run(ctx.host, ctx.paths, name, Frequency::Once).map_err(sem_err)? {
        return Ok(());
    }
    mark_run(ctx.host, ctx.paths, name, Frequency::Once).map_err(sem_err)?;
    if ctx.host.which_target("snap").is_none() {
        log::debug!("Skipping snap wait, no snap command present");
        return Ok(());
    }
    subp(ctx, &["snap", "wait", "system", "seed.loaded"], None, &[0]).map_err(pee)?;
    Ok(())
}

/// Upstream's checks of the value types and of `preseed` given together
/// with `init` or `bridge`; every problem is named in one error.
fn validate(init: &Value, bridge: &Value, preseed: &Value) -> ModResult {
    let mut errors = Vec::new();
    if !init.is_object() {
        errors.push(format!(
            "lxd.init config must be a dictionary. found a '{}'",
            py_type(init)
        ));
    }
    if !bridge.is_object() {
        errors.push(format!(
            "lxd.bridge config must be a dictionary. found a '{}'",
            py_type(bridge)
        ));
    }
    if !preseed.is_string() {
        errors.push(format!(
            "lxd.preseed config must be a string. found a '{}'",
            py_type(preseed)
        ));
    }
    if truthy(preseed) && (truthy(init) || truthy(bridge)) {
        let mut keys = Vec::new();
        if truthy(init) {
            keys.push("lxd.init");
        }
        if truthy(bridge) {
            keys.push("lxd.bridge");
        }
        errors.push(format!(
            "Unable to configure LXD. lxd.preseed config can not be provided with key(s): {}",
            keys.join(", ")
        ));
    }
    if errors.is_empty() {
        return Ok(());
    }
    Err(ModuleError::with_class("ValueError", errors.join(". ")))
}

/// The packages holding the pool-creation tool of every storage driver
/// asked for (by `init.storage_backend` or the preseed's `storage_pools`)
/// that the target lacks.
pub(crate) fn required_packages(ctx: &Ctx, init: &Value, preseed: &Value) -> Vec<String> {
    let mut drivers: Vec<String> = Vec::new();
    if let Some(b) = init.get("storage_backend") {
        drivers.push(py_str(b));
    }
    if let Some(text) = preseed.as_str().filter(|t| t.contains("storage_pools")) {
        match ci_yaml::load(text) {
            Ok(doc) => {
                let pools = doc.get("storage_pools").and_then(Value::as_array);
                for pool in pools.into_iter().flatten() {
                    if let Some(d) = pool.get("driver").filter(|d| truthy(d)) {
                        drivers.push(py_str(d));
                    }
                }
            }
            Err(_) => log::warn!(
                "lxd.preseed string value is not YAML.  Unable to determine required storage driver packages to support storage_pools config."
            ),
        }
    }
    let mut packages = Vec::new();
    for (driver, tool, package) in [
        ("zfs", "zfs", "zfsutils-linux"),
        ("lvm", "lvcreate", "lvm2"),
        ("btrfs", "mkfs.btrfs", "btrfs-progs"),
    ] {
        if drivers.iter().any(|d| d == driver) && ctx.host.which_target(tool).is_none() {
            packages.push(package.to_string());
        }
    }
    packages
}

/// `lxd init --auto` with a flag for every set key; on the LVM backend a
/// failure is retried with a pool created without a thin pool first.
fn init_lxd(ctx: &Ctx, init: &Value) -> ModResult {
    let mut argv: Vec<String> = ["lxd", "init", "--auto"].map(String::from).to_vec();
    for key in INIT_KEYS {
        if let Some(v) = init.get(key).filter(|v| truthy(v)) {
            argv.push(format!("--{}={}", key.replace('_', "-"), py_str(v)));
        }
    }
    let Err(first) = subp(ctx, &argv, None, &[0]) else {
        return Ok(());
    };
    match init.get("storage_backend") {
        None => return Err(ModuleError::with_class("KeyError", "'storage_backend'")),
        Some(b) if b.as_str() != Some("lvm") => return Err(pee(first)),
        Some(_) => {}
    }
    log::info!(
        "Cloud-init doesn't use thinpool by default on Ubuntu due to LP #1982780. This behavior will change in the future."
    );
    subp(
        ctx,
        &[
            "lxc",
            "storage",
            "create",
            "default",
            "lvm",
            "lvm.use_thinpool=false",
        ],
        None,
        &[0],
    )
    .map_err(pee)?;
    // The pool exists now: asking for a backend again would create a second.
    argv.retain(|a| !a.starts_with("--storage-backend"));
    subp(ctx, &argv, None, &[0]).map_err(pee)?;
    Ok(())
}

fn setup_bridge(ctx: &Ctx, bridge: &Value, did_init: bool) -> ModResult {
    if ctx.host.exists(BRIDGE_DEFAULTS_FILE) && ctx.host.which_target(DEBCONF_COMMUNICATE).is_some()
    {
        return bridge_via_debconf(ctx, bridge);
    }
    let net_name = bridge
        .get("name")
        .map(py_str)
        .unwrap_or_else(|| DEFAULT_NETWORK.to_string());
    let (create, attach) = bridge_to_cmd(bridge)?;
    maybe_cleanup_default(ctx, &net_name, did_init, create.is_some(), attach.is_some())?;
    if let Some(create) = create {
        log::debug!("Creating lxd bridge: {}", create.join(" "));
        lxc(ctx, &create).map_err(pee)?;
    }
    if let Some(attach) = attach {
        log::debug!("Setting up default lxd bridge: {}", attach.join(" "));
        lxc(ctx, &attach).map_err(pee)?;
    }
    Ok(())
}

/// The bridge configured by the old LXD packaging: its debconf questions
/// answered, its defaults file removed and the package reconfigured.
fn bridge_via_debconf(ctx: &Ctx, bridge: &Value) -> ModResult {
    let debconf = bridge_to_debconf(bridge)?;
    log::debug!("Setting lxd debconf via {DEBCONF_COMMUNICATE}");
    let mut data: String = debconf
        .iter()
        .map(|(k, v)| format!("set {k} {v}"))
        .collect::<Vec<_>>()
        .join("\n");
    data.push('\n');
    if let Err(e) = subp(ctx, &[DEBCONF_COMMUNICATE], Some(&data), &[0]) {
        log::warn!("Failed to run '{DEBCONF_COMMUNICATE}' for lxd with");
        log::debug!("{e}");
    }
    if let Err(e) = ctx.host.remove_file(BRIDGE_DEFAULTS_FILE) {
        if e.kind() != std::io::ErrorKind::NotFound {
            return Err(e.into());
        }
    }
    log::debug!("Running dpkg-reconfigure for lxd");
    subp(
        ctx,
        &["dpkg-reconfigure", "lxd", "--frontend=noninteractive"],
        None,
        &[0],
    )
    .map_err(pee)?;
    Ok(())
}

fn bridge_mode(bridge: &Value) -> Option<&str> {
    bridge.get("mode").and_then(Value::as_str)
}

fn invalid_mode(bridge: &Value) -> ModuleError {
    let mode = bridge.get("mode").map_or_else(|| "None".into(), py_str);
    ModuleError::new(format!("invalid bridge mode \"{mode}\""))
}

/// The packaging's debconf answers for `bridge`, in upstream's order.
pub(crate) fn bridge_to_debconf(bridge: &Value) -> Result<Vec<(String, String)>, ModuleError> {
    let get = |k: &str| bridge.get(k).map_or_else(|| "None".to_string(), py_str);
    let set = |k: &str| bridge.get(k).is_some_and(truthy);
    let or = |k: &str, d: &str| bridge.get(k).map_or_else(|| d.to_string(), py_str);
    let mut out: Vec<(String, String)> = Vec::new();
    let mut put = |k: &str, v: String| out.push((k.to_string(), v));
    match bridge_mode(bridge) {
        Some("none") => {
            put("lxd/setup-bridge", "false".into());
            put("lxd/bridge-name", String::new());
        }
        Some("existing") => {
            put("lxd/setup-bridge", "false".into());
            put("lxd/use-existing-bridge", "true".into());
            put("lxd/bridge-name", get("name"));
        }
        Some("new") => {
            put("lxd/setup-bridge", "true".into());
            if set("name") {
                put("lxd/bridge-name", get("name"));
            }
            if set("ipv4_address") {
                put("lxd/bridge-ipv4", "true".into());
                put("lxd/bridge-ipv4-address", get("ipv4_address"));
                put("lxd/bridge-ipv4-netmask", get("ipv4_netmask"));
                put("lxd/bridge-ipv4-dhcp-first", get("ipv4_dhcp_first"));
                put("lxd/bridge-ipv4-dhcp-last", get("ipv4_dhcp_last"));
                put("lxd/bridge-ipv4-dhcp-leases", get("ipv4_dhcp_leases"));
                put("lxd/bridge-ipv4-nat", or("ipv4_nat", "true"));
            }
            if set("ipv6_address") {
                put("lxd/bridge-ipv6", "true".into());
                put("lxd/bridge-ipv6-address", get("ipv6_address"));
                put("lxd/bridge-ipv6-netmask", get("ipv6_netmask"));
                put("lxd/bridge-ipv6-nat", or("ipv6_nat", "false"));
            }
            if set("domain") {
                put("lxd/bridge-domain", get("domain"));
            }
        }
        _ => return Err(invalid_mode(bridge)),
    }
    Ok(out)
}

type LxcArgs = Option<Vec<String>>;

/// The `lxc` arguments that create the bridge and attach it to the default
/// profile. Only the string `"true"` turns NAT on, as upstream compares.
pub(crate) fn bridge_to_cmd(bridge: &Value) -> Result<(LxcArgs, LxcArgs), ModuleError> {
    if bridge_mode(bridge) == Some("none") {
        return Ok((None, None));
    }
    let name = bridge
        .get("name")
        .map_or_else(|| DEFAULT_NETWORK.to_string(), py_str);
    let attach: Vec<String> = ["network", "attach-profile", &name, "default", "eth0"]
        .map(String::from)
        .to_vec();
    match bridge_mode(bridge) {
        Some("existing") => return Ok((None, Some(attach))),
        Some("new") => {}
        _ => return Err(invalid_mode(bridge)),
    }
    let get = |k: &str| bridge.get(k).map_or_else(|| "None".to_string(), py_str);
    let set = |k: &str| bridge.get(k).is_some_and(truthy);
    let is_str_true = |k: &str, default: bool| match bridge.get(k) {
        None => default,
        Some(v) => v.as_str() == Some("true"),
    };
    let mut create: Vec<String> = vec!["network".into(), "create".into(), name];
    if set("ipv4_address") && set("ipv4_netmask") {
        create.push(format!(
            "ipv4.address={}/{}",
            get("ipv4_address"),
            get("ipv4_netmask")
        ));
        if is_str_true("ipv4_nat", true) {
            create.push("ipv4.nat=true".into());
        }
        if set("ipv4_dhcp_first") && set("ipv4_dhcp_last") {
            create.push(format!(
                "ipv4.dhcp.ranges={}-{}",
                get("ipv4_dhcp_first"),
                get("ipv4_dhcp_last")
            ));
        }
    } else {
        create.push("ipv4.address=none".into());
    }
    if set("ipv6_address") && set("ipv6_netmask") {
        create.push(format!(
            "ipv6.address={}/{}",
            get("ipv6_address"),
            get("ipv6_netmask")
        ));
        if is_str_true("ipv6_nat", false) {
            create.push("ipv6.nat=true".into());
        }
    } else {
        create.push("ipv6.address=none".into());
    }
    if set("domain") {
        create.push(format!("dns.domain={}", get("domain")));
    }
    // -1 (the schema's default) leaves the MTU to LXD.
    if let Some(mtu) = bridge.get("mtu") {
        if mtu.as_f64() != Some(-1.0) {
            create.push(format!("bridge.mtu={}", py_str(mtu)));
        }
    }
    Ok((Some(create), Some(attach)))
}

/// `lxd init --auto` on newer LXD already made `lxdbr0` and attached it to
/// the default profile: undo that so the configured bridge can be made.
/// Exit code 1 means there was nothing to remove.
fn maybe_cleanup_default(
    ctx: &Ctx,
    net_name: &str,
    did_init: bool,
    create: bool,
    attach: bool,
) -> ModResult {
    if net_name != DEFAULT_NETWORK || !did_init {
        return Ok(());
    }
    let (profile, nic) = ("default", "eth0");
    let failed = "failed. Assuming it did not exist.";
    let succeeded = "succeeded.";
    if create {
        let say = |how: &str| {
            log::debug!("Detach of lxd network '{net_name}' from profile '{profile}' {how}")
        };
        match lxc(ctx, &["network", "detach-profile", net_name, profile]) {
            Ok(_) => {
                say(succeeded);
                lxc(ctx, &["network", "delete", net_name]).map_err(pee)?;
                log::debug!("Deletion of lxd network '{net_name}' {succeeded}");
            }
            Err(e) if e.exit_code == Some(1) => say(failed),
            Err(e) => return Err(pee(e)),
        }
    }
    if attach {
        let say =
            |how: &str| log::debug!("Removal of device '{nic}' from profile '{profile}' {how}");
        match lxc(ctx, &["profile", "device", "remove", profile, nic]) {
            Ok(_) => say(succeeded),
            Err(e) if e.exit_code == Some(1) => say(failed),
            Err(e) => return Err(pee(e)),
        }
    }
    Ok(())
}

/// `lxc ARGS --force-local` in the C locale, as root's session would be.
fn lxc<S: AsRef<str>>(ctx: &Ctx, args: &[S]) -> Result<(), ExecError> {
    let mut argv = vec!["lxc".to_string()];
    argv.extend(args.iter().map(|a| a.as_ref().to_string()));
    argv.push("--force-local".into());
    let env = [
        ("LC_ALL", "C".to_string()),
        (
            "HOME",
            std::env::var("HOME").unwrap_or_else(|_| "/root".into()),
        ),
        (
            "USER",
            std::env::var("USER").unwrap_or_else(|_| "root".into()),
        ),
    ];
    run_in_target(ctx, &argv, &env, None, &[0]).map(|_| ())
}

fn subp<S: AsRef<str>>(
    ctx: &Ctx,
    argv: &[S],
    stdin: Option<&str>,
    rcs: &[i32],
) -> Result<ci_host::CmdOutput, ExecError> {
    let argv: Vec<String> = argv.iter().map(|a| a.as_ref().to_string()).collect();
    run_in_target(ctx, &argv, &[], stdin, rcs)
}

/// `subp.subp(argv, data=stdin, update_env=env, rcs=rcs)` in the target; a
/// program the target lacks fails as upstream's exec does.
pub(crate) fn run_in_target(
    ctx: &Ctx,
    argv: &[String],
    env: &[(&str, String)],
    stdin: Option<&str>,
    rcs: &[i32],
) -> Result<ci_host::CmdOutput, ExecError> {
    let shown = shown_list(argv);
    let prog = argv.first().map(String::as_str).unwrap_or_default();
    if ctx.host.which_target(prog).is_none() {
        return Err(not_started(&shown, &missing_program(prog)));
    }
    let mut cmd = Cmd::new(argv.iter().cloned()).in_target();
    for (k, v) in env {
        cmd = cmd.env(*k, v.clone());
    }
    if let Some(data) = stdin {
        cmd = cmd.stdin(data.as_bytes().to_vec());
    }
    run_cmd(ctx.host, &cmd, &shown, rcs)
}

/// A failed command as the module error upstream records.
pub(crate) fn pee(e: ExecError) -> ModuleError {
    ModuleError::with_class("ProcessExecutionError", e.text)
}

#[cfg(test)]
mod tests;

//! `ubuntu_drivers`: install the NVIDIA drivers with `ubuntu-drivers`
//! once their license is accepted in the config. The debconf template that
//! lets the restricted kernel modules link at install time is registered
//! first through `debconf-communicate`, as upstream's Python `debconf`
//! binding does (without that binding installed upstream skips the module).

use crate::lxd::{pee, run_in_target};
use crate::{Ctx, ModResult, ModuleError};
use ci_host::WriteOpts;
use ci_pyval::{py_str, py_type, translate_bool, truthy};
use serde_json::Value;

const LICENSE_PATH: &str = "nvidia/license-accepted";
const OLD_TOOL_NEEDLE: &str =
    "ubuntu-drivers: error: argument <command>: invalid choice: 'install'";
const NO_DRIVERS: &str = "No drivers found for installation.";
#[cfg(test)]
const TMP_EXEC_DIR: &str = "/var/tmp/cloud-init";
/// Where upstream's interpreter finds the `python3-debconf` binding: its
/// script's directory comes first on its module path, then the packages.
const DEBCONF_BINDINGS: [&str; 3] = [
    "/usr/lib/python3/dist-packages/debconf.py",
    "/usr/lib/python3/site-packages/debconf.py",
    "/usr/bin/debconf.py",
];
const NVIDIA_TEMPLATE: &str = "Template: linux/nvidia/latelink
Type: boolean
Default: true
Description: Late-link NVIDIA kernel modules?
 Enable this to link the NVIDIA kernel modules in cloud-init and
 make them available for use.
";

pub fn handle(ctx: &Ctx) -> ModResult {
    let Some(drivers) = ctx.get("drivers") else {
        log::debug!(
            "Skipping module named {}, no 'drivers' key in config",
            ctx.name
        );
        return Ok(());
    };
    if !has_debconf_binding(ctx) {
        log::warn!(
            "Skipping module named {}, 'python3-debconf' is not installed",
            ctx.name
        );
        return Ok(());
    }
    install_drivers(ctx, drivers)
}

fn has_debconf_binding(ctx: &Ctx) -> bool {
    let local = ctx
        .host
        .list_dir("/usr/local/lib")
        .into_iter()
        .filter(|d| d.starts_with("python3"))
        .map(|d| format!("/usr/local/lib/{d}/dist-packages/debconf.py"));
    DEBCONF_BINDINGS
        .iter()
        .map(|p| p.to_string())
        .chain(local)
        .any(|p| ctx.host.exists(p))
}

/// Upstream's `util.get_cfg_by_path` over `a/b`.
fn by_path<'a>(cfg: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('/')
        .try_fold(cfg, |cur, key| cur.as_object()?.get(key))
}

fn install_drivers(ctx: &Ctx, cfg: &Value) -> ModResult {
    if !cfg.is_object() {
        return Err(ModuleError::with_class(
            "TypeError",
            format!(
                "'drivers' config expected dict, found '{}': {}",
                py_type(cfg),
                py_str(cfg)
            ),
        ));
    }
    let accepted = by_path(cfg, LICENSE_PATH).is_some_and(|v| translate_bool(v, &[]));
    if !accepted {
        log::debug!("Not installing NVIDIA drivers. {LICENSE_PATH}=False");
        return Ok(());
    }
    if ctx.host.which_target("ubuntu-drivers").is_none() {
        log::debug!("'ubuntu-drivers' command not available.  Installing ubuntu-drivers-common");
        crate::pkg::install_packages(ctx, &["ubuntu-drivers-common".to_string()])?;
    }
    let version = by_path(cfg, "nvidia/version").filter(|v| truthy(v));
    let mut driver = "nvidia".to_string();
    if let Some(v) = version {
        driver = format!("{driver}:{}", py_str(v));
    }
    log::debug!(
        "Installing and activating NVIDIA drivers ({LICENSE_PATH}=True, version={})",
        version.map_or_else(|| "latest".into(), py_str)
    );
    register_template(ctx)?;

    let argv: Vec<String> = ["ubuntu-drivers", "install", "--gpgpu", &driver]
        .map(String::from)
        .to_vec();
    if let Err(e) = run_in_target(ctx, &argv, &[], None, &[0]) {
        if e.stderr.contains(OLD_TOOL_NEEDLE) {
            log::warn!(
                "the available version of ubuntu-drivers is too old to perform requested driver installation"
            );
        } else if e.stdout.contains(NO_DRIVERS) {
            log::warn!("ubuntu-drivers found no drivers for installation");
        }
        return Err(pee(e));
    }
    Ok(())
}

/// Load the late-link template into debconf from a private directory under
/// the executable temp dir, removed afterwards whatever happened.
fn register_template(ctx: &Ctx) -> ModResult {
    let dir = make_tempdir(ctx)?;
    let file = format!("{dir}/nvidia.template");
    let result = load_template(ctx, &file);
    if ctx.host.is_dir(&dir) {
        ctx.host.remove_dir_all(&dir)?;
    }
    result.map_err(|(class, msg)| {
        log::warn!("Failed to register NVIDIA debconf template: {msg}");
        ModuleError::with_class(class, msg)
    })
}

fn load_template(ctx: &Ctx, file: &str) -> Result<(), (&'static str, String)> {
    ctx.host
        .write_atomic(file, NVIDIA_TEMPLATE.as_bytes(), &WriteOpts::mode(0o644))
        .map_err(|e| ("OSError", crate::pyerr::os_error_str(&e, file)))?;
    let prog = "debconf-communicate";
    if ctx.host.which_target(prog).is_none() {
        return Err((
            "FileNotFoundError",
            format!("[Errno 2] No such file or directory: '{prog}'"),
        ));
    }
    let argv: Vec<String> = [prog, "-fnoninteractive", "cloud-init"]
        .map(String::from)
        .to_vec();
    let stdin = format!("X_LOADTEMPLATEFILE {file}\n");
    let out = ctx
        .host
        .runner()
        .execute(
            ctx.host,
            &ci_host::Cmd::new(argv)
                .in_target()
                .stdin(stdin.into_bytes()),
        )
        .map_err(|e| ("OSError", e.to_string()))?;
    let stdout = out.stdout_str();
    let reply = stdout.lines().next().unwrap_or_default();
    let (status, data) = reply.split_once(' ').unwrap_or((reply, ""));
    match status.parse::<i32>() {
        Ok(0) | Ok(1) => Ok(()),
        Ok(code) => Err((
            "DebconfError",
            format!("({code}, {})", ci_pyval::py_quote(data)),
        )),
        Err(_) => Err((
            "ValueError",
            format!(
                "invalid literal for int() with base 10: {}",
                ci_pyval::py_quote(status)
            ),
        )),
    }
}

/// Upstream's `temp_utils.mkdtemp(dir=..., needs_exe=True)`: the parent is
/// created world-writable and sticky, the directory itself private.
fn make_tempdir(ctx: &Ctx) -> Result<String, ModuleError> {
    let parent = crate::tmpexec::tmp_exec_path(ctx)?;
    crate::tmpexec::make_exec_tempdir(ctx, &parent)
}

#[cfg(test)]
mod tests;

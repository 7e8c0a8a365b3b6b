//! Config modules: one file per upstream module, a registry that knows every
//! upstream module name, and the runner that applies frequencies.
//!
//! A module is a plain function over a [`Ctx`]. It reads its keys from
//! `ctx.cfg`, changes the target only through `ctx.host` (files) and
//! `ctx.host.run` (commands), logs with the `log` macros (a `warn!` makes the
//! stage degraded, as upstream), and returns `Err` for a failure that
//! upstream records as a module error.

pub mod registry;
pub mod runner;
pub mod util;

mod ansible;
mod apk_configure;
mod apt_configure;
mod apt_pipelining;
mod blockdev;
mod bootcmd;
mod bsd_rc;
mod byobu;
mod ca_certs;
mod chef;
mod disable_ec2_metadata;
mod disk_setup;
mod ds_devices;
mod fan;
mod final_message;
mod growpart;
mod grub_dpkg;
mod hostname_util;
pub mod install_hotplug;
mod installer;
mod keyboard;
mod keys_to_console;
mod landscape;
mod locale;
mod lxd;
mod mcollective;
mod mounts;
mod ntp;
mod package_update_upgrade_install;
mod phone_home;
pub(crate) mod pkg;
pub mod power_state_change;
mod puppet;
mod pyerr;
mod raspberry_pi;
mod reset_rmc;
mod resizefs;
mod resolv_conf;
mod rh_subscription;
mod rsyslog;
mod runcmd;
mod runparts;
mod salt_minion;
mod scripts;
mod seed_random;
mod set_hostname;
mod set_passwords;
mod shellify;
mod snap;
mod spacewalk;
mod ssh;
/// Host keys started early in a boot (the `ssh` module installs them).
pub use ssh::pregen::start as pregenerate_host_keys;
mod ssh_authkey_fingerprints;
mod ssh_import_id;
mod subp;
mod sysconfig;
mod template;
#[cfg(test)]
mod testutil;
mod timezone;
mod tmpexec;
mod ubuntu_autoinstall;
mod ubuntu_drivers;
mod ubuntu_pro;
mod update_etc_hosts;
mod users_groups;
mod wireguard;
mod write_files;
mod yum_add_repo;
mod zypper_add_repo;

// Shared by the user and SSH modules.
mod sshutil;
mod ugutil;

pub use registry::{lookup, registry, Frequency, ModuleSpec};

use ci_distro::Distro;
use ci_host::Host;
use ci_state::Paths;
use serde_json::Value;

/// What a module knows about the instance (from the datasource).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InstanceInfo {
    pub instance_id: String,
    /// `local-hostname` from metadata, if any.
    pub local_hostname: Option<String>,
    /// Public SSH keys from metadata.
    pub public_keys: Vec<String>,
    /// Datasource display string (`DataSourceNoCloud [seed=...]`).
    pub datasource: String,
    /// Datasource name (`NoCloud`, `None`, ...).
    pub datasource_name: String,
    /// Raw metadata mapping.
    pub metadata: Value,
    /// The `v1` instance-data keys, for templates.
    pub v1: Value,
    /// Network hotplug as the datasource and the config allow it.
    pub hotplug: HotplugFacts,
}

/// What `install_hotplug` needs from the datasource and the config.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HotplugFacts {
    /// The datasource can refresh its network config on a hotplug event.
    pub supported: bool,
    /// `hotplug` is among the allowed network events (user `updates`,
    /// the datasource's defaults, or `hotplug.enabled`).
    pub enabled: bool,
    /// The datasource's `extra_hotplug_udev_rules`.
    pub extra_udev_rules: Option<String>,
    /// Upstream's warnings about a bad `updates` key, logged when the
    /// module decides.
    pub event_warnings: Vec<String>,
}

/// Everything a module handler gets.
pub struct Ctx<'a> {
    pub name: &'a str,
    pub host: &'a Host,
    /// The merged cloud-config (system config + vendor/user data).
    pub cfg: &'a Value,
    pub distro: &'a Distro,
    pub paths: &'a Paths,
    pub instance: &'a InstanceInfo,
    /// Extra arguments from the module list entry or `single`.
    pub args: &'a [String],
    /// Our version string, as printed by `--version`.
    pub version: &'a str,
    /// Uptime in seconds when the stage started.
    pub uptime: f64,
}

impl Ctx<'_> {
    /// `cfg[key]` or `None`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.cfg.get(key)
    }
}

/// A module failure, recorded in the stage's `errors` as upstream records it:
/// `(name, ExceptionClass('message'))`. Most failures are upstream's
/// `RuntimeError`-like ones; a module whose upstream raises something else
/// (`KeyError` from a user lookup, `ProcessExecutionError` from a command)
/// names that class so the status matches.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ModuleError {
    message: String,
    py_class: &'static str,
    /// The arguments `repr()` shows when they are not the message alone:
    /// an `OSError`'s `(errno, 'strerror')`.
    repr_args: Option<String>,
}

impl ModuleError {
    pub fn new(msg: impl Into<String>) -> Self {
        Self::with_class("RuntimeError", msg)
    }

    /// A failure shown in the status as upstream's exception `py_class`.
    pub fn with_class(py_class: &'static str, msg: impl Into<String>) -> Self {
        ModuleError {
            message: msg.into(),
            py_class,
            repr_args: None,
        }
    }

    /// Python's `OSError` family (`FileNotFoundError`, `PermissionError`,
    /// ...): `str()` is `[Errno N] strerror: 'filename'`, while `repr()`
    /// shows only `(N, 'strerror')`.
    pub fn os_error(py_class: &'static str, errno: i32, strerror: &str, filename: &str) -> Self {
        ModuleError {
            message: format!(
                "[Errno {errno}] {strerror}: {}",
                ci_pyval::py_quote(filename)
            ),
            py_class,
            repr_args: Some(format!("{errno}, {}", ci_pyval::py_quote(strerror))),
        }
    }

    pub fn py_class(&self) -> &'static str {
        self.py_class
    }

    /// Python's `repr()` of the exception: `KeyError("no user 'x'")`.
    pub fn py_repr(&self) -> String {
        match &self.repr_args {
            Some(args) => format!("{}({args})", self.py_class),
            None => format!("{}({})", self.py_class, ci_pyval::py_quote(&self.message)),
        }
    }
}

impl From<std::io::Error> for ModuleError {
    fn from(e: std::io::Error) -> Self {
        ModuleError::new(e.to_string())
    }
}

impl From<ci_host::CmdError> for ModuleError {
    fn from(e: ci_host::CmdError) -> Self {
        ModuleError::new(e.to_string())
    }
}

pub type ModResult = Result<(), ModuleError>;
pub type Handler = fn(&Ctx) -> ModResult;

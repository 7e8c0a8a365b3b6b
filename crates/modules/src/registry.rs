//! Every upstream module name, with its frequency and the keys that make it
//! run. Modules not built yet have no handler: the runner skips them quietly
//! when their keys are absent and warns, naming them, when present.

use crate::Handler;

/// Module frequencies are semaphore frequencies; the module list's extra
/// spellings are [`Frequency::parse_module_list`].
pub use ci_state::sem::Frequency;

pub struct ModuleSpec {
    pub name: &'static str,
    pub frequency: Frequency,
    /// Upstream's `activate_by_schema_keys`: the module is skipped when none
    /// is present. Empty: the module always runs.
    pub activate_keys: &'static [&'static str],
    /// For modules not built yet: keys whose presence means the user asked
    /// for something we cannot do yet (warned about).
    pub watched_keys: &'static [&'static str],
    pub handler: Option<Handler>,
}

macro_rules! m {
    ($name:literal, $freq:ident, [$($k:literal),*], [$($w:literal),*], $h:expr) => {
        ModuleSpec {
            name: $name,
            frequency: Frequency::$freq,
            activate_keys: &[$($k),*],
            watched_keys: &[$($w),*],
            handler: $h,
        }
    };
}

use crate::*;

static REGISTRY: &[ModuleSpec] = &[
    m!(
        "seed_random",
        PerInstance,
        [],
        [],
        Some(seed_random::handle)
    ),
    m!("bootcmd", Always, ["bootcmd"], [], Some(bootcmd::handle)),
    m!(
        "write_files",
        PerInstance,
        ["write_files"],
        [],
        Some(write_files::handle)
    ),
    m!("growpart", Always, [], ["growpart"], None),
    m!("resizefs", Always, [], ["resize_rootfs"], None),
    m!(
        "disk_setup",
        PerInstance,
        ["disk_setup", "fs_setup"],
        [],
        None
    ),
    m!("mounts", PerInstance, [], ["mounts", "swap"], None),
    m!(
        "set_hostname",
        PerInstance,
        [],
        [],
        Some(set_hostname::handle)
    ),
    m!(
        "update_hostname",
        Always,
        [],
        [],
        Some(set_hostname::handle_update)
    ),
    m!(
        "update_etc_hosts",
        Always,
        ["manage_etc_hosts"],
        [],
        Some(update_etc_hosts::handle)
    ),
    m!("resolv_conf", PerInstance, ["manage_resolv_conf"], [], None),
    m!("ca_certs", PerInstance, ["ca_certs", "ca-certs"], [], None),
    m!("rsyslog", PerInstance, ["rsyslog"], [], None),
    m!(
        "users_groups",
        PerInstance,
        [],
        [],
        Some(users_groups::handle)
    ),
    m!("ssh", PerInstance, [], [], Some(ssh::handle)),
    m!(
        "set_passwords",
        PerInstance,
        [],
        [],
        Some(set_passwords::handle)
    ),
    m!("wireguard", PerInstance, ["wireguard"], [], None),
    m!("snap", PerInstance, ["snap"], [], None),
    m!("ubuntu_autoinstall", Once, ["autoinstall"], [], None),
    m!("ssh_import_id", PerInstance, [], ["ssh_import_id"], None),
    m!("keyboard", PerInstance, ["keyboard"], [], None),
    m!("locale", PerInstance, [], [], Some(locale::handle)),
    m!("apk_configure", PerInstance, ["apk_repos"], [], None),
    m!(
        "grub_dpkg",
        PerInstance,
        ["grub_dpkg", "grub-dpkg"],
        [],
        None
    ),
    m!("apt_pipelining", PerInstance, ["apt_pipelining"], [], None),
    m!(
        "apt_configure",
        PerInstance,
        [],
        [
            "apt_mirror",
            "apt_mirror_search",
            "apt_sources",
            "apt_proxy"
        ],
        None
    ),
    m!(
        "ubuntu_pro",
        PerInstance,
        ["ubuntu_pro", "ubuntu_advantage"],
        [],
        None
    ),
    m!(
        "rh_subscription",
        PerInstance,
        ["rh_subscription"],
        [],
        None
    ),
    m!("spacewalk", PerInstance, ["spacewalk"], [], None),
    m!("yum_add_repo", PerInstance, ["yum_repos"], [], None),
    m!("zypper_add_repo", Always, ["zypper"], [], None),
    m!("ntp", PerInstance, ["ntp"], [], None),
    m!(
        "timezone",
        PerInstance,
        ["timezone"],
        [],
        Some(timezone::handle)
    ),
    m!("raspberry_pi", PerInstance, ["rpi"], [], None),
    m!(
        "disable_ec2_metadata",
        Always,
        ["disable_ec2_metadata"],
        [],
        None
    ),
    m!("runcmd", PerInstance, ["runcmd"], [], Some(runcmd::handle)),
    m!("byobu", PerInstance, [], ["byobu_by_default"], None),
    m!(
        "package_update_upgrade_install",
        PerInstance,
        [
            "apt_update",
            "package_update",
            "apt_upgrade",
            "package_upgrade",
            "packages"
        ],
        [],
        None
    ),
    m!("fan", PerInstance, ["fan"], [], None),
    m!("landscape", PerInstance, ["landscape"], [], None),
    m!("lxd", PerInstance, ["lxd"], [], None),
    m!("ubuntu_drivers", PerInstance, ["drivers"], [], None),
    m!(
        "write_files_deferred",
        PerInstance,
        ["write_files"],
        [],
        Some(write_files::handle_deferred)
    ),
    m!("puppet", PerInstance, ["puppet"], [], None),
    m!("chef", Always, ["chef"], [], None),
    m!("ansible", PerInstance, ["ansible"], [], None),
    m!("mcollective", PerInstance, ["mcollective"], [], None),
    m!("salt_minion", PerInstance, ["salt_minion"], [], None),
    m!("reset_rmc", PerInstance, [], [], None),
    m!(
        "scripts_vendor",
        PerInstance,
        [],
        [],
        Some(scripts::handle_vendor)
    ),
    m!(
        "scripts_per_once",
        Once,
        [],
        [],
        Some(scripts::handle_per_once)
    ),
    m!(
        "scripts_per_boot",
        Always,
        [],
        [],
        Some(scripts::handle_per_boot)
    ),
    m!(
        "scripts_per_instance",
        PerInstance,
        [],
        [],
        Some(scripts::handle_per_instance)
    ),
    m!(
        "scripts_user",
        PerInstance,
        [],
        [],
        Some(scripts::handle_user)
    ),
    m!(
        "ssh_authkey_fingerprints",
        PerInstance,
        [],
        [],
        Some(ssh_authkey_fingerprints::handle)
    ),
    m!(
        "keys_to_console",
        PerInstance,
        [],
        [],
        Some(keys_to_console::handle)
    ),
    m!("install_hotplug", PerInstance, [], [], None),
    m!("phone_home", PerInstance, ["phone_home"], [], None),
    m!("final_message", Always, [], [], Some(final_message::handle)),
    m!("power_state_change", PerInstance, ["power_state"], [], None),
];

pub fn registry() -> &'static [ModuleSpec] {
    REGISTRY
}

/// Canonical module name: `-` → `_`, `cc_` prefix dropped, renamed modules mapped.
pub fn canonical_name(name: &str) -> String {
    let n = name.trim().replace('-', "_");
    let n = n.strip_prefix("cc_").unwrap_or(&n).to_string();
    match n.as_str() {
        "ubuntu_advantage" => "ubuntu_pro".to_string(),
        _ => n,
    }
}

/// Modules upstream removed; listing them is logged at INFO and ignored.
pub const REMOVED: &[&str] = &[
    "emit_upstart",
    "migrator",
    "rightscale_userdata",
    "refresh_rmc_and_interface",
];

pub fn lookup(name: &str) -> Option<&'static ModuleSpec> {
    let n = canonical_name(name);
    REGISTRY.iter().find(|m| m.name == n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_all_sixty_upstream_modules_and_dash_spellings() {
        assert_eq!(registry().len(), 60);
        assert_eq!(lookup("write-files").map(|m| m.name), Some("write_files"));
        assert_eq!(
            lookup("cc_ssh-authkey-fingerprints").map(|m| m.name),
            Some("ssh_authkey_fingerprints")
        );
        assert_eq!(
            lookup("ubuntu-advantage").map(|m| m.name),
            Some("ubuntu_pro")
        );
        assert!(lookup("no_such_module").is_none());
        let mut names: Vec<_> = registry().iter().map(|m| m.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 60);
    }
}

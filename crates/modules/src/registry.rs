//! Every upstream module, with its frequency, the keys that make it run,
//! the distros it is verified on and its handler.

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
    pub handler: Handler,
}

macro_rules! m {
    ($name:literal, $freq:ident, [$($k:literal),*], $h:expr) => {
        ModuleSpec {
            name: $name,
            frequency: Frequency::$freq,
            activate_keys: &[$($k),*],
            handler: $h,
        }
    };
}

use crate::*;

static REGISTRY: &[ModuleSpec] = &[
    m!("seed_random", PerInstance, [], seed_random::handle),
    m!("bootcmd", Always, ["bootcmd"], bootcmd::handle),
    m!(
        "write_files",
        PerInstance,
        ["write_files"],
        write_files::handle
    ),
    m!("growpart", Always, [], growpart::handle),
    m!("resizefs", Always, [], resizefs::handle),
    m!(
        "disk_setup",
        PerInstance,
        ["disk_setup", "fs_setup"],
        disk_setup::handle
    ),
    m!("mounts", PerInstance, [], mounts::handle),
    m!("set_hostname", PerInstance, [], set_hostname::handle),
    m!("update_hostname", Always, [], set_hostname::handle_update),
    m!(
        "update_etc_hosts",
        Always,
        ["manage_etc_hosts"],
        update_etc_hosts::handle
    ),
    m!(
        "resolv_conf",
        PerInstance,
        ["manage_resolv_conf"],
        resolv_conf::handle
    ),
    m!(
        "ca_certs",
        PerInstance,
        ["ca_certs", "ca-certs"],
        ca_certs::handle
    ),
    m!("rsyslog", PerInstance, ["rsyslog"], rsyslog::handle),
    m!("users_groups", PerInstance, [], users_groups::handle),
    m!("ssh", PerInstance, [], ssh::handle),
    m!("set_passwords", PerInstance, [], set_passwords::handle),
    m!("wireguard", PerInstance, ["wireguard"], wireguard::handle),
    m!("snap", PerInstance, ["snap"], snap::handle),
    m!(
        "ubuntu_autoinstall",
        Once,
        ["autoinstall"],
        ubuntu_autoinstall::handle
    ),
    m!("ssh_import_id", PerInstance, [], ssh_import_id::handle),
    m!("keyboard", PerInstance, ["keyboard"], keyboard::handle),
    m!("locale", PerInstance, [], locale::handle),
    m!(
        "apk_configure",
        PerInstance,
        ["apk_repos"],
        apk_configure::handle
    ),
    m!(
        "grub_dpkg",
        PerInstance,
        ["grub_dpkg", "grub-dpkg"],
        grub_dpkg::handle
    ),
    m!(
        "apt_pipelining",
        PerInstance,
        ["apt_pipelining"],
        apt_pipelining::handle
    ),
    m!("apt_configure", PerInstance, [], apt_configure::handle),
    m!(
        "ubuntu_pro",
        PerInstance,
        ["ubuntu_pro", "ubuntu-advantage", "ubuntu_advantage"],
        ubuntu_pro::handle
    ),
    m!(
        "rh_subscription",
        PerInstance,
        ["rh_subscription"],
        rh_subscription::handle
    ),
    m!("spacewalk", PerInstance, ["spacewalk"], spacewalk::handle),
    m!(
        "yum_add_repo",
        PerInstance,
        ["yum_repos"],
        yum_add_repo::handle
    ),
    m!(
        "zypper_add_repo",
        Always,
        ["zypper"],
        zypper_add_repo::handle
    ),
    m!("ntp", PerInstance, ["ntp"], ntp::handle),
    m!("timezone", PerInstance, ["timezone"], timezone::handle),
    m!("raspberry_pi", PerInstance, ["rpi"], raspberry_pi::handle),
    m!(
        "disable_ec2_metadata",
        Always,
        ["disable_ec2_metadata"],
        disable_ec2_metadata::handle
    ),
    m!("runcmd", PerInstance, ["runcmd"], runcmd::handle),
    m!("byobu", PerInstance, [], byobu::handle),
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
        package_update_upgrade_install::handle
    ),
    m!("fan", PerInstance, ["fan"], fan::handle),
    m!("landscape", PerInstance, ["landscape"], landscape::handle),
    m!("lxd", PerInstance, ["lxd"], lxd::handle),
    m!(
        "ubuntu_drivers",
        PerInstance,
        ["drivers"],
        ubuntu_drivers::handle
    ),
    m!(
        "write_files_deferred",
        PerInstance,
        ["write_files"],
        write_files::handle_deferred
    ),
    m!("puppet", PerInstance, ["puppet"], puppet::handle),
    m!("chef", Always, ["chef"], chef::handle),
    m!("ansible", PerInstance, ["ansible"], ansible::handle),
    m!(
        "mcollective",
        PerInstance,
        ["mcollective"],
        mcollective::handle
    ),
    m!(
        "salt_minion",
        PerInstance,
        ["salt_minion"],
        salt_minion::handle
    ),
    m!("reset_rmc", PerInstance, [], reset_rmc::handle),
    m!("scripts_vendor", PerInstance, [], scripts::handle_vendor),
    m!("scripts_per_once", Once, [], scripts::handle_per_once),
    m!("scripts_per_boot", Always, [], scripts::handle_per_boot),
    m!(
        "scripts_per_instance",
        PerInstance,
        [],
        scripts::handle_per_instance
    ),
    m!("scripts_user", PerInstance, [], scripts::handle_user),
    m!(
        "ssh_authkey_fingerprints",
        PerInstance,
        [],
        ssh_authkey_fingerprints::handle
    ),
    m!("keys_to_console", PerInstance, [], keys_to_console::handle),
    m!("install_hotplug", PerInstance, [], install_hotplug::handle),
    m!(
        "phone_home",
        PerInstance,
        ["phone_home"],
        phone_home::handle
    ),
    m!("final_message", Always, [], final_message::handle),
    m!(
        "power_state_change",
        PerInstance,
        ["power_state"],
        power_state_change::handle
    ),
];

/// Upstream's `meta["distros"]` of the modules not verified everywhere;
/// a module missing here runs on every distro.
static DISTROS: &[(&str, &[&str])] = &[
    ("apk_configure", &["alpine"]),
    ("apt_configure", &["debian", "ubuntu"]),
    ("apt_pipelining", &["debian", "ubuntu"]),
    ("byobu", &["debian", "ubuntu"]),
    (
        "ca_certs",
        &[
            "almalinux",
            "alpine",
            "aosc",
            "cloudlinux",
            "debian",
            "fedora",
            "opensuse",
            "opensuse-leap",
            "opensuse-microos",
            "opensuse-tumbleweed",
            "photon",
            "rhel",
            "sle-micro",
            "sle_hpc",
            "sles",
            "ubuntu",
        ],
    ),
    ("fan", &["ubuntu"]),
    ("grub_dpkg", &["debian", "ubuntu"]),
    (
        "keyboard",
        &[
            "almalinux",
            "alpine",
            "amazon",
            "arch",
            "azurelinux",
            "centos",
            "cloudlinux",
            "debian",
            "eurolinux",
            "fedora",
            "mariner",
            "miraclelinux",
            "openmandriva",
            "opensuse",
            "opensuse-leap",
            "opensuse-microos",
            "opensuse-tumbleweed",
            "photon",
            "rhel",
            "rocky",
            "sle-micro",
            "sle_hpc",
            "sles",
            "suse",
            "ubuntu",
            "virtuozzo",
        ],
    ),
    ("landscape", &["ubuntu"]),
    ("lxd", &["ubuntu"]),
    (
        "ntp",
        &[
            "OpenCloudOS",
            "TencentOS",
            "almalinux",
            "alpine",
            "aosc",
            "azurelinux",
            "centos",
            "cloudlinux",
            "cos",
            "debian",
            "eurolinux",
            "fedora",
            "freebsd",
            "mariner",
            "miraclelinux",
            "openbsd",
            "openeuler",
            "openmandriva",
            "opensuse",
            "opensuse-leap",
            "opensuse-microos",
            "opensuse-tumbleweed",
            "photon",
            "rhel",
            "rocky",
            "sle-micro",
            "sle_hpc",
            "sles",
            "ubuntu",
            "virtuozzo",
        ],
    ),
    (
        "resolv_conf",
        &[
            "alpine",
            "azurelinux",
            "fedora",
            "mariner",
            "openeuler",
            "opensuse",
            "opensuse-leap",
            "opensuse-microos",
            "opensuse-tumbleweed",
            "photon",
            "rhel",
            "sle-micro",
            "sle_hpc",
            "sles",
        ],
    ),
    ("raspberry_pi", &["raspberry-pi-os"]),
    ("rh_subscription", &["fedora", "openeuler", "rhel"]),
    ("snap", &["ubuntu"]),
    ("spacewalk", &["fedora", "openeuler", "rhel"]),
    ("ssh_import_id", &["alpine", "cos", "debian", "ubuntu"]),
    ("ubuntu_autoinstall", &["ubuntu"]),
    ("ubuntu_drivers", &["ubuntu"]),
    ("ubuntu_pro", &["ubuntu"]),
    ("wireguard", &["ubuntu"]),
    (
        "yum_add_repo",
        &[
            "OpenCloudOS",
            "TencentOS",
            "almalinux",
            "azurelinux",
            "centos",
            "cloudlinux",
            "eurolinux",
            "fedora",
            "mariner",
            "openeuler",
            "openmandriva",
            "photon",
            "rhel",
            "rocky",
            "virtuozzo",
        ],
    ),
    (
        "zypper_add_repo",
        &[
            "opensuse",
            "opensuse-leap",
            "opensuse-microos",
            "opensuse-tumbleweed",
            "sle-micro",
            "sle_hpc",
            "sles",
        ],
    ),
];

impl ModuleSpec {
    /// The distros the module is verified on; empty: all of them.
    pub fn distros(&self) -> &'static [&'static str] {
        DISTROS
            .iter()
            .find(|(n, _)| *n == self.name)
            .map(|(_, d)| *d)
            .unwrap_or(&[])
    }

    /// Whether upstream runs the module on `distro` without it being listed
    /// in `unverified_modules`.
    pub fn verified_on(&self, distro: &str) -> bool {
        let d = self.distros();
        d.is_empty() || d.contains(&distro)
    }
}

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
/// (Upstream's list also names `refresh_rmc_and_interface`, but spelled
/// with `.py`, so it never matches and upstream warns "Could not find
/// module" for it; we do the same by leaving it out.)
pub const REMOVED: &[&str] = &["emit_upstart", "migrator", "rightscale_userdata"];

/// Upstream's `form_module_name`: the name it looks modules up by and
/// prints when one is missing (`write-files` → `cc_write_files`).
pub fn module_file_name(name: &str) -> String {
    let n = name.replace('-', "_");
    let n = n.strip_suffix(".py").unwrap_or(&n).trim().to_string();
    if n.starts_with("cc_") {
        n
    } else {
        format!("cc_{n}")
    }
}

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

    #[test]
    fn distro_lists_name_known_modules_and_gate_them() {
        for (name, distros) in DISTROS {
            assert!(lookup(name).is_some(), "{name}");
            assert!(!distros.is_empty(), "{name}");
        }
        let sii = lookup("ssh-import-id").unwrap();
        assert_eq!(sii.distros(), ["alpine", "cos", "debian", "ubuntu"]);
        assert!(sii.verified_on("debian") && !sii.verified_on("fedora"));
        let snap = lookup("snap").unwrap();
        assert!(!snap.verified_on("debian") && snap.verified_on("ubuntu"));
        assert!(lookup("runcmd").unwrap().verified_on("freebsd"));
    }

    #[test]
    fn module_file_names_as_upstream_forms_them() {
        assert_eq!(module_file_name("write-files"), "cc_write_files");
        assert_eq!(module_file_name("cc_runcmd.py"), "cc_runcmd");
        assert_eq!(module_file_name("nope"), "cc_nope");
    }
}

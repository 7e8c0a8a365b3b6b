//! Distro families: where things live and which tools change them.
//!
//! API contract: [`Distro::from_config`] builds the distro from the merged
//! system config (`system_info.distro`, `system_info.default_user`,
//! `system_info.ssh_svcname`, ...). Modules ask it for the default user and
//! for the commands that create users, set passwords, hostnames and so on;
//! those commands honour the host root (`--root`, `--prefix`, `chroot`).

use serde_json::Value;

/// The broad family a distro belongs to, which decides tools and paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Debian,
    RedHat,
    Suse,
    Arch,
    Alpine,
    Gentoo,
    FreeBsd,
    OpenBsd,
    NetBsd,
    Other,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Distro {
    /// `system_info.distro` as configured (`debian`, `ubuntu`, `rhel`, ...).
    pub name: String,
    pub family: Family,
    /// The whole `system_info` mapping (defaults applied by the caller).
    pub system_info: Value,
}

impl Distro {
    pub fn from_config(cfg: &Value) -> Distro {
        let system_info = cfg.get("system_info").cloned().unwrap_or(Value::Null);
        let name = system_info
            .get("distro")
            .and_then(Value::as_str)
            .unwrap_or("ubuntu")
            .to_string();
        let family = family_of(&name);
        Distro {
            name,
            family,
            system_info,
        }
    }
}

/// Map a distro name to its family, as upstream's `OSFAMILIES` does.
pub fn family_of(name: &str) -> Family {
    match name {
        "debian" | "ubuntu" | "raspberry-pi-os" => Family::Debian,
        "rhel" | "centos" | "fedora" | "almalinux" | "rocky" | "amazon" | "cloudlinux"
        | "eurolinux" | "miraclelinux" | "openmandriva" | "virtuozzo" | "openeuler"
        | "OpenCloudOS" | "TencentOS" | "azurelinux" | "mariner" | "photon" => Family::RedHat,
        n if n.starts_with("opensuse") || n.starts_with("sle") || n == "suse" => Family::Suse,
        "arch" => Family::Arch,
        "alpine" => Family::Alpine,
        "gentoo" | "cos" => Family::Gentoo,
        "freebsd" | "dragonfly" => Family::FreeBsd,
        "openbsd" => Family::OpenBsd,
        "netbsd" => Family::NetBsd,
        _ => Family::Other,
    }
}

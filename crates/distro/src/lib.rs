//! Distro families: where things live and which tools change them.
//!
//! API contract: [`Distro::from_config`] builds the distro from the merged
//! system config (`system_info.distro`, `system_info.default_user`,
//! `system_info.ssh_svcname`, ...). Modules ask it for the default user and
//! for the commands that create users, set passwords, hostnames and so on;
//! those commands honour the host root (`--root`, `pw -R`, `chroot`).
//!
//! Supported families for accounts: Debian/Ubuntu, RHEL family, SUSE, Arch,
//! Gentoo (shadow-utils `useradd`/`groupadd`/`usermod`/`passwd`/`chpasswd`),
//! Alpine (shadow-utils when installed, else busybox `adduser`/`addgroup`)
//! and FreeBSD/DragonFly (`pw`). OpenBSD, NetBSD and unknown distros use the
//! generic shadow-utils commands, which upstream does not do for the BSDs.

mod accounts;
mod defaults;
mod doas;
mod service;
mod sudoers;

pub use accounts::{AccountError, Stamp};
pub use defaults::builtin_default_user;
pub use doas::is_doas_rule_valid;
pub use service::ServiceAction;

use serde_json::{Map, Value};

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

    /// `system_info.<key>`, upstream's `distro.get_option`.
    pub fn option(&self, key: &str) -> Option<&Value> {
        self.system_info.get(key)
    }

    /// The default user's config (`name`, `groups`, `sudo`, `shell`, ...).
    ///
    /// `system_info.default_user` when the key is present (a non-mapping
    /// there means "no default user"); otherwise the default that upstream's
    /// `cloud.cfg.tmpl` renders for this distro, so an image whose cloud.cfg
    /// omits the key still gets the familiar user.
    pub fn default_user(&self) -> Option<Map<String, Value>> {
        match self.system_info.get("default_user") {
            Some(Value::Object(m)) => Some(m.clone()),
            Some(_) => None,
            None => Some(builtin_default_user(&self.name)),
        }
    }

    /// True for the BSD families, which upstream drives with `pw` and rc.
    pub fn is_bsd(&self) -> bool {
        matches!(
            self.family,
            Family::FreeBsd | Family::OpenBsd | Family::NetBsd
        )
    }

    /// The ssh daemon's service name. BSDs always use `sshd` (upstream
    /// overrides the option there); else `system_info.ssh_svcname`, else
    /// the value upstream's template renders for the distro.
    pub fn ssh_svcname(&self) -> String {
        if self.is_bsd() {
            return "sshd".into();
        }
        if let Some(s) = self.option("ssh_svcname").and_then(Value::as_str) {
            return s.to_string();
        }
        match self.family {
            Family::Debian | Family::Other => "ssh".into(),
            _ => "sshd".into(),
        }
    }

    /// The ssh daemon's service as the modules restart it: SUSE names it
    /// itself whatever the config says (`sshd`, or `sshd.service` under
    /// systemd), as upstream's openSUSE distro does.
    pub fn ssh_service(&self, host: &ci_host::Host) -> String {
        if self.family == Family::Suse {
            let name = if self.uses_systemd(host) {
                "sshd.service"
            } else {
                "sshd"
            };
            return name.into();
        }
        self.ssh_svcname()
    }

    /// Where cloud-init's sudoers rules go.
    pub fn ci_sudoers_fn(&self) -> &'static str {
        match self.family {
            Family::FreeBsd => "/usr/local/etc/sudoers.d/90-cloud-init-users",
            Family::NetBsd => "/usr/pkg/etc/sudoers.d/90-cloud-init-users",
            _ => "/etc/sudoers.d/90-cloud-init-users",
        }
    }

    pub fn doas_fn(&self) -> &'static str {
        "/etc/doas.conf"
    }

    /// The password database `lock_passwd` logic inspects.
    pub fn shadow_fn(&self) -> &'static str {
        if self.is_bsd() {
            "/etc/master.passwd"
        } else {
            "/etc/shadow"
        }
    }

    /// Login shell upstream's template gives the default user.
    pub fn default_shell(&self) -> &'static str {
        defaults::shell_for(&self.name)
    }

    /// `/usr/lib` or, on FreeBSD, `/usr/local/lib` (upstream's `usr_lib_exec`).
    pub fn usr_lib_exec(&self) -> &'static str {
        match self.family {
            Family::FreeBsd => "/usr/local/lib",
            _ => "/usr/lib",
        }
    }

    /// Patterns of a password field that counts as "no password" for
    /// `lock_passwd: false` on an existing user.
    pub fn empty_password_fields(&self) -> &'static [&'static str] {
        match self.family {
            Family::FreeBsd => &["", "*", "*LOCKED*"],
            _ => &["", "!"],
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
        "freebsd" | "dragonfly" | "dragonflybsd" => Family::FreeBsd,
        "openbsd" => Family::OpenBsd,
        "netbsd" => Family::NetBsd,
        _ => Family::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn default_user_prefers_system_info() {
        let d = Distro::from_config(&json!({"system_info": {"distro": "debian",
            "default_user": {"name": "admin", "shell": "/bin/sh"}}}));
        assert_eq!(d.default_user().unwrap()["name"], "admin");
        let d = Distro::from_config(
            &json!({"system_info": {"distro": "debian", "default_user": null}}),
        );
        assert!(d.default_user().is_none());
        let d = Distro::from_config(&json!({"system_info": {"distro": "rhel"}}));
        let u = d.default_user().unwrap();
        assert_eq!(u["name"], "cloud-user");
        assert_eq!(u["groups"], json!(["adm", "systemd-journal"]));
        assert_eq!(d.ssh_svcname(), "sshd");
    }

    #[test]
    fn per_family_paths() {
        let f = Distro::from_config(
            &json!({"system_info": {"distro": "freebsd", "ssh_svcname": "ssh"}}),
        );
        assert_eq!(f.family, Family::FreeBsd);
        assert_eq!(f.ssh_svcname(), "sshd");
        assert_eq!(
            f.ci_sudoers_fn(),
            "/usr/local/etc/sudoers.d/90-cloud-init-users"
        );
        assert_eq!(f.shadow_fn(), "/etc/master.passwd");
        assert_eq!(f.default_shell(), "/bin/tcsh");
        let u = Distro::from_config(&json!({}));
        assert_eq!(u.name, "ubuntu");
        assert_eq!(u.ssh_svcname(), "ssh");
        assert_eq!(u.ci_sudoers_fn(), "/etc/sudoers.d/90-cloud-init-users");
    }
}

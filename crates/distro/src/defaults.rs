//! The default user upstream's `config/cloud.cfg.tmpl` renders per distro
//! (used when the image's cloud.cfg has no `system_info.default_user`).

use crate::{family_of, Family};
use serde_json::{json, Map, Value};

const RHEL_LIKE: &[&str] = &[
    "almalinux",
    "centos",
    "cloudlinux",
    "eurolinux",
    "miraclelinux",
    "rhel",
    "rocky",
    "virtuozzo",
];

fn is_bsd_name(name: &str) -> bool {
    matches!(
        name,
        "dragonfly" | "dragonflybsd" | "freebsd" | "netbsd" | "openbsd"
    )
}

pub(crate) fn shell_for(name: &str) -> &'static str {
    match name {
        "alpine" => "/bin/ash",
        "dragonfly" | "dragonflybsd" | "netbsd" => "/bin/sh",
        "freebsd" => "/bin/tcsh",
        "openbsd" => "/bin/ksh",
        _ => "/bin/bash",
    }
}

fn username_for(name: &str) -> String {
    match name {
        "amazon" => "ec2-user".into(),
        "centos" | "rhel" => "cloud-user".into(),
        "openmandriva" => "omv".into(),
        n if family_of(n) == Family::Other => "ubuntu".into(),
        n => n.into(),
    }
}

fn gecos_for(name: &str) -> String {
    match name {
        "amazon" => "EC2 Default User".into(),
        "centos" | "rhel" => "Cloud User".into(),
        "debian" => "Debian".into(),
        "dragonfly" | "dragonflybsd" => "DragonFly".into(),
        "freebsd" => "FreeBSD".into(),
        "mariner" => "MarinerOS".into(),
        "netbsd" => "NetBSD".into(),
        "openbsd" => "openBSD".into(),
        "openmandriva" => "OpenMandriva admin".into(),
        "photon" => "PhotonOS".into(),
        "ubuntu" => "Ubuntu".into(),
        n if family_of(n) == Family::Other => "Ubuntu".into(),
        n => format!("{n} Cloud User"),
    }
}

fn groups_for(name: &str) -> Vec<&'static str> {
    match name {
        "alpine" => vec!["adm", "wheel"],
        "arch" => vec!["wheel", "users"],
        // As the Debian package's cloud.cfg has it (the oracle, 25.1.4).
        "debian" => vec![
            "adm", "audio", "cdrom", "dialout", "dip", "floppy", "plugdev", "sudo", "video",
        ],
        "gentoo" => vec!["users", "wheel"],
        "mariner" | "photon" => vec!["wheel"],
        "openmandriva" => vec!["wheel", "users", "systemd-journal"],
        "ubuntu" => vec!["adm", "cdrom", "dip", "lxd", "sudo"],
        n if family_of(n) == Family::Suse => vec!["cdrom", "users"],
        n if family_of(n) == Family::Other => vec!["adm", "cdrom", "dip", "lxd", "sudo"],
        n if is_bsd_name(n) => vec!["wheel"],
        n if RHEL_LIKE.contains(&n) => vec!["adm", "systemd-journal"],
        _ => vec!["wheel", "adm", "systemd-journal"],
    }
}

/// The `system_info.default_user` mapping upstream ships for `distro`.
pub fn builtin_default_user(distro: &str) -> Map<String, Value> {
    let name = username_for(distro);
    let mut m = Map::new();
    m.insert("name".into(), json!(name));
    m.insert("lock_passwd".into(), json!(true));
    m.insert("gecos".into(), json!(gecos_for(distro)));
    m.insert("groups".into(), json!(groups_for(distro)));
    if distro == "gentoo" {
        m.insert("primary_group".into(), json!("users"));
        m.insert("no_user_group".into(), json!(true));
    }
    if matches!(distro, "alpine" | "freebsd" | "openbsd") {
        m.insert("doas".into(), json!([format!("permit nopass {name}")]));
    }
    m.insert("sudo".into(), json!(["ALL=(ALL) NOPASSWD:ALL"]));
    m.insert("shell".into(), json!(shell_for(distro)));
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_upstream_template() {
        let d = builtin_default_user("debian");
        assert_eq!(d["name"], "debian");
        assert_eq!(d["gecos"], "Debian");
        assert_eq!(d["shell"], "/bin/bash");
        let a = builtin_default_user("alpine");
        assert_eq!(a["doas"], json!(["permit nopass alpine"]));
        assert_eq!(a["shell"], "/bin/ash");
        let g = builtin_default_user("gentoo");
        assert_eq!(g["primary_group"], "users");
        assert_eq!(builtin_default_user("amazon")["name"], "ec2-user");
        assert_eq!(builtin_default_user("rocky")["gecos"], "rocky Cloud User");
        assert_eq!(
            builtin_default_user("sles")["groups"],
            json!(["cdrom", "users"])
        );
        assert_eq!(builtin_default_user("mystery")["name"], "ubuntu");
    }
}

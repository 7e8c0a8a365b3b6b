use super::*;
use crate::testutil::{logcap, TestEnv};
use serde_json::json;

/// Upstream 25.1.4's renderings of its templates (one per distinct layout),
/// with no lists and with every list set.
const RENDERED: &str = include_str!("../../tests/fixtures/ntp_rendered.json");

fn tool(env: &TestEnv, path: &str) {
    env.write_mode(path, "#!/bin/sh\n", 0o755);
}

/// A target with the service tools every family uses.
fn env_with(cfg: serde_json::Value) -> TestEnv {
    let env = TestEnv::new(cfg);
    for t in [
        "service",
        "systemctl",
        "rc-service",
        "rcctl",
        "apt-get",
        "apt-cache",
    ] {
        tool(&env, &format!("/usr/sbin/{t}"));
    }
    env
}

fn lists_of(p: &serde_json::Value) -> layout::Lists {
    let get = |k: &str| p[k].as_array().cloned().unwrap_or_default();
    layout::Lists {
        servers: get("servers"),
        pools: get("pools"),
        peers: get("peers"),
        allow: get("allow"),
    }
}

#[test]
fn layouts_render_byte_for_byte_as_upstreams_templates() {
    let fx: serde_json::Value = serde_json::from_str(RENDERED).unwrap();
    let params = fx["params"].as_array().unwrap();
    let rendered = fx["rendered"].as_object().unwrap();
    assert!(rendered.len() >= 18);
    for (name, outs) in rendered {
        let layout = layout::builtin(name).unwrap_or_else(|| panic!("no layout {name}"));
        for (i, p) in params.iter().enumerate() {
            let got = layout::render(layout, &lists_of(p)).unwrap();
            assert_eq!(got, outs[i].as_str().unwrap(), "{name} with params {i}");
        }
    }
}

#[test]
fn every_distro_template_upstream_ships_has_a_layout() {
    for d in [
        "almalinux",
        "alpine",
        "centos",
        "cloudlinux",
        "cos",
        "debian",
        "fedora",
        "freebsd",
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
    ] {
        assert!(
            layout::builtin(&format!("chrony.conf.{d}")).is_some(),
            "{d}"
        );
    }
    for d in [
        "almalinux",
        "alpine",
        "cloudlinux",
        "debian",
        "fedora",
        "freebsd",
        "opensuse",
        "photon",
        "rhel",
        "rocky",
        "sles",
        "ubuntu",
    ] {
        assert!(layout::builtin(&format!("ntp.conf.{d}")).is_some(), "{d}");
    }
    assert!(layout::builtin("chrony.conf.arch").is_none());
}

#[test]
fn layout_markers_nest_and_escape() {
    let lists = layout::Lists {
        servers: vec![json!("a"), json!(5)],
        pools: vec![json!("p")],
        ..Default::default()
    };
    let out = layout::render(
        "x@{servers+pools:N=@{servers+pools*%s,}}|@@{|@{peers:no}",
        &lists,
    )
    .unwrap();
    assert_eq!(out, "xN=a,5,p,|@{|");
    assert!(layout::render("@{servers*open", &lists).is_err());
}

#[test]
fn debian_auto_picks_the_installed_client_and_restarts_it() {
    let env = env_with(json!({"ntp": {"servers": ["ntp1.example.org"], "peers": ["km1"]}}));
    tool(&env, "/usr/sbin/ntpd");
    env.write("/etc/ntp.conf", "image\n");
    handle(&env.ctx("ntp")).unwrap();
    let conf = env.read("/etc/ntp.conf");
    assert!(conf.contains("# servers\nserver ntp1.example.org iburst\npeer km1\n"));
    assert!(!conf.contains("\npool "));
    assert_eq!(env.mode("/etc/ntp.conf"), 0o644);
    assert_eq!(env.read("/etc/ntp.conf.dist"), "image\n");
    assert_eq!(env.rec.lines(), ["service ntp restart"]);
}

#[test]
fn debian_without_a_client_installs_chrony_with_apt_then_reloads_under_systemd() {
    let env = env_with(json!({"ntp": {}}));
    env.host
        .create_dir_all("/run/systemd/system", 0o755)
        .unwrap();
    env.rec.answer("apt-cache", 0, b"chrony\nntp\n");
    handle(&env.ctx("ntp")).unwrap();
    let conf = env.read("/etc/chrony/chrony.conf");
    assert!(conf.contains("# pools\npool 0.debian.pool.ntp.org iburst\n"));
    assert!(conf.contains("pool 3.debian.pool.ntp.org iburst\n\n# This directive"));
    let apt = "apt-get --option=Dpkg::Options::=--force-confold --option=Dpkg::options::=--force-unsafe-io --assume-yes --quiet";
    assert_eq!(
        env.rec.lines(),
        [
            format!("{apt} update"),
            "apt-cache pkgnames".to_string(),
            format!("{apt} install chrony"),
            "systemctl reload-or-restart chrony".to_string(),
        ]
    );
    let calls = env.rec.calls();
    assert!(calls[0]
        .env
        .contains(&("DEBIAN_FRONTEND".to_string(), "noninteractive".to_string())));
}

#[test]
fn a_package_apt_does_not_know_is_upstreams_installer_error() {
    let env = env_with(json!({"ntp": {"ntp_client": "ntp"}}));
    env.rec.answer("apt-cache", 0, b"chrony\n");
    let err = handle(&env.ctx("ntp")).unwrap_err();
    assert_eq!(err.py_class(), "PackageInstallerError");
    assert_eq!(
        err.to_string(),
        "Failed to install the following packages: {'ntp'}. See associated package manager logs for more details."
    );
    // The file is written before the installation, as upstream.
    assert!(env.host.exists("/etc/ntp.conf"));
}

#[test]
fn ubuntu_timesyncd_drop_in_lists_servers_then_pools() {
    let env = env_with(json!({
        "system_info": {"distro": "ubuntu"},
        "ntp": {"ntp_client": "systemd-timesyncd", "servers": ["s1"], "pools": ["p1", "p2"]}
    }));
    tool(&env, "/lib/systemd/systemd-timesyncd");
    handle(&env.ctx("ntp")).unwrap();
    assert_eq!(
        env.read("/etc/systemd/timesyncd.conf.d/cloud-init.conf"),
        "# cloud-init generated file\n# See timesyncd.conf(5) for details.\n\n[Time]\nNTP=s1 p1 p2 \n"
    );
    assert_eq!(env.rec.lines(), ["service systemd-timesyncd restart"]);
}

#[test]
fn rhel_chrony_uses_etc_chrony_conf_and_chronyd() {
    let env = env_with(json!({"system_info": {"distro": "rhel"}, "ntp": {"pools": ["p.example"]}}));
    tool(&env, "/usr/sbin/chronyd");
    env.host
        .create_dir_all("/run/systemd/system", 0o755)
        .unwrap();
    handle(&env.ctx("ntp")).unwrap();
    let conf = env.read("/etc/chrony.conf");
    assert!(conf.contains("pool p.example iburst\n"), "{conf}");
    assert_eq!(env.rec.lines(), ["systemctl reload-or-restart chronyd"]);
}

#[test]
fn sles_defaults_to_the_opensuse_pool_and_old_releases_prefer_ntp() {
    let env = env_with(json!({"system_info": {"distro": "sles"}, "ntp": {}}));
    env.write("/etc/os-release", "NAME=\"SLES\"\nVERSION_ID=\"12.5\"\n");
    tool(&env, "/usr/sbin/ntpd");
    tool(&env, "/usr/sbin/chronyd");
    handle(&env.ctx("ntp")).unwrap();
    let conf = env.read("/etc/ntp.conf");
    assert!(
        conf.contains("pool 0.opensuse.pool.ntp.org iburst\n"),
        "{conf}"
    );
    assert_eq!(env.rec.lines(), ["service ntpd restart"]);

    let env = env_with(json!({"system_info": {"distro": "opensuse-leap"}, "ntp": {}}));
    env.write(
        "/etc/os-release",
        "NAME=\"openSUSE Leap\"\nVERSION_ID=\"15.6\"\n",
    );
    tool(&env, "/usr/sbin/ntpd");
    tool(&env, "/usr/sbin/chronyd");
    handle(&env.ctx("ntp")).unwrap();
    assert!(env
        .read("/etc/chrony.conf")
        .contains("pool 0.opensuse-leap.pool.ntp.org iburst\n"));
    assert_eq!(env.rec.lines(), ["service chronyd restart"]);
}

#[test]
fn alpine_busybox_ntpd_gets_default_servers_not_pools() {
    let env = env_with(json!({"system_info": {"distro": "alpine"}, "ntp": {"ntp_client": "ntp"}}));
    tool(&env, "/usr/sbin/ntpd");
    handle(&env.ctx("ntp")).unwrap();
    let conf = env.read("/etc/ntp.conf");
    assert!(
        conf.contains("# Servers\nserver 0.pool.ntp.org\nserver 1.pool.ntp.org\n"),
        "{conf}"
    );
    assert_eq!(env.rec.lines(), ["rc-service --nocolor ntpd restart"]);
}

#[test]
fn freebsd_chrony_replaces_the_base_ntpd() {
    let env =
        env_with(json!({"system_info": {"distro": "freebsd"}, "ntp": {"ntp_client": "chrony"}}));
    tool(&env, "/usr/local/sbin/chronyd");
    handle(&env.ctx("ntp")).unwrap();
    assert!(env
        .read("/usr/local/etc/chrony.conf")
        .contains("pool 0.freebsd.pool.ntp.org iburst\n"));
    assert_eq!(
        env.rec.lines(),
        [
            "service ntpd stop",
            "service ntpd disable",
            "service chronyd enable",
            "service chronyd restart"
        ]
    );
}

#[test]
fn openbsd_openntpd_is_enabled_and_restarted_with_rcctl() {
    let env = env_with(
        json!({"system_info": {"distro": "openbsd"}, "ntp": {"ntp_client": "openntpd", "servers": ["s1"]}}),
    );
    tool(&env, "/usr/sbin/ntpd");
    handle(&env.ctx("ntp")).unwrap();
    let conf = env.read("/etc/ntpd.conf");
    assert!(conf.contains("# servers\nserver s1\nsensor *\n"), "{conf}");
    assert_eq!(env.rec.lines(), ["rcctl enable ntpd", "rcctl restart ntpd"]);
}

#[test]
fn cos_without_servers_or_pools_writes_nothing() {
    let env = env_with(json!({"system_info": {"distro": "cos"}, "ntp": {"ntp_client": "chrony"}}));
    tool(&env, "/usr/sbin/chronyd");
    handle(&env.ctx("ntp")).unwrap();
    assert!(!env.host.exists("/etc/chrony/chrony.conf"));
    assert_eq!(env.rec.lines(), ["service chronyd restart"]);
}

#[test]
fn a_distro_without_a_template_fails_as_upstream() {
    logcap::init();
    let env = env_with(json!({"system_info": {"distro": "arch"}, "ntp": {"ntp_client": "chrony"}}));
    let err = handle(&env.ctx("ntp")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "No template found, not rendering chrony.conf.{distro}"
    );
    assert!(logcap::warnings()
        .iter()
        .any(|w| w
            == "No template found in /etc/cloud/templates for template named chrony.conf.arch"));
}

#[test]
fn the_targets_template_wins_over_the_built_in_layout() {
    let env = env_with(json!({"ntp": {"ntp_client": "chrony", "servers": ["a", "b"]}}));
    tool(&env, "/usr/sbin/chronyd");
    env.write(
        "/etc/cloud/templates/chrony.conf.debian.tmpl",
        "## template:jinja\n{% for s in servers %}S={{s}}\n{% endfor %}",
    );
    handle(&env.ctx("ntp")).unwrap();
    assert_eq!(env.read("/etc/chrony/chrony.conf"), "S=a\nS=b\n");
}

#[test]
fn a_custom_client_renders_its_own_template() {
    let env = env_with(json!({"ntp": {
        "ntp_client": "mine",
        "pools": ["p1"],
        "config": {
            "confpath": "/etc/mine/mine.conf",
            "check_exe": "mined",
            "packages": [],
            "service_name": "mine",
            "template": "## template:jinja\n# mine\n{% for p in pools %}pool {{p}}\n{% endfor %}"
        }
    }}));
    handle(&env.ctx("ntp")).unwrap();
    assert_eq!(env.read("/etc/mine/mine.conf"), "# mine\npool p1\n");
    assert_eq!(env.mode("/run/cloud-init/tmp"), 0o1777);
    // No packages: nothing to install even though `mined` is missing.
    assert_eq!(env.rec.lines(), ["service mine restart"]);
}

#[test]
fn bad_config_is_upstreams_value_error() {
    let env = env_with(json!({"ntp": {"ntp_client": "x", "config": {
        "confpath": "/etc/x.conf", "packages": "x", "service_name": ["x"]
    }}}));
    let err = handle(&env.ctx("ntp")).unwrap_err();
    assert_eq!(err.py_class(), "ValueError");
    assert_eq!(
        err.to_string(),
        "Invalid ntp configuration:\\nMissing required ntp:config keys: check_exe\n\
         Expected a list of required package names for ntp:config:packages. Found (x)\n\
         Expected a string type for ntp:config:service_name. Found (['x'])"
    );
    let env = env_with(json!({"ntp": {"ntp_client": "x", "config": {
        "confpath": "", "packages": [], "service_name": "x", "check_exe": "x"
    }}}));
    assert_eq!(
        handle(&env.ctx("ntp")).unwrap_err().to_string(),
        "Invalid ntp configuration:\\nEither ntp:config:template or ntp:config:template_name values are required\n\
         Expected a config file path ntp:config:confpath. Found ()"
    );
}

#[test]
fn disabled_absent_and_non_mapping_configs() {
    let env = env_with(json!({"ntp": {"enabled": false}}));
    handle(&env.ctx("ntp")).unwrap();
    let env2 = env_with(json!({}));
    handle(&env2.ctx("ntp")).unwrap();
    assert!(env.rec.lines().is_empty() && env2.rec.lines().is_empty());
    let env = env_with(json!({"ntp": ["a"]}));
    assert_eq!(
        handle(&env.ctx("ntp")).unwrap_err().to_string(),
        "'ntp' key existed in config, but not a dictionary type, is a list instead"
    );
}

#[test]
fn a_failing_restart_is_upstreams_process_execution_error() {
    logcap::init();
    let env = env_with(json!({"ntp": {"ntp_client": "chrony"}}));
    tool(&env, "/usr/sbin/chronyd");
    env.rec.answer("service", 1, b"");
    let err = handle(&env.ctx("ntp")).unwrap_err();
    assert_eq!(err.py_class(), "ProcessExecutionError");
    assert!(err
        .to_string()
        .starts_with("Unexpected error while running command.\nCommand: ['service', 'chrony', 'restart']\nExit code: 1\n"));
}

#[test]
fn distro_option_selects_the_client() {
    let env =
        env_with(json!({"system_info": {"distro": "debian", "ntp_client": "ntp"}, "ntp": {}}));
    tool(&env, "/usr/sbin/chronyd");
    tool(&env, "/usr/sbin/ntpd");
    handle(&env.ctx("ntp")).unwrap();
    assert!(env.host.exists("/etc/ntp.conf"));
    assert!(!env.host.exists("/etc/chrony/chrony.conf"));
}

#[test]
fn other_families_install_with_their_package_manager_once_per_instance_refresh() {
    let cases: [(&str, &[&str]); 6] = [
        ("rhel", &["dnf -y install chrony"]),
        (
            "opensuse",
            &["zypper --non-interactive install --auto-agree-with-licenses chrony"],
        ),
        ("alpine", &["apk --quiet update", "apk --quiet add chrony"]),
        (
            "arch",
            &[
                "pacman -Sy --quiet --noconfirm -y",
                "pacman -Sy --quiet --noconfirm chrony",
            ],
        ),
        (
            "gentoo",
            &["emerge --quiet --sync", "emerge --quiet chrony"],
        ),
        ("freebsd", &["pkg update", "pkg install chrony"]),
    ];
    for (distro, want) in cases {
        let env = env_with(
            json!({"system_info": {"distro": distro}, "ntp": {"ntp_client": "chrony", "servers": ["s"]}}),
        );
        for t in ["dnf", "zypper", "apk", "pacman", "emerge", "pkg"] {
            tool(&env, &format!("/usr/bin/{t}"));
        }
        env.write(
            "/etc/cloud/templates/chrony.conf.arch.tmpl",
            "## template:jinja\nx\n",
        );
        env.write(
            "/etc/cloud/templates/chrony.conf.gentoo.tmpl",
            "## template:jinja\nx\n",
        );
        env.write(
            "/etc/os-release",
            "NAME=\"openSUSE Leap\"\nVERSION_ID=\"15.5\"\n",
        );
        pkg::install_packages(&env.ctx("ntp"), &["chrony".into()]).unwrap();
        assert_eq!(env.rec.lines(), want, "{distro}");
        // The refresh is once per instance.
        pkg::install_packages(&env.ctx("ntp"), &["chrony".into()]).unwrap();
        let refreshes = env
            .rec
            .lines()
            .iter()
            .filter(|l| want.len() == 2 && *l == want[0])
            .count();
        assert!(refreshes <= 1, "{distro}");
    }
}

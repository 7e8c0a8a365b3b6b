use super::sources_list::{disable_suites, is_deb822};
use super::{convert, mirrors as m};
use crate::testutil::{logcap, TestEnv};
use serde_json::{json, Map, Value};

const ARMORED: &str =
    "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\naGFybmVzcw==\n-----END PGP PUBLIC KEY BLOCK-----\n";

/// A Debian target with apt, amd64 and trixie as the root's tools say.
fn env(cfg: Value) -> TestEnv {
    let env = TestEnv::new(cfg);
    env.write_mode("/usr/bin/apt-get", "#!/bin/sh\n", 0o755);
    env.write_mode("/usr/bin/dpkg", "#!/bin/sh\n", 0o755);
    env.write("/etc/os-release", "ID=debian\nVERSION_CODENAME=trixie\n");
    env.rec.answer("dpkg", 0, b"amd64\n");
    env
}

fn with_gpg(env: &TestEnv) {
    env.write_mode("/usr/bin/gpg", "#!/bin/sh\n", 0o755);
    env.rec.answer("gpg", 0, b"\x99binary-key");
}

fn cfg_map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

#[test]
fn v2_keys_move_under_apt_with_the_proxy_swap_and_a_primary_mirror() {
    let mut cfg = cfg_map(json!({
        "apt_mirror": "http://m/", "apt_mirror_search_dns": true,
        "apt_https_proxy": "https://p", "apt_proxy": "", "apt_preserve_sources_list": false
    }));
    convert::to_v3(&mut cfg).unwrap();
    assert_eq!(
        Value::Object(cfg),
        json!({"apt": {
            "ftp_proxy": "https://p",
            "preserve_sources_list": false,
            "primary": [{"arches": ["default"], "uri": "http://m/", "search_dns": true}]
        }})
    );
}

#[test]
fn v1_source_lists_become_mappings_and_old_keys_must_agree_with_new() {
    let mut cfg = cfg_map(json!({"apt_sources": [
        {"source": "deb http://a/ x main"},
        {"source": "deb http://b/ x main", "filename": "b.list"}
    ]}));
    convert::to_v3(&mut cfg).unwrap();
    let srcs = cfg["apt"]["sources"].as_object().unwrap();
    assert_eq!(srcs.len(), 2);
    assert_eq!(srcs["b.list"]["source"], "deb http://b/ x main");
    let (k, v) = srcs.iter().find(|(k, _)| *k != "b.list").unwrap();
    assert!(
        k.ends_with("_cloud_config_sources.list") && k.len() == 9 + 25,
        "{k}"
    );
    assert_eq!(v["filename"], "cloud_config_sources.list");

    let mut cfg = cfg_map(json!({"apt_proxy": "http://a", "apt": {"proxy": "http://b"}}));
    let err = convert::to_v3(&mut cfg).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Old and New apt format defined with unequal values http://a vs http://b @ apt_proxy"
    );
    // Agreeing or unmapped old keys are simply dropped when `apt` is given.
    let mut cfg =
        cfg_map(json!({"apt_mirror": "http://m", "apt": {"preserve_sources_list": true}}));
    convert::to_v3(&mut cfg).unwrap();
    assert_eq!(
        Value::Object(cfg),
        json!({"apt": {"preserve_sources_list": true}})
    );
}

#[test]
fn preserved_sources_with_nothing_else_touch_nothing() {
    let env = env(json!({"apt": {"preserve_sources_list": true}}));
    env.write("/etc/apt/sources.list", "deb http://x/ trixie main\n");
    super::handle(&env.ctx("apt_configure")).unwrap();
    assert_eq!(
        env.read("/etc/apt/sources.list"),
        "deb http://x/ trixie main\n"
    );
    assert!(!env.host.exists("/etc/apt/sources.list.d/debian.sources"));
    // Only the read-only questions were asked.
    let lines = env.rec.lines();
    assert!(lines.iter().all(|l| !l.starts_with("apt-get")), "{lines:?}");
}

#[test]
fn no_apt_config_and_no_apt_does_nothing() {
    let env = TestEnv::new(json!({}));
    super::handle(&env.ctx("apt_configure")).unwrap();
    assert!(env.rec.lines().is_empty());
}

#[test]
fn default_template_renders_deb822_and_removes_sources_list() {
    let env = env(json!({
        "apt": {"preserve_sources_list": false},
        "system_info": {"distro": "debian", "package_mirrors": [
            {"arches": ["default"], "failsafe": {
                "primary": "https://deb.debian.org/debian",
                "security": "https://deb.debian.org/debian-security"}}]}
    }));
    env.write("/etc/apt/sources.list", "deb http://x/ trixie main\n");
    super::handle(&env.ctx("apt_configure")).unwrap();
    let text = env.read("/etc/apt/sources.list.d/debian.sources");
    assert!(text.starts_with("## Note, this file is written by cloud-init"));
    assert!(text.contains(
        "Types: deb deb-src\nURIs: https://deb.debian.org/debian\nSuites: trixie trixie-updates trixie-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    ));
    assert!(text.ends_with(
        "URIs: https://deb.debian.org/debian-security\nSuites: trixie-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    ));
    assert_eq!(env.mode("/etc/apt/sources.list.d/debian.sources"), 0o644);
    assert!(!env.host.exists("/etc/apt/sources.list"));
}

#[test]
fn ubuntu_replaces_sources_list_with_its_pointer_and_uses_ports_defaults() {
    let env = TestEnv::new(json!({
        "apt": {"preserve_sources_list": false},
        "system_info": {"distro": "ubuntu"}
    }));
    env.write_mode("/usr/bin/apt-get", "#!/bin/sh\n", 0o755);
    env.write("/etc/os-release", "ID=ubuntu\nVERSION_CODENAME=trixie\n");
    env.rec.answer("dpkg", 0, b"arm64\n");
    env.write("/etc/apt/sources.list", "deb http://x/ noble main\n");
    super::handle(&env.ctx("apt_configure")).unwrap();
    let text = env.read("/etc/apt/sources.list.d/ubuntu.sources");
    assert!(
        text.contains("URIs: http://ports.ubuntu.com/ubuntu-ports\nSuites: trixie trixie-updates")
    );
    assert!(text.contains("Signed-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg"));
    assert!(env
        .read("/etc/apt/sources.list")
        .starts_with("# Ubuntu sources have moved"));
}

#[test]
fn one_line_sources_list_goes_to_sources_list_with_mirror_keys() {
    let env = env(json!({"apt": {
        "preserve_sources_list": false,
        "primary": [{"arches": ["arm64"], "uri": "http://wrong/"},
                    {"arches": ["default"], "uri": "http://p/", "key": ARMORED}],
        "security": [{"arches": ["amd64"], "uri": "http://s/"}],
        "sources_list": "deb $MIRROR $RELEASE main\ndeb $SECURITY $RELEASE-security main # $primary_key\n"
    }}));
    with_gpg(&env);
    super::handle(&env.ctx("apt_configure")).unwrap();
    assert_eq!(
        env.read("/etc/apt/sources.list"),
        "deb http://p/ trixie main\ndeb http://s/ trixie-security main # /etc/apt/trusted.gpg.d/primary.gpg\n"
    );
    assert_eq!(
        env.host.read("/etc/apt/trusted.gpg.d/primary.gpg").unwrap(),
        b"\x99binary-key"
    );
    let gpg = env
        .rec
        .calls()
        .into_iter()
        .find(|c| c.argv[0] == "gpg")
        .unwrap();
    assert_eq!(gpg.argv, vec!["gpg", "--dearmor"]);
    assert_eq!(gpg.stdin.as_deref(), Some(ARMORED.as_bytes()));
    assert!(gpg
        .env
        .iter()
        .any(|(k, v)| k == "GNUPGHOME" && v.starts_with("/tmp/tmp")));
}

#[test]
fn sources_with_key_file_filename_and_append() {
    let env = env(json!({"apt": {"preserve_sources_list": true, "sources": {
        "repo": {"source": "deb [signed-by=$KEY_FILE] http://10.0.2.100/ ./", "key": ARMORED,
                 "filename": "harness.list"},
        "more": {"source": "deb $MIRROR $RELEASE main", "filename": "harness"},
        "fresh": {"source": "deb http://f/ x main", "append": false},
    }}}));
    with_gpg(&env);
    env.write("/etc/apt/sources.list.d/fresh.list", "old\n");
    super::handle(&env.ctx("apt_configure")).unwrap();
    assert_eq!(
        env.read("/etc/apt/sources.list.d/harness.list"),
        "deb [signed-by=/etc/apt/cloud-init.gpg.d/harness.gpg] http://10.0.2.100/ ./\ndeb https://deb.debian.org/debian trixie main\n"
            .replace("https://deb.debian.org/debian", "http://archive.ubuntu.com/ubuntu/")
    );
    assert_eq!(
        env.read("/etc/apt/sources.list.d/fresh.list"),
        "deb http://f/ x main\n"
    );
    assert!(env.host.exists("/etc/apt/cloud-init.gpg.d/harness.gpg"));
    let lines = env.rec.lines();
    assert_eq!(
        lines.last().unwrap(),
        "apt-get --option=Dpkg::Options::=--force-confold --option=Dpkg::options::=--force-unsafe-io --assume-yes --quiet update"
    );
}

#[test]
fn missing_gpg_is_installed_and_ppa_goes_to_add_apt_repository() {
    let env = env(json!({"apt": {"sources": {
        "p": {"source": "ppa:me/archive"},
        "k": {"key": ARMORED}
    }}}));
    env.write_mode("/usr/bin/add-apt-repository", "#!/bin/sh\n", 0o755);
    env.write_mode("/usr/bin/apt-cache", "#!/bin/sh\n", 0o755);
    env.rec.answer("apt-cache", 0, b"gnupg\n");
    // gpg stays missing: the key cannot be added, which upstream logs.
    logcap::init();
    super::handle(&env.ctx("apt_configure")).unwrap();
    let lines = env.rec.lines();
    assert!(
        lines.iter().any(|l| l.ends_with("install gnupg")),
        "{lines:?}"
    );
    assert!(lines.contains(&"add-apt-repository --no-update ppa:me/archive".to_string()));
    assert!(logcap::warnings()
        .iter()
        .any(|w| w.starts_with("Gpg error, failed to add key: -----BEGIN")));
    assert!(!env.host.exists("/etc/apt/sources.list.d/p.list"));
}

#[test]
fn proxies_and_conf_are_written_and_removed_when_gone() {
    let env = env(json!({"apt": {
        "proxy": "http://p:1", "https_proxy": "https://s:2", "ftp_proxy": "ftp://f:3",
        "conf": "APT::Get::Assume-Yes \"true\";\n"
    }}));
    super::handle(&env.ctx("apt_configure")).unwrap();
    assert_eq!(
        env.read("/etc/apt/apt.conf.d/90cloud-init-aptproxy"),
        "Acquire::http::Proxy \"http://p:1\";\nAcquire::ftp::Proxy \"ftp://f:3\";\nAcquire::https::Proxy \"https://s:2\";\n"
    );
    assert_eq!(
        env.read("/etc/apt/apt.conf.d/94cloud-init-config"),
        "APT::Get::Assume-Yes \"true\";\n"
    );
    let env2 = TestEnv::new(json!({"apt": {"preserve_sources_list": true}}));
    env2.rec.answer("dpkg", 0, b"amd64\n");
    env2.write("/etc/apt/apt.conf.d/90cloud-init-aptproxy", "x");
    env2.write("/etc/apt/apt.conf.d/94cloud-init-config", "y");
    super::handle(&env2.ctx("apt_configure")).unwrap();
    assert!(!env2
        .host
        .exists("/etc/apt/apt.conf.d/90cloud-init-aptproxy"));
    assert!(!env2.host.exists("/etc/apt/apt.conf.d/94cloud-init-config"));
}

#[test]
fn debconf_sets_are_fed_in_name_order_and_installed_packages_reported() {
    logcap::init();
    let env = env(json!({"apt": {"debconf_selections": {
        "b": "# c\ntzdata tzdata/Areas select Europe",
        "a": "cloud-init cloud-init/datasources multiselect NoCloud"
    }}}));
    env.write_mode("/usr/bin/debconf-set-selections", "#!/bin/sh\n", 0o755);
    env.write_mode("/usr/bin/dpkg-query", "#!/bin/sh\n", 0o755);
    env.write_mode("/usr/sbin/dpkg-reconfigure", "#!/bin/sh\n", 0o755);
    env.rec.answer(
        "dpkg-query",
        0,
        b"ii  tzdata:all  2025a  all  time zone\nii  cloud-init 25.1 all x\nrc  gone 1 all y\n",
    );
    env.write(
        "/etc/cloud/cloud.cfg.d/90_dpkg.cfg",
        "datasource_list: [x]\n",
    );
    super::handle(&env.ctx("apt_configure")).unwrap();
    let calls = env.rec.calls();
    let dss = calls
        .iter()
        .find(|c| c.argv[0] == "debconf-set-selections")
        .unwrap();
    assert_eq!(
        dss.stdin.as_deref(),
        Some(&b"cloud-init cloud-init/datasources multiselect NoCloud\n# c\ntzdata tzdata/Areas select Europe\n"[..])
    );
    assert!(env
        .rec
        .lines()
        .contains(&"dpkg-reconfigure --frontend=noninteractive cloud-init".to_string()));
    assert!(!env.host.exists("/etc/cloud/cloud.cfg.d/90_dpkg.cfg"));
    assert!(logcap::warnings().contains(
        &"The following packages were installed and preseeded, but cannot be unconfigured: ['tzdata']".to_string()
    ));
}

#[test]
fn one_line_suites_are_commented_out() {
    let src = "# c\ndeb http://m trixie main\ndeb [ arch=amd64 k=v ] http://m trixie-updates main\ndeb-src http://m trixie-backports main\n";
    let out = disable_suites(
        &["updates".into(), "$RELEASE-backports".into()],
        src,
        "trixie",
    );
    assert_eq!(
        out,
        "# c\ndeb http://m trixie main\n# suite disabled by cloud-init: deb [ arch=amd64 k=v ] http://m trixie-updates main\n# suite disabled by cloud-init: deb-src http://m trixie-backports main\n"
    );
}

#[test]
fn deb822_suites_are_redacted_and_empty_entries_disabled() {
    let src = "## head\nTypes: deb\nURIs: http://m\nSuites: trixie trixie-updates\nComponents: main\n\n## sec\nTypes: deb\nURIs: http://s\nSuites: trixie-security\nComponents: main\n";
    let out = disable_suites(&["updates".into(), "security".into()], src, "trixie");
    assert_eq!(
        out,
        "## head\nTypes: deb\nURIs: http://m\n# cloud-init disable_suites redacted: Suites: trixie trixie-updates\nSuites: trixie\nComponents: main\n\n\n## sec\n## Entry disabled by cloud-init, due to disable_suites\n# disabled by cloud-init: Types: deb\n# disabled by cloud-init: URIs: http://s\n# disabled by cloud-init: Suites: trixie-security\n# disabled by cloud-init: Components: main\n"
    );
    assert!(is_deb822(src));
    assert!(!is_deb822("deb http://x y z\nTypes: deb\n"));
}

#[test]
fn mirror_helpers_follow_upstream() {
    assert_eq!(
        m::apt_file_prefix("http://archive.ubuntu.com/ubuntu/"),
        "archive.ubuntu.com_ubuntu"
    );
    assert!(m::is_ec2_zone("us-east-1b"));
    assert!(!m::is_ec2_zone("nova"));
    let subst = vec![("region".to_string(), "r1".to_string())];
    assert_eq!(
        m::fill("http://%(region)s.m/x", &subst).as_deref(),
        Some("http://r1.m/x")
    );
    assert_eq!(m::fill("http://%(ec2_region)s.m/", &subst), None);
    assert_eq!(
        m::sanitize_mirror_url("http://us_east.m:80/x").as_deref(),
        Some("http://us-east.m:80/x")
    );
    assert_eq!(super::keys::stem("/etc/apt/sources.list.d/x.list"), "x");
}

#[test]
fn search_takes_ip_literals_and_target_hosts_but_asks_no_resolver_in_a_sandbox() {
    let env = env(json!({"apt": {"preserve_sources_list": true, "primary": [
        {"arches": ["default"], "search": ["http://nowhere.invalid/d", "http://mirror.lan/d"]}],
        "security": [{"arches": ["default"], "search": ["http://[::1]:8080/s"]}],
        "sources": {"x": {"source": "deb $PRIMARY $RELEASE main\ndeb $SECURITY s main"}}}}));
    env.write(
        "/etc/hosts",
        "127.0.0.1 localhost\n10.1.1.1 mirror.lan mirror\n",
    );
    super::handle(&env.ctx("apt_configure")).unwrap();
    assert_eq!(
        env.read("/etc/apt/sources.list.d/x.list"),
        "deb http://mirror.lan/d trixie main\ndeb http://[::1]:8080/s s main\n"
    );
}

#[test]
fn non_mapping_apt_is_a_value_error() {
    let env = env(json!({"apt": ["x"]}));
    let err = super::handle(&env.ctx("apt_configure")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Expected dictionary for 'apt' config, found <class 'list'>"
    );
}

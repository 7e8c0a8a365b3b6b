//! dist/freebsd: the rc.d scripts (their rcorder place, run for real against
//! a stand-in rc.subr), the ports-tree port, the FreeBSD cloud.cfg and hosts
//! template.
//! Nothing here can be built or booted on Linux; these check what the
//! files say.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod pkgtest;

use pkgtest::{render_hosts_template, repo};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn freebsd(p: &str) -> PathBuf {
    pkgtest::dist("freebsd").join(p)
}

const STAGES: &[(&str, &str)] = &[
    ("cloudinitlocal", "init --local"),
    ("cloudinit", "init"),
    ("cloudconfig", "modules --mode config"),
    ("cloudfinal", "modules --mode final"),
];
const SCRIPTS: &[&str] = &[
    "cloudconfig",
    "cloudfinal",
    "cloudinit",
    "cloudinitlocal",
    "dsidentify",
];

#[derive(Debug, Default, PartialEq)]
struct Order {
    provide: BTreeSet<String>,
    require: BTreeSet<String>,
    before: BTreeSet<String>,
}

/// The rcorder(8) header lines of a script; a keyword may repeat.
fn order(text: &str) -> Order {
    let mut o = Order::default();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("# ") else {
            continue;
        };
        let Some((k, v)) = rest.split_once(':') else {
            continue;
        };
        let set = match k {
            "PROVIDE" => &mut o.provide,
            "REQUIRE" => &mut o.require,
            "BEFORE" => &mut o.before,
            _ => continue,
        };
        set.extend(v.split_whitespace().map(String::from));
    }
    o
}

fn words(s: &str) -> BTreeSet<String> {
    s.split_whitespace().map(String::from).collect()
}

fn script(name: &str) -> String {
    fs::read_to_string(freebsd("rc.d").join(name)).unwrap()
}

#[test]
fn rc_scripts_keep_upstreams_order_lines() {
    let mut names: Vec<String> = fs::read_dir(freebsd("rc.d"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, SCRIPTS);
    // sysvinit/freebsd/*.tmpl of upstream 25.1.4.
    let upstream = [
        (
            "cloudinitlocal",
            "ldconfig cleanvar",
            "NETWORKING cloudinit cloudconfig cloudfinal",
        ),
        (
            "cloudinit",
            "FILESYSTEMS NETWORKING cloudinitlocal ldconfig devd",
            "LOGIN cloudconfig cloudfinal",
        ),
        ("cloudconfig", "cloudinit cloudinitlocal", "cloudfinal"),
        (
            "cloudfinal",
            "LOGIN cloudinit cloudconfig cloudinitlocal cron mail sshd swaplate",
            "",
        ),
        ("dsidentify", "cleanvar", "cloudinitlocal"),
    ];
    for (name, require, before) in upstream {
        let got = order(&script(name));
        let want = Order {
            provide: words(name),
            require: words(require),
            before: words(before),
        };
        assert_eq!(got, want, "{name}");
    }
}

/// rcorder(8) in small: an edge from each REQUIRE to the script and from
/// the script to each BEFORE; names no script provides (NETWORKING, LOGIN,
/// ...) are nodes too. Ties go alphabetically, so the order is stable.
fn rcorder(scripts: &[(String, Order)]) -> Vec<String> {
    let mut nodes = BTreeSet::new();
    let mut edges: BTreeSet<(String, String)> = BTreeSet::new();
    for (_, o) in scripts {
        for p in &o.provide {
            nodes.insert(p.clone());
            for r in &o.require {
                nodes.insert(r.clone());
                edges.insert((r.clone(), p.clone()));
            }
            for b in &o.before {
                nodes.insert(b.clone());
                edges.insert((p.clone(), b.clone()));
            }
        }
    }
    let mut indeg: BTreeMap<String, usize> = nodes.iter().map(|n| (n.clone(), 0)).collect();
    for (_, to) in &edges {
        *indeg.get_mut(to).unwrap() += 1;
    }
    let mut out = Vec::new();
    while let Some(n) = indeg.iter().find(|(_, d)| **d == 0).map(|(n, _)| n.clone()) {
        indeg.remove(&n);
        for (_, to) in edges.iter().filter(|(from, _)| *from == n) {
            *indeg.get_mut(to).unwrap() -= 1;
        }
        out.push(n);
    }
    assert!(indeg.is_empty(), "a cycle among {:?}", indeg.keys());
    out
}

#[test]
fn rcorder_runs_the_stages_in_boot_order() {
    let scripts: Vec<(String, Order)> = SCRIPTS
        .iter()
        .map(|s| (s.to_string(), order(&script(s))))
        .collect();
    let seq = rcorder(&scripts);
    let at = |n: &str| {
        seq.iter()
            .position(|x| x == n)
            .unwrap_or_else(|| panic!("{n} not in {seq:?}"))
    };
    for w in [
        "dsidentify",
        "cloudinitlocal",
        "NETWORKING",
        "cloudinit",
        "cloudconfig",
        "cloudfinal",
    ]
    .windows(2)
    {
        assert!(at(w[0]) < at(w[1]), "{} before {}: {seq:?}", w[0], w[1]);
    }
    assert!(at("FILESYSTEMS") < at("cloudinit"));
    assert!(at("cloudinit") < at("LOGIN"));
    assert!(at("LOGIN") < at("cloudfinal"));
    assert!(at("sshd") < at("cloudfinal"));
    // The sort itself sees a cycle.
    let a = Order {
        provide: words("a"),
        require: words("b"),
        before: BTreeSet::new(),
    };
    let b = Order {
        provide: words("b"),
        require: words("a"),
        before: BTreeSet::new(),
    };
    let caught = std::panic::catch_unwind(|| rcorder(&[("a".into(), a), ("b".into(), b)]));
    assert!(caught.is_err());
}

#[test]
fn rc_scripts_parse_and_name_the_stage_commands() {
    for name in SCRIPTS {
        let text = script(name);
        let out = Command::new("sh")
            .arg("-n")
            .arg(freebsd("rc.d").join(name))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.starts_with("#!/bin/sh\n"), "{name}");
        let has = |l: &str| text.lines().any(|x| x.trim() == l);
        assert!(has(". /etc/rc.subr"), "{name}");
        assert!(has(&format!("name=\"{name}\"")), "{name}");
        // One rc.conf switch, as upstream's: cloudinit_enable.
        assert!(has("rcvar=\"cloudinit_enable\""), "{name}");
        assert!(has("load_rc_config cloudinit"), "{name}");
        assert!(has(": ${cloudinit_enable:=\"NO\"}"), "{name}");
        assert!(has("run_rc_command \"$1\""), "{name}");
        assert!(has("stop_cmd=\":\""), "{name}");
        assert!(
            text.contains("[ -e /usr/local/etc/cloud/cloud-init.disabled ]"),
            "{name}"
        );
        assert!(
            text.contains("kenv -q kernel_options 2>/dev/null | grep -q 'cloud-init=disabled'"),
            "{name}"
        );
    }
    for (name, args) in STAGES {
        let text = script(name);
        assert!(text.contains("command=\"/usr/local/bin/cloud-init\"\n"));
        assert!(
            text.lines()
                .any(|l| l.trim() == format!("${{command}} {args}")),
            "{name}"
        );
    }
    let ds = script("dsidentify");
    assert!(ds.contains("command=\"/usr/local/lib/cloud-init/ds-identify\"\n"));
    assert!(ds.contains(": ${cloudinit_dsidentify_enable:=\"NO\"}"));
}

/// Runs an rc.d script with `/usr/local` and `/etc/rc.subr` moved into
/// `root`: a stand-in rc.subr with what the scripts use, a fake
/// `cloud-init` that logs its arguments and a fake `kenv`.
fn run_rc(root: &Path, name: &str, rc_conf: &str, kernel_options: &str) -> (String, String) {
    let r = root.display().to_string();
    fs::create_dir_all(root.join("bin")).unwrap();
    fs::create_dir_all(root.join("lib/cloud-init")).unwrap();
    fs::write(
        root.join("rc.subr"),
        r#"
load_rc_config() { . "$RC_ROOT/rc.conf"; }
warn() { echo "$0: WARNING: $*" >&2; }
checkyesno() {
    eval "_v=\$$1"
    case $_v in [Yy][Ee][Ss]|[Tt][Rr][Uu][Ee]|[Oo][Nn]|1) return 0;; *) return 1;; esac
}
run_rc_command() {
    case "$1" in
    start) checkyesno "$rcvar" || return 0
           eval "_env=\${${name}_env}"
           [ -z "$_env" ] || eval "export -- $_env"
           $start_cmd;;
    stop) $stop_cmd;;
    esac
}
"#,
    )
    .unwrap();
    fs::write(root.join("rc.conf"), rc_conf).unwrap();
    let fake =
        format!("#!/bin/sh\necho \"$(basename \"$0\") $* [${{PATH_ETC_CLOUD:-}}]\" >> {r}/calls\n");
    for p in ["bin/cloud-init", "lib/cloud-init/ds-identify"] {
        fs::write(root.join(p), &fake).unwrap();
    }
    fs::write(
        root.join("bin/kenv"),
        format!("#!/bin/sh\n[ \"$*\" = '-q kernel_options' ] && echo '{kernel_options}'\n"),
    )
    .unwrap();
    for p in ["bin/cloud-init", "lib/cloud-init/ds-identify", "bin/kenv"] {
        Command::new("chmod")
            .arg("755")
            .arg(root.join(p))
            .status()
            .unwrap();
    }
    let text = script(name)
        .replace("/etc/rc.subr", &format!("{r}/rc.subr"))
        .replace("/usr/local", &r);
    let path = root.join(format!("{name}.sh"));
    fs::write(&path, text).unwrap();
    let _ = fs::remove_file(root.join("calls"));
    let out = Command::new("sh")
        .arg(&path)
        .arg("start")
        .env("RC_ROOT", root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        fs::read_to_string(root.join("calls")).unwrap_or_default(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn rc_scripts_run_their_stage_unless_disabled() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let on = "cloudinit_enable=\"YES\"\n";
    for (name, args) in STAGES {
        let (calls, _) = run_rc(root, name, on, "");
        assert_eq!(calls, format!("cloud-init {args} []\n"), "{name}");
        // Not enabled in rc.conf: nothing runs.
        let (calls, _) = run_rc(root, name, "", "");
        assert_eq!(calls, "", "{name}");
        let (calls, err) = run_rc(root, name, on, "console=ttyu0 cloud-init=disabled");
        assert_eq!(calls, "", "{name}");
        assert!(err.contains("disabled via kernel_options"), "{name}: {err}");
        fs::create_dir_all(root.join("etc/cloud")).unwrap();
        fs::write(root.join("etc/cloud/cloud-init.disabled"), "").unwrap();
        let (calls, err) = run_rc(root, name, on, "");
        assert_eq!(calls, "", "{name}");
        assert!(err.contains("cloud-init.disabled file"), "{name}: {err}");
        fs::remove_file(root.join("etc/cloud/cloud-init.disabled")).unwrap();
    }
    // ds-identify needs its own switch too, and is told where etc/cloud is.
    let (calls, _) = run_rc(root, "dsidentify", on, "");
    assert_eq!(calls, "");
    let both = "cloudinit_enable=\"YES\"\ncloudinit_dsidentify_enable=\"YES\"\n";
    let (calls, _) = run_rc(root, "dsidentify", both, "");
    assert_eq!(
        calls,
        format!("ds-identify  [{}/etc/cloud]\n", root.display())
    );
}

/// `NAME=\tvalue` assignments of the port's Makefile (continuations joined).
fn make_vars(text: &str) -> BTreeMap<String, String> {
    let joined = text.replace("\\\n", " ");
    joined
        .lines()
        .filter(|l| !l.starts_with('\t') && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| k.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        .map(|(k, v)| {
            (
                k.to_string(),
                v.split_whitespace().collect::<Vec<_>>().join(" "),
            )
        })
        .collect()
}

/// The staged paths the `do-install` recipe writes, relative to PREFIX, with
/// `.for` loops expanded. Man pages get `.gz`: the framework compresses them.
fn installed(text: &str) -> (BTreeSet<String>, Vec<String>) {
    let joined = text.replace("\\\n", " ");
    let body: Vec<&str> = joined
        .split("\ndo-install:\n")
        .nth(1)
        .unwrap()
        .lines()
        .take_while(|l| l.starts_with('\t') || l.starts_with(".for") || l.starts_with(".endfor"))
        .collect();
    let mut cmds = Vec::new();
    let mut i = 0;
    while i < body.len() {
        if let Some(head) = body[i].strip_prefix(".for ") {
            let (var, list) = head.split_once(" in ").unwrap();
            let end = i + body[i..].iter().position(|l| *l == ".endfor").unwrap();
            for v in list.split_whitespace() {
                for l in &body[i + 1..end] {
                    cmds.push(l.replace(&format!("${{{var}}}"), v));
                }
            }
            i = end + 1;
        } else {
            cmds.push(body[i].to_string());
            i += 1;
        }
    }
    let mut out = BTreeSet::new();
    let mut sources = Vec::new();
    for c in cmds {
        let w: Vec<&str> = c.split_whitespace().collect();
        if w.is_empty() || w[0].starts_with('#') || w[0].starts_with("@${MKDIR}") {
            continue;
        }
        let (src, dest) = (w[w.len() - 2], w[w.len() - 1]);
        if let Some(s) = src.strip_prefix("${WRKSRC}/") {
            sources.push(s.to_string());
        }
        let rel = dest
            .replace("${STAGEDIR}${ETCDIR}", "${STAGEDIR}${PREFIX}/etc/cloud")
            .strip_prefix("${STAGEDIR}${PREFIX}/")
            .unwrap_or_else(|| panic!("{c}"))
            .to_string();
        let rel = if w[0] == "${INSTALL_MAN}" {
            format!("{rel}/{}.gz", src.rsplit('/').next().unwrap())
        } else {
            rel
        };
        out.insert(rel);
    }
    (out, sources)
}

#[test]
fn port_installs_what_its_plist_names() {
    let text = fs::read_to_string(freebsd("port/Makefile")).unwrap();
    let vars = make_vars(&text);
    let cargo = fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    let version = cargo
        .split("[workspace.package]")
        .nth(1)
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("version = ")))
        .unwrap()
        .trim_matches('"');
    assert_eq!(vars["PORTNAME"], "cloud-init-rs");
    assert_eq!(vars["DISTVERSION"], version);
    assert_eq!(vars["USES"], "cargo");
    assert_eq!(vars["LICENSE"], "APACHE20 GPLv3");
    assert_eq!(vars["LICENSE_COMB"], "dual");
    assert_eq!(
        vars["CONFLICTS_INSTALL"],
        "py*-cloud-init py*-cloud-init-devel"
    );
    assert_eq!(vars["ETCDIR"], "${PREFIX}/etc/cloud");
    assert_eq!(vars["CARGO_INSTALL"], "no");
    for k in ["CATEGORIES", "COMMENT", "WWW", "MAINTAINER"] {
        assert!(!vars[k].is_empty(), "{k}");
    }
    // Generated by the framework on FreeBSD; the step is written down.
    assert!(vars.contains_key("CARGO_CRATES"));
    assert!(text.contains("make cargo-crates"));
    let mut rc: Vec<&str> = vars["USE_RC_SUBR"].split_whitespace().collect();
    rc.sort();
    assert_eq!(rc, SCRIPTS);
    assert!(fs::read_to_string(freebsd("port/pkg-descr")).unwrap().len() > 100);
    let msg = fs::read_to_string(freebsd("port/pkg-message.in")).unwrap();
    assert!(msg.contains("sysrc cloudinit_enable=YES"), "{msg}");

    let plist = fs::read_to_string(freebsd("port/pkg-plist")).unwrap();
    let listed: BTreeSet<String> = plist
        .lines()
        .map(|l| l.strip_prefix("@sample ").unwrap_or(l))
        .map(|l| l.replace("%%ETCDIR%%", "etc/cloud"))
        .collect();
    assert!(listed.contains("etc/cloud/cloud.cfg.sample"));
    assert!(plist.contains("@sample %%ETCDIR%%/cloud.cfg.sample\n"));
    // USE_RC_SUBR puts the scripts in the plist itself.
    assert!(!listed.iter().any(|l| l.starts_with("etc/rc.d/")));
    let (staged, sources) = installed(&text);
    assert_eq!(listed, staged);
    for s in &sources {
        assert!(repo().join(s).is_file(), "{s}");
    }
    assert!(sources.contains(&"dist/freebsd/cloud.cfg".to_string()));
    for l in [
        "bin/cloud-init",
        "bin/cloud-id",
        "bin/cloud-init-per",
        "lib/cloud-init/ds-identify",
        "share/man/man1/cloud-init.1.gz",
    ] {
        assert!(listed.contains(l), "{l}");
    }
}

#[test]
fn cloud_cfg_keeps_no_linux_paths() {
    // Its content is compared with upstream's FreeBSD rendering in
    // crates/distro/tests/cloud_cfg.rs; here: the paths it holds.
    let text = fs::read_to_string(freebsd("cloud.cfg")).unwrap();
    let values: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .flat_map(str::split_whitespace)
        .filter(|w| w.starts_with('/'))
        .collect();
    assert_eq!(values, ["/bin/tcsh", "/var/run/cloud-init/"]);
    assert!(text.contains("\n  distro: freebsd\n"));
    // Its own comments point at the port's place.
    assert!(text.contains("/usr/local/etc/cloud/cloud.cfg.d/"));
    assert!(!text.contains(" /etc/cloud"));
}

#[test]
fn hosts_template_renders_as_upstream() {
    // Upstream 25.1.4's templates/hosts.freebsd.tmpl rendered by its own
    // templater (the oracle) with these values.
    const WANT: &str = "\
# Your system has configured 'manage_etc_hosts' as True.
# As a result, if you wish for changes to this file to persist
# then you will need to either
# a.) make changes to the master file in /etc/cloud/templates/hosts.freebsd.tmpl
# b.) change or remove the value of 'manage_etc_hosts' in
#     /etc/cloud/cloud.cfg or cloud-config from user-data

# The following lines are desirable for IPv6 capable hosts
::1 vm1.example.org vm1
::1 localhost.localdomain localhost
::1 localhost6.localdomain6 localhost6

# The following lines are desirable for IPv4 capable hosts
127.0.0.1 vm1.example.org vm1
127.0.0.1 localhost.localdomain localhost
127.0.0.1 localhost4.localdomain4 localhost4
";
    let got = render_hosts_template(&freebsd("hosts.freebsd.tmpl"));
    assert_eq!(got, WANT);
}

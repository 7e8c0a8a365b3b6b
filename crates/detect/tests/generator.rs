//! The generator: link, markers, log, cache, and the binary's argv forms.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ci_detect::{
    main_with, run_generator, Env, GeneratorDirs, Verdict, CLOUD_SYSTEM_TARGET, GENERATOR_PATH,
};
use ci_host::{Host, RecordingRunner, WriteOpts};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const LINK: &str = "/run/systemd/generator.early/multi-user.target.wants/cloud-init.target";

fn dirs() -> GeneratorDirs {
    GeneratorDirs {
        normal: "/run/systemd/generator".into(),
        early: "/run/systemd/generator.early".into(),
        late: "/run/systemd/generator.late".into(),
    }
}

/// A root with DMI, a command line and the given filesystem labels.
fn root(cmdline: &str, labels: &[&str]) -> (tempfile::TempDir, Host) {
    let d = tempfile::tempdir().unwrap();
    let h = Host::with_runner(d.path(), Arc::new(RecordingRunner::new()));
    let w = |p: &str, c: &str| {
        h.write_atomic(p, c.as_bytes(), &WriteOpts::default())
            .unwrap()
    };
    w(
        "/sys/class/dmi/id/product_name",
        "Standard PC (Q35 + ICH9, 2009)\n",
    );
    w("/proc/cmdline", &format!("{cmdline}\n"));
    w("/proc/uptime", "1.50 1.00\n");
    h.create_dir_all("/dev/disk/by-label", 0o755).unwrap();
    for l in labels {
        w(&format!("/dev/disk/by-label/{l}"), "");
    }
    (d, h)
}

fn read(h: &Host, p: &str) -> String {
    h.read_to_string(p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

#[test]
fn found_datasource_links_target_and_marks_enabled() {
    let (_d, h) = root("ro quiet", &["CIDATA"]);
    h.write_atomic("/run/cloud-init/disabled", b"", &WriteOpts::default())
        .unwrap();
    let g = run_generator(&h, &Env::default(), GENERATOR_PATH, &dirs());
    assert_eq!(g.identified.verdict, Verdict::Enable);
    assert!(g.enabled);
    assert_eq!(g.status, 0);
    assert_eq!(
        h.read_link(LINK).unwrap(),
        PathBuf::from(CLOUD_SYSTEM_TARGET)
    );
    assert!(h.exists("/run/cloud-init/enabled"));
    assert!(!h.lexists("/run/cloud-init/disabled"));
    assert_eq!(
        read(&h, "/run/cloud-init/cloud.cfg"),
        "datasource_list: [ NoCloud, None ]\n"
    );
    assert_eq!(read(&h, "/run/cloud-init/.ds-identify.result"), "0\n");
    assert_eq!(
        read(&h, "/run/cloud-init/cloud-init-generator.log"),
        format!(
            "{GENERATOR_PATH} normal=/run/systemd/generator early=/run/systemd/generator.early \
             late=/run/systemd/generator.late\n\
             checking for datasource\n\
             ds-identify rc=0\n\
             enabled via {LINK} -> {CLOUD_SYSTEM_TARGET}\n\
             removing /run/cloud-init/disabled and creating /run/cloud-init/enabled\n"
        )
    );
    let log = read(&h, "/run/cloud-init/ds-identify.log");
    assert!(log.starts_with("[up 1.50s] ds-identify \n"), "{log}");
    assert!(log.ends_with("[up 1.50s] returning 0\n"), "{log}");
    assert!(log.contains("\nFS_LABELS=CIDATA\n"), "{log}");
}

#[test]
fn nothing_found_removes_existing_link() {
    let (_d, h) = root("ro quiet", &["rootfs"]);
    h.symlink(CLOUD_SYSTEM_TARGET, LINK).unwrap();
    h.write_atomic("/run/cloud-init/enabled", b"", &WriteOpts::default())
        .unwrap();
    let g = run_generator(&h, &Env::default(), GENERATOR_PATH, &dirs());
    assert_eq!(g.identified.verdict, Verdict::NotFound);
    assert!(!g.enabled);
    assert!(!h.lexists(LINK));
    assert!(h.exists("/run/cloud-init/disabled"));
    assert!(!h.exists("/run/cloud-init/enabled"));
    let log = read(&h, "/run/cloud-init/cloud-init-generator.log");
    assert!(log.contains("ds-identify rc=1\n"), "{log}");
    assert!(
        log.contains("cloud-init is enabled but no datasource found, disabling\n"),
        "{log}"
    );
    assert!(
        log.contains(&format!("disabled. removed existing {LINK}\n")),
        "{log}"
    );
}

#[test]
fn disabled_by_cmdline_and_marker() {
    for (cmdline, marker) in [("ro cloud-init=disabled", false), ("ro", true)] {
        let (_d, h) = root(cmdline, &["CIDATA"]);
        if marker {
            h.write_atomic("/etc/cloud/cloud-init.disabled", b"", &WriteOpts::default())
                .unwrap();
        }
        let g = run_generator(&h, &Env::default(), GENERATOR_PATH, &dirs());
        assert_eq!(g.identified.verdict, Verdict::Disabled, "{cmdline}");
        assert!(!h.lexists(LINK));
        assert!(h.exists("/run/cloud-init/disabled"));
        assert!(!h.exists("/run/cloud-init/cloud.cfg"));
        let log = read(&h, "/run/cloud-init/cloud-init-generator.log");
        assert!(log.contains("ds-identify rc=2\n"));
        assert!(log.contains("cloud-init is disabled by kernel command line or etc_file\n"));
        assert!(log.contains(&format!("already disabled: no change needed [no {LINK}]\n")));
    }
}

#[test]
fn kernel_cmdline_env_disables() {
    let (_d, h) = root("ro", &["CIDATA"]);
    let env = Env {
        kernel_cmdline: Some("cloud-init=disabled".into()),
        ..Env::default()
    };
    let g = run_generator(&h, &env, GENERATOR_PATH, &dirs());
    assert_eq!(g.identified.verdict, Verdict::Disabled);
}

#[test]
fn second_run_reuses_the_result_until_forced() {
    let (_d, h) = root("ro", &["CIDATA"]);
    let first = run_generator(&h, &Env::default(), GENERATOR_PATH, &dirs());
    assert!(first.enabled);
    // The seed disk vanishes; a daemon-reload in the same boot keeps the answer.
    h.remove_file("/dev/disk/by-label/CIDATA").unwrap();
    let again = run_generator(&h, &Env::default(), GENERATOR_PATH, &dirs());
    assert!(again.identified.cached);
    assert!(again.enabled);
    assert_eq!(
        read(&h, "/run/cloud-init/cloud-init-generator.log")
            .lines()
            .last(),
        Some("already enabled: no change needed")
    );
    let forced = ci_detect::ds_identify(&h, &Env::default(), true, &["--force".into()]);
    assert!(!forced.cached);
    assert_eq!(forced.verdict, Verdict::NotFound);
    let log = read(&h, "/run/cloud-init/ds-identify.log");
    assert_eq!(log.matches("ds-identify").count(), 2, "{log}");
    assert!(log.contains("[up 1.50s] ds-identify --force\n"));
}

#[test]
fn unexpected_previous_result_is_rerun() {
    let (_d, h) = root("ro", &["CIDATA"]);
    h.write_atomic("/run/cloud-init/cloud.cfg", b"x\n", &WriteOpts::default())
        .unwrap();
    h.write_atomic(
        "/run/cloud-init/.ds-identify.result",
        b"7\n",
        &WriteOpts::default(),
    )
    .unwrap();
    let r = ci_detect::ds_identify(&h, &Env::default(), false, &[]);
    assert!(!r.cached);
    assert_eq!(r.verdict, Verdict::Enable);
    assert!(read(&h, "/run/cloud-init/ds-identify.log")
        .starts_with("previous run returned unexpected '7'. Re-running.\n"));
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn main_in(root: &Path, args: &[&str]) -> (u8, String) {
    let mut err = Vec::new();
    let code = main_with(&s(args), Some(root.to_string_lossy().into()), &mut err);
    (code, String::from_utf8(err).unwrap())
}

#[test]
fn binary_argv_forms() {
    let (d, h) = root("ro", &["CIDATA"]);
    let (code, err) = main_in(
        d.path(),
        &[
            GENERATOR_PATH,
            "/run/systemd/generator",
            "/run/systemd/generator.early",
            "/run/systemd/generator.late",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.starts_with("WARN: no datasource_list found"), "{err}");
    assert!(h.lexists(LINK));

    // As /usr/lib/cloud-init/ds-identify: the cached answer, then forced.
    h.remove_file("/dev/disk/by-label/CIDATA").unwrap();
    assert_eq!(main_in(d.path(), &["/usr/lib/cloud-init/ds-identify"]).0, 0);
    assert_eq!(
        main_in(d.path(), &["/usr/lib/cloud-init/ds-identify", "--force"]).0,
        1
    );

    let (code, err) = main_in(d.path(), &[GENERATOR_PATH, "/only-one"]);
    assert_eq!(code, 1);
    assert!(err.starts_with("usage: "), "{err}");
}

#[test]
fn ds_identify_help_prints_usage_and_writes_nothing() {
    let (d, h) = root("ro", &["CIDATA"]);
    for flag in ["--help", "-h"] {
        let (code, err) = main_in(d.path(), &["/usr/lib/cloud-init/ds-identify", flag]);
        assert_eq!(code, 0);
        assert!(err.starts_with("usage: ds-identify [--force]"), "{err}");
    }
    assert!(!h.exists("/run/cloud-init"));
}

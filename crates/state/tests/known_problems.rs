//! The known-problems table against log lines as our binary (and upstream
//! 25.1.4) writes them: per entry a line that must match and a near miss
//! that must not; the scan's bounds; and `status --format json`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ci_host::{Host, WriteOpts};
use ci_state::known_problems::{self, Match, Problem};
use ci_state::log::format_line;
use ci_state::status::{self, Format, StatusEnv, Systemd};
use ci_state::Paths;
use serde_json::Value;

/// A log line in our file format (`<asctime> - <file>[<LEVEL>]: <msg>`).
fn line(file: &str, level: &str, msg: &str) -> String {
    format_line(1_767_261_600.0, file, level, msg)
}

fn ids(log: &str) -> Vec<String> {
    known_problems::scan_text(log, known_problems::table())
        .into_iter()
        .map(|m| m.id)
        .collect()
}

fn entry(id: &str) -> &'static Problem {
    known_problems::table()
        .iter()
        .find(|p| p.id == id)
        .unwrap_or_else(|| panic!("no entry {id}"))
}

/// Ids each case covers, checked against the table (every entry has a case).
const COVERED: &[&str] = &[
    "imds-unreachable",
    "no-datasource",
    "stage-without-datasource",
    "fallback-datasource",
    "datasource-failed",
    "user-data-schema",
    "network-config-schema",
    "network-render-failed",
    "user-data-yaml",
    "user-data-consume-failed",
    "include-dns-failure",
    "include-http-error",
    "user-scripts-failed",
    "vendor-scripts-failed",
    "module-failed",
    "module-not-found",
    "apt-lock-timeout",
    "package-install-failed",
    "package-update-failed",
    "ssh-import-id-failed",
    "ssh-credentials-failed",
    "user-create-failed",
    "hostname-failed",
    "disk-setup-failed",
    "swap-failed",
    "growpart-failed",
    "status-write-failed",
];

#[test]
fn every_entry_has_a_case_and_the_table_is_big_enough() {
    let table: Vec<&str> = known_problems::table()
        .iter()
        .map(|p| p.id.as_str())
        .collect();
    assert!(table.len() >= 15);
    assert_eq!(table, COVERED);
}

/// `hit` must show exactly `id`; `miss` must show nothing.
fn case(id: &str, hit: &str, miss: &str) {
    assert!(entry(id).matches(hit), "{id} should match {hit:?}");
    assert_eq!(ids(hit), vec![id.to_string()], "{hit:?}");
    assert_eq!(ids(miss), Vec::<String>::new(), "{id} near miss {miss:?}");
}

#[test]
fn imds_unreachable() {
    case(
        "imds-unreachable",
        &line(
            "DataSourceEc2.py",
            "ERROR",
            "Giving up on md from ['http://169.254.169.254/2009-04-04/meta-data/instance-id'] after 120 seconds",
        ),
        &line(
            "url_helper.py",
            "DEBUG",
            "[0/1] open 'http://169.254.169.254/2009-04-04/meta-data/instance-id' with {'url': ...} configuration",
        ),
    );
}

#[test]
fn no_datasource() {
    case(
        "no-datasource",
        &line(
            "util.py",
            "WARNING",
            "No instance datasource found! Likely bad things to come!",
        ),
        // The local stage finding nothing is normal.
        &line("main.py", "DEBUG", "No local datasource found"),
    );
}

#[test]
fn stage_without_datasource() {
    case(
        "stage-without-datasource",
        &line(
            "main.py",
            "WARNING",
            "Can not apply stage config, no datasource found! Likely bad things to come!",
        ),
        &line("main.py", "DEBUG", "Can not apply stage config yet"),
    );
}

#[test]
fn fallback_datasource() {
    case(
        "fallback-datasource",
        &line("final_message.py", "WARNING", "Used fallback datasource"),
        &line(
            "stages.py",
            "DEBUG",
            "Restored fallback datasource from checked cache: DataSourceNone",
        ),
    );
}

#[test]
fn datasource_failed() {
    case(
        "datasource-failed",
        &line(
            "__init__.py",
            "WARNING",
            "Getting data from <class 'cloudinit.sources.DataSourceOpenStack.DataSourceOpenStack'> failed",
        ),
        &line("DataSourceAkamai.py", "DEBUG", "Getting data from Akamai DataSource"),
    );
}

#[test]
fn user_data_schema() {
    case(
        "user-data-schema",
        &line(
            "schema.py",
            "WARNING",
            "cloud-config failed schema validation! You may run 'sudo cloud-init schema --system' to check the details.",
        ),
        &line("schema.py", "DEBUG", "Validating cloud-config against schema"),
    );
}

#[test]
fn network_config_schema() {
    case(
        "network-config-schema",
        &line(
            "schema.py",
            "WARNING",
            "network-config failed schema validation! You may run 'sudo cloud-init schema --system' to check the details.",
        ),
        &line("schema.py", "DEBUG", "network-config passed schema validation"),
    );
}

#[test]
fn network_render_failed() {
    case(
        "network-render-failed",
        &line(
            "stages.py",
            "ERROR",
            "Unable to render networking. Network config is likely broken: bad key",
        ),
        &line(
            "stages.py",
            "INFO",
            "Applying network configuration from ds bringup=False",
        ),
    );
}

#[test]
fn user_data_yaml() {
    case(
        "user-data-yaml",
        &line(
            "util.py",
            "WARNING",
            "Failed loading yaml blob. Invalid format at line 3 column 1: \"mapping values are not allowed here\"",
        ),
        &line("util.py", "DEBUG", "Attempting to load yaml from string of length 120 with allowed root types (<class 'dict'>,)"),
    );
}

#[test]
fn user_data_consume_failed() {
    case(
        "user-data-consume-failed",
        &line("util.py", "WARNING", "Consuming user data failed!"),
        &line("main.py", "DEBUG", "Consuming user data"),
    );
}

#[test]
fn include_dns_failure() {
    // Ours (ureq) and upstream's (requests) wording.
    case(
        "include-dns-failure",
        &line(
            "user_data.py",
            "ERROR",
            "io: failed to lookup address information: Name or service not known for url: http://config.invalid/u.yaml",
        ),
        &line("user_data.py", "DEBUG", "Fetching http://config.invalid/u.yaml for url: include"),
    );
    assert!(entry("include-dns-failure").matches(&line(
        "user_data.py",
        "WARNING",
        "HTTPConnectionPool(host='config.invalid', port=80): Max retries exceeded (Caused by NameResolutionError(\"Failed to resolve 'config.invalid'\")) for url: http://config.invalid/u.yaml",
    )));
}

#[test]
fn include_http_error() {
    case(
        "include-http-error",
        &line(
            "user_data.py",
            "ERROR",
            "Fetching from http://10.0.0.1/u.yaml resulted in a invalid http code of 404",
        ),
        &line(
            "user_data.py",
            "DEBUG",
            "Fetching from http://10.0.0.1/u.yaml",
        ),
    );
}

#[test]
fn user_scripts_failed() {
    let hit = line(
        "cc_scripts_user.py",
        "WARNING",
        "Failed to run module scripts-user (scripts in /var/lib/cloud/instance/scripts)",
    );
    assert!(entry("user-scripts-failed").matches(&line(
        "cc_scripts_user.py",
        "WARNING",
        "Failed to run module scripts_user (scripts in /var/lib/cloud/instance/scripts)",
    )));
    case(
        "user-scripts-failed",
        &hit,
        &line(
            "modules.py",
            "DEBUG",
            "Running module scripts_user (<module 'cloudinit.config.cc_scripts_user'>) with frequency once-per-instance",
        ),
    );
}

#[test]
fn vendor_scripts_failed() {
    case(
        "vendor-scripts-failed",
        &line(
            "cc_scripts_vendor.py",
            "WARNING",
            "Failed to run module scripts-vendor (vendor in /var/lib/cloud/instance/scripts/vendor)",
        ),
        // A failure of the per-boot scripts is not the vendor's.
        &line(
            "cc_scripts_per_boot.py",
            "WARNING",
            "Failed to run module scripts-per-boot (per-boot in /var/lib/cloud/scripts/per-boot)",
        ),
    );
}

#[test]
fn module_failed() {
    case(
        "module-failed",
        &line(
            "modules.py",
            "WARNING",
            "Running module write_files (<module 'cloudinit.config.cc_write_files'>) failed",
        ),
        &line(
            "modules.py",
            "DEBUG",
            "Running module write_files (<module 'cloudinit.config.cc_write_files'>) with frequency once-per-instance",
        ),
    );
}

#[test]
fn module_not_found() {
    case(
        "module-not-found",
        &line(
            "modules.py",
            "WARNING",
            "Could not find module named cc_no_such_thing (searched ['cc_no_such_thing', 'cloudinit.config.cc_no_such_thing'])",
        ),
        &line("modules.py", "DEBUG", "Found module named cc_ntp"),
    );
}

#[test]
fn apt_lock_timeout() {
    // Any line: the exception text follows the module failure on its own line.
    case(
        "apt-lock-timeout",
        "TimeoutError: Could not get APT lock",
        &line(
            "apt.py",
            "DEBUG",
            "Another process holds APT lock. Waiting...",
        ),
    );
}

#[test]
fn package_install_failed() {
    case(
        "package-install-failed",
        &line(
            "__init__.py",
            "ERROR",
            "Failed to install the following packages: {'nope'}. See associated package manager logs for more details.",
        ),
        &line("apt.py", "DEBUG", "Installing the following packages: ['nope']"),
    );
}

#[test]
fn package_update_failed() {
    case(
        "package-update-failed",
        &line(
            "__init__.py",
            "ERROR",
            "Failed to update package using apt: Unexpected error while running command.",
        ),
        &line("apt.py", "DEBUG", "Update package index using apt"),
    );
}

#[test]
fn ssh_import_id_failed() {
    case(
        "ssh-import-id-failed",
        &line(
            "util.py",
            "WARNING",
            "ssh-import-id failed for: alice ['gh:alice']",
        ),
        &line(
            "cc_ssh_import_id.py",
            "DEBUG",
            "Importing SSH ids for user alice.",
        ),
    );
}

#[test]
fn ssh_credentials_failed() {
    case(
        "ssh-credentials-failed",
        &line("util.py", "WARNING", "Applying SSH credentials failed!"),
        &line("cc_ssh.py", "DEBUG", "Applying SSH credentials"),
    );
}

#[test]
fn user_create_failed() {
    case(
        "user-create-failed",
        &line("util.py", "WARNING", "Failed to create user alice"),
        &line("__init__.py", "DEBUG", "Adding user alice"),
    );
}

#[test]
fn hostname_failed() {
    case(
        "hostname-failed",
        &line(
            "cc_set_hostname.py",
            "WARNING",
            "Failed to set the hostname to web.example.com (web)",
        ),
        &line(
            "cc_set_hostname.py",
            "DEBUG",
            "Setting the hostname to web.example.com (web)",
        ),
    );
    assert!(entry("hostname-failed").matches(&line(
        "cc_update_hostname.py",
        "WARNING",
        "Failed to update the hostname to web.example.com (web)",
    )));
}

#[test]
fn disk_setup_failed() {
    case(
        "disk-setup-failed",
        &line("util.py", "WARNING", "Failed partitioning operation"),
        &line(
            "cc_disk_setup.py",
            "DEBUG",
            "Partitioning disks: {'/dev/sdb': {}}",
        ),
    );
    assert!(entry("disk-setup-failed").matches(&line(
        "util.py",
        "WARNING",
        "Failed during filesystem operation"
    )));
}

#[test]
fn swap_failed() {
    case(
        "swap-failed",
        &line(
            "cc_mounts.py",
            "WARNING",
            "failed to setup swap: [Errno 28] No space left on device",
        ),
        &line("cc_mounts.py", "DEBUG", "Setting up swap file"),
    );
}

#[test]
fn growpart_failed() {
    case(
        "growpart-failed",
        &line("util.py", "WARNING", "Failed: growpart /dev/vda 1"),
        // A disk already at full size is not a problem.
        &line(
            "cc_growpart.py",
            "DEBUG",
            "'/' NOCHANGE: no change necessary (/dev/vda, 1)",
        ),
    );
}

#[test]
fn status_write_failed() {
    case(
        "status-write-failed",
        &line(
            "main.py",
            "WARNING",
            "Failed to write status.json: No space left on device",
        ),
        &line("main.py", "DEBUG", "Wrote status.json"),
    );
}

#[test]
fn a_level_filter_rejects_other_levels() {
    let debug = line("util.py", "DEBUG", "Failed to create user alice");
    assert!(ids(&debug).is_empty());
}

/// What we log per match must not match anything itself, or each boot
/// would report last scan's report.
#[test]
fn the_end_of_boot_warnings_do_not_match_themselves() {
    for p in known_problems::table() {
        let m = Match {
            id: p.id.clone(),
            explanation: p.explanation.clone(),
            fix: p.fix.clone(),
            line: String::new(),
            count: 3,
        };
        let logged = line("main.py", "WARNING", &known_problems::warning_text(&m));
        assert_eq!(ids(&logged), Vec::<String>::new(), "{logged}");
    }
}

fn sandbox() -> (tempfile::TempDir, Host) {
    let d = tempfile::tempdir().unwrap();
    let h = Host::new(d.path());
    (d, h)
}

fn write_log(h: &Host, data: &[u8]) {
    h.write_atomic("/var/log/cloud-init.log", data, &WriteOpts::default())
        .unwrap();
}

const BANNER: &str = "2026-01-02 10:00:00,000 - log_util.py[DEBUG]: Cloud-init v. 25.1.4 running 'init-local' at Fri, 02 Jan 2026 10:00:00 +0000. Up 3.10 seconds.\n";

#[test]
fn earlier_boots_do_not_count_and_counts_are_capped() {
    let (_d, h) = sandbox();
    let mut log = line("util.py", "WARNING", "Failed to create user old") + "\n";
    log.push_str(BANNER);
    for _ in 0..(known_problems::MAX_COUNT + 50) {
        log.push_str(&line(
            "util.py",
            "WARNING",
            "Applying SSH credentials failed!",
        ));
        log.push('\n');
    }
    write_log(&h, log.as_bytes());
    let found = known_problems::scan_log(&h, known_problems::DEFAULT_LOG_FILE);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].id, "ssh-credentials-failed");
    assert_eq!(found[0].count, known_problems::MAX_COUNT);
}

#[test]
fn without_an_init_local_banner_the_init_banner_starts_the_boot() {
    let (_d, h) = sandbox();
    let mut log = line("util.py", "WARNING", "Failed to create user old") + "\n";
    log.push_str(&BANNER.replace("'init-local'", "'init'"));
    log.push_str(&line("util.py", "WARNING", "Failed to create user new"));
    write_log(&h, log.as_bytes());
    let found = known_problems::scan_log(&h, known_problems::DEFAULT_LOG_FILE);
    assert_eq!(found.len(), 1);
    assert!(found[0].line.ends_with("Failed to create user new"));
}

#[test]
fn long_binary_lines_are_cut_and_made_printable() {
    let (_d, h) = sandbox();
    let mut data = BANNER.as_bytes().to_vec();
    data.extend_from_slice(b"\xff\xfe\x1b[31m Could not get APT lock ");
    data.extend_from_slice(&[b'x'; 2000]);
    data.push(b'\n');
    write_log(&h, &data);
    let found = known_problems::scan_log(&h, known_problems::DEFAULT_LOG_FILE);
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].line.chars().count(),
        known_problems::MAX_LINE_CHARS
    );
    assert!(found[0]
        .line
        .starts_with("\u{FFFD}\u{FFFD}\u{FFFD}[31m Could not get APT lock"));
}

#[test]
fn only_the_tail_of_a_huge_log_is_read() {
    let (_d, h) = sandbox();
    // The problem is in the first, cut-off part; the tail has no banner.
    let mut data = line("util.py", "WARNING", "Failed to create user early").into_bytes();
    data.push(b'\n');
    let filler = line("util.py", "DEBUG", "filler") + "\n";
    while (data.len() as u64) < known_problems::MAX_TAIL_BYTES + 4096 {
        data.extend_from_slice(filler.as_bytes());
    }
    data.extend_from_slice(line("util.py", "WARNING", "Failed to create user late").as_bytes());
    write_log(&h, &data);
    let found = known_problems::scan_log(&h, known_problems::DEFAULT_LOG_FILE);
    assert_eq!(found.len(), 1);
    assert!(found[0].line.ends_with("Failed to create user late"));
}

#[test]
fn a_missing_log_or_a_link_out_of_the_root_has_no_problems() {
    let (d, h) = sandbox();
    assert!(known_problems::scan_log(&h, known_problems::DEFAULT_LOG_FILE).is_empty());
    // A log link pointing at /etc/... is resolved inside the root.
    let outside = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        outside.path(),
        "x - util.py[WARNING]: Failed to create user a\n",
    )
    .unwrap();
    std::fs::create_dir_all(d.path().join("var/log")).unwrap();
    std::os::unix::fs::symlink(outside.path(), d.path().join("var/log/cloud-init.log")).unwrap();
    assert!(known_problems::scan_log(&h, known_problems::DEFAULT_LOG_FILE).is_empty());
}

struct NoSystemd;

impl Systemd for NoSystemd {
    fn show_environment(&self) -> Option<String> {
        None
    }
    fn show_unit(&self, _unit: &str) -> Result<String, String> {
        Err("no systemd".into())
    }
}

fn status_of(h: &Host, format: Format, long: bool) -> status::StatusOutput {
    let env = StatusEnv {
        uses_systemd: false,
        cmdline: String::new(),
        env_kernel_cmdline: None,
        systemd: &NoSystemd,
    };
    status::run_status(
        h,
        &Paths::default(),
        &env,
        status::StatusArgs {
            format,
            long,
            wait: false,
        },
        &mut || {},
        &mut |_| {},
    )
}

#[test]
fn status_json_lists_the_matches() {
    let (_d, h) = sandbox();
    let before_json = status_of(&h, Format::Json, false).stdout;
    let before_long = status_of(&h, Format::Tabular, true).stdout;
    let mut log = BANNER.to_string();
    for _ in 0..2 {
        log.push_str(&line(
            "util.py",
            "WARNING",
            "No instance datasource found! Likely bad things to come!",
        ));
        log.push('\n');
    }
    write_log(&h, log.as_bytes());
    let out = status_of(&h, Format::Json, false);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    let list = v["known_problems"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    let m = &list[0];
    assert_eq!(m["id"], "no-datasource");
    assert_eq!(m["count"], 2);
    assert_eq!(
        m["explanation"],
        entry("no-datasource").explanation.as_str()
    );
    assert_eq!(m["fix"], entry("no-datasource").fix.as_str());
    assert!(m["line"]
        .as_str()
        .unwrap()
        .ends_with("util.py[WARNING]: No instance datasource found! Likely bad things to come!"));
    // Apart from the new key, the output is what it was.
    let mut without = v.clone();
    without.as_object_mut().unwrap().remove("known_problems");
    assert_eq!(
        without,
        serde_json::from_str::<Value>(&before_json).unwrap()
    );
    // YAML carries the list too; `--long` appends its block to upstream's text.
    let yaml = status_of(&h, Format::Yaml, false).stdout;
    assert!(yaml.contains("known_problems:\n-   count: 2\n"), "{yaml}");
    let long = status_of(&h, Format::Tabular, true).stdout;
    assert!(long.starts_with(&before_long), "{long}");
    assert!(long[before_long.len()..].starts_with("known problems:\n\t- no-datasource (2x): "));
    // The plain form is never changed.
    assert_eq!(
        status_of(&h, Format::Tabular, false).stdout,
        "status: not started\n"
    );
}

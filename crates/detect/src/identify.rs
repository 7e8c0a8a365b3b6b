//! The ds-identify flow: cached result, disabled checks, policy, explicit
//! datasource, `manual_cache_clean`, single configured entry, then the
//! per-datasource checks. Writes `/run/cloud-init/cloud.cfg`,
//! `.ds-identify.result` and appends to `ds-identify.log`.

use crate::cfg::{self, Settings, DEFAULT_DSLIST};
use crate::checks::{Found, Probe};
use crate::facts::{self, Facts};
use crate::log::DiLog;
use crate::policy::{Mode, OnFound, OnMaybe, OnNotFound, Policy};
use crate::shellish::shell_read;
use crate::Env;
use ci_host::{Host, WriteOpts};

pub const RUN_DIR: &str = "/run/cloud-init";
pub const RUN_CFG: &str = "/run/cloud-init/cloud.cfg";
pub const RESULT_FILE: &str = "/run/cloud-init/.ds-identify.result";
pub const DI_LOG_FILE: &str = "/run/cloud-init/ds-identify.log";
pub const DISABLED_MARKER: &str = if cfg!(target_os = "freebsd") {
    "/usr/local/etc/cloud/cloud-init.disabled"
} else {
    "/etc/cloud/cloud-init.disabled"
};
pub const MANUAL_CLEAN: &str = "/var/lib/cloud/instance/manual-clean";

/// ds-identify's exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// 0: run cloud-init.
    Enable,
    /// 1: no datasource found (or policy `disabled`).
    NotFound,
    /// 2: disabled by the user (marker file, kernel command line, env).
    Disabled,
    /// 3: something unexpected.
    Unexpected,
}

impl Verdict {
    pub fn code(self) -> u8 {
        match self {
            Verdict::Enable => 0,
            Verdict::NotFound => 1,
            Verdict::Disabled => 2,
            Verdict::Unexpected => 3,
        }
    }

    fn from_cached(s: &str) -> Option<Verdict> {
        match s {
            "0" => Some(Verdict::Enable),
            "1" => Some(Verdict::NotFound),
            "2" => Some(Verdict::Disabled),
            _ => None,
        }
    }
}

/// What a ds-identify run decided and left behind.
#[derive(Debug, Clone)]
pub struct Identified {
    pub verdict: Verdict,
    /// The previous result from `.ds-identify.result` was reused.
    pub cached: bool,
    /// What was written to `/run/cloud-init/cloud.cfg`, if anything.
    pub run_cfg: Option<String>,
    /// Facts gathered (empty when cached or disabled early).
    pub facts: Facts,
    /// Lines for stderr (warnings and errors, as upstream prints them).
    pub stderr: Vec<String>,
}

/// Run ds-identify on `host`. `force` ignores a previous result; `args` are
/// only echoed into the log.
pub fn ds_identify(host: &Host, env: &Env, force: bool, args: &[String]) -> Identified {
    let mut log = DiLog::new(env.debug_level);
    if !host.is_dir(RUN_DIR) {
        if let Err(e) = host.create_dir_all(RUN_DIR, 0o755) {
            log.error(format!("cannot create {RUN_DIR}: {e}"));
        }
    }
    if !force && host.exists(RUN_CFG) && host.exists(RESULT_FILE) {
        match host.read_to_string(RESULT_FILE) {
            Ok(text) => {
                let first = crate::shellish::read_first_line(&text);
                if let Some(v) = Verdict::from_cached(&first) {
                    log.debug(
                        2,
                        format!("used cached result {first}. pass --force to re-run."),
                    );
                    flush_log(host, env, &mut log);
                    return Identified {
                        verdict: v,
                        cached: true,
                        run_cfg: None,
                        facts: Facts::default(),
                        stderr: log.stderr().to_vec(),
                    };
                }
                log.debug(
                    1,
                    format!("previous run returned unexpected '{first}'. Re-running."),
                );
            }
            Err(_) => log.error(format!(
                "failed to read result from {}!",
                host.path(RESULT_FILE).display()
            )),
        }
    }
    let mut run = Run {
        host,
        log,
        run_cfg: None,
        facts: Facts::default(),
    };
    let verdict = run.main(env, args);
    if let Err(e) = host.write_atomic(
        RESULT_FILE,
        format!("{}\n", verdict.code()).as_bytes(),
        &WriteOpts::mode(0o644),
    ) {
        run.log.error(format!("failed to write {RESULT_FILE}: {e}"));
    }
    let up = uptime(host);
    run.log
        .debug(1, format!("[up {up}s] returning {}", verdict.code()));
    flush_log(host, env, &mut run.log);
    Identified {
        verdict,
        cached: false,
        run_cfg: run.run_cfg,
        facts: run.facts,
        stderr: run.log.stderr().to_vec(),
    }
}

/// Upstream reads the first field of `/proc/uptime` as text.
fn uptime(host: &Host) -> String {
    match host.read_to_string("/proc/uptime").map(|t| shell_read(&t)) {
        Ok((line, true)) => line.split_whitespace().next().unwrap_or("").to_string(),
        _ => facts::UNAVAILABLE.into(),
    }
}

fn flush_log(host: &Host, env: &Env, log: &mut DiLog) {
    if log.text().is_empty() {
        return;
    }
    match env.di_log.as_deref() {
        Some("stderr") => {
            let lines: Vec<String> = log.text().lines().map(str::to_string).collect();
            for l in lines {
                log.stderr_only(l);
            }
        }
        // DI_LOG names a file on this machine, not under the root.
        Some(path) => {
            use std::io::Write;
            let res = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut f| f.write_all(log.text().as_bytes()));
            if let Err(e) = res {
                log.stderr_only(format!("ERROR: failed writing to {path}: {e}"));
            }
        }
        None => {
            if let Err(e) = host.append(DI_LOG_FILE, log.text().as_bytes(), &WriteOpts::mode(0o644))
            {
                log.stderr_only(format!("ERROR: failed writing to {DI_LOG_FILE}: {e}"));
            }
        }
    }
}

struct Run<'a> {
    host: &'a Host,
    log: DiLog,
    run_cfg: Option<String>,
    facts: Facts,
}

impl Run<'_> {
    fn main(&mut self, env: &Env, args: &[String]) -> Verdict {
        let up = uptime(self.host);
        self.log
            .debug(1, format!("[up {up}s] ds-identify {}", args.join(" ")));
        self.facts = facts::early(self.host, env, &mut self.log);
        if self.is_disabled(env) {
            return Verdict::Disabled;
        }
        let (policy, dsname, dslist) = self.collect();
        self.print_info(&policy, &dsname, &dslist);

        match policy.mode {
            Mode::Disabled => {
                self.log.debug(1, "mode=disabled. returning 1");
                return Verdict::NotFound;
            }
            Mode::Enabled => {
                self.log.debug(1, "mode=enabled. returning 0");
                return Verdict::Enable;
            }
            Mode::Search | Mode::Report => {}
        }

        if !dsname.is_empty() {
            self.log
                .debug(1, format!("datasource '{dsname}' specified."));
            return self.found(&policy, &[dsname], "");
        }
        if self.host.resolve(MANUAL_CLEAN).is_file() {
            self.log.debug(
                1,
                "manual_cache_clean enabled. Not writing datasource_list.",
            );
            return self.write_result(&policy, &["# manual_cache_clean.".to_string()]);
        }
        match dslist.as_slice() {
            [one] => {
                self.log.debug(
                    1,
                    format!("single entry in datasource_list ({one}) use that."),
                );
                return self.write_result(&policy, &[format!("datasource_list: [ {one} ]")]);
            }
            [_, none] if none == "None" => {
                self.log.debug(
                    1,
                    format!(
                        "single entry in datasource_list ({}) use that.",
                        dslist.join(" ")
                    ),
                );
                return self.found(&policy, &dslist, "");
            }
            _ => {}
        }
        self.search(env, &policy, &dslist)
    }

    /// Upstream `is_disabled`, preceded by our reading of
    /// `cloud-init=enabled`, which (as in `cloud-init status`) outranks
    /// every way of disabling.
    fn is_disabled(&mut self, env: &Env) -> bool {
        let cmdline = &self.facts.kernel_cmdline;
        if cmdline
            .split_ascii_whitespace()
            .any(|t| t == "cloud-init=enabled")
        {
            self.log
                .debug(1, "enabled by kernel command line cloud-init=enabled");
            return false;
        }
        if self.host.exists(DISABLED_MARKER) {
            self.log
                .debug(1, format!("disabled by marker file {DISABLED_MARKER}"));
            return true;
        }
        if env.kernel_cmdline.as_deref() == Some("cloud-init=disabled") {
            self.log
                .debug(1, "disabled by KERNEL_CMDLINE environment variable");
            return true;
        }
        if cmdline.contains("cloud-init=disabled") {
            self.log
                .debug(1, "disabled by kernel command line cloud-init=disabled");
            return true;
        }
        false
    }

    /// Upstream `collect_info`: config, policy, datasource list, DMI, labels.
    fn collect(&mut self) -> (Policy, String, Vec<String>) {
        let mut settings = Settings::default();
        if let Err(e) = cfg::read_di_cfg(self.host, &mut settings) {
            self.log.error(e);
        }
        cfg::apply_cmdline(&self.facts.kernel_cmdline, &mut settings);
        let mut warnings = Vec::new();
        let policy = Policy::parse(&settings.policy, &mut warnings);
        for w in warnings {
            self.log.stderr_only(w);
        }
        self.log.debug(1, format!("policy loaded: {policy}"));

        let dslist = self.datasource_list(&settings.dsname);
        facts::rest(self.host, &mut self.facts, &mut self.log);
        (policy, settings.dsname, dslist)
    }

    fn datasource_list(&mut self, dsname: &str) -> Vec<String> {
        let mut list: Vec<String> = if dsname.is_empty() {
            Vec::new()
        } else {
            vec![dsname.to_string()]
        };
        if let Some(cc) = cfg::cmdline_cc_dslist(&self.facts.kernel_cmdline) {
            list = cc;
        }
        if list.is_empty() {
            let files = cfg::cloud_cfg_files(self.host);
            if let Some(hit) = cfg::check_config(self.host, &files, "datasource_list") {
                match cfg::single_line_flow_sequence(&hit.value) {
                    Some(seq) => {
                        self.log.debug(
                            1,
                            format!(
                                "{} set datasource_list: {}",
                                self.host.path(&hit.file).display(),
                                seq
                            ),
                        );
                        list = cfg::parse_yaml_array(&seq);
                    }
                    None => self
                        .log
                        .debug(1, "key datasource_list didn't have a valid value"),
                }
            }
        }
        if list.is_empty() {
            list = DEFAULT_DSLIST.iter().map(|s| s.to_string()).collect();
            self.log.warn(format!(
                "no datasource_list found, using default: {}",
                list.join(" ")
            ));
        }
        list
    }

    fn print_info(&mut self, p: &Policy, dsname: &str, dslist: &[String]) {
        let f = &self.facts;
        let lines = [
            ("DMI_PRODUCT_NAME", f.dmi_product_name.as_str()),
            ("DMI_SYS_VENDOR", &f.dmi_sys_vendor),
            ("DMI_PRODUCT_SERIAL", &f.dmi_product_serial),
            ("DMI_PRODUCT_UUID", &f.dmi_product_uuid),
            ("PID_1_PRODUCT_NAME", &f.pid_1_product_name),
            ("DMI_CHASSIS_ASSET_TAG", &f.dmi_chassis_asset_tag),
            ("DMI_BOARD_NAME", &f.dmi_board_name),
            ("FS_LABELS", &f.fs.labels),
            ("ISO9660_DEVS", &f.fs.iso9660_devs),
            ("KERNEL_CMDLINE", &f.kernel_cmdline),
            ("VIRT", &f.virt),
            ("UNAME_KERNEL_NAME", &f.uname_kernel_name),
            ("UNAME_KERNEL_VERSION", &f.uname_kernel_version),
            ("UNAME_MACHINE", &f.uname_machine),
            ("DSNAME", dsname),
        ];
        let mut out: Vec<String> = lines.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.push(format!("DSLIST={}", dslist.join(" ")));
        out.push(format!("MODE={}", p.mode_str()));
        out.push(format!("ON_FOUND={}", p.found_str()));
        out.push(format!("ON_MAYBE={}", p.maybe_str()));
        out.push(format!("ON_NOTFOUND={}", p.notfound_str()));
        out.push(format!(
            "pid={} ppid={}",
            std::process::id(),
            std::os::unix::process::parent_id()
        ));
        out.push(format!("is_container={}", f.is_container()));
        for l in out {
            self.log.raw(l);
        }
    }

    fn search(&mut self, env: &Env, policy: &Policy, dslist: &[String]) -> Verdict {
        let files = cfg::cloud_cfg_files(self.host);
        let mut found: Vec<String> = Vec::new();
        let mut maybe: Vec<String> = Vec::new();
        // Extra config from the checks (upstream `_RET_excfg`), joined as
        // the script joins it: a newline before each one after the first.
        let (mut found_cfg, mut maybe_cfg) = (String::new(), String::new());
        let facts = self.facts.clone();
        let mut probe = Probe::new(self.host, env, &facts, &files, dslist, &mut self.log);
        for ds in dslist {
            probe.log.debug(
                2,
                format!("Checking for datasource '{ds}' via 'dscheck_{ds}'"),
            );
            let Some(answer) = probe.check(ds) else {
                probe.log.warn(format!(
                    "No check method 'dscheck_{ds}' for datasource '{ds}'"
                ));
                continue;
            };
            let (list, cfg) = match answer {
                Found::Yes => {
                    probe
                        .log
                        .debug(1, format!("check for '{ds}' returned found"));
                    (&mut found, &mut found_cfg)
                }
                Found::Maybe => {
                    probe
                        .log
                        .debug(1, format!("check for '{ds}' returned maybe"));
                    (&mut maybe, &mut maybe_cfg)
                }
                Found::No => {
                    probe
                        .log
                        .debug(2, format!("check for '{ds}' returned not-found[1]"));
                    continue;
                }
            };
            list.push(ds.clone());
            if !cfg.is_empty() {
                cfg.push('\n');
            }
            cfg.push_str(&probe.excfg);
        }
        self.log.debug(
            2,
            format!("found={} maybe={}", found.join(" "), maybe.join(" ")),
        );
        if let Some(first) = found.first() {
            if found.len() == 1 {
                self.log
                    .debug(1, format!("Found single datasource: {first}"));
            } else {
                self.log.debug(
                    1,
                    format!(
                        "Found {} datasources found={}: {}",
                        found.len(),
                        policy.found_str(),
                        found.join(" ")
                    ),
                );
                if policy.found == OnFound::First {
                    found.truncate(1);
                }
            }
            return self.found(policy, &found, &found_cfg);
        }
        if !maybe.is_empty() && policy.maybe != OnMaybe::None {
            self.log.debug(
                1,
                format!(
                    "{} datasources returned maybe: {}",
                    maybe.len(),
                    maybe.join(" ")
                ),
            );
            return self.found(policy, &maybe, &maybe_cfg);
        }
        self.record_notfound(policy);
        let base = format!(
            "No ds found [mode={}, notfound={}].",
            policy.mode_str(),
            policy.notfound_str()
        );
        let (msg, v) = match (policy.mode, policy.notfound) {
            (Mode::Report, OnNotFound::Disabled) => (
                format!("{base} Would disable cloud-init [1]"),
                Verdict::Enable,
            ),
            (Mode::Report, OnNotFound::Enabled) => (
                format!("{base} Would enable cloud-init [0]"),
                Verdict::Enable,
            ),
            (_, OnNotFound::Disabled) => {
                (format!("{base} Disabled cloud-init [1]"), Verdict::NotFound)
            }
            (_, OnNotFound::Enabled) => (format!("{base} Enabled cloud-init [0]"), Verdict::Enable),
        };
        self.log.debug(1, msg);
        v
    }

    /// Upstream `record_notfound`: in search mode only a comment under
    /// `di_report:`, so cloud-init does not read an empty list.
    fn record_notfound(&mut self, policy: &Policy) {
        match policy.mode {
            Mode::Report => {
                self.found(policy, &[], "");
            }
            Mode::Search => {
                let report = Policy {
                    mode: Mode::Report,
                    ..*policy
                };
                let msg = format!(
                    "# reporting not found result. notfound={}.",
                    policy.notfound_str()
                );
                self.found(&report, &[], &msg);
            }
            Mode::Enabled | Mode::Disabled => {}
        }
    }

    /// Upstream `found`: `datasource_list: [ A, B, None ]` (None appended
    /// unless present or the list is empty) plus optional extra lines.
    fn found(&mut self, policy: &Policy, list: &[String], extra: &str) -> Verdict {
        let mut names: Vec<String> = list.to_vec();
        if !names.is_empty() && !names.iter().any(|n| n == "None") {
            names.push("None".into());
        }
        let mut lines = vec![format!("datasource_list: [ {} ]", names.join(", "))];
        if !extra.is_empty() {
            lines.push(extra.to_string());
        }
        self.write_result(policy, &lines)
    }

    fn write_result(&mut self, policy: &Policy, lines: &[String]) -> Verdict {
        let (head, pre) = if policy.mode == Mode::Report {
            ("di_report:\n", "  ")
        } else {
            ("", "")
        };
        let mut text = String::from(head);
        for l in lines {
            text.push_str(pre);
            text.push_str(l);
            text.push('\n');
        }
        match self
            .host
            .write_atomic(RUN_CFG, text.as_bytes(), &WriteOpts::mode(0o644))
        {
            Ok(()) => {
                self.run_cfg = Some(text);
                Verdict::Enable
            }
            Err(e) => {
                self.log.error(format!(
                    "failed to write to {}: {e}",
                    self.host.path(RUN_CFG).display()
                ));
                Verdict::Unexpected
            }
        }
    }
}

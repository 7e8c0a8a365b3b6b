//! `cloud-init status`: what the boot is doing and how it went, computed
//! from status.json/result.json, the boot-enable markers and (on systemd)
//! the units' states. Text and exit codes as upstream's `cmd/status.py`.
//!
//! # `--wait` (ours: it ends)
//!
//! Upstream polls every 0.25 s while the status is `not started` or
//! `running`, so it waits forever for a boot that cannot end. Ours stops
//! polling on the first of ([`WaitResult`]):
//!
//! - `done`: no stage runs any more and the boot ended without errors
//!   (healthy or degraded);
//! - `error`: no stage runs any more and there were errors (a stage whose
//!   process died is an error, see [`status_file::dead_stages`]; on systemd
//!   a failed or not-enabled unit too);
//! - `disabled`: a marker, the kernel command line, the environment or the
//!   generator disabled cloud-init;
//! - `no-datasource`: the network stage (`init` in status.json) finished
//!   with the error `No instance datasource found.` (the config and final
//!   stages can then only fail: it returns without waiting for them), or
//!   the boot ended on the fallback `DataSourceNone` (status.json
//!   `datasource` is `DataSourceNone`);
//! - `timeout` (only with `--timeout SECONDS`): the time ran out first.
//!   The exit code is then [`TIMEOUT_EXIT_CODE`] (124, as `timeout(1)`),
//!   which upstream's status never uses (0 ok, 1 error, 2 degraded; 2 is
//!   also argparse's usage error). Querying systemctl, which upstream
//!   retries forever while waiting, is bounded by the timeout too.
//!
//! Other results keep upstream's exit code (0/1/2 from the condition). With
//! `--wait`, `--format json|yaml` adds `"wait": {"result", "waited_seconds"}`;
//! without `--wait` the output is upstream's, byte for byte.
//!
//! Ours too: the [`crate::known_problems`] this boot's log matches, as a
//! `known problems:` block after upstream's `--long` text and a
//! `known_problems` list in JSON/YAML, both only when there is a match.

use crate::known_problems::{self, Match};
use crate::paths::Paths;
use crate::pyjson;
use crate::status_file::{self, Stage, StatusFile};
use crate::timefmt;
use ci_host::{Cmd, Host};
use ci_pyval::truthy;
use serde_json::{json, Map, Value};
use std::time::{Duration, Instant};

/// The disable marker file image makers create.
pub const DISABLED_FILE: &str = if cfg!(target_os = "freebsd") {
    "/usr/local/etc/cloud/cloud-init.disabled"
} else {
    "/etc/cloud/cloud-init.disabled"
};

/// The units `status` inspects, in upstream's order.
pub const UNITS: [&str; 5] = [
    "cloud-final.service",
    "cloud-config.service",
    "cloud-init-network.service",
    "cloud-init-local.service",
    "cloud-init-main.service",
];

/// Text of the error added when a unit failed while status.json says running.
pub const SYSTEMD_FAILURE: &str = "Failed due to systemd unit failure. Ensure all cloud-init \
services are enabled, and check 'systemctl' or 'journalctl' for more information.";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunningStatus {
    NotStarted,
    Running,
    Done,
    Disabled,
}

impl RunningStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunningStatus::NotStarted => "not started",
            RunningStatus::Running => "running",
            RunningStatus::Done => "done",
            RunningStatus::Disabled => "disabled",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    Error,
    Degraded,
    Healthy,
}

impl Condition {
    pub fn as_str(self) -> &'static str {
        match self {
            Condition::Error => "error",
            Condition::Degraded => "degraded",
            Condition::Healthy => "healthy",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootStatusCode {
    DisabledByGenerator,
    DisabledByKernelCmdline,
    DisabledByMarkerFile,
    DisabledByEnvVariable,
    EnabledByGenerator,
    EnabledByKernelCmdline,
    EnabledBySysvinit,
    Unknown,
}

impl BootStatusCode {
    pub fn as_str(self) -> &'static str {
        match self {
            BootStatusCode::DisabledByGenerator => "disabled-by-generator",
            BootStatusCode::DisabledByKernelCmdline => "disabled-by-kernel-command-line",
            BootStatusCode::DisabledByMarkerFile => "disabled-by-marker-file",
            BootStatusCode::DisabledByEnvVariable => "disabled-by-environment-variable",
            BootStatusCode::EnabledByGenerator => "enabled-by-generator",
            BootStatusCode::EnabledByKernelCmdline => "enabled-by-kernel-command-line",
            BootStatusCode::EnabledBySysvinit => "enabled-by-sysvinit",
            BootStatusCode::Unknown => "unknown",
        }
    }

    pub fn is_disabled(self) -> bool {
        matches!(
            self,
            BootStatusCode::DisabledByGenerator
                | BootStatusCode::DisabledByKernelCmdline
                | BootStatusCode::DisabledByMarkerFile
                | BootStatusCode::DisabledByEnvVariable
        )
    }
}

/// What `status` needs from systemd. The CLI answers with `systemctl`
/// ([`Systemctl`]); tests script it.
pub trait Systemd {
    /// Output of `systemctl show-environment`, `None` if it failed.
    fn show_environment(&self) -> Option<String>;
    /// Output of `systemctl show --property=ActiveState,UnitFileState,SubState,MainPID UNIT`,
    /// or the error text when systemctl failed.
    fn show_unit(&self, unit: &str) -> Result<String, String>;
}

/// [`Systemd`] through `systemctl` on the host. With `wait`, a failing
/// systemctl is retried every 0.25 s as upstream does while waiting, until
/// `deadline` if there is one (upstream would retry forever).
pub struct Systemctl<'a> {
    pub host: &'a Host,
    pub wait: bool,
    pub deadline: Option<Instant>,
}

impl Systemctl<'_> {
    fn query(&self, args: &[&str]) -> Result<String, String> {
        let mut argv = vec!["systemctl"];
        argv.extend_from_slice(args);
        loop {
            match self.host.run(&Cmd::new(argv.clone())) {
                Ok(out) => return Ok(out.stdout_str().trim().to_string()),
                Err(e) if !self.wait => return Err(e.to_string()),
                Err(e) if self.deadline.is_some_and(|d| Instant::now() >= d) => {
                    return Err(e.to_string())
                }
                Err(_) => std::thread::sleep(Duration::from_millis(250)),
            }
        }
    }
}

impl Systemd for Systemctl<'_> {
    fn show_environment(&self) -> Option<String> {
        self.query(&["show-environment"]).ok()
    }
    fn show_unit(&self, unit: &str) -> Result<String, String> {
        self.query(&[
            "show",
            "--property=ActiveState,UnitFileState,SubState,MainPID",
            unit,
        ])
    }
}

/// `distros.uses_systemd`: `/run/systemd/system` is a directory (under the
/// root, so a sandbox root reads as "not systemd", as upstream in a chroot).
pub fn uses_systemd(host: &Host) -> bool {
    std::fs::symlink_metadata(host.path("/run/systemd/system"))
        .map(|m| m.is_dir())
        .unwrap_or(false)
}

/// Everything besides files that `status` looks at.
pub struct StatusEnv<'a> {
    pub uses_systemd: bool,
    /// The kernel command line (`host.kernel_cmdline()`).
    pub cmdline: String,
    /// The `KERNEL_CMDLINE` environment variable.
    pub env_kernel_cmdline: Option<String>,
    pub systemd: &'a dyn Systemd,
}

/// `get_bootstatus`: (code, reason), first match wins.
pub fn boot_status(host: &Host, paths: &Paths, env: &StatusEnv) -> (BootStatusCode, String) {
    let parts: Vec<&str> = env.cmdline.split_whitespace().collect();
    if !env.uses_systemd {
        return (
            BootStatusCode::EnabledBySysvinit,
            "Cloud-init enabled on sysvinit".into(),
        );
    }
    if parts.contains(&"cloud-init=enabled") {
        return (
            BootStatusCode::EnabledByKernelCmdline,
            "Cloud-init enabled by kernel command line cloud-init=enabled".into(),
        );
    }
    if host.exists(DISABLED_FILE) {
        return (
            BootStatusCode::DisabledByMarkerFile,
            format!("Cloud-init disabled by {DISABLED_FILE}"),
        );
    }
    if parts.contains(&"cloud-init=disabled") {
        return (
            BootStatusCode::DisabledByKernelCmdline,
            "Cloud-init disabled by kernel parameter cloud-init=disabled".into(),
        );
    }
    let env_disabled = env
        .env_kernel_cmdline
        .as_deref()
        .is_some_and(|v| v.contains("cloud-init=disabled"))
        || env
            .systemd
            .show_environment()
            .is_some_and(|v| v.contains("cloud-init=disabled"));
    if env_disabled {
        return (
            BootStatusCode::DisabledByEnvVariable,
            "Cloud-init disabled by environment variable KERNEL_CMDLINE=cloud-init=disabled".into(),
        );
    }
    if host.exists(paths.run_file("disabled")) {
        return (
            BootStatusCode::DisabledByGenerator,
            "Cloud-init disabled by cloud-init-generator".into(),
        );
    }
    if host.exists(paths.run_file("enabled")) {
        return (
            BootStatusCode::EnabledByGenerator,
            "Cloud-init enabled by systemd cloud-init-generator".into(),
        );
    }
    (
        BootStatusCode::Unknown,
        "Systemd generator may not have run yet.".into(),
    )
}

/// `systemd_failed`: true when a cloud-init unit is not enabled or failed
/// while status.json still says running. Returns the warning to print on
/// stderr when systemctl could not be asked.
pub fn systemd_failed(sd: &dyn Systemd) -> (bool, Option<String>) {
    for unit in UNITS {
        let out = match sd.show_unit(unit) {
            Ok(o) => o,
            Err(e) => {
                return (
                    false,
                    Some(format!(
                        "Failed to get status from systemd. Cloud-init status may be inaccurate. \
                         Error from systemctl: {e}"
                    )),
                )
            }
        };
        let get = |k: &str| -> String {
            out.lines()
                .filter_map(|l| l.split_once('='))
                .find(|(a, _)| a.trim() == k)
                .map(|(_, v)| v.trim().to_string())
                .unwrap_or_default()
        };
        let file_state = get("UnitFileState");
        if !(file_state.starts_with("enabled") || file_state == "static") {
            return (true, None);
        }
        let (active, sub) = (get("ActiveState"), get("SubState"));
        if active == "active" {
            if sub == "exited" {
                continue;
            }
            if sub == "running" && get("MainPID") == "0" {
                return (false, None);
            }
        } else if active == "failed" || sub == "failed" {
            return (true, None);
        }
        return (false, None);
    }
    (false, None)
}

/// The result of `get_status_details`.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusDetails {
    pub running: RunningStatus,
    pub condition: Condition,
    pub boot_status_code: BootStatusCode,
    pub description: String,
    pub errors: Vec<String>,
    /// Aggregated over stages, levels in first-seen order.
    pub recoverable_errors: Vec<(String, Vec<String>)>,
    /// `%a, %d %b %Y %H:%M:%S %z` of the latest start/finish, or empty.
    pub last_update: String,
    /// `ec2`, `nocloud`, ...; JSON `null` when status.json says null, `""` when unknown.
    pub datasource: Value,
    /// status.json `v1` without `datasource`.
    pub v1: Map<String, Value>,
    /// A message upstream prints on stderr (systemctl failed).
    pub stderr: Option<String>,
    /// Ours: the user-data schema findings of this boot
    /// ([`SCHEMA_FINDINGS_FILE`]), shown as `schema_errors` in JSON/YAML.
    pub schema_findings: Option<Value>,
    /// Ours: the known problems of this boot's log (filled by
    /// [`run_status`], not by [`status_details`], which polls).
    pub known_problems: Vec<Match>,
}

/// Written by the network stage under the run dir when the user-data
/// cloud-config has schema errors or deprecations: a list of
/// `{kind, path, line, column, message}`.
pub const SCHEMA_FINDINGS_FILE: &str = "schema-findings.json";

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn num(v: Option<&Value>) -> f64 {
    v.and_then(Value::as_f64).unwrap_or(0.0)
}

/// `get_status_details`.
pub fn status_details(host: &Host, paths: &Paths, env: &StatusEnv) -> StatusDetails {
    let status_file = paths.run_file("status.json");
    let result_file = paths.run_file("result.json");
    let (code, boot_description) = boot_status(host, paths, env);
    let mut v1: Map<String, Value> = host
        .read_to_string(&status_file)
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|d| d.get("v1").and_then(Value::as_object).cloned())
        .unwrap_or_default();
    mark_dead_stages(host, paths, &mut v1);

    let datasource = match v1.get("datasource") {
        Some(Value::String(s)) if !s.is_empty() => {
            let first = s.split(' ').next().unwrap_or_default();
            Value::String(first.to_lowercase().replace("datasource", ""))
        }
        Some(other) => other.clone(),
        None => Value::String(String::new()),
    };
    let mut description = match (v1.get("datasource"), v1.get("stage")) {
        (Some(ds), _) if truthy(ds) => text(ds),
        (_, Some(stage)) if truthy(stage) => format!("Running in stage: {}", text(stage)),
        _ => boot_description,
    };

    let latest = v1
        .values()
        .filter_map(Value::as_object)
        .map(|st| num(st.get("start")).max(num(st.get("finished"))))
        .fold(0.0_f64, f64::max);
    let last_update = if latest != 0.0 {
        timefmt::rfc2822(latest)
    } else {
        String::new()
    };

    let mut errors: Vec<String> = Vec::new();
    let mut recoverable: Vec<(String, Vec<String>)> = Vec::new();
    let mut keys: Vec<&String> = v1.keys().collect();
    keys.sort();
    for k in keys {
        let Some(st) = v1.get(k).and_then(Value::as_object) else {
            continue;
        };
        if let Some(errs) = st.get("errors").and_then(Value::as_array) {
            errors.extend(errs.iter().map(text));
        }
        if let Some(rec) = st.get("recoverable_errors").and_then(Value::as_object) {
            for (level, msgs) in rec {
                let msgs: Vec<String> = msgs
                    .as_array()
                    .map(|a| a.iter().map(text).collect())
                    .unwrap_or_default();
                match recoverable.iter_mut().find(|(l, _)| l == level) {
                    Some((_, list)) => list.extend(msgs),
                    None => recoverable.push((level.clone(), msgs)),
                }
            }
        }
    }
    let mut condition = if !errors.is_empty() {
        Condition::Error
    } else if !recoverable.is_empty() {
        Condition::Degraded
    } else {
        Condition::Healthy
    };

    let mut running = if code.is_disabled() {
        RunningStatus::Disabled
    } else if host.exists(&status_file) && !host.exists(&result_file) {
        RunningStatus::Running
    } else if latest > 0.0 {
        RunningStatus::Done
    } else {
        RunningStatus::NotStarted
    };

    let mut stderr = None;
    if running == RunningStatus::Running && env.uses_systemd {
        let (failed, warning) = systemd_failed(env.systemd);
        stderr = warning;
        if failed {
            running = RunningStatus::Done;
            condition = Condition::Error;
            description = "Failed due to systemd unit failure".into();
            errors.push(SYSTEMD_FAILURE.into());
        }
    }
    // A stage died and none runs now: say so rather than "running", which
    // nothing would ever end (`--wait` returns). A later stage that starts
    // makes it "running" again until it ends.
    if running == RunningStatus::Running
        && errors.iter().any(|e| status_file::is_unfinished_error(e))
        && !any_unfinished(&v1)
    {
        running = RunningStatus::Done;
    }
    v1.remove("datasource");
    let schema_findings = host
        .read_to_string(paths.run_file(SCHEMA_FINDINGS_FILE))
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .filter(Value::is_array);
    StatusDetails {
        running,
        condition,
        boot_status_code: code,
        description,
        errors,
        recoverable_errors: recoverable,
        last_update,
        datasource,
        v1,
        stderr,
        schema_findings,
        known_problems: Vec::new(),
    }
}

/// In the `v1` read from status.json, record as failed the stages whose
/// process ended before they finished (as the next stage will persist
/// them; see [`status_file::record_dead_stages`]). `status` itself does
/// not write: it may run unprivileged and beside a stage.
fn mark_dead_stages(host: &Host, paths: &Paths, v1: &mut Map<String, Value>) {
    let Some(file) = StatusFile::from_json(&json!({ "v1": v1 }).to_string()) else {
        return;
    };
    let dead = status_file::dead_stages(host, paths, &file);
    if dead.is_empty() {
        return;
    }
    let now = host.uptime();
    for (stage, pid) in dead {
        if let Some(Value::Object(st)) = v1.get_mut(stage.key()) {
            let msg = json!(status_file::unfinished_error(stage, pid));
            match st.get_mut("errors") {
                Some(Value::Array(list)) => list.push(msg),
                _ => {
                    st.insert("errors".into(), json!([msg]));
                }
            }
            st.insert("finished".into(), json!(now));
        }
        if v1.get("stage").and_then(Value::as_str) == Some(stage.key()) {
            v1.insert("stage".into(), Value::Null);
        }
    }
}

/// Whether some stage in `v1` has a start and no finish.
fn any_unfinished(v1: &Map<String, Value>) -> bool {
    Stage::ALL.iter().any(|s| {
        v1.get(s.key())
            .and_then(Value::as_object)
            .is_some_and(|st| {
                let time = |k: &str| st.get(k).and_then(Value::as_f64);
                status_file::unfinished(time("start"), time("finished"))
            })
    })
}

/// `translate_status`: (status, extended_status).
pub fn translate(running: RunningStatus, condition: Condition) -> (String, String) {
    match condition {
        Condition::Error => ("error".into(), format!("error - {}", running.as_str())),
        Condition::Degraded if matches!(running, RunningStatus::Done | RunningStatus::Running) => (
            running.as_str().into(),
            format!("degraded {}", running.as_str()),
        ),
        _ => (running.as_str().into(), running.as_str().into()),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Tabular,
    Json,
    Yaml,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "tabular" => Some(Format::Tabular),
            "json" => Some(Format::Json),
            "yaml" => Some(Format::Yaml),
            _ => None,
        }
    }
}

/// The dict upstream prints for json/yaml (`details_dict`).
pub fn details_value(d: &StatusDetails) -> Value {
    let (status, extended) = translate(d.running, d.condition);
    let rec: Map<String, Value> = d
        .recoverable_errors
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    let mut m = Map::new();
    m.insert("datasource".into(), d.datasource.clone());
    m.insert(
        "boot_status_code".into(),
        json!(d.boot_status_code.as_str()),
    );
    m.insert("status".into(), json!(status));
    m.insert("extended_status".into(), json!(extended));
    m.insert("detail".into(), json!(d.description));
    m.insert("errors".into(), json!(d.errors));
    m.insert("recoverable_errors".into(), Value::Object(rec));
    m.insert("last_update".into(), json!(d.last_update));
    if let Some(f) = &d.schema_findings {
        m.insert("schema_errors".into(), f.clone());
    }
    if !d.known_problems.is_empty() {
        let list: Vec<Value> = d.known_problems.iter().map(Match::to_value).collect();
        m.insert("known_problems".into(), Value::Array(list));
    }
    for (k, v) in &d.v1 {
        m.insert(k.clone(), v.clone());
    }
    Value::Object(m)
}

/// `print_status`: the exact stdout text (with its final newline).
pub fn render(d: &StatusDetails, format: Format, long: bool) -> String {
    render_waited(d, format, long, None)
}

/// [`render`] plus, in JSON/YAML, the `wait` object of `--wait`.
pub fn render_waited(
    d: &StatusDetails,
    format: Format,
    long: bool,
    wait: Option<&WaitOutcome>,
) -> String {
    let value = || {
        let mut v = details_value(d);
        if let (Some(w), Value::Object(m)) = (wait, &mut v) {
            m.insert("wait".into(), w.to_value());
        }
        v
    };
    let (status, extended) = translate(d.running, d.condition);
    match format {
        Format::Tabular => {
            let mut out = format!("status: {status}\n");
            if long {
                let last_update = if d.last_update.is_empty() {
                    String::new()
                } else {
                    format!("last_update: {}\n", d.last_update)
                };
                let errors = if d.errors.is_empty() {
                    " []".to_string()
                } else {
                    format!("\n\t- {}", d.errors.join("\n\t- "))
                };
                let recoverable = if d.recoverable_errors.is_empty() {
                    " {}".to_string()
                } else {
                    let blocks: Vec<String> = d
                        .recoverable_errors
                        .iter()
                        .map(|(k, v)| {
                            let msgs: Vec<String> =
                                v.iter().map(|m| m.replace('\n', " ")).collect();
                            format!("{k}:\n\t- {}", msgs.join("\n\t- "))
                        })
                        .collect();
                    format!("\n{}", blocks.join("\n"))
                };
                out.push_str(&format!(
                    "extended_status: {extended}\nboot_status_code: {}\n{last_update}detail: {}\nerrors:{errors}\nrecoverable_errors:{recoverable}\n",
                    d.boot_status_code.as_str(),
                    d.description
                ));
                out.push_str(&known_problems_block(&d.known_problems));
            }
            out
        }
        Format::Json => pyjson::dumps(&value(), &pyjson::STATUS) + "\n",
        Format::Yaml => ci_yaml::dumps(&value()) + "\n",
    }
}

/// The `--long` block of known problems; empty without any.
fn known_problems_block(found: &[Match]) -> String {
    if found.is_empty() {
        return String::new();
    }
    let mut out = String::from("known problems:\n");
    for m in found {
        out.push_str(&format!(
            "\t- {} ({}x): {}\n\t  fix: {}\n\t  log: {}\n",
            m.id, m.count, m.explanation, m.fix, m.line
        ));
    }
    out
}

/// Exit code of `status`: 1 error, 2 degraded, else 0.
pub fn exit_code(d: &StatusDetails) -> i32 {
    match d.condition {
        Condition::Error => 1,
        Condition::Degraded => 2,
        Condition::Healthy => 0,
    }
}

/// Exit code of `status --wait --timeout S` when the time ran out (see the
/// module docs).
pub const TIMEOUT_EXIT_CODE: i32 = 124;

/// Why `--wait` stopped waiting (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitResult {
    Done,
    Error,
    Disabled,
    NoDatasource,
    Timeout,
}

impl WaitResult {
    pub fn as_str(self) -> &'static str {
        match self {
            WaitResult::Done => "done",
            WaitResult::Error => "error",
            WaitResult::Disabled => "disabled",
            WaitResult::NoDatasource => "no-datasource",
            WaitResult::Timeout => "timeout",
        }
    }
}

/// What `--wait` reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WaitOutcome {
    pub result: WaitResult,
    /// Seconds from the first poll to the answer, rounded to milliseconds.
    pub waited_seconds: f64,
}

impl WaitOutcome {
    pub fn to_value(&self) -> Value {
        json!({
            "result": self.result.as_str(),
            "waited_seconds": (self.waited_seconds * 1000.0).round() / 1000.0,
        })
    }
}

/// The error status.json's network stage records when no datasource was
/// found (upstream's text).
pub const NO_DATASOURCE_ERROR: &str = "No instance datasource found.";

/// The network stage finished without a datasource: later stages can only
/// fail, so there is nothing left to wait for.
fn network_stage_found_nothing(d: &StatusDetails) -> bool {
    d.v1.get(Stage::Init.key())
        .and_then(Value::as_object)
        .is_some_and(|st| {
            st.get("finished").is_some_and(Value::is_number)
                && st
                    .get("errors")
                    .and_then(Value::as_array)
                    .is_some_and(|e| e.iter().any(|x| x.as_str() == Some(NO_DATASOURCE_ERROR)))
        })
}

/// Whether `--wait` stops at `d`, and why.
pub fn wait_verdict(d: &StatusDetails) -> Option<WaitResult> {
    if d.running == RunningStatus::Disabled {
        return Some(WaitResult::Disabled);
    }
    if network_stage_found_nothing(d) {
        return Some(WaitResult::NoDatasource);
    }
    if d.running != RunningStatus::Done {
        return None;
    }
    if d.condition == Condition::Error {
        return Some(WaitResult::Error);
    }
    // `DataSourceNone` reads as `none` once upstream's name mangling is done.
    if d.datasource.as_str() == Some("none") {
        return Some(WaitResult::NoDatasource);
    }
    Some(WaitResult::Done)
}

/// The outcome of `cloud-init status`.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusOutput {
    pub stdout: String,
    /// Lines upstream writes to stderr (systemctl problems).
    pub stderr: String,
    pub exit_code: i32,
    pub details: StatusDetails,
    /// With `wait`: why the wait ended.
    pub wait: Option<WaitOutcome>,
}

/// Options of `cloud-init status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusArgs {
    pub format: Format,
    pub long: bool,
    pub wait: bool,
}

/// `cloud-init status [--format F] [--long] [--wait]`. With `wait`, polls
/// while not started/running, calling `sleep()` between polls (upstream
/// sleeps 0.25 s) and writing a `.` per poll in tabular mode (the dots come
/// first in stdout, without newline). `progress` receives each dot as it is
/// due, for callers that stream output; the returned stdout repeats them.
pub fn run_status(
    host: &Host,
    paths: &Paths,
    env: &StatusEnv,
    args: StatusArgs,
    sleep: &mut dyn FnMut(),
    progress: &mut dyn FnMut(&str),
) -> StatusOutput {
    let start = Instant::now();
    let mut clock = || start.elapsed().as_secs_f64();
    let opts = WaitOpts {
        timeout: None,
        log_file: known_problems::DEFAULT_LOG_FILE,
    };
    run_status_with(host, paths, env, args, opts, &mut clock, sleep, progress)
}

/// Ours beyond upstream's arguments.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WaitOpts<'a> {
    /// `--timeout SECONDS`: stop waiting after this long.
    pub timeout: Option<f64>,
    /// The log scanned for known problems (a path in the root).
    pub log_file: &'a str,
}

/// [`run_status`] with a timeout for `wait`; `clock` gives the seconds
/// since the command started.
#[allow(clippy::too_many_arguments)]
pub fn run_status_with(
    host: &Host,
    paths: &Paths,
    env: &StatusEnv,
    args: StatusArgs,
    opts: WaitOpts,
    clock: &mut dyn FnMut() -> f64,
    sleep: &mut dyn FnMut(),
    progress: &mut dyn FnMut(&str),
) -> StatusOutput {
    let StatusArgs { format, long, wait } = args;
    let started = clock();
    let mut stdout = String::new();
    let mut stderr = String::new();
    let note = |d: &StatusDetails, stderr: &mut String| {
        if let Some(e) = &d.stderr {
            stderr.push_str(e);
            stderr.push('\n');
        }
    };
    let mut details = status_details(host, paths, env);
    note(&details, &mut stderr);
    let mut outcome = None;
    if wait {
        let result = loop {
            if let Some(r) = wait_verdict(&details) {
                break r;
            }
            if opts.timeout.is_some_and(|t| clock() - started >= t) {
                break WaitResult::Timeout;
            }
            if format == Format::Tabular {
                stdout.push('.');
                progress(".");
            }
            details = status_details(host, paths, env);
            note(&details, &mut stderr);
            if wait_verdict(&details).is_none() {
                sleep();
            }
        };
        outcome = Some(WaitOutcome {
            result,
            waited_seconds: (clock() - started).max(0.0),
        });
    }
    if long || format != Format::Tabular {
        details.known_problems = known_problems::scan_log(host, opts.log_file);
    }
    stdout.push_str(&render_waited(&details, format, long, outcome.as_ref()));
    let code = match outcome {
        Some(WaitOutcome {
            result: WaitResult::Timeout,
            ..
        }) => TIMEOUT_EXIT_CODE,
        _ => exit_code(&details),
    };
    StatusOutput {
        stdout,
        stderr,
        exit_code: code,
        details,
        wait: outcome,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status_file::{stage_begin, stage_finish, StageOutcome};

    struct NoSystemd;

    impl Systemd for NoSystemd {
        fn show_environment(&self) -> Option<String> {
            None
        }
        fn show_unit(&self, _unit: &str) -> Result<String, String> {
            Err("no systemd".into())
        }
    }

    fn env() -> StatusEnv<'static> {
        StatusEnv {
            uses_systemd: false,
            cmdline: String::new(),
            env_kernel_cmdline: None,
            systemd: &NoSystemd,
        }
    }

    fn json_of(h: &Host, p: &Paths) -> (Value, i32) {
        let d = status_details(h, p, &env());
        let v: Value = serde_json::from_str(&render(&d, Format::Json, false)).unwrap();
        (v, exit_code(&d))
    }

    /// init-local done, then the network stage started and its process died.
    fn dead_network_stage() -> (tempfile::TempDir, Host, Paths) {
        let d = tempfile::tempdir().unwrap();
        let h = Host::new(d.path());
        let p = Paths::default();
        let (mut st, _local) = stage_begin(&h, &p, Stage::InitLocal, 1.0).unwrap();
        stage_finish(
            &h,
            &p,
            &mut st,
            Stage::InitLocal,
            StageOutcome::default(),
            2.0,
        )
        .unwrap();
        drop(stage_begin(&h, &p, Stage::Init, 3.0).unwrap());
        (d, h, p)
    }

    #[test]
    fn a_dead_stage_is_an_error_not_running() {
        let (_d, h, p) = dead_network_stage();
        let (v, code) = json_of(&h, &p);
        assert_eq!(code, 1);
        assert_eq!(v["status"], "error");
        assert_eq!(v["extended_status"], "error - done");
        let errors = v["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 1);
        assert!(errors[0]
            .as_str()
            .unwrap()
            .starts_with("Stage init (Network Stage) did not finish: its process (pid "));
        assert_eq!(v["init"]["errors"], v["errors"]);
        assert_eq!(v["stage"], Value::Null);
        // `status` reports; it does not write.
        let disk = h.read_to_string("/run/cloud-init/status.json").unwrap();
        assert!(!disk.contains("did not finish"));
        assert!(disk.contains("\"stage\": \"init\""));
    }

    #[test]
    fn while_a_later_stage_runs_it_is_error_running() {
        let (_d, h, p) = dead_network_stage();
        let (_st, _config) = stage_begin(&h, &p, Stage::ModulesConfig, 4.0).unwrap();
        let (v, code) = json_of(&h, &p);
        assert_eq!(code, 1);
        assert_eq!(v["extended_status"], "error - running");
        assert_eq!(v["stage"], "modules-config");
        // The error is the one modules-config persisted, not a second one.
        assert_eq!(v["errors"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn a_live_stage_is_running() {
        let d = tempfile::tempdir().unwrap();
        let h = Host::new(d.path());
        let p = Paths::default();
        let (_st, _local) = stage_begin(&h, &p, Stage::InitLocal, 1.0).unwrap();
        let (v, code) = json_of(&h, &p);
        assert_eq!((v["extended_status"].as_str(), code), (Some("running"), 0));
    }

    struct FailedUnit;

    impl Systemd for FailedUnit {
        fn show_environment(&self) -> Option<String> {
            Some(String::new())
        }
        fn show_unit(&self, _unit: &str) -> Result<String, String> {
            Ok("ActiveState=failed\nUnitFileState=enabled\nSubState=failed\nMainPID=0".into())
        }
    }

    #[test]
    fn on_systemd_the_unit_failure_is_reported_too() {
        let (_d, h, p) = dead_network_stage();
        let env = StatusEnv {
            uses_systemd: true,
            cmdline: "cloud-init=enabled".into(),
            env_kernel_cmdline: None,
            systemd: &FailedUnit,
        };
        let d = status_details(&h, &p, &env);
        assert_eq!(d.running, RunningStatus::Done);
        assert_eq!(d.description, "Failed due to systemd unit failure");
        assert_eq!(d.errors.len(), 2);
        assert!(status_file::is_unfinished_error(&d.errors[0]));
        assert_eq!(d.errors[1], SYSTEMD_FAILURE);
    }

    #[test]
    fn wait_times_out_on_a_stage_that_runs_on() {
        let d = tempfile::tempdir().unwrap();
        let h = Host::new(d.path());
        let p = Paths::default();
        let (_st, _local) = stage_begin(&h, &p, Stage::InitLocal, 1.0).unwrap();
        let now = std::cell::Cell::new(0.0);
        let mut sleeps = 0;
        let out = run_status_with(
            &h,
            &p,
            &env(),
            StatusArgs {
                format: Format::Json,
                long: false,
                wait: true,
            },
            WaitOpts {
                timeout: Some(1.0),
                log_file: known_problems::DEFAULT_LOG_FILE,
            },
            &mut || now.get(),
            &mut || {
                sleeps += 1;
                now.set(now.get() + 0.25);
            },
            &mut |_| {},
        );
        assert_eq!(sleeps, 4);
        assert_eq!(out.exit_code, TIMEOUT_EXIT_CODE);
        let v: Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(v["status"], "running");
        assert_eq!(
            v["wait"],
            json!({"result": "timeout", "waited_seconds": 1.0})
        );
    }

    #[test]
    fn wait_ends_on_a_dead_stage() {
        let (_d, h, p) = dead_network_stage();
        let mut sleeps = 0;
        let out = run_status(
            &h,
            &p,
            &env(),
            StatusArgs {
                format: Format::Tabular,
                long: false,
                wait: true,
            },
            &mut || sleeps += 1,
            &mut |_| {},
        );
        assert_eq!(sleeps, 0);
        assert_eq!(out.stdout, "status: error\n");
        assert_eq!(out.exit_code, 1);
        assert_eq!(out.wait.map(|w| w.result), Some(WaitResult::Error));
    }
}

//! `status.json` / `result.json`: what each stage did, read by
//! `cloud-init status`, `cloud-id`, hotplug and people's scripts. Written
//! under `/var/lib/cloud/data/` and linked (relative links) from
//! `/run/cloud-init/`, as upstream's `status_wrapper` does.

use crate::paths::Paths;
use crate::pyjson;
use crate::stage_lock::{self, StageLock};
use ci_host::{Host, WriteOpts};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// The four boot stages recorded in status.json.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    InitLocal,
    Init,
    ModulesConfig,
    ModulesFinal,
}

impl Stage {
    pub const ALL: [Stage; 4] = [
        Stage::InitLocal,
        Stage::Init,
        Stage::ModulesConfig,
        Stage::ModulesFinal,
    ];

    /// The key in status.json (`init-local`, `init`, `modules-config`, `modules-final`).
    pub fn key(self) -> &'static str {
        match self {
            Stage::InitLocal => "init-local",
            Stage::Init => "init",
            Stage::ModulesConfig => "modules-config",
            Stage::ModulesFinal => "modules-final",
        }
    }

    /// Upstream's `STAGE_NAME` (used in its warning text).
    pub fn display_name(self) -> &'static str {
        match self {
            Stage::InitLocal => "Local Stage",
            Stage::Init => "Network Stage",
            Stage::ModulesConfig => "Config Stage",
            Stage::ModulesFinal => "Final Stage",
        }
    }

    pub fn from_key(k: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.key() == k)
    }
}

/// One stage's record.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StageStatus {
    pub errors: Vec<String>,
    /// `{LEVEL: [message, ...]}`; levels are `WARNING`, `DEPRECATED`, `ERROR`, `CRITICAL`.
    pub recoverable_errors: BTreeMap<String, Vec<String>>,
    /// Uptime seconds (not epoch), as upstream since 24.x.
    pub start: Option<f64>,
    pub finished: Option<f64>,
}

impl StageStatus {
    fn to_value(&self) -> Value {
        let rec: Map<String, Value> = self
            .recoverable_errors
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        json!({
            "errors": self.errors,
            "recoverable_errors": rec,
            "start": self.start,
            "finished": self.finished,
        })
    }

    fn from_value(v: &Value) -> StageStatus {
        let strings = |v: Option<&Value>| -> Vec<String> {
            v.and_then(Value::as_array)
                .map(|a| a.iter().map(value_text).collect())
                .unwrap_or_default()
        };
        StageStatus {
            errors: strings(v.get("errors")),
            recoverable_errors: v
                .get("recoverable_errors")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, l)| (k.clone(), strings(Some(l))))
                        .collect()
                })
                .unwrap_or_default(),
            start: v.get("start").and_then(Value::as_f64),
            finished: v.get("finished").and_then(Value::as_f64),
        }
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The `v1` object of status.json.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatusFile {
    /// `str(datasource)`, e.g. `DataSourceNoCloud [seed=/dev/sr0]`.
    pub datasource: Option<String>,
    pub stages: BTreeMap<Stage, StageStatus>,
    /// The stage running now; `None` between stages.
    pub stage: Option<String>,
    /// Keys of `v1` we do not model, kept as read.
    pub extra: Map<String, Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum StatusFileError {
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl StatusFile {
    /// All four stages present with null times, as upstream starts.
    pub fn initial() -> StatusFile {
        StatusFile {
            stages: Stage::ALL
                .into_iter()
                .map(|s| (s, StageStatus::default()))
                .collect(),
            ..StatusFile::default()
        }
    }

    /// Parse a whole status.json document (`{"v1": {...}}`).
    pub fn from_json(text: &str) -> Option<StatusFile> {
        let doc: Value = serde_json::from_str(text).ok()?;
        let v1 = doc.get("v1")?.as_object()?;
        let mut out = StatusFile::default();
        for (k, v) in v1 {
            match (k.as_str(), Stage::from_key(k)) {
                ("datasource", _) => out.datasource = v.as_str().map(str::to_string),
                ("stage", _) => out.stage = v.as_str().map(str::to_string),
                (_, Some(stage)) if v.is_object() => {
                    out.stages.insert(stage, StageStatus::from_value(v));
                }
                _ => {
                    out.extra.insert(k.clone(), v.clone());
                }
            }
        }
        Some(out)
    }

    pub fn to_value(&self) -> Value {
        let mut v1 = self.extra.clone();
        v1.insert("datasource".into(), json!(self.datasource));
        for (s, st) in &self.stages {
            v1.insert(s.key().into(), st.to_value());
        }
        v1.insert("stage".into(), json!(self.stage));
        json!({ "v1": v1 })
    }

    /// The file text: `json_dumps` plus newline, as `atomic_helper.write_json`.
    pub fn to_json(&self) -> String {
        pyjson::json_dumps(&self.to_value()) + "\n"
    }

    /// Every stage's errors in key order (what result.json carries).
    pub fn all_errors(&self) -> Vec<String> {
        let mut keyed: Vec<(&str, &StageStatus)> =
            self.stages.iter().map(|(s, st)| (s.key(), st)).collect();
        // Upstream walks v1 in the (sorted) order the JSON was read back in.
        keyed.sort_by(|a, b| a.0.cmp(b.0));
        keyed
            .into_iter()
            .flat_map(|(_, st)| st.errors.iter().cloned())
            .collect()
    }

    /// Read `/var/lib/cloud/data/status.json`; `None` if absent or unreadable.
    pub fn load(host: &Host, paths: &Paths) -> Option<StatusFile> {
        let text = host.read_to_string(status_path(paths)).ok()?;
        StatusFile::from_json(&text)
    }

    fn write(&self, host: &Host, paths: &Paths) -> Result<(), StatusFileError> {
        let p = status_path(paths);
        host.write_atomic(&p, self.to_json().as_bytes(), &WriteOpts::mode(0o644))
            .map_err(|source| StatusFileError::Write { path: p, source })
    }
}

/// `/var/lib/cloud/data/status.json`.
pub fn status_path(paths: &Paths) -> PathBuf {
    paths.data_file("status.json")
}

/// `/var/lib/cloud/data/result.json`.
pub fn result_path(paths: &Paths) -> PathBuf {
    paths.data_file("result.json")
}

/// `os.path.relpath(target, start)` for absolute, normalised paths.
pub fn relpath(target: &Path, start: &Path) -> PathBuf {
    let norm = |p: &Path| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for c in p.components() {
            match c {
                Component::Normal(s) => out.push(s.to_string_lossy().into_owned()),
                Component::ParentDir => {
                    out.pop();
                }
                _ => {}
            }
        }
        out
    };
    let t = norm(target);
    let s = norm(start);
    let common = t.iter().zip(&s).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..s.len() {
        out.push("..");
    }
    for part in t.iter().skip(common) {
        out.push(part);
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

fn link_into_run(
    host: &Host,
    paths: &Paths,
    data_file: &Path,
    name: &str,
) -> Result<(), StatusFileError> {
    let link = paths.run_file(name);
    host.symlink(relpath(data_file, &paths.run_dir), &link)
        .map_err(|source| StatusFileError::Write { path: link, source })
}

/// Begin `stage`: for init-local, delete last boot's status/result files
/// and links and start afresh; otherwise continue the existing record. Sets
/// `stage` and the start time (uptime seconds), writes status.json and the
/// `/run/cloud-init/status.json` link. Warns as upstream when the stage has a
/// start but no finish (it was restarted).
///
/// This does not take the stage lock: a stage process should call
/// [`stage_begin`], which does, so that its death can be told.
pub fn stage_start(
    host: &Host,
    paths: &Paths,
    stage: Stage,
    uptime: f64,
) -> Result<StatusFile, StatusFileError> {
    start_with(host, paths, stage, uptime, false).map(|(status, _)| status)
}

/// [`stage_start`] for the stage process itself: first records as failed
/// every stage whose process ended before it finished (see
/// [`crate::stage_lock`]), then holds this stage's lock, which must be kept
/// until after [`stage_finish`].
pub fn stage_begin(
    host: &Host,
    paths: &Paths,
    stage: Stage,
    uptime: f64,
) -> Result<(StatusFile, Option<StageLock>), StatusFileError> {
    start_with(host, paths, stage, uptime, true)
}

fn start_with(
    host: &Host,
    paths: &Paths,
    stage: Stage,
    uptime: f64,
    track: bool,
) -> Result<(StatusFile, Option<StageLock>), StatusFileError> {
    let mut status = if stage == Stage::InitLocal {
        // A killed init-local restarted in the same boot (its lock file in
        // /run is still there) keeps the news across the fresh start.
        let died: Vec<String> = match StatusFile::load(host, paths) {
            Some(old) if track => dead_stages(host, paths, &old)
                .into_iter()
                .filter(|(s, _)| *s == Stage::InitLocal)
                .map(|(s, pid)| {
                    let msg = unfinished_error(s, pid);
                    log::error!("{msg}");
                    msg
                })
                .collect(),
            _ => Vec::new(),
        };
        for p in [
            paths.run_file("status.json"),
            paths.run_file("result.json"),
            status_path(paths),
            result_path(paths),
        ] {
            // A leftover we cannot delete is overwritten below anyway.
            let _ = host.remove_file(&p);
        }
        let mut fresh = StatusFile::initial();
        fresh.stages.entry(stage).or_default().errors = died;
        fresh
    } else {
        let mut status = StatusFile::load(host, paths).unwrap_or_else(StatusFile::initial);
        if track && record_dead_stages(host, paths, &mut status, uptime).contains(&stage) {
            // This stage is being run again after its process died: keep
            // the error, but the run starting now has not finished.
            if let Some(entry) = status.stages.get_mut(&stage) {
                entry.finished = None;
            }
        }
        status
    };
    let _ = host.create_dir_all(&paths.run_dir, 0o755);
    // Locked before the start is written: a start without a lock file is
    // one `status` cannot judge, never one it takes for dead.
    let lock = if track {
        stage_lock::acquire(host, paths, stage)
    } else {
        None
    };
    status.stage = Some(stage.key().to_string());
    let entry = status.stages.entry(stage).or_default();
    if unfinished(entry.start, entry.finished) {
        log::warn!(
            "Unexpected start time found for {}. Was this stage restarted?",
            stage.display_name()
        );
    }
    entry.start = Some(uptime);
    status.write(host, paths)?;
    link_into_run(host, paths, &status_path(paths), "status.json")?;
    Ok((status, lock))
}

/// A stage that started and has not finished (upstream's "running" test;
/// a zero time counts as unset).
pub fn unfinished(start: Option<f64>, finished: Option<f64>) -> bool {
    start.is_some_and(|s| s != 0.0) && finished.is_none_or(|f| f == 0.0)
}

/// The error recorded for a stage whose process ended before it finished.
pub fn unfinished_error(stage: Stage, pid: Option<u32>) -> String {
    let process = match pid {
        Some(pid) => format!("its process (pid {pid})"),
        None => "its process".to_string(),
    };
    format!(
        "Stage {} ({}) did not finish: {process} ended before the stage completed \
         (killed or aborted); see /var/log/cloud-init.log",
        stage.key(),
        stage.display_name()
    )
}

/// True for messages made by [`unfinished_error`].
pub fn is_unfinished_error(msg: &str) -> bool {
    msg.starts_with("Stage ") && msg.contains(") did not finish: ")
}

/// Stages of `status` that started, did not finish and whose process is
/// gone, with the PID it had.
pub fn dead_stages(host: &Host, paths: &Paths, status: &StatusFile) -> Vec<(Stage, Option<u32>)> {
    status
        .stages
        .iter()
        .filter(|(_, st)| unfinished(st.start, st.finished))
        .filter_map(|(&stage, st)| {
            let start = st.start;
            // Re-read under the probe's lock: the stage may have finished
            // since `status` was read.
            let again = || {
                StatusFile::load(host, paths)
                    .and_then(|now| now.stages.get(&stage).cloned())
                    .is_some_and(|now| now.start == start && unfinished(now.start, now.finished))
            };
            match stage_lock::probe(host, paths, stage, again) {
                stage_lock::Owner::Gone { pid } => Some((stage, pid)),
                _ => None,
            }
        })
        .collect()
}

/// Mark every dead stage of `status` (see [`dead_stages`]) finished at
/// `uptime` with an [`unfinished_error`], in memory. Returns the stages
/// marked.
pub fn record_dead_stages(
    host: &Host,
    paths: &Paths,
    status: &mut StatusFile,
    uptime: f64,
) -> Vec<Stage> {
    let dead = dead_stages(host, paths, status);
    for (stage, pid) in &dead {
        let msg = unfinished_error(*stage, *pid);
        log::error!("{msg}");
        let entry = status.stages.entry(*stage).or_default();
        entry.errors.push(msg);
        entry.finished = Some(uptime);
        if status.stage.as_deref() == Some(stage.key()) {
            status.stage = None;
        }
    }
    dead.into_iter().map(|(s, _)| s).collect()
}

/// What a stage produced, for [`stage_finish`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StageOutcome {
    /// `str(datasource)` when the init stages found one (left as is when `None`).
    pub datasource: Option<String>,
    /// Fatal errors (exception text, `sys.exit(N) called`, module failures).
    pub errors: Vec<String>,
    /// Captured WARNING-and-above log records, `{LEVEL: [msgs]}`
    /// (see [`crate::log::take_captured`]).
    pub recoverable_errors: BTreeMap<String, Vec<String>>,
}

/// End `stage`: record errors and captured warnings and the finish time,
/// clear `stage`, write status.json; after modules-final also write
/// result.json (`{"v1": {"datasource", "errors"}}`) and its run link.
pub fn stage_finish(
    host: &Host,
    paths: &Paths,
    status: &mut StatusFile,
    stage: Stage,
    outcome: StageOutcome,
    uptime: f64,
) -> Result<(), StatusFileError> {
    if let Some(ds) = outcome.datasource {
        status.datasource = Some(ds);
    }
    let entry = status.stages.entry(stage).or_default();
    entry.errors.extend(outcome.errors);
    entry.finished = Some(uptime);
    for (level, msgs) in outcome.recoverable_errors {
        entry.recoverable_errors.insert(level, msgs);
    }
    status.stage = None;
    status.write(host, paths)?;
    if stage == Stage::ModulesFinal {
        write_result(host, paths, status)?;
    }
    Ok(())
}

/// `result.json`: the presence of this file means "cloud-init is done".
pub fn write_result(
    host: &Host,
    paths: &Paths,
    status: &StatusFile,
) -> Result<(), StatusFileError> {
    let doc = json!({"v1": {"datasource": status.datasource, "errors": status.all_errors()}});
    let p = result_path(paths);
    host.write_atomic(
        &p,
        (pyjson::json_dumps(&doc) + "\n").as_bytes(),
        &WriteOpts::mode(0o644),
    )
    .map_err(|source| StatusFileError::Write {
        path: p.clone(),
        source,
    })?;
    link_into_run(host, paths, &p, "result.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relpath_like_python() {
        assert_eq!(
            relpath(
                Path::new("/var/lib/cloud/data/status.json"),
                Path::new("/run/cloud-init")
            ),
            PathBuf::from("../../var/lib/cloud/data/status.json")
        );
        assert_eq!(
            relpath(Path::new("/a/b/c"), Path::new("/a/b")),
            PathBuf::from("c")
        );
        assert_eq!(
            relpath(Path::new("/a"), Path::new("/a")),
            PathBuf::from(".")
        );
    }

    #[test]
    fn stage_cycle_writes_files_and_links() {
        let d = tempfile::tempdir().unwrap();
        let h = Host::new(d.path());
        let p = Paths::default();
        h.write_atomic(
            "/var/lib/cloud/data/result.json",
            b"{}",
            &WriteOpts::default(),
        )
        .unwrap();
        let mut st = stage_start(&h, &p, Stage::InitLocal, 1.5).unwrap();
        assert!(!h.exists("/var/lib/cloud/data/result.json"));
        assert_eq!(
            h.read_link("/run/cloud-init/status.json").unwrap(),
            PathBuf::from("../../var/lib/cloud/data/status.json")
        );
        let on_disk =
            StatusFile::from_json(&h.read_to_string("/run/cloud-init/status.json").unwrap())
                .unwrap();
        assert_eq!(on_disk.stage.as_deref(), Some("init-local"));
        assert_eq!(on_disk.stages[&Stage::InitLocal].start, Some(1.5));
        let mut rec = BTreeMap::new();
        rec.insert("WARNING".to_string(), vec!["w1".to_string()]);
        stage_finish(
            &h,
            &p,
            &mut st,
            Stage::InitLocal,
            StageOutcome {
                datasource: Some("DataSourceNoCloud [seed=/dev/vdb]".into()),
                errors: vec![],
                recoverable_errors: rec,
            },
            2.0,
        )
        .unwrap();
        let mut st = stage_start(&h, &p, Stage::ModulesFinal, 9.0).unwrap();
        assert_eq!(
            st.datasource.as_deref(),
            Some("DataSourceNoCloud [seed=/dev/vdb]")
        );
        stage_finish(
            &h,
            &p,
            &mut st,
            Stage::ModulesFinal,
            StageOutcome {
                errors: vec!["boom".into()],
                ..Default::default()
            },
            10.0,
        )
        .unwrap();
        assert_eq!(
            h.read_to_string("/run/cloud-init/result.json").unwrap(),
            "{\n \"v1\": {\n  \"datasource\": \"DataSourceNoCloud [seed=/dev/vdb]\",\n  \"errors\": [\n   \"boom\"\n  ]\n }\n}\n"
        );
        let text = h.read_to_string("/var/lib/cloud/data/status.json").unwrap();
        assert!(
            text.contains(
                "\"recoverable_errors\": {\n    \"WARNING\": [\n     \"w1\"\n    ]\n   },"
            ),
            "{text}"
        );
        assert!(text.contains("\"stage\": null\n"));
        assert!(text.contains("\"finished\": 10.0,"));
    }

    fn sandbox() -> (tempfile::TempDir, Host, Paths) {
        let d = tempfile::tempdir().unwrap();
        let h = Host::new(d.path());
        (d, h, Paths::default())
    }

    fn on_disk(h: &Host) -> StatusFile {
        StatusFile::from_json(&h.read_to_string("/run/cloud-init/status.json").unwrap()).unwrap()
    }

    fn finish(h: &Host, p: &Paths, st: &mut StatusFile, stage: Stage, at: f64) {
        stage_finish(h, p, st, stage, StageOutcome::default(), at).unwrap();
    }

    #[test]
    fn next_stage_records_a_stage_whose_process_died() {
        let (_d, h, p) = sandbox();
        let (mut st, local) = stage_begin(&h, &p, Stage::InitLocal, 1.0).unwrap();
        finish(&h, &p, &mut st, Stage::InitLocal, 2.0);
        drop(local);
        // The network stage starts and "dies": its lock goes, no finish.
        let (_, init) = stage_begin(&h, &p, Stage::Init, 3.0).unwrap();
        assert!(init.is_some());
        // While it lives, the next stage leaves it alone.
        let (_, config) = stage_begin(&h, &p, Stage::ModulesConfig, 4.0).unwrap();
        assert!(on_disk(&h).stages[&Stage::Init].errors.is_empty());
        drop(init);
        let (mut st, _final) = stage_begin(&h, &p, Stage::ModulesFinal, 5.0).unwrap();
        let rec = &on_disk(&h).stages[&Stage::Init];
        assert_eq!(rec.finished, Some(5.0));
        assert_eq!(
            rec.errors,
            vec![unfinished_error(Stage::Init, Some(std::process::id()))]
        );
        assert!(rec.errors[0]
            .starts_with("Stage init (Network Stage) did not finish: its process (pid "));
        assert!(is_unfinished_error(&rec.errors[0]));
        // modules-config still holds its lock: running, not dead.
        assert_eq!(on_disk(&h).stages[&Stage::ModulesConfig].finished, None);
        drop(config);
        finish(&h, &p, &mut st, Stage::ModulesFinal, 6.0);
        // result.json carries it, so `status` says error once all is done.
        let result = h.read_to_string("/run/cloud-init/result.json").unwrap();
        assert!(
            result.contains("Stage init (Network Stage) did not finish"),
            "{result}"
        );
    }

    #[test]
    fn finished_and_untracked_stages_are_never_taken_for_dead() {
        let (_d, h, p) = sandbox();
        let (mut st, local) = stage_begin(&h, &p, Stage::InitLocal, 1.0).unwrap();
        finish(&h, &p, &mut st, Stage::InitLocal, 2.0);
        drop(local);
        // Started by something that takes no lock (an older build): unknown.
        stage_start(&h, &p, Stage::Init, 3.0).unwrap();
        let (st, _cfg) = stage_begin(&h, &p, Stage::ModulesConfig, 4.0).unwrap();
        assert!(st.all_errors().is_empty());
        assert_eq!(st.stages[&Stage::Init].finished, None);
        assert_eq!(st.stages[&Stage::InitLocal].finished, Some(2.0));
    }

    #[test]
    fn rerun_of_a_dead_stage_keeps_the_error_and_is_running() {
        let (_d, h, p) = sandbox();
        drop(stage_begin(&h, &p, Stage::InitLocal, 1.0).unwrap());
        drop(stage_begin(&h, &p, Stage::ModulesConfig, 2.0).unwrap());
        let (mut st, again) = stage_begin(&h, &p, Stage::ModulesConfig, 3.0).unwrap();
        assert!(again.is_some());
        let rec = &on_disk(&h).stages[&Stage::ModulesConfig];
        assert_eq!(rec.start, Some(3.0));
        assert_eq!(rec.finished, None);
        assert_eq!(rec.errors.len(), 1);
        assert!(rec.errors[0].starts_with("Stage modules-config (Config Stage) did not finish"));
        // init-local died too, and was recorded as such.
        assert!(is_unfinished_error(
            &on_disk(&h).stages[&Stage::InitLocal].errors[0]
        ));
        finish(&h, &p, &mut st, Stage::ModulesConfig, 4.0);
        assert_eq!(on_disk(&h).stages[&Stage::ModulesConfig].errors.len(), 1);
    }

    #[test]
    fn killed_init_local_rerun_keeps_the_news_but_a_new_boot_does_not() {
        let (_d, h, p) = sandbox();
        drop(stage_begin(&h, &p, Stage::InitLocal, 1.0).unwrap());
        let (mut st, lock) = stage_begin(&h, &p, Stage::InitLocal, 2.0).unwrap();
        let errs = &on_disk(&h).stages[&Stage::InitLocal].errors;
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with("Stage init-local (Local Stage) did not finish"));
        finish(&h, &p, &mut st, Stage::InitLocal, 3.0);
        drop(lock);
        let (st, _lock) = stage_begin(&h, &p, Stage::InitLocal, 4.0).unwrap();
        assert!(st.all_errors().is_empty());
    }
}

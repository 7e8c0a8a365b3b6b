//! `status.json` / `result.json`: what each stage did, read by
//! `cloud-init status`, `cloud-id`, hotplug and people's scripts. Written
//! under `/var/lib/cloud/data/` and linked (relative links) from
//! `/run/cloud-init/`, as upstream's `status_wrapper` does.

use crate::paths::Paths;
use crate::pyjson;
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
pub fn stage_start(
    host: &Host,
    paths: &Paths,
    stage: Stage,
    uptime: f64,
) -> Result<StatusFile, StatusFileError> {
    let mut status = if stage == Stage::InitLocal {
        for p in [
            paths.run_file("status.json"),
            paths.run_file("result.json"),
            status_path(paths),
            result_path(paths),
        ] {
            // A leftover we cannot delete is overwritten below anyway.
            let _ = host.remove_file(&p);
        }
        StatusFile::initial()
    } else {
        StatusFile::load(host, paths).unwrap_or_else(StatusFile::initial)
    };
    let _ = host.create_dir_all(&paths.run_dir, 0o755);
    status.stage = Some(stage.key().to_string());
    let entry = status.stages.entry(stage).or_default();
    if entry.start.is_some_and(|s| s != 0.0) && entry.finished.is_none_or(|f| f == 0.0) {
        log::warn!(
            "Unexpected start time found for {}. Was this stage restarted?",
            stage.display_name()
        );
    }
    entry.start = Some(uptime);
    status.write(host, paths)?;
    link_into_run(host, paths, &status_path(paths), "status.json")?;
    Ok(status)
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
}

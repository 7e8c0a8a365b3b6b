//! `apt.sources`: for each entry, its key (into the hardened key directory
//! when the source line names `$KEY_FILE`), then its source line, rendered
//! with the mirrors, release and key file, written (or appended) to
//! `/etc/apt/sources.list.d/<name>.list`, or handed to add-apt-repository
//! when it matches `add_apt_repo_match`. Then apt's lists are refreshed (every run).

use super::keys::{self, Gpg};
use super::repomatch::Matcher;
use super::Ctx;
use crate::template::render_string;
use crate::{subp, ModResult, ModuleError};
use ci_host::{Cmd, WriteOpts};
use ci_pyval::{py_repr, py_str, truthy};
use serde_json::{Map, Value};

pub(super) fn add_apt_sources(
    ctx: &Ctx,
    srcs: Value,
    gpg: &mut Gpg,
    mut params: Map<String, Value>,
    matcher: Option<&Matcher>,
) -> ModResult {
    let Some(matcher) = matcher else {
        return Err(ModuleError::with_class(
            "ValueError",
            "did not get a valid repo matcher",
        ));
    };
    let Value::Object(srcs) = srcs else {
        return Err(ModuleError::with_class(
            "TypeError",
            format!("unknown apt format: {}", py_str(&srcs)),
        ));
    };
    for (name, ent) in srcs {
        let mut ent = match ent {
            Value::Object(m) => m,
            other => {
                return Err(ModuleError::with_class(
                    "TypeError",
                    format!("unknown apt source entry: {}", py_str(&other)),
                ))
            }
        };
        log::debug!(
            "adding source/key '{}'",
            py_repr(&Value::Object(ent.clone()))
        );
        if !ent.contains_key("filename") {
            ent.insert("filename".into(), Value::String(name.clone()));
        }
        let source = ent.get("source").map(py_str);
        if source.as_deref().is_some_and(|s| s.contains("$KEY_FILE")) {
            let key_file = keys::add_apt_key(ctx, &mut ent, gpg, true, None)?;
            params.insert(
                "KEY_FILE".into(),
                key_file.map(Value::String).unwrap_or(Value::Null),
            );
        } else {
            keys::add_apt_key(ctx, &mut ent, gpg, false, None)?;
        }
        let Some(source) = source else {
            continue;
        };
        let source =
            render_string(&source, &params).map_err(|e| ModuleError::with_class("KeyError", e))?;

        let mut filename = ent.get("filename").map(py_str).unwrap_or_default();
        if !filename.starts_with('/') {
            filename = format!("/etc/apt/sources.list.d/{filename}");
        }
        if !filename.ends_with(".list") {
            filename.push_str(".list");
        }

        if matcher.is_match(&source) {
            let cmd = Cmd::new(["add-apt-repository", "--no-update", source.as_str()]).in_target();
            let shown = subp::shown_list(&cmd.argv);
            let res = if ctx.host.which_target("add-apt-repository").is_none() {
                Err(subp::not_started(
                    &shown,
                    &subp::missing_program("add-apt-repository"),
                ))
            } else {
                subp::run(ctx.host, &cmd, &shown, &[0])
            };
            if let Err(e) = res {
                log::error!("add-apt-repository failed.");
                log::debug!("{e}");
                return Err(ModuleError::with_class("ProcessExecutionError", e.text));
            }
            continue;
        }

        let contents = format!("{source}\n");
        let overwrite = ent.get("append").is_some_and(|v| !truthy(v));
        let res = if overwrite {
            ctx.host
                .write_atomic(&filename, contents.as_bytes(), &WriteOpts::mode(0o644))
        } else {
            ctx.host
                .append(&filename, contents.as_bytes(), &WriteOpts::mode(0o644))
                .and_then(|()| ctx.host.set_mode(&filename, 0o644))
        };
        if let Err(e) = res {
            log::error!("failed write to file {filename}: {e}");
            return Err(e.into());
        }
    }
    crate::pkg::update_package_sources(ctx, true)
}

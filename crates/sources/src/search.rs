//! Trying each datasource of `datasource_list` in order (upstream `find_source`).

use crate::context::{SourceContext, SourceOptions};
use crate::datasource::Datasource;
use crate::error::SourceError;
use crate::registry::{by_name, canonical};
use ci_pyval::py_list;

/// Result of a finished search step, as upstream's reporting events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventResult {
    Success,
    Fail,
}

impl EventResult {
    pub fn as_str(self) -> &'static str {
        match self {
            EventResult::Success => "SUCCESS",
            EventResult::Fail => "FAIL",
        }
    }
}

/// A `search-<Name>` event for the caller's event log
/// (`start: init-local/search-NoCloud: searching for local data from DataSourceNoCloud`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchEvent {
    Start {
        name: String,
        description: String,
    },
    Finish {
        name: String,
        result: EventResult,
        message: String,
    },
}

/// Upstream's exception text when nothing was found.
pub fn not_found_message(classes: &[String]) -> String {
    format!(
        "Did not find any data source, searched classes: ({})",
        classes.join(", ")
    )
}

/// The candidates for this stage, in list order, with upstream's logging for unknown names.
fn candidates(
    ctx: &SourceContext,
    list: &[String],
    opts: &SourceOptions,
) -> Vec<Box<dyn Datasource>> {
    let mut out = Vec::new();
    for name in list {
        match by_name(name, ctx.stage, opts) {
            Some(ds) => out.push(ds),
            None => match canonical(name) {
                // Upstream imports it and finds it does not run in this stage,
                // or it is one we do not provide yet.
                Some(known) if known == "None" || known == "NoCloud" => {}
                Some(known) => log::debug!("Datasource {known} is not available in this build"),
                None => {
                    let module = if name.starts_with("DataSource") {
                        name.clone()
                    } else {
                        format!("DataSource{name}")
                    };
                    log::error!(
                        "Could not import {module}. Does the DataSource exist and is it importable?"
                    );
                }
            },
        }
    }
    out
}

/// True (with a WARNING naming the datasource and the id) when the
/// datasource found data whose instance id cannot name an instance
/// directory; the search then treats it as failed and goes on.
fn unusable_instance_id(ds: &dyn Datasource) -> bool {
    let iid = ds.instance_id();
    let Some(why) = crate::datasource::instance_id_problem(&iid) else {
        return false;
    };
    log::warn!(
        "Ignoring datasource {}: its instance-id {iid:?} is unusable ({why})",
        ds.display()
    );
    true
}

/// Try each datasource of `list` that runs in `ctx.stage`; the first whose
/// `get_data` returns true wins. A datasource that fails is logged (a
/// WARNING, as upstream) and the search goes on; so does one whose instance
/// id cannot name an instance directory ([`crate::instance_id_problem`]).
/// `Ok(None)`: nothing found (see [`not_found_message`]).
pub fn find_source(
    ctx: &SourceContext,
    list: &[String],
    opts: &SourceOptions,
    on_event: &mut dyn FnMut(&SearchEvent),
) -> Result<Option<Box<dyn Datasource>>, SourceError> {
    log::debug!(
        "Looking for data source in: {}, via packages ['', 'cloudinit.sources'] that matches dependencies {}",
        py_list(list),
        ctx.stage.deps_repr()
    );
    let cands = candidates(ctx, list, opts);
    let names: Vec<&str> = cands.iter().map(|d| d.class_name()).collect();
    let mode = ctx.stage.mode_word();
    log::debug!("Searching for {mode} data source in: {}", py_list(&names));

    for mut ds in cands {
        let class = ds.class_name();
        let event = format!("search-{}", class.trim_start_matches("DataSource"));
        on_event(&SearchEvent::Start {
            name: event.clone(),
            description: format!("searching for {mode} data from {class}"),
        });
        let class_repr = format!(
            "<class 'cloudinit.sources.DataSource{}.{class}'>",
            ds.dsname()
        );
        log::debug!("Seeing if we can get any data from {class_repr}");
        ds.log_init();
        log::debug!(
            "Update datasource metadata and network config due to events: boot-new-instance"
        );
        let not_found = format!("no {mode} data found from {class}");
        if ds.needs_ephemeral_net() && !ctx.net.available() {
            log::debug!(
                "{class} needs temporary networking, which is not available in this run; skipped"
            );
            on_event(&SearchEvent::Finish {
                name: event,
                result: EventResult::Success,
                message: not_found,
            });
            continue;
        }
        match ds.get_data(ctx) {
            Ok(true) if unusable_instance_id(ds.as_ref()) => {
                on_event(&SearchEvent::Finish {
                    name: event,
                    result: EventResult::Fail,
                    message: not_found,
                });
            }
            Ok(true) => {
                on_event(&SearchEvent::Finish {
                    name: event,
                    result: EventResult::Success,
                    message: format!("found {mode} data from {class}"),
                });
                return Ok(Some(ds));
            }
            Ok(false) => {
                log::debug!(
                    "Datasource {} not updated for events: boot-new-instance",
                    ds.display()
                );
                on_event(&SearchEvent::Finish {
                    name: event,
                    result: EventResult::Success,
                    message: not_found,
                });
            }
            Err(e) => {
                on_event(&SearchEvent::Finish {
                    name: event,
                    result: EventResult::Fail,
                    message: not_found,
                });
                log::warn!("Getting data from {class_repr} failed");
                log::debug!("Getting data from {class_repr} failed: {e}");
            }
        }
    }
    log::debug!(
        "{}",
        not_found_message(&names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    );
    Ok(None)
}

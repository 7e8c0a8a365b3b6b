//! `final_message`: print the end-of-boot message, write `boot-finished`,
//! and warn when the boot fell back to the `None` datasource.

use crate::template::render_string;
use crate::{Ctx, ModResult};
use ci_host::WriteOpts;
use ci_pyval::py_str;
use serde_json::{Map, Value};
use std::io::Write;

const DEFAULT_MSG: &str = "## template: jinja\nCloud-init v. {{version}} finished at {{timestamp}}. Datasource {{datasource}}.  Up {{uptime}} seconds";

pub fn handle(ctx: &Ctx) -> ModResult {
    let msg_in = match ctx.args.first() {
        Some(a) => a.clone(),
        None => ctx.get("final_message").map(py_str).unwrap_or_default(),
    };
    let msg_in = msg_in.trim();
    let msg_in = if msg_in.is_empty() {
        DEFAULT_MSG
    } else {
        msg_in
    };
    let uptime = uptime_str(ctx);
    let ts = ci_state::timefmt::rfc2822(ci_state::timefmt::now_epoch());
    let mut subs = Map::new();
    for (k, v) in [
        ("uptime", uptime.as_str()),
        ("timestamp", ts.as_str()),
        ("version", ctx.version),
        ("datasource", ctx.instance.datasource.as_str()),
    ] {
        subs.insert(k.to_string(), Value::String(v.to_string()));
        subs.insert(k.to_uppercase(), Value::String(v.to_string()));
    }
    match render_string(msg_in, &subs) {
        Ok(text) => {
            let mut err = std::io::stderr().lock();
            // The message is also logged; a closed stderr loses nothing else.
            let _ = writeln!(err, "{text}");
            let _ = err.flush();
            log::debug!("{text}");
        }
        Err(e) if e.starts_with("Unable to parse Jinja template") => {
            log::warn!("Failed to render templated final message: {e}");
        }
        Err(e) => {
            log::warn!("Failed to render final message template");
            log::debug!("{e}");
        }
    }
    let boot_fin = ctx.paths.instance_file("boot-finished");
    let contents = format!("{uptime} - {ts} - v. {}\n", ctx.version);
    let parent_ok = boot_fin.parent().is_some_and(|p| ctx.host.is_dir(p));
    let res = if parent_ok {
        ctx.host
            .write_atomic(&boot_fin, contents.as_bytes(), &WriteOpts::mode(0o644))
            .map_err(|e| e.to_string())
    } else {
        Err("No such file or directory".to_string())
    };
    if let Err(e) = res {
        log::warn!("Failed to write boot finished file {}", boot_fin.display());
        log::debug!("{e}");
    }
    if ctx.instance.datasource_name == "None" {
        let only_none = matches!(
            ctx.get("datasource_list"),
            Some(Value::Array(a)) if a.len() == 1 && a[0].as_str() == Some("None")
        );
        if !only_none {
            log::warn!("Used fallback datasource");
        }
    }
    Ok(())
}

/// Upstream's `util.uptime()`: the first field of `/proc/uptime` as
/// written there (see `Host::uptime_text`), else the stage's uptime.
fn uptime_str(ctx: &Ctx) -> String {
    ctx.host
        .uptime_text()
        .unwrap_or_else(|| format!("{:.2}", ctx.uptime))
}

#[cfg(test)]
mod tests;

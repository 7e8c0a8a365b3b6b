//! `apt_pipelining`: how many requests apt keeps outstanding on one HTTP
//! connection. `false` writes a depth of 0 (for servers that drop pipelined
//! requests), a number 0-5 writes that depth, `os`/`none`/`unchanged` (and
//! no key) leave the distro's setting alone.

use crate::{Ctx, ModResult};
use ci_host::WriteOpts;
use ci_pyval::py_str;
use serde_json::Value;

const SNIPPET: &str = "/etc/apt/apt.conf.d/90cloud-init-pipelining";

pub fn handle(ctx: &Ctx) -> ModResult {
    let raw = ctx
        .get("apt_pipelining")
        .cloned()
        .unwrap_or_else(|| Value::String("os".into()));
    // Upstream compares `str(value).lower().strip()`: YAML `false` is
    // Python's `False`, which becomes "false" here.
    let setting = py_str(&raw).to_lowercase().trim().to_string();
    match setting.as_str() {
        "false" => write_snippet(ctx, "0"),
        "none" | "unchanged" | "os" => Ok(()),
        "0" | "1" | "2" | "3" | "4" | "5" => write_snippet(ctx, &setting),
        _ => {
            log::warn!("Invalid option for apt_pipelining: {}", py_str(&raw));
            Ok(())
        }
    }
}

fn write_snippet(ctx: &Ctx, depth: &str) -> ModResult {
    let text = format!(
        "//Written by cloud-init per 'apt_pipelining'\nAcquire::http::Pipeline-Depth \"{depth}\";\n"
    );
    ctx.host
        .write_atomic(SNIPPET, text.as_bytes(), &WriteOpts::mode(0o644))?;
    log::debug!("Wrote {SNIPPET} with apt pipeline depth setting {depth}");
    Ok(())
}

#[cfg(test)]
mod tests;

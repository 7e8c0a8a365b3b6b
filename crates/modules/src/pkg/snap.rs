//! snap as a package manager (upstream's `Snap`): one `snap install` per
//! package, and `snap refresh` unless refreshes are held forever.

use super::run_captured_output;
use super::spec::Package;
use crate::{Ctx, ModResult, ModuleError};
use ci_host::Cmd;
use serde_json::Value;

pub fn available(ctx: &Ctx) -> bool {
    ctx.host.which_target("snap").is_some()
}

/// `Snap.install_packages`: snap cannot say which of several failed, so
/// each is installed alone; `name=args` becomes `snap install name args`.
/// Returns those that failed, as spelled.
pub fn install(ctx: &Ctx, pkgs: &[Package]) -> Vec<String> {
    let mut failed = Vec::new();
    for p in pkgs {
        let spelled = p.spelled("=");
        let mut argv = vec!["snap".to_string(), "install".to_string()];
        match spelled.split_once('=') {
            Some((name, rest)) => argv.extend([name.to_string(), rest.to_string()]),
            None => argv.push(spelled.clone()),
        }
        if run_captured_output(ctx, &Cmd::new(argv).in_target()).is_err() {
            log::info!("Failed to 'snap install {spelled}'!");
            failed.push(spelled);
        }
    }
    failed
}

/// `Snap.upgrade_packages`: `snap refresh`, skipped when `refresh.hold` is
/// `forever`.
pub fn upgrade(ctx: &Ctx) -> ModResult {
    let query = ["snap", "get", "system", "-d"];
    let mut hold = None;
    match run_captured_output(ctx, &Cmd::new(query).in_target()) {
        Ok(out) => {
            // Upstream's JSON load fails the upgrade on output that is not
            // JSON (as a machine without snapd's answer gives).
            let v: Value = serde_json::from_str(&out).map_err(|_| {
                ModuleError::with_class(
                    "JSONDecodeError",
                    "Expecting value: line 1 column 1 (char 0)",
                )
            })?;
            hold = v
                .get("refresh")
                .and_then(|r| r.get("hold"))
                .and_then(Value::as_str)
                .map(str::to_string);
        }
        Err(e) => log::info!(
            "Continuing to snap refresh. Unable to run command: {}: {e}",
            ci_pyval::py_list(&query)
        ),
    }
    if hold.as_deref() == Some("forever") {
        log::info!("Skipping snap refresh because refresh.hold is set to 'forever'");
        return Ok(());
    }
    run_captured_output(ctx, &Cmd::new(["snap", "refresh"]).in_target()).map(|_| ())
}

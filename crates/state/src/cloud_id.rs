//! The `cloud-id` tool: the canonical cloud id from instance-data.

use crate::instance_data::canonical_cloud_id;
use crate::pyjson;
use crate::status::{RunningStatus, StatusDetails};
use crate::CmdOutput;
use ci_host::Host;
use serde_json::Value;
use std::path::Path;

/// Options of `cloud-id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CloudIdArgs {
    /// `-j/--json` (deprecated): v1 plus `cloud_id` as JSON.
    pub json: bool,
    /// `-l/--long`: `<cloud_id>\t<region>`.
    pub long: bool,
}

/// `cloud-id [-j] [-l] [-i FILE]`. `details` is [`crate::status::status_details`];
/// `instance_data` a target path (default `/run/cloud-init/instance-data.json`).
/// Exit 0 ok, 1 error, 2 disabled (prints `disabled`), 3 not started.
pub fn run_cloud_id(
    host: &Host,
    details: &StatusDetails,
    instance_data: &Path,
    args: CloudIdArgs,
) -> CmdOutput {
    match details.running {
        RunningStatus::Disabled => return CmdOutput::ok("disabled\n").with_code(2),
        RunningStatus::NotStarted => return CmdOutput::ok("not started\n").with_code(3),
        _ => {}
    }
    let shown = instance_data.display();
    let text = match host.read_to_string(instance_data) {
        Ok(t) => t,
        Err(_) => {
            return CmdOutput::error(format!(
                "Error:\nFile not found '{shown}'. Provide a path to instance data json file using --instance-data\n"
            ))
        }
    };
    let doc: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            return CmdOutput::error(format!("Error:\nFile '{shown}' is not valid json. {e}\n"))
        }
    };
    let mut v1 = doc
        .get("v1")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let field = |k: &str| -> String {
        match v1.get(k) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => "unknown".to_string(),
            Some(other) => other.to_string(),
        }
    };
    let (cloud, region, platform) = (field("cloud_name"), field("region"), field("platform"));
    let id = canonical_cloud_id(Some(&cloud), Some(&region), &platform);
    if args.json {
        v1.insert("cloud_id".into(), Value::String(id));
        let mut out = CmdOutput::ok(&(pyjson::json_dumps(&Value::Object(v1)) + "\n"));
        out.stderr = "DEPRECATED: Use: cloud-init query v1\n".into();
        return out;
    }
    if args.long {
        // Upstream prints the region as found, `None` for JSON null.
        let region = match v1.get("region") {
            Some(Value::Null) => "None".to_string(),
            _ => region,
        };
        return CmdOutput::ok(&format!("{id}\t{region}\n"));
    }
    CmdOutput::ok(&format!("{id}\n"))
}

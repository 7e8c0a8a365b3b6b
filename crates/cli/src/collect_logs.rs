//! `cloud-init collect-logs` (being written).

use ci_host::Host;
use ci_state::Paths;
use clap::Args;
use serde_json::Value;

#[derive(Debug, Args)]
pub struct CollectLogsArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub rest: Vec<String>,
}

pub(crate) fn run(_host: &Host, _paths: &Paths, _cfg: &Value, _a: CollectLogsArgs) -> i32 {
    crate::cmds::not_yet("collect-logs")
}

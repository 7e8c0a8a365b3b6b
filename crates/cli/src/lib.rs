//! The `cloud-init`, `cloud-id` and `cloud-init-per` commands and the stage
//! runner that wires the boot pipeline: detect → fetch → identify →
//! user-data → config → modules → report.

mod analyze;
pub mod args;
mod boot;
mod cmds;
mod collect_logs;
mod consume;
mod ephemeral_cmd;
mod hotplug;
mod make_mime;
mod net_convert;
mod net_events;
mod net_wait;
mod notify;
mod output;
mod per;
mod schema_boot;
mod schema_cmd;
mod single;
mod status_cmd;

pub use cmds::{main_cloud_id, main_cloud_init};
pub use per::main_cloud_init_per;

/// The state layout named by `system_info.paths` in the configuration.
pub(crate) fn paths_of(cfg: &serde_json::Value) -> ci_state::Paths {
    let sp = ci_config::load::SystemPaths::from_config(cfg);
    ci_state::Paths {
        cloud_dir: sp.cloud_dir.into(),
        run_dir: sp.run_dir.into(),
        templates_dir: sp.templates_dir.into(),
        instance_id: None,
    }
}

/// Our version as reported by `--version`, the log banner and files that
/// carry upstream's version: the upstream release whose behaviour we follow,
/// then ours.
pub const VERSION: &str = concat!("25.1.4+rs.", env!("CARGO_PKG_VERSION"));

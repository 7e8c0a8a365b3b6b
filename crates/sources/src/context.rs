//! What a datasource is given to work with.

use crate::devices::DeviceScan;
use crate::ephemeral::{EphemeralNet, NoNet};
use crate::url::UrlPolicy;
use ci_host::Host;
use serde_json::Value;

/// Which boot stage searches: upstream's `(FILESYSTEM,)` and
/// `(FILESYSTEM, NETWORK)` dependency sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// init-local: before networking is up.
    Local,
    /// init-network: networking is up.
    Network,
}

impl Stage {
    /// `local` / `network`, as upstream writes it in search messages.
    pub fn mode_word(self) -> &'static str {
        match self {
            Stage::Local => "local",
            Stage::Network => "network",
        }
    }

    pub(crate) fn deps_repr(self) -> &'static str {
        match self {
            Stage::Local => "['FILESYSTEM']",
            Stage::Network => "['FILESYSTEM', 'NETWORK']",
        }
    }

    pub(crate) fn as_cache_str(self) -> &'static str {
        match self {
            Stage::Local => "local",
            Stage::Network => "network",
        }
    }

    pub(crate) fn from_cache_str(s: &str) -> Option<Stage> {
        match s {
            "local" => Some(Stage::Local),
            "network" => Some(Stage::Network),
            _ => None,
        }
    }
}

/// The inputs of one search: the target machine, the merged system config
/// (`/etc/cloud/cloud.cfg` + `cloud.cfg.d` + runtime config), the kernel
/// command line and the stage.
#[derive(Clone)]
pub struct SourceContext<'a> {
    pub host: &'a Host,
    pub config: &'a Value,
    pub cmdline: String,
    pub stage: Stage,
    /// How local-stage datasources bring up temporary networking.
    pub net: &'a dyn EphemeralNet,
}

impl std::fmt::Debug for SourceContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceContext")
            .field("host", &self.host)
            .field("cmdline", &self.cmdline)
            .field("stage", &self.stage)
            .finish_non_exhaustive()
    }
}

impl<'a> SourceContext<'a> {
    /// A context reading the kernel command line from the host.
    pub fn new(host: &'a Host, config: &'a Value, stage: Stage) -> Self {
        SourceContext {
            host,
            config,
            cmdline: host.kernel_cmdline(),
            stage,
            net: &NoNet,
        }
    }

    /// Use `net` for temporary networking in the local stage.
    pub fn with_net(mut self, net: &'a dyn EphemeralNet) -> Self {
        self.net = net;
        self
    }

    pub fn with_cmdline(mut self, cmdline: impl Into<String>) -> Self {
        self.cmdline = cmdline.into();
        self
    }

    /// `datasource.<dsname>` from the config; `{}` when absent or empty, as upstream.
    pub fn ds_cfg(&self, dsname: &str) -> Value {
        match self.config.get("datasource").and_then(|d| d.get(dsname)) {
            Some(v) if ci_pyval::truthy(v) => v.clone(),
            _ => Value::Object(Default::default()),
        }
    }

    /// `system_info.paths.cloud_dir` (default `/var/lib/cloud`).
    pub fn cloud_dir(&self) -> String {
        self.config
            .get("system_info")
            .and_then(|s| s.get("paths"))
            .and_then(|p| p.get("cloud_dir"))
            .and_then(Value::as_str)
            .unwrap_or("/var/lib/cloud")
            .trim_end_matches('/')
            .to_string()
    }

    /// `<cloud_dir>/seed`.
    pub fn seed_dir(&self) -> String {
        format!("{}/seed", self.cloud_dir())
    }
}

/// Constructor values shared by datasources: HTTP budgets and whether block
/// devices may be probed and mounted.
#[derive(Debug, Clone, Default)]
pub struct SourceOptions {
    pub http: UrlPolicy,
    pub devices: DeviceScan,
}

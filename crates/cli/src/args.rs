//! The command line, with upstream's subcommands, flags and exit codes
//! (argparse usage errors exit 2; clap does the same).

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "cloud-init",
    disable_version_flag = true,
    about = "cloud-init-rs: configure a cloud instance on first boot"
)]
pub struct Cli {
    /// Show program's version number and exit.
    #[arg(short = 'v', long = "version")]
    pub version: bool,
    /// Show additional pre-action logging (default: False).
    #[arg(short = 'd', long = "debug")]
    pub debug: bool,
    /// Force running even if no datasource is found (use at your own risk).
    #[arg(long = "force")]
    pub force: bool,
    /// Run the four boot stages from this one process, each when its stage
    /// unit asks over the socket protocol (cloud-init-main.service); not
    /// meant to be typed.
    #[arg(long = "all-stages")]
    pub all_stages: bool,
    /// Work on the system rooted at DIR instead of / (cloud-init-rs).
    #[arg(long = "root", value_name = "DIR", global = true, default_value = "/")]
    pub root: PathBuf,
    /// Under --root, run the target's tools that act on the running machine
    /// (mount, swap, disks, services, power, routes, kernel modules) instead
    /// of skipping them: for a root in a throwaway container or VM, or with
    /// stand-ins for those tools (cloud-init-rs).
    #[arg(long = "machine-commands", global = true)]
    pub machine_commands: bool,
    /// Use additional yaml configuration files.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub files: Vec<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Initialize cloud-init and perform initial modules.
    Init(InitArgs),
    /// Activate modules using a given configuration key.
    Modules(ModulesArgs),
    /// Run a single module.
    Single(SingleArgs),
    /// Query standardized instance metadata from the command line.
    Query(QueryArgs),
    /// Report cloud-init status or wait on completion.
    Status(crate::status_cmd::StatusArgs),
    /// Remove logs and artifacts so cloud-init can re-run.
    Clean(CleanArgs),
    /// Validate cloud-config files using jsonschema.
    Schema(SchemaArgs),
    /// Devel tools.
    Devel(DevelArgs),
    /// List defined features.
    Features,
    /// Collect and tar all cloud-init debug info.
    #[command(name = "collect-logs")]
    CollectLogs(crate::collect_logs::CollectLogsArgs),
    /// Devel tool: Analyze cloud-init logs and data.
    Analyze(crate::analyze::AnalyzeArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Start in local mode (default: False).
    #[arg(short = 'l', long = "local")]
    pub local: bool,
    /// Use additional yaml configuration files.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    Init,
    Config,
    Final,
}

#[derive(Debug, Args)]
pub struct ModulesArgs {
    /// Module configuration name to use.
    #[arg(short = 'm', long = "mode", value_enum, default_value = "config")]
    pub mode: Mode,
    /// Use additional yaml configuration files.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Freq {
    Instance,
    Always,
    Once,
}

#[derive(Debug, Args)]
pub struct SingleArgs {
    /// Module name to run.
    #[arg(short = 'n', long = "name", required = true)]
    pub name: String,
    /// Frequency of the module.
    #[arg(long = "frequency", value_enum)]
    pub frequency: Option<Freq>,
    /// Enable reporting.
    #[arg(long = "report")]
    pub report: bool,
    /// Use additional yaml configuration files.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Any additional arguments to pass to this module.
    pub module_args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// Path to instance-data.json file.
    #[arg(short = 'i', long = "instance-data")]
    pub instance_data: Option<PathBuf>,
    /// Dump all available instance-data.
    #[arg(short = 'a', long = "all")]
    pub all: bool,
    /// Optionally specify a custom output format string.
    #[arg(short = 'f', long = "format")]
    pub format: Option<String>,
    /// List query keys available at the provided instance-data <varname>.
    #[arg(short = 'l', long = "list-keys")]
    pub list_keys: bool,
    /// Path to user-data file.
    #[arg(short = 'u', long = "user-data")]
    pub user_data: Option<PathBuf>,
    /// Path to vendor-data file.
    #[arg(short = 'v', long = "vendor-data")]
    pub vendor_data: Option<PathBuf>,
    /// Add verbose messages during template render.
    #[arg(short = 'd', long = "debug")]
    pub debug: bool,
    /// A key path to query, e.g. v1.local_hostname.
    pub varname: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CleanConfig {
    All,
    #[value(name = "ssh_config")]
    SshConfig,
    Network,
    Datasource,
    Fstab,
}

#[derive(Debug, Args)]
pub struct CleanArgs {
    /// Remove cloud-init logs.
    #[arg(short = 'l', long = "logs")]
    pub logs: bool,
    /// Set the machine-id to uninitialized (systemd) or remove it.
    #[arg(long = "machine-id")]
    pub machine_id: bool,
    /// Reboot system after logs are cleaned so cloud-init re-runs.
    #[arg(short = 'r', long = "reboot")]
    pub reboot: bool,
    /// Remove cloud-init seed directory /var/lib/cloud/seed.
    #[arg(short = 's', long = "seed")]
    pub seed: bool,
    /// Remove cloud-init generated config files of a certain type.
    #[arg(short = 'c', long = "configs", value_enum, num_args = 1..)]
    pub configs: Vec<CleanConfig>,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Path of the cloud-config or network-config YAML file to validate.
    #[arg(short = 'c', long = "config-file", value_name = "CONFIG_FILE")]
    pub config_file: Option<PathBuf>,
    /// When providing --config-file, the schema type to validate config
    /// against. Default: cloud-config.
    #[arg(
        short = 't',
        long = "schema-type",
        value_name = "{cloud-config,network-config}"
    )]
    pub schema_type: Option<String>,
    /// Path to instance-data.json file for variable expansion of
    /// '##template: jinja' user-data. Default:
    /// /run/cloud-init/instance-data-sensitive.json (root) or
    /// /run/cloud-init/instance-data.json.
    #[arg(short = 'i', long = "instance-data", value_name = "INSTANCE_DATA")]
    pub instance_data: Option<PathBuf>,
    /// Validate the system instance-data provided as vendor-data,
    /// vendor2-data, user-data and network-config (under --root).
    #[arg(long = "system")]
    pub system: bool,
    /// Annotate existing cloud-config file with errors.
    #[arg(long = "annotate")]
    pub annotate: bool,
    /// Output format (cloud-init-rs): `text` is upstream's output; `json`
    /// prints one document {"valid": BOOL, "files": [{"type", "schema",
    /// "path", "status": valid|invalid|skipped|error, "errors" and
    /// "deprecations": [{"path", "line", "column", "message"}], "notes"}]}
    /// with the same exit code. --annotate is ignored with json.
    #[arg(long = "format", value_name = "FORMAT", default_value = "text",
          value_parser = ["text", "json"])]
    pub format: String,
}

#[derive(Debug, Args)]
pub struct DevelArgs {
    #[command(subcommand)]
    pub command: DevelCommand,
}

#[derive(Debug, Subcommand)]
pub enum DevelCommand {
    /// Render a jinja-templated user-data file with instance-data.
    Render(RenderArgs),
    /// Convert network configuration between formats.
    #[command(name = "net-convert")]
    NetConvert(NetConvertArgs),
    /// Generate a MIME multipart user-data file.
    #[command(name = "make-mime")]
    MakeMime(crate::make_mime::MakeMimeArgs),
    /// Serve a cloud's metadata API from a seed directory (cloud-init-rs).
    #[command(name = "imds-serve")]
    ImdsServe(ImdsServeArgs),
    /// Bring up temporary networking as the local stage does, print the
    /// lease, run a command, tear it down (cloud-init-rs).
    #[command(name = "ephemeral-net")]
    EphemeralNet(EphemeralNetArgs),
    /// Handle hotplug events.
    #[command(name = "hotplug-hook")]
    HotplugHook(HotplugHookArgs),
}

#[derive(Debug, Args)]
pub struct HotplugHookArgs {
    /// subsystem to act on
    #[arg(short = 's', long = "subsystem", required = true, value_parser = ["net"])]
    pub subsystem: String,
    /// Retry a failed event without pausing (cloud-init-rs, for tests).
    #[arg(long = "no-wait", hide = true)]
    pub no_wait: bool,
    #[command(subcommand)]
    pub action: HotplugAction,
}

#[derive(Debug, Subcommand)]
pub enum HotplugAction {
    /// Query if hotplug is enabled for given subsystem.
    Query,
    /// Handle the hotplug event.
    Handle {
        /// Sysfs path to hotplugged device
        #[arg(short = 'd', long = "devpath", required = true, value_name = "PATH")]
        devpath: String,
        /// Specify action to take.
        #[arg(short = 'u', long = "udevaction", required = true, value_parser = ["add", "remove"])]
        udevaction: String,
    },
    /// Enable hotplug for a given subsystem.
    Enable,
}

#[derive(Debug, Args)]
pub struct NetConvertArgs {
    /// The network configuration to read.
    #[arg(short = 'p', long = "network-data", required = true)]
    pub network_data: PathBuf,
    /// The format of the given network config.
    #[arg(short = 'k', long = "kind", required = true,
          value_parser = ["eni", "network_data.json", "yaml", "azure-imds", "vmware-imc"])]
    pub kind: String,
    /// Directory to write output to.
    #[arg(short = 'd', long = "directory", required = true)]
    pub directory: PathBuf,
    /// Interface name to mac mapping (name,mac).
    #[arg(short = 'm', long = "mac", action = clap::ArgAction::Append)]
    pub macs: Vec<String>,
    /// The distro the output is for.
    #[arg(short = 'D', long = "distro", required = true)]
    pub distro: String,
    /// The format of the output.
    #[arg(short = 'O', long = "output-kind", required = true,
          value_parser = ["eni", "netplan", "networkd", "sysconfig", "network-manager"])]
    pub output_kind: String,
    /// Enable debug logging to stderr.
    #[arg(long = "debug")]
    pub debug: bool,
}

#[derive(Debug, Args)]
pub struct ImdsServeArgs {
    /// Which cloud's API to serve (ec2).
    #[arg(long = "cloud", required = true)]
    pub cloud: String,
    /// A NoCloud-like seed: meta-data (YAML) and user-data.
    #[arg(long = "seed", required = true)]
    pub seed: PathBuf,
    /// Address to listen on; loopback only unless you know better.
    #[arg(long = "listen", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Faults: delay=MS,fail=N[:STATUS],hang=PATH,truncate=PATH,404=PATH,revoke=N
    #[arg(long = "faults", default_value = "")]
    pub faults: String,
}

#[derive(Debug, Args)]
pub struct EphemeralNetArgs {
    /// What to bring up.
    #[arg(long = "kind", default_value = "dhcp4",
          value_parser = ["dhcp4", "link-local4", "link-local6"])]
    pub kind: String,
    /// The interface (default: the fallback NIC, as the datasources choose).
    #[arg(long = "iface")]
    pub iface: Option<String>,
    /// DHCP clients to try, in order (network.dhcp_client_priority).
    #[arg(long = "dhcp-client", action = clap::ArgAction::Append)]
    pub dhcp_client: Vec<String>,
    /// Command to run while the network is up.
    #[arg(last = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Path to the user-data file to render.
    pub user_data: PathBuf,
    /// Path to instance-data.json file. Default:
    /// /run/cloud-init/instance-data-sensitive.json.
    #[arg(short = 'i', long = "instance-data")]
    pub instance_data: Option<PathBuf>,
    /// Add verbose messages during template render.
    #[arg(short = 'd', long = "debug")]
    pub debug: bool,
}

/// The clap definition of `cloud-init-per`, whose parsing stays by hand
/// (upstream's operand order); for man pages, completions and help tests.
pub fn cloud_init_per_command() -> clap::Command {
    crate::per::command()
}

/// `cloud-id [-j] [-l] [-i FILE] [--root DIR]`.
#[derive(Debug, Parser)]
#[command(
    name = "cloud-id",
    about = "Report the canonical cloud-id for this instance"
)]
pub struct CloudIdArgs {
    /// Report all standardized cloud-id information as json.
    #[arg(short = 'j', long = "json")]
    pub json: bool,
    /// Report extended cloud-id information as tab-delimited string.
    #[arg(short = 'l', long = "long")]
    pub long: bool,
    /// Path to instance-data.json file.
    #[arg(short = 'i', long = "instance-data")]
    pub instance_data: Option<PathBuf>,
    /// Work on the system rooted at DIR instead of / (cloud-init-rs).
    #[arg(long = "root", value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
}

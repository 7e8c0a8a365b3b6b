//! Subcommand dispatch for `cloud-init` and the `cloud-id` binary.

use crate::args::{CleanConfig, Cli, Command, DevelCommand, Freq, Mode};
use crate::boot::Boot;
use crate::output;
use crate::paths_of;
use ci_config::load::{load_config, LoadOptions};
use ci_host::Host;
use ci_modules::Frequency;
use ci_state::status::{self, StatusEnv, Systemctl};
use ci_state::{clean, cloud_id, query, CmdOutput, Paths};
use clap::Parser;
use serde_json::Value;
use std::io::Write;
use std::path::PathBuf;

fn argv0() -> String {
    // args_os: a name that is not UTF-8 must not panic.
    std::env::args_os()
        .next()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_else(|| "cloud-init".into())
}

fn emit(out: &CmdOutput) -> i32 {
    print!("{}", out.stdout);
    eprint!("{}", out.stderr);
    let _ = std::io::stdout().flush();
    out.exit_code
}

/// The log file named by the configuration (`def_log_file`), as the target sees it.
fn log_file_name(cfg: &Value) -> &str {
    cfg.get("def_log_file")
        .and_then(Value::as_str)
        .unwrap_or("/var/log/cloud-init.log")
}

/// The log file named by the configuration, under the root. Returns another
/// handle on the open log file, for [`fix_log_perms`].
fn install_logger(host: &Host, cfg: &Value, to_file: bool, debug: bool) -> Option<std::fs::File> {
    // Resolved inside the root, a link in the last component included: an
    // image's log link must not make us write this machine's files.
    let file = to_file
        .then(|| host.try_resolve(log_file_name(cfg)))
        .and_then(|r| {
            r.map_err(|e| eprintln!("Failed to open log file: {e}"))
                .ok()
        });
    match ci_state::log::CiLogger::new(file.as_deref(), true) {
        Ok(l) => {
            let handle = l.file_handle();
            let _ = l.with_debug_stderr(debug).install();
            handle
        }
        Err(e) => {
            eprintln!("Failed to open log file: {e}");
            if let Ok(l) = ci_state::log::CiLogger::new(None, true) {
                let _ = l.install();
            }
            None
        }
    }
}

/// `syslog_fix_perms` on the log file, as upstream's init stages do when
/// they set up the filesystem (after logging starts, so a failure is logged).
pub(crate) fn fix_log_perms(host: &Host, cfg: &Value, log: &std::fs::File) {
    let name = log_file_name(cfg);
    if name.is_empty() {
        return;
    }
    let entries = ci_state::log::perms::entries(cfg.get("syslog_fix_perms"));
    if let Err(msg) = ci_state::log::perms::apply(host, log, name, &entries) {
        log::warn!(target: "stages.py", "{msg}");
    }
}

/// A new output log gets what upstream's `tee` child gives it (umask 037,
/// group `adm` when the target has one): `root:adm` 0640 on Debian, like
/// the main log. An existing file is left as it is.
fn create_output_log(host: &Host, path: &str) {
    let opts = ci_host::WriteOpts {
        gid: host.group("adm").map(|g| g.gid),
        ..ci_host::WriteOpts::mode(0o640)
    };
    // A file that cannot be created here cannot be written by the copier
    // either; the stage runs on with its output on the console only.
    let _ = host.append(path, b"", &opts);
}

pub(crate) fn status_env(host: &Host, wait: bool) -> (bool, String, Option<String>, Systemctl<'_>) {
    (
        status::uses_systemd(host),
        host.kernel_cmdline(),
        std::env::var("KERNEL_CMDLINE").ok(),
        Systemctl {
            host,
            wait,
            deadline: None,
        },
    )
}

pub fn main_cloud_init() -> i32 {
    if let Some(code) = output::tee_mode() {
        return code;
    }
    crate::notify::take_socket();
    let code = run_cloud_init();
    // A network stage that ended before its readiness point still tells
    // systemd, or its Type=notify unit would fail.
    crate::notify::ready("cloud-init exited");
    output::finish();
    code
}

fn run_cloud_init() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return e.exit_code();
        }
    };
    if cli.version {
        println!("{} {}", argv0(), crate::VERSION);
        return 0;
    }
    if cli.all_stages {
        return crate::single::all_stages(&Host::new(&cli.root));
    }
    let Some(command) = cli.command else {
        eprintln!("usage: cloud-init [-h] [--version] [--debug] [--force] [--root DIR] {{init,modules,single,query,features,analyze,devel,collect-logs,clean,status,schema}} ...");
        eprintln!("cloud-init: error: the following arguments are required: subcommand");
        return 2;
    };
    let host = Host::new(&cli.root);
    if let Some(code) =
        crate::single::stage_of(&command).and_then(|s| crate::single::hand_off(&host, s))
    {
        return code;
    }
    let mut files = cli.files.clone();
    let stage_name = match &command {
        Command::Init(a) => {
            files.extend(a.files.iter().cloned());
            Some("init")
        }
        Command::Modules(a) => {
            files.extend(a.files.iter().cloned());
            match a.mode {
                Mode::Init => Some("init"),
                Mode::Config => Some("config"),
                Mode::Final => Some("final"),
            }
        }
        Command::Single(a) => {
            files.extend(a.files.iter().cloned());
            None
        }
        _ => None,
    };
    let sys_cfg = load_config(&host, &LoadOptions::from_env(&files)).0;
    let host = host.allow_machine_commands(cli.machine_commands);
    let boots = matches!(
        command,
        Command::Init(_) | Command::Modules(_) | Command::Single(_)
    ) || matches!(&command, Command::Devel(d) if matches!(d.command, DevelCommand::HotplugHook(_)));
    if let Some(stage) = stage_name {
        if let Some(sink) = output::stage_target(&sys_cfg, stage) {
            create_output_log(&host, &sink.path);
            output::start_tee(&host, &sink);
        }
    }
    let log_file = install_logger(&host, &sys_cfg, boots, cli.debug);
    let boot = Boot {
        host: host.clone(),
        files,
        force: cli.force,
        log_file,
    };
    let paths = paths_of(&sys_cfg);
    match command {
        Command::Init(a) => boot.init(a.local),
        Command::Modules(a) => {
            match a.mode {
                Mode::Config => boot.modules("config"),
                Mode::Final => boot.modules("final"),
                Mode::Init => {
                    log::warn!("The 'init' mode of 'cloud-init modules' is deprecated; use 'cloud-init init'");
                    boot.init(false)
                }
            }
        }
        Command::Single(a) => {
            let f = a.frequency.map(|f| match f {
                Freq::Instance => Frequency::PerInstance,
                Freq::Always => Frequency::Always,
                Freq::Once => Frequency::Once,
            });
            boot.single(&a.name, f, a.module_args)
        }
        Command::Status(a) => {
            crate::status_cmd::run_with_log(&host, &paths, a, log_file_name(&sys_cfg))
        }
        Command::Query(a) => run_query(&host, &paths, a),
        Command::Clean(a) => {
            let logs = a
                .logs
                .then(|| ci_state::log::config_logfiles_of(&host, &sys_cfg));
            let configs = a
                .configs
                .iter()
                .filter_map(|c| {
                    clean::ConfigKind::parse(match c {
                        CleanConfig::All => "all",
                        CleanConfig::SshConfig => "ssh_config",
                        CleanConfig::Network => "network",
                        CleanConfig::Datasource => "datasource",
                        CleanConfig::Fstab => "fstab",
                    })
                })
                .collect();
            let args = clean::CleanArgs {
                logs,
                seed: a.seed,
                configs,
                machine_id: a.machine_id,
                uses_systemd: status::uses_systemd(&host),
            };
            let code = emit(&clean::run_clean(&host, &paths, &args));
            if code == 0 && a.reboot {
                if host.is_sandbox() {
                    eprintln!(
                        "Not rebooting: --root {} is not the running system",
                        host.root().display()
                    );
                } else if let Err(e) = host.run(&ci_host::Cmd::new(["shutdown", "-r", "now"])) {
                    eprintln!("Could not reboot this system. Please reboot manually. {e}");
                    return 1;
                }
            }
            code
        }
        Command::Features => {
            println!("NETWORK_CONFIG_V1\nNETWORK_CONFIG_V2");
            0
        }
        Command::Devel(d) => match d.command {
            DevelCommand::Render(r) => {
                devel_render(&host, &paths, &r.user_data, r.instance_data.as_deref())
            }
            DevelCommand::NetConvert(a) => crate::net_convert::net_convert(&a),
            DevelCommand::MakeMime(a) => crate::make_mime::run(&host, &paths, &sys_cfg, a),
            DevelCommand::HotplugHook(a) => crate::hotplug::hotplug_hook(&boot, &a),
            DevelCommand::ImdsServe(a) => imds_serve(&a),
            DevelCommand::EphemeralNet(a) => crate::ephemeral_cmd::ephemeral_net(&host, &a),
        },
        Command::Schema(a) => crate::schema_cmd::schema(&a, &host, &boot.files),
        Command::CollectLogs(a) => crate::collect_logs::run(&host, &paths, &sys_cfg, a),
        Command::Analyze(a) => crate::analyze::run(&host, &paths, &sys_cfg, a),
    }
}

/// `devel imds-serve` (ours): the metadata-service emulator, in the foreground.
fn imds_serve(a: &crate::args::ImdsServeArgs) -> i32 {
    let faults = if a.faults.is_empty() {
        ci_imds::Faults::default()
    } else {
        match ci_imds::Faults::parse(&a.faults) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("Error: {e}");
                return 2;
            }
        }
    };
    eprintln!(
        "Serving the {} metadata API from {} on http://{}/",
        a.cloud,
        a.seed.display(),
        a.listen
    );
    match ci_imds::serve(&a.cloud, &a.seed, &a.listen, faults) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("Error: {e}");
            1
        }
    }
}

pub(crate) fn not_yet(what: &str) -> i32 {
    eprintln!(
        "Error: 'cloud-init {what}' is not supported by cloud-init-rs yet (see docs/compat.md)"
    );
    1
}

fn run_query(host: &Host, paths: &Paths, a: crate::args::QueryArgs) -> i32 {
    if a.varname.is_none() && !a.all && !a.list_keys && a.format.is_none() {
        eprintln!("Expected one of the options: --all, --format, --list-keys or varname");
        return 1;
    }
    let args = query::QueryArgs {
        varname: a.varname,
        all: a.all,
        list_keys: a.list_keys,
        format: a.format.is_some(),
        instance_data: a.instance_data,
        user_data: a.user_data,
        vendor_data: a.vendor_data,
        is_root: Host::running_as_root(),
    };
    let Some(fmt) = a.format else {
        return emit(&query::run_query(host, paths, &args));
    };
    let data = match query::load_query_data(host, paths, &args) {
        Ok(d) => d,
        Err(out) => return emit(&out),
    };
    match ci_userdata::render_jinja_body(&fmt, &data) {
        Ok(text) if !text.is_empty() => {
            println!("{text}");
            0
        }
        Ok(_) => 1,
        Err(e) => {
            eprintln!("Failed to render templated data. {e}");
            1
        }
    }
}

fn devel_render(
    host: &Host,
    paths: &Paths,
    user_data: &std::path::Path,
    idata: Option<&std::path::Path>,
) -> i32 {
    let idata_path = idata
        .map(PathBuf::from)
        .unwrap_or_else(|| host.resolve(paths.run_file("instance-data-sensitive.json")));
    let Ok(itext) = std::fs::read_to_string(&idata_path) else {
        eprintln!("Missing instance-data.json file: {}", idata_path.display());
        return 1;
    };
    let Ok(ivalue) = serde_json::from_str::<Value>(&itext) else {
        eprintln!("Cannot parse instance data {}", idata_path.display());
        return 1;
    };
    let Ok(text) = std::fs::read_to_string(user_data) else {
        eprintln!("Missing user-data file: {}", user_data.display());
        return 1;
    };
    match ci_userdata::render_jinja(&text, &ivalue) {
        Ok(out) => {
            print!("{out}");
            0
        }
        Err(e) => {
            eprintln!("Cannot render from instance data due to exception: {e}");
            1
        }
    }
}

/// `cloud-id [-j] [-l] [-i FILE] [--root DIR]`.
pub fn main_cloud_id() -> i32 {
    let a = match crate::args::CloudIdArgs::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return e.exit_code();
        }
    };
    let host = Host::new(&a.root);
    let cfg = load_config(&host, &LoadOptions::default()).0;
    let paths = paths_of(&cfg);
    let (uses_systemd, cmdline, env_k, sd) = status_env(&host, false);
    let env = StatusEnv {
        uses_systemd,
        cmdline,
        env_kernel_cmdline: env_k,
        systemd: &sd,
    };
    let details = status::status_details(&host, &paths, &env);
    let idata = a
        .instance_data
        .unwrap_or_else(|| paths.run_file("instance-data.json"));
    emit(&cloud_id::run_cloud_id(
        &host,
        &details,
        &idata,
        cloud_id::CloudIdArgs {
            json: a.json,
            long: a.long,
        },
    ))
}

//! `cloud-init schema`.

use ci_schema::{Format, SchemaType, SystemLayout};

/// `cloud-init schema -c FILE [-t TYPE] [-i FILE] [--annotate] [--format F]`
/// or `--system`; `host` and `files` come from the global `--root` and `-f`.
pub(crate) fn schema(
    a: &crate::args::SchemaArgs,
    host: &ci_host::Host,
    files: &[std::path::PathBuf],
) -> i32 {
    let cfg = ci_config::load::load_config(host, &ci_config::load::LoadOptions::from_env(files)).0;
    let paths = crate::paths_of(&cfg);
    let layout = SystemLayout {
        root: host.root().to_path_buf(),
        cloud_dir: paths.cloud_dir.clone(),
        run_dir: paths.run_dir.clone(),
        // Tests run on a temp root as a normal user; only the real system
        // needs root to read the instance's data.
        as_root: ci_host::Host::running_as_root() || host.is_sandbox(),
    };
    schema_with(a, &layout)
}

pub(crate) fn schema_with(a: &crate::args::SchemaArgs, layout: &SystemLayout) -> i32 {
    if a.config_file.is_some() == a.system {
        eprintln!("Error:\nExpected one of --config-file or --system arguments");
        return 1;
    }
    let schema_type = match a.schema_type.as_deref() {
        None | Some("cloud-config") => SchemaType::CloudConfig,
        Some("network-config") => SchemaType::NetworkConfig,
        Some(other) => {
            eprintln!(
                "cloud-init schema: error: argument -t/--schema-type: invalid choice: '{other}' (choose from 'cloud-config', 'network-config')"
            );
            return 2;
        }
    };
    let format = if a.format == "json" {
        Format::Json
    } else {
        Format::Text
    };
    let mut args = ci_schema::SchemaArgs {
        config_file: String::new(),
        schema_type,
        annotate: a.annotate,
        instance_data: a.instance_data.clone(),
        format,
    };
    let out = if a.system {
        if a.schema_type.is_some() && format == Format::Text {
            println!(
                "WARNING: The --schema-type parameter is inapplicable when --system is present"
            );
        }
        ci_schema::run_system(&args, layout)
    } else {
        let file = a.config_file.clone().unwrap_or_default();
        args.config_file = file.display().to_string();
        if args.instance_data.is_none() {
            args.instance_data = Some(layout.default_instance_data());
        }
        ci_schema::run_schema(&args)
    };
    print!("{}", out.stdout);
    eprint!("{}", out.stderr);
    out.exit_code
}

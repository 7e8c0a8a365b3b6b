//! `cloud-init schema`.

use crate::cmds::not_yet;
/// `cloud-init schema -c FILE [-t TYPE] [--annotate]`.
pub(crate) fn schema(a: &crate::args::SchemaArgs) -> i32 {
    if a.system {
        return not_yet("schema --system");
    }
    if a.instance_data.is_some() {
        return not_yet("schema --instance-data (jinja user-data)");
    }
    let Some(file) = &a.config_file else {
        eprintln!("Error: Expected one of --config-file or --system arguments");
        return 1;
    };
    let schema_type = match a.schema_type.as_deref() {
        None | Some("cloud-config") => ci_schema::SchemaType::CloudConfig,
        Some("network-config") => ci_schema::SchemaType::NetworkConfig,
        Some(other) => {
            eprintln!(
                "Error: invalid choice: '{other}' (choose from 'cloud-config', 'network-config')"
            );
            return 2;
        }
    };
    let out = ci_schema::run_schema(&ci_schema::SchemaArgs {
        config_file: file.display().to_string(),
        schema_type,
        annotate: a.annotate,
    });
    print!("{}", out.stdout);
    eprint!("{}", out.stderr);
    out.exit_code
}

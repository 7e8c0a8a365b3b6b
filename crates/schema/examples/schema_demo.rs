//! `cargo run -p ci-schema --example schema_demo -- FILE [--annotate]`:
//! prints what `cloud-init schema -c FILE` would.

fn main() {
    let mut args = std::env::args().skip(1);
    let file = args.next().unwrap_or_default();
    let annotate = args.any(|a| a == "--annotate");
    let out = ci_schema::run_schema(&ci_schema::SchemaArgs {
        config_file: file,
        annotate,
        ..Default::default()
    });
    print!("{}", out.stdout);
    eprint!("{}", out.stderr);
    std::process::exit(out.exit_code);
}

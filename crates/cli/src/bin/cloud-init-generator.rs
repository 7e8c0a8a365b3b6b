//! `cloud-init-generator`: the systemd generator (and, called as
//! `ds-identify`, the ds-identify replacement). All logic is in `ci_detect`.

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let root = std::env::var("PATH_ROOT").ok();
    let code = ci_detect::main_with(&args, root, &mut std::io::stderr());
    std::process::ExitCode::from(code)
}

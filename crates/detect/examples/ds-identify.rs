//! The detector as a stand-alone `ds-identify` (honours `PATH_ROOT` and
//! `--force` as upstream's script does), for scripts/bench-ds-identify.sh
//! and manual comparisons without building the whole CLI.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let root = std::env::var("PATH_ROOT").ok();
    let code = ci_detect::main_with(&args, root, &mut std::io::stderr());
    std::process::exit(i32::from(code));
}

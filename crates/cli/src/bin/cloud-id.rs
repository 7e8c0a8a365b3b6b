fn main() {
    std::process::exit(ci_cli::main_cloud_id());
}

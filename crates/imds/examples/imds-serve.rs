//! Serve a seed directory on 127.0.0.1 until stdin closes; prints the URL.
//! Used by `crates/sources/tests/regen-ec2.py` to point upstream's crawler
//! at the emulator. Usage: `imds-serve SEED_DIR [required|optional]`.

use std::io::Read;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .ok_or("usage: imds-serve SEED_DIR [required|optional]")?;
    let mut seed = ci_imds::load_seed(std::path::Path::new(&dir))?;
    if args.next().as_deref() == Some("required") {
        seed.token = ci_imds::TokenMode::Required;
    }
    let server = ci_imds::Server::start(seed, ci_imds::Faults::default(), "127.0.0.1:0")?;
    println!("{}", server.url());
    let mut sink = Vec::new();
    std::io::stdin().read_to_end(&mut sink)?;
    server.shutdown();
    Ok(())
}

//! Renders a network-config file for one renderer and distro to stdout
//! (a quick way to look at output; `cargo run -p ci-net --example
//! net-render -- FILE RENDERER DISTRO [OUTDIR]`).
use ci_net::{parse, render, RenderOptions, Renderer};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(file), Some(r), Some(d)) = (args.get(1), args.get(2), args.get(3)) else {
        eprintln!("usage: net-render FILE RENDERER DISTRO [OUTDIR]");
        std::process::exit(2);
    };
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let doc = match ci_yaml::load(&text) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let Some(renderer) = Renderer::from_name(r) else {
        eprintln!("unknown renderer {r}");
        std::process::exit(2);
    };
    match parse(&doc).and_then(|c| match c {
        Some(c) => {
            // what `devel net-convert` assumes netplan supports
            let mut opts = RenderOptions::new(d);
            opts.netplan_features = vec!["dhcp-use-domains".into(), "ipv6-mtu".into()];
            render(&c, renderer, &opts).map(Some)
        }
        None => Ok(None),
    }) {
        Ok(Some(files)) if args.len() > 4 => {
            // OUTDIR given: write the tree there (no chown), for diffing.
            let out = std::path::Path::new(&args[4]);
            for (path, f) in files.iter() {
                let p = out.join(path.trim_start_matches('/'));
                if let Some(parent) = p.parent() {
                    let _ = std::fs::create_dir_all(parent);
                }
                let _ = std::fs::write(&p, &f.content);
            }
        }
        Ok(Some(files)) => {
            for (path, f) in files.iter() {
                println!("==> {path} ({:04o})", f.mode);
                print!("{}", String::from_utf8_lossy(&f.content));
            }
        }
        Ok(None) => println!("network config disabled"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}

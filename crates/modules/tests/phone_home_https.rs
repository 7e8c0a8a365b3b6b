//! `phone_home` over HTTPS with the test CA in the sandbox root's trust
//! store, and refused when the root trusts another CA: through the
//! module's registered handler, with real commands and a temp root.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ci_distro::Distro;
use ci_host::Host;
use ci_modules::{Ctx, InstanceInfo};
use ci_state::Paths;
use serde_json::json;
use std::sync::Mutex;

static WARNINGS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Cap;
impl log::Log for Cap {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, r: &log::Record) {
        if r.level() <= log::Level::Warn {
            WARNINGS.lock().unwrap().push(r.args().to_string());
        }
    }
    fn flush(&self) {}
}

fn run(root: &std::path::Path, url: &str) -> Vec<String> {
    let host = Host::new(root);
    let cfg = json!({"phone_home": {"url": url, "post": ["instance_id"], "tries": 1}});
    let distro = Distro::from_config(&json!({"system_info": {"distro": "debian"}}));
    let paths = Paths::default().with_instance("i-tls");
    let instance = InstanceInfo {
        instance_id: "i-tls".into(),
        ..Default::default()
    };
    let ctx = Ctx {
        name: "phone_home",
        host: &host,
        cfg: &cfg,
        distro: &distro,
        paths: &paths,
        instance: &instance,
        args: &[],
        version: "25.1.4",
        uptime: 1.0,
    };
    WARNINGS.lock().unwrap().clear();
    let handler = ci_modules::lookup("phone_home").unwrap().handler;
    handler(&ctx).unwrap();
    WARNINGS.lock().unwrap().clone()
}

#[test]
fn https_trusts_the_roots_ca_bundle_only() {
    let _ = log::set_boxed_logger(Box::new(Cap));
    log::set_max_level(log::LevelFilter::Warn);
    let srv = ci_http::testing::TlsServer::start(&[("/ph/", b"ok")]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir
        .path()
        .join(ci_http::bundle_path().trim_start_matches('/'));
    std::fs::create_dir_all(bundle.parent().unwrap()).unwrap();
    for (t, k) in [("ed25519", "AAAA"), ("rsa", "BBBB"), ("ecdsa", "CCCC")] {
        let p = dir.path().join(format!("etc/ssh/ssh_host_{t}_key.pub"));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, format!("ssh-{t} {k}\n")).unwrap();
    }

    std::fs::write(&bundle, srv.ca_pem().unwrap()).unwrap();
    assert_eq!(run(dir.path(), &srv.url("/ph/")), Vec::<String>::new());

    let stranger = ci_http::testing::TestCa::new("stranger").unwrap();
    std::fs::write(&bundle, stranger.cert_pem().unwrap()).unwrap();
    assert_eq!(
        run(dir.path(), &srv.url("/ph/")),
        [format!(
            "Failed to post phone home data to {} in 1 tries",
            srv.url("/ph/")
        )]
    );
}

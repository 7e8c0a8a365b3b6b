//! `ssh_deferred_keytypes` (ours, default none): host key types sshd may
//! start without. RSA generation takes seconds under emulation, and sshd
//! waits for every host key the module writes; with `[rsa]` the module
//! installs the other types, the network stage says it is ready, and the
//! RSA key made ahead of time is installed when it is done, after which
//! sshd is reloaded so that it serves it too. Only under systemd (where the
//! readiness point exists) and only for keys being made ahead of time; any
//! other type is generated in place as without the setting.

use super::{install_pregen, pregen, printed, run_keygen, Report};
use crate::Ctx;
use ci_distro::{Distro, ServiceAction};
use ci_host::{Cmd, Host};
use log::{debug, warn};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How long the reload waits for sshd to come up after the key is in place.
const SSHD_START_WAIT: Duration = Duration::from_secs(90);

/// `early` (types whose keys are being made ahead of time) split into the
/// deferred ones and the ones to install now.
pub(super) fn split<'t>(ctx: &Ctx, early: Vec<&'t String>) -> (Vec<String>, Vec<&'t String>) {
    let asked = super::cfg_list(ctx.get("ssh_deferred_keytypes")).unwrap_or_default();
    if asked.is_empty() || !ctx.distro.uses_systemd(ctx.host) {
        return (Vec::new(), early);
    }
    let (later, now): (Vec<&String>, Vec<&String>) =
        early.into_iter().partition(|t| asked.contains(t));
    (later.into_iter().cloned().collect(), now)
}

/// Keys to install after the module returned.
pub(super) struct Deferred {
    pub host: Host,
    pub distro: Distro,
    pub run_dir: PathBuf,
    pub comment: Option<String>,
    pub report: Report,
    pub types: Vec<String>,
}

pub(super) fn hand_off(d: Deferred) {
    debug!(
        "Deferring host key types {} until after SSH may start",
        d.types.join(", ")
    );
    crate::runner::late::spawn("the deferred host keys", move || d.run());
}

impl Deferred {
    fn run(self) {
        let host = &self.host;
        for t in &self.types {
            let res = match install_pregen(host, &self.run_dir, t, self.comment.as_deref()) {
                Some(text) => {
                    debug!("Installed the deferred {t} host key");
                    Ok(printed(text))
                }
                None => run_keygen(host, t, self.comment.as_deref()),
            };
            self.report.key(host, t, res);
        }
        pregen::discard(host, &self.run_dir);
        reload_sshd(host, &self.distro, &self.types.join(", "));
    }
}

fn systemctl(host: &Host, args: &[&str]) -> String {
    let mut argv = vec!["systemctl"];
    argv.extend_from_slice(args);
    host.run(&Cmd::new(argv).in_target())
        .map(|o| o.stdout_str().trim().to_string())
        .unwrap_or_default()
}

/// Reload sshd once it runs, so that it loads the keys written since it
/// started; nothing when it is neither running nor about to start.
fn reload_sshd(host: &Host, distro: &Distro, types: &str) {
    let service = distro.ssh_svcname();
    let unit = if service.contains('.') {
        service.clone()
    } else {
        format!("{service}.service")
    };
    let started = Instant::now();
    loop {
        let state = systemctl(
            host,
            &["show", "--property", "ActiveState", "--value", &unit],
        );
        match state.as_str() {
            "active" => break,
            "activating" | "reloading" => {}
            _ => {
                // A start job is queued (ordered after this stage's
                // readiness point) until systemd gets to it.
                let jobs = systemctl(host, &["list-jobs", "--no-legend", &unit]);
                if jobs.is_empty() {
                    debug!("Not reloading {unit}: it is {state:?} and no start is queued");
                    return;
                }
            }
        }
        if started.elapsed() >= SSHD_START_WAIT {
            warn!(
                "{unit} did not start within {} seconds; it does not serve the {types} host key until it is restarted",
                SSHD_START_WAIT.as_secs()
            );
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    match host.run(&distro.service_cmd(host, ServiceAction::Reload, &service, &[])) {
        Ok(_) => debug!("Reloaded {unit}: it now serves the {types} host key too"),
        Err(e) => warn!("Failed to reload {unit} for the {types} host key: {e}"),
    }
}

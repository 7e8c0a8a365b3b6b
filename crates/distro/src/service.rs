//! Service management commands per init system (upstream's `manage_service`).

use crate::{Distro, Family};
use ci_host::{Cmd, Host};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceAction {
    Start,
    Stop,
    Restart,
    Reload,
    Enable,
    Disable,
    Status,
}

impl ServiceAction {
    fn word(self) -> &'static str {
        match self {
            ServiceAction::Start => "start",
            ServiceAction::Stop => "stop",
            ServiceAction::Restart => "restart",
            ServiceAction::Reload => "reload",
            ServiceAction::Enable => "enable",
            ServiceAction::Disable => "disable",
            ServiceAction::Status => "status",
        }
    }
}

impl Distro {
    /// systemd is the init system: `/run/systemd/system` is a directory
    /// (never on Alpine, which upstream drives with OpenRC).
    pub fn uses_systemd(&self, host: &Host) -> bool {
        self.family != Family::Alpine
            && std::fs::symlink_metadata(host.path("/run/systemd/system"))
                .map(|m| m.is_dir())
                .unwrap_or(false)
    }

    /// The command that performs `action` on `service`, plus `extra` args;
    /// it runs inside the target.
    pub fn service_cmd(
        &self,
        host: &Host,
        action: ServiceAction,
        service: &str,
        extra: &[&str],
    ) -> Cmd {
        use ServiceAction::*;
        let mut argv: Vec<String> = match self.family {
            Family::Alpine => {
                let base = vec!["rc-service".to_string(), "--nocolor".to_string()];
                match action {
                    Enable => vec!["rc-update".into(), "add".into(), service.into()],
                    Disable => vec!["rc-update".into(), "del".into(), service.into()],
                    Reload => [base, vec![service.into(), "restart".into()]].concat(),
                    _ => [base, vec![service.into(), action.word().into()]].concat(),
                }
            }
            Family::FreeBsd => {
                let w = if action == Reload {
                    "restart"
                } else {
                    action.word()
                };
                vec!["service".into(), service.into(), w.into()]
            }
            Family::OpenBsd => {
                let w = match action {
                    Reload => "restart",
                    Status => "check",
                    a => a.word(),
                };
                vec!["rcctl".into(), w.into(), service.into()]
            }
            _ if self.uses_systemd(host) || matches!(self.family, Family::Arch) => {
                vec![
                    "systemctl".into(),
                    systemctl_word(action).into(),
                    service.into(),
                ]
            }
            _ => {
                let w = match action {
                    Enable => "start",
                    Disable => "stop",
                    Reload => "restart",
                    a => a.word(),
                };
                vec!["service".into(), service.into(), w.into()]
            }
        };
        argv.extend(extra.iter().map(|s| s.to_string()));
        // The target's own service manager, never this machine's under --root.
        Cmd::new(argv).in_target()
    }
}

fn systemctl_word(a: ServiceAction) -> &'static str {
    match a {
        ServiceAction::Reload => "reload-or-restart",
        a => a.word(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn commands_per_init_system() {
        let d = tempfile::tempdir().unwrap();
        let h = Host::new(d.path());
        let deb = Distro::from_config(&json!({"system_info": {"distro": "debian"}}));
        assert!(!deb.uses_systemd(&h));
        assert_eq!(
            deb.service_cmd(&h, ServiceAction::Restart, "ssh", &[]).argv,
            ["service", "ssh", "restart"]
        );
        h.create_dir_all("/run/systemd/system", 0o755).unwrap();
        assert!(deb.uses_systemd(&h));
        assert_eq!(
            deb.service_cmd(
                &h,
                ServiceAction::Restart,
                "ssh",
                &["--job-mode=ignore-dependencies"]
            )
            .argv,
            [
                "systemctl",
                "restart",
                "ssh",
                "--job-mode=ignore-dependencies"
            ]
        );
        let alp = Distro::from_config(&json!({"system_info": {"distro": "alpine"}}));
        assert_eq!(
            alp.service_cmd(&h, ServiceAction::Restart, "sshd", &[])
                .argv,
            ["rc-service", "--nocolor", "sshd", "restart"]
        );
        let fbsd = Distro::from_config(&json!({"system_info": {"distro": "freebsd"}}));
        assert_eq!(
            fbsd.service_cmd(&h, ServiceAction::Restart, "sshd", &[])
                .argv,
            ["service", "sshd", "restart"]
        );
    }
}

//! `analyze boot`: kernel and cloud-init start times from systemd, as
//! upstream's `analyze_boot` and `show.dist_check_timestamp`.
//!
//! Upstream's dmesg path (FreeBSD, Gentoo) decodes a `str` and so always
//! ends in its "not supported" message in 25.1.4; that is what any system
//! without systemd gets here, with no dmesg call to fake.

use crate::events::Event;
use crate::py::{datetime_str, float_repr, timestamp_micros};

/// What `analyze boot` needs from the machine (tests fake it).
pub trait BootProbe {
    /// `/run/systemd/system` is a directory.
    fn uses_systemd(&self) -> bool;
    fn is_container(&self) -> bool;
    /// Seconds since the epoch.
    fn now(&self) -> f64;
    /// Seconds since boot (`/proc/uptime`).
    fn uptime(&self) -> f64;
    /// `systemctl show [UNIT] -p PROPERTY`: stdout, or the failure as text
    /// (upstream prints it).
    fn systemctl_show(&self, unit: Option<&str>, property: &str) -> Result<String, String>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Successful,
    Failure,
    Container,
}

impl Status {
    /// Upstream returns this word from the handler, and `sys.exit` prints it.
    pub fn word(self) -> &'static str {
        match self {
            Status::Successful => "successful",
            Status::Failure => "failure",
            Status::Container => "container",
        }
    }
}

pub struct BootReport {
    /// Lines upstream prints first (a systemctl failure).
    pub notes: String,
    pub text: String,
    pub status: Status,
}

fn property_seconds(out: &str) -> Result<f64, String> {
    let value = out
        .split('=')
        .nth(1)
        .ok_or_else(|| format!("list index out of range ({out:?})"))?;
    crate::py::strip(value)
        .parse::<f64>()
        .map(|v| v / 1_000_000.0)
        .map_err(|_| format!("could not convert string to float: '{}'", value))
}

fn systemctl(p: &dyn BootProbe, unit: Option<&str>, property: &str) -> Result<f64, String> {
    match p.systemctl_show(unit, property) {
        Ok(out) => property_seconds(&out),
        Err(e) => Err(format!(
            "Subprocess call to systemctl has failed, returning error code ({e})"
        )),
    }
}

/// `(status, kernel start, kernel end, cloud-init unit start, notes)`:
/// times in seconds since the epoch, notes what upstream prints on the way.
pub type Stamps = (Status, f64, f64, f64, String);

pub fn timestamps(p: &dyn BootProbe) -> Stamps {
    const UNKNOWN: (Status, f64, f64, f64) = (Status::Failure, -1.0, -1.0, -1.0);
    if !p.uses_systemd() {
        let (s, a, b, c) = UNKNOWN;
        return (s, a, b, c, String::new());
    }
    let kernel_start = p.now() - p.uptime();
    let got = systemctl(p, None, "UserspaceTimestampMonotonic").and_then(|k_end| {
        systemctl(
            p,
            Some("cloud-init-local"),
            "InactiveExitTimestampMonotonic",
        )
        .map(|ci| (k_end, ci))
    });
    match got {
        Ok((k_end, ci)) => {
            let status = if p.is_container() {
                Status::Container
            } else {
                Status::Successful
            };
            (
                status,
                kernel_start,
                kernel_start + k_end,
                kernel_start + ci,
                String::new(),
            )
        }
        Err(e) => {
            let (s, a, b, c) = UNKNOWN;
            (s, a, b, c, format!("{e}\n"))
        }
    }
}

fn when(t: f64) -> String {
    timestamp_micros(t).map_or_else(|| float_repr(t), datetime_str)
}

pub fn boot(p: &dyn BootProbe, events: &[Event]) -> BootReport {
    report(timestamps(p), events)
}

/// The report from [`timestamps`] (upstream takes them before reading the
/// log) and the log's events.
pub fn report(stamps: Stamps, events: &[Event]) -> BootReport {
    let (mut status, k_start, k_end, ci_sysd, notes) = stamps;
    let last_local = events.iter().rev().find(|e| {
        e.get("name").and_then(|v| v.as_str()) == Some("init-local")
            && e.get("description")
                .and_then(|v| v.as_str())
                .is_some_and(|d| d.contains("starting search"))
    });
    let ci_start = match last_local
        .and_then(|e| e.get("timestamp"))
        .and_then(|t| t.as_f64())
    {
        Some(t) => when(t),
        None => {
            status = Status::Failure;
            "Could not find init-local log-line in cloud-init.log".to_string()
        }
    };
    let text = match status {
        Status::Failure => "Your Linux distro or container does not support this functionality.\n\
You must be running a Kernel Telemetry supported distro.\n\
Please check https://docs.cloud-init.io/en/latest/topics/analyze.html for more information on supported distros.\n"
            .to_string(),
        Status::Container => format!(
            "-- Most Recent Container Boot Record --\n    Container started at: {}\n    Cloud-init activated by systemd at: {}\n    Cloud-init start: {}\n",
            when(k_start),
            when(ci_sysd),
            ci_start
        ),
        Status::Successful => format!(
            "-- Most Recent Boot Record --\n    Kernel Started at: {}\n    Kernel ended boot at: {}\n    Kernel time to boot (seconds): {}\n    Cloud-init activated by systemd at: {}\n    Time between Kernel end boot and Cloud-init activation (seconds): {}\n    Cloud-init start: {}\n",
            when(k_start),
            when(k_end),
            float_repr(k_end - k_start),
            when(ci_sysd),
            float_repr(ci_sysd - k_end),
            ci_start
        ),
    };
    BootReport {
        notes,
        text,
        status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake {
        systemd: bool,
        container: bool,
        fail: bool,
    }

    impl BootProbe for Fake {
        fn uses_systemd(&self) -> bool {
            self.systemd
        }
        fn is_container(&self) -> bool {
            self.container
        }
        fn now(&self) -> f64 {
            1_700_000_100.0
        }
        fn uptime(&self) -> f64 {
            100.0
        }
        fn systemctl_show(&self, unit: Option<&str>, property: &str) -> Result<String, String> {
            if self.fail {
                return Err("boom".into());
            }
            Ok(match (unit, property) {
                (None, "UserspaceTimestampMonotonic") => {
                    "UserspaceTimestampMonotonic=1500000\n".into()
                }
                (Some("cloud-init-local"), "InactiveExitTimestampMonotonic") => {
                    "InactiveExitTimestampMonotonic=4250000\n".into()
                }
                _ => String::new(),
            })
        }
    }

    fn local() -> Vec<Event> {
        let mut e = Event::new();
        e.insert("name".into(), "init-local".into());
        e.insert(
            "description".into(),
            "starting search for local datasources".into(),
        );
        e.insert("timestamp".into(), serde_json::json!(1_700_000_005.5));
        vec![e]
    }

    #[test]
    fn systemd_machine() {
        let r = boot(
            &Fake {
                systemd: true,
                container: false,
                fail: false,
            },
            &local(),
        );
        assert_eq!(r.status, Status::Successful);
        assert_eq!(
            r.text,
            "-- Most Recent Boot Record --\n    Kernel Started at: 2023-11-14 22:13:20+00:00\n    Kernel ended boot at: 2023-11-14 22:13:21.500000+00:00\n    Kernel time to boot (seconds): 1.5\n    Cloud-init activated by systemd at: 2023-11-14 22:13:24.250000+00:00\n    Time between Kernel end boot and Cloud-init activation (seconds): 2.75\n    Cloud-init start: 2023-11-14 22:13:25.500000+00:00\n"
        );
    }

    #[test]
    fn container_and_failures() {
        let r = boot(
            &Fake {
                systemd: true,
                container: true,
                fail: false,
            },
            &local(),
        );
        assert_eq!(r.status, Status::Container);
        assert!(r.text.starts_with("-- Most Recent Container Boot Record --\n    Container started at: 2023-11-14 22:13:20+00:00\n"));
        let r = boot(
            &Fake {
                systemd: true,
                container: false,
                fail: true,
            },
            &local(),
        );
        assert_eq!(r.status, Status::Failure);
        assert_eq!(
            r.notes,
            "Subprocess call to systemctl has failed, returning error code (boom)\n"
        );
        let r = boot(
            &Fake {
                systemd: true,
                container: false,
                fail: false,
            },
            &[],
        );
        assert_eq!(r.status, Status::Failure);
        assert!(r.text.starts_with("Your Linux distro"));
    }
}

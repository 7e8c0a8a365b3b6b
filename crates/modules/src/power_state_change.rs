//! `power_state_change`: shut down, reboot or halt once cloud-init is done.
//!
//! Upstream forks a child in the final stage that waits for the cloud-init
//! process to go away (or `timeout` seconds), then checks `condition` and
//! runs the distro's shutdown command. We cannot fork (no `unsafe`), so the
//! module only validates the config and records the plan; the stage runner
//! calls [`run_deferred`] once the stage has written all of its state
//! (status.json, result.json, boot-finished), just before the process exits.
//! Seen from the machine that is the same moment upstream's child wakes up:
//! every file cloud-init writes is in place, the condition runs after them,
//! and nothing it logs reaches the stage's status. The `timeout` is validated
//! as upstream does but has nothing left to bound: by the time we act, the
//! stage is over.

use crate::{Ctx, ModResult};
use ci_distro::{Distro, Family};
use ci_host::{Cmd, Host};
use ci_pyval::{py_repr, py_str, py_type};
use serde_json::Value;
use std::sync::Mutex;

/// The plan recorded by `handle`, run by [`run_deferred`].
static PENDING: Mutex<Option<Deferred>> = Mutex::new(None);

const MODES: [&str; 3] = ["halt", "poweroff", "reboot"];

/// `power_state.condition`.
#[derive(Debug, Clone, PartialEq)]
enum Condition {
    Static(bool),
    /// A string: run by `/bin/sh -c`.
    Shell(String),
    /// A list: run as the argument vector it is.
    Argv(Vec<Value>),
}

/// What upstream's forked child would do.
#[derive(Debug, Clone)]
pub struct Deferred {
    host: Host,
    /// The shutdown command; `Err` holds why it cannot start (upstream's
    /// `Popen` refusing a non-text message), in which case nothing runs.
    argv: Result<Vec<String>, String>,
    condition: Condition,
}

pub fn handle(ctx: &Ctx) -> ModResult {
    let Some(deferred) = plan(ctx) else {
        return Ok(());
    };
    if let Ok(mut slot) = PENDING.lock() {
        *slot = Some(deferred);
    }
    Ok(())
}

/// Validate the config as upstream's `load_power_state` does and log what
/// will happen; `None` when nothing will.
fn plan(ctx: &Ctx) -> Option<Deferred> {
    let (argv, _timeout, condition) = match load_power_state(ctx.cfg, ctx.distro) {
        Ok(Some(p)) => p,
        Ok(None) => {
            log::debug!("no power_state provided. doing nothing");
            return None;
        }
        Err(msg) => {
            log::warn!("{msg} Not performing power state change!");
            return None;
        }
    };
    if condition == Condition::Static(false) {
        log::debug!("Condition was false. Will not perform state change.");
        return None;
    }
    let shown = match &argv {
        Ok(a) => a.join(" "),
        Err(_) => "(a command that cannot start)".into(),
    };
    log::debug!(
        "After pid {} ends, will execute: {shown}",
        std::process::id()
    );
    Some(Deferred {
        host: ctx.host.clone(),
        argv,
        condition,
    })
}

type Loaded = (Result<Vec<String>, String>, f64, Condition);

fn load_power_state(cfg: &Value, distro: &Distro) -> Result<Option<Loaded>, String> {
    let Some(pstate) = cfg.get("power_state").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let Some(pstate) = pstate.as_object() else {
        return Err("power_state is not a dict.".into());
    };
    let mode = pstate.get("mode").unwrap_or(&Value::Null);
    if matches!(mode, Value::Array(_) | Value::Object(_)) {
        // `mode in dict` with an unhashable key.
        return Err(format!("unhashable type: '{}'", py_type(mode)));
    }
    let mode = match mode.as_str() {
        Some(m) if MODES.contains(&m) => m,
        _ => {
            return Err(format!(
                "power_state[mode] required, must be one of: {}. found: '{}'.",
                MODES.join(","),
                py_str(mode)
            ))
        }
    };
    let delay = pstate
        .get("delay")
        .cloned()
        .unwrap_or_else(|| Value::String("now".into()));
    let argv = shutdown_command(distro, mode, &delay, pstate.get("message"))?;

    let timeout = match pstate.get("timeout") {
        None => 30.0,
        Some(v) => py_float(v).map_err(|e| match e {
            PyNumErr::Value(_) => format!("failed to convert timeout '{}' to float.", py_str(v)),
            PyNumErr::Other(m) => m,
        })?,
    };

    let condition = match pstate.get("condition") {
        None => Condition::Static(true),
        Some(Value::Bool(b)) => Condition::Static(*b),
        Some(Value::String(s)) => Condition::Shell(s.clone()),
        Some(Value::Array(a)) => Condition::Argv(a.clone()),
        // Upstream's message leaves its placeholder unfilled.
        Some(_) => return Err("condition type %s invalid. must be list, bool, str".into()),
    };
    Ok(Some((argv, timeout, condition)))
}

/// The distro's `shutdown_command`. The outer `Err` is a config error; the
/// inner one a command that cannot start (a message that is not text).
fn shutdown_command(
    distro: &Distro,
    mode: &str,
    delay: &Value,
    message: Option<&Value>,
) -> Result<Result<Vec<String>, String>, String> {
    let bad_delay = || {
        format!(
            "power_state[delay] must be 'now' or '+m' (minutes). found '{}'.",
            py_str(delay)
        )
    };
    let convert = |e: PyNumErr| match e {
        PyNumErr::Value(_) => bad_delay(),
        PyNumErr::Other(m) => m,
    };
    let is_now = delay.as_str() == Some("now");
    if distro.family == Family::Alpine {
        // Alpine's halt/poweroff/reboot take a delay in seconds and no message.
        let secs = if is_now {
            "0".to_string()
        } else {
            (py_int(delay).map_err(convert)? * 60).to_string()
        };
        return Ok(Ok(vec![mode.to_string(), "-d".into(), secs]));
    }
    let flag = match (bsd(distro.family), mode) {
        (_, "halt") => "-H",
        (false, "poweroff") => "-P",
        (true, "poweroff") => "-p",
        _ => "-r",
    };
    let delay = if is_now {
        "now".to_string()
    } else {
        format!("+{}", py_int(delay).map_err(convert)?)
    };
    let mut argv = vec!["shutdown".to_string(), flag.to_string(), delay];
    match message {
        Some(m) if ci_pyval::truthy(m) => match m.as_str() {
            Some(s) => argv.push(s.to_string()),
            None => {
                return Ok(Err(format!(
                    "expected str, bytes or os.PathLike object, not {}",
                    py_type(m)
                )))
            }
        },
        _ => {}
    }
    Ok(Ok(argv))
}

fn bsd(f: Family) -> bool {
    matches!(f, Family::FreeBsd | Family::OpenBsd | Family::NetBsd)
}

/// Why Python's `int()`/`float()` refused a value: a `ValueError` (upstream
/// catches those and words its own message) or another error whose text
/// upstream shows as is.
#[derive(Debug, PartialEq)]
pub(crate) enum PyNumErr {
    Value(String),
    Other(String),
}

/// Python's `int(v)` for loaded values.
pub(crate) fn py_int(v: &Value) -> Result<i128, PyNumErr> {
    match v {
        Value::Bool(b) => Ok(i128::from(*b)),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Ok(i128::from(i))
            } else if let Some(u) = n.as_u64() {
                Ok(i128::from(u))
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                if f.is_nan() {
                    Err(PyNumErr::Value(
                        "cannot convert float NaN to integer".into(),
                    ))
                } else if f.is_infinite() {
                    Err(PyNumErr::Other(
                        "cannot convert float infinity to integer".into(),
                    ))
                } else {
                    // Truncation toward zero, as int() of a float.
                    Ok(f.trunc() as i128)
                }
            }
        }
        Value::String(s) => parse_py_int(s).ok_or_else(|| {
            PyNumErr::Value(format!(
                "invalid literal for int() with base 10: {}",
                ci_pyval::py_quote(s)
            ))
        }),
        other => Err(PyNumErr::Other(format!(
            "int() argument must be a string, a bytes-like object or a real number, not '{}'",
            py_type(other)
        ))),
    }
}

/// `int(str)`: surrounding whitespace, an optional sign, decimal digits
/// with single underscores between them.
fn parse_py_int(s: &str) -> Option<i128> {
    let t = s.trim();
    let (neg, digits) = match t.as_bytes().first()? {
        b'+' => (false, &t[1..]),
        b'-' => (true, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
        || !digits.bytes().all(|b| b.is_ascii_digit() || b == b'_')
    {
        return None;
    }
    let n: i128 = digits.replace('_', "").parse().ok()?;
    Some(if neg { -n } else { n })
}

/// Python's `float(v)` for loaded values.
fn py_float(v: &Value) -> Result<f64, PyNumErr> {
    match v {
        Value::Bool(b) => Ok(f64::from(u8::from(*b))),
        Value::Number(n) => Ok(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => {
            let t = s.trim();
            let lower = t.to_ascii_lowercase();
            let body = lower.trim_start_matches(['+', '-']);
            // Rust accepts spellings Python does not ("infinity" is fine in
            // both; "inf"/"nan" too) and vice versa only for underscores.
            let ok = !t.is_empty()
                && (matches!(body, "inf" | "infinity" | "nan")
                    || body
                        .bytes()
                        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'+' | b'-')));
            match (ok, t.parse::<f64>()) {
                (true, Ok(f)) => Ok(f),
                _ => Err(PyNumErr::Value(format!(
                    "could not convert string to float: {}",
                    ci_pyval::py_quote(s)
                ))),
            }
        }
        other => Err(PyNumErr::Other(format!(
            "float() argument must be a string or a real number, not '{}'",
            py_type(other)
        ))),
    }
}

/// Run the recorded plan, if the module recorded one: the stage runner
/// calls this after the stage has written all of its state.
pub fn run_deferred() {
    let pending = PENDING.lock().ok().and_then(|mut slot| slot.take());
    if let Some(d) = pending {
        d.run();
    }
}

impl Deferred {
    fn run(&self) {
        log::debug!(
            "cloud-init process {} has finished its stage",
            std::process::id()
        );
        if !check_condition(&self.host, &self.condition) {
            return;
        }
        match &self.argv {
            Ok(argv) => {
                // Upstream discards the command's output and exit status.
                let cmd = Cmd::new(argv.clone()).in_target();
                match self.host.runner().execute(&self.host, &cmd) {
                    Ok(out) => log::debug!("{} exited {}", cmd.display(), out.status),
                    Err(e) => log::debug!("{e}"),
                }
            }
            Err(e) => log::debug!("power state command could not start: {e}"),
        }
    }
}

/// Upstream's `check_condition`: exit 0 applies the change, 1 does not,
/// anything else warns and does not.
fn check_condition(host: &Host, cond: &Condition) -> bool {
    let (cmd, pre) = match cond {
        Condition::Static(b) => {
            log::debug!("Static Condition: {}", if *b { "True" } else { "False" });
            return *b;
        }
        Condition::Shell(s) => (
            Cmd::new(["/bin/sh", "-c", s.as_str()]).in_target(),
            format!("check_condition command ({s}): "),
        ),
        Condition::Argv(items) => {
            let pre = format!(
                "check_condition command ({}): ",
                py_repr(&Value::Array(items.clone()))
            );
            let mut argv = Vec::new();
            for it in items {
                match it.as_str() {
                    Some(s) => argv.push(s.to_string()),
                    None => {
                        log::warn!(
                            "{pre}Unexpected error: expected str, bytes or os.PathLike object, not {}",
                            py_type(it)
                        );
                        return false;
                    }
                }
            }
            let Some(prog) = argv.first() else {
                log::warn!("{pre}Unexpected error: list index out of range");
                return false;
            };
            if host.which_target(prog).is_none() {
                log::warn!(
                    "{pre}Unexpected error: [Errno 2] No such file or directory: {}",
                    ci_pyval::py_quote(prog)
                );
                return false;
            }
            (Cmd::new(argv).in_target(), pre)
        }
    };
    match host.runner().execute(host, &cmd) {
        Ok(out) if out.status == 0 => {
            log::debug!("{pre}exited 0. condition met.");
            true
        }
        Ok(out) if out.status == 1 => {
            log::debug!("{pre}exited 1. condition not met.");
            false
        }
        Ok(out) => {
            log::warn!("{pre}unexpected exit {}. do not apply change.", out.status);
            false
        }
        Err(e) => {
            log::warn!("{pre}Unexpected error: {e}");
            false
        }
    }
}

#[cfg(test)]
mod tests;

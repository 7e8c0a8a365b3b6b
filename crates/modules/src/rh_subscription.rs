//! `rh_subscription`: registers a Red Hat system with `subscription-manager`
//! (activation key and org, or username and password), then optionally
//! auto-attaches (with a service level), attaches pools and enables or
//! disables repositories. Failures of these steps are warnings, as
//! upstream's; the password never reaches a log line.

use crate::subp::{self, ExecError};
use crate::{Ctx, ModResult, ModuleError};
use ci_host::Cmd;
use ci_pyval::{is_false, is_true, py_list, py_str, py_type, truthy};
use log::{debug, info, warn};
use serde_json::{Map, Value};

const TOOL: &str = "subscription-manager";
const VALID_KEYS: [&str; 11] = [
    "org",
    "activation-key",
    "username",
    "password",
    "disable-repo",
    "enable-repo",
    "add-pool",
    "rhsm-baseurl",
    "server-hostname",
    "auto-attach",
    "service-level",
];

/// A step that did not work: its message is warned about, followed by the
/// general "did not complete" warning.
struct StepFailed(String);

/// How a step ends: done, failed (warned), or an error that fails the
/// module (commands upstream does not guard).
enum Stop {
    Step(StepFailed),
    Module(ModuleError),
}

impl From<StepFailed> for Stop {
    fn from(s: StepFailed) -> Self {
        Stop::Step(s)
    }
}

impl From<ModuleError> for Stop {
    fn from(e: ModuleError) -> Self {
        Stop::Module(e)
    }
}

pub fn handle(ctx: &Ctx) -> ModResult {
    let empty = Value::Object(Map::new());
    let cfg = ctx.get("rh_subscription").unwrap_or(&empty);
    let Value::Object(cfg) = cfg else {
        return Err(ModuleError::with_class(
            "AttributeError",
            format!("'{}' object has no attribute 'get'", py_type(cfg)),
        ));
    };
    let sm = Sub { ctx, cfg };
    if !sm.is_configured() {
        debug!("{}: module not configured.", ctx.name);
        return Ok(());
    }
    if sm.is_registered() {
        info!("System is already registered");
        return Ok(());
    }
    match sm.run_steps() {
        Ok(()) => {
            info!("rh_subscription plugin completed successfully");
            Ok(())
        }
        Err(Stop::Step(StepFailed(msg))) => {
            warn!("{msg}");
            warn!("rh_subscription plugin did not complete successfully");
            Ok(())
        }
        Err(Stop::Module(e)) => Err(e),
    }
}

struct Sub<'a> {
    ctx: &'a Ctx<'a>,
    cfg: &'a Map<String, Value>,
}

impl Sub<'_> {
    /// A key that is set (null counts as unset, as upstream's `is None`).
    fn opt(&self, key: &str) -> Option<&Value> {
        self.cfg.get(key).filter(|v| !v.is_null())
    }

    fn is_configured(&self) -> bool {
        let set = |k: &str| self.cfg.get(k).is_some_and(truthy);
        (set("username") && set("password")) || set("activation-key")
    }

    /// `subscription-manager identity` succeeds only on a registered
    /// system; any failure (the tool missing included) means not registered.
    fn is_registered(&self) -> bool {
        self.sub_man(&["identity".to_string()], None).is_ok()
    }

    fn run_steps(&self) -> Result<(), Stop> {
        self.verify_keys()?;
        if !self.register()? {
            return Err(StepFailed("Registration failed or did not run completely".into()).into());
        }
        let auto = self.opt("auto-attach");
        let auto_on = auto.is_some_and(truthy);
        if auto_on && self.opt("service-level").is_some() {
            if !self.set_service_level() {
                return Err(StepFailed("Setting of service-level failed".into()).into());
            }
            debug!("Completed auto-attach with service level");
        } else if auto_on {
            if !self.set_auto_attach() {
                return Err(StepFailed("Setting auto-attach failed".into()).into());
            }
            debug!("Completed auto-attach");
        }
        if let Some(pools) = self.opt("add-pool") {
            let Value::Array(pools) = pools else {
                return Err(StepFailed("Pools must in the format of a list".into()).into());
            };
            if !self.add_pools(pools)? {
                return Err(StepFailed(format!(
                    "Unable to attach pools {}",
                    ci_pyval::py_repr(&Value::Array(pools.clone()))
                ))
                .into());
            }
        }
        if !self.update_repos()? {
            return Err(StepFailed("Unable to add or remove repos".into()).into());
        }
        Ok(())
    }

    fn verify_keys(&self) -> Result<(), StepFailed> {
        if let Some(k) = self.cfg.keys().find(|k| !VALID_KEYS.contains(&k.as_str())) {
            return Err(StepFailed(format!(
                "{k} is not a valid key for rh_subscription. Valid keys are: {}",
                VALID_KEYS.join(", ")
            )));
        }
        let auto = self.opt("auto-attach");
        if let Some(a) = auto {
            if !(is_true(a) || is_false(a)) {
                return Err(StepFailed(
                    "The key auto-attach must be a boolean value (True/False ".into(),
                ));
            }
        }
        if self.opt("service-level").is_some() {
            let off = match auto {
                None => true,
                Some(a) => !truthy(a) || is_false(&Value::String(py_str(a))),
            };
            if off {
                return Err(StepFailed(
                    "The service-level key must be used in conjunction with the auto-attach key.  Please re-run with auto-attach: True".into(),
                ));
            }
        }
        Ok(())
    }

    /// Registers by activation key and org, or else by username and
    /// password; false when neither is complete or the command fails.
    /// Output without a registration id fails the module, as upstream's
    /// `IndexError` does.
    fn register(&self) -> Result<bool, ModuleError> {
        let s = |k: &str| self.opt(k).map(py_str);
        let mut args = vec!["register".to_string()];
        if let (Some(key), Some(org)) = (s("activation-key"), s("org")) {
            args.push(format!("--activationkey={key}"));
            args.push(format!("--org={org}"));
        } else if let (Some(user), Some(password)) = (s("username"), s("password")) {
            args.push(format!("--username={user}"));
            args.push(format!("--password={password}"));
        } else {
            warn!("Unable to register system due to incomplete information.");
            warn!("Use either activationkey and org *or* userid and password");
            return Ok(false);
        }
        if let Some(url) = s("rhsm-baseurl") {
            args.push(format!("--baseurl={url}"));
        }
        if let Some(host) = s("server-hostname") {
            args.push(format!("--serverurl={host}"));
        }
        // Upstream logs the flag it passes instead of the command line.
        match self.sub_man(&args, Some("True")) {
            Ok(out) => {
                let id = out.split_once("ID: ").map(|(_, rest)| {
                    // Upstream takes the text up to the next "ID: ".
                    rest.split("ID: ").next().unwrap_or(rest).trim_end()
                });
                let Some(id) = id else {
                    return Err(ModuleError::with_class(
                        "IndexError",
                        "list index out of range",
                    ));
                };
                debug!("Registered successfully with ID {id}");
                Ok(true)
            }
            Err(e) => {
                if e.exit_code.is_some() && e.stdout.is_empty() {
                    warn!("Registration failed due to: {}", indented(&e.stderr));
                }
                Ok(false)
            }
        }
    }

    fn set_service_level(&self) -> bool {
        let level = self.opt("service-level").map(py_str).unwrap_or_default();
        let mut args = ["attach", "--auto"].map(String::from).to_vec();
        args.push(format!("--servicelevel={level}"));
        match self.sub_man(&args, None) {
            Ok(out) => {
                debug_lines(&out);
                true
            }
            Err(e) => {
                let stdout = shown_output(&e, &e.stdout);
                if stdout.trim_end() != "" {
                    for line in stdout.split('\n').filter(|l| !l.is_empty()) {
                        warn!("{line}");
                    }
                } else {
                    warn!(
                        "Setting the service level failed with: {}",
                        shown_output(&e, &e.stderr).trim()
                    );
                }
                false
            }
        }
    }

    fn set_auto_attach(&self) -> bool {
        match self.sub_man(&["attach".into(), "--auto".into()], None) {
            Ok(out) => {
                debug_lines(&out);
                true
            }
            Err(e) => {
                warn!("Auto-attach failed with: {e}");
                false
            }
        }
    }

    /// Attaches the pools that are available and not yet consumed. `None`
    /// from upstream (nothing attachable) counts as failure.
    fn add_pools(&self, pools: &[Value]) -> Result<bool, ModuleError> {
        if pools.is_empty() {
            debug!("No pools to attach");
            return Ok(true);
        }
        let list = |which: &str| -> Result<Vec<String>, ModuleError> {
            let args = ["list", which, "--pool-only"].map(String::from);
            let out = self.sub_man(&args, None).map_err(process_error)?;
            Ok(out.trim_end().split('\n').map(String::from).collect())
        };
        let available = list("--available")?;
        let consumed = list("--consumed")?;
        let mut args = vec!["attach".to_string()];
        let mut last = String::new();
        for pool in pools {
            let name = py_str(pool);
            // Upstream compares the configured value with the listed text.
            let listed = |l: &[String]| pool.as_str().is_some_and(|p| l.iter().any(|x| x == p));
            if !listed(&consumed) && listed(&available) {
                args.push(format!("--pool={name}"));
            } else {
                warn!("Pool {name} is not available");
            }
            last = name;
        }
        if args.len() == 1 {
            return Ok(false);
        }
        match self.sub_man(&args, None) {
            Ok(_) => {
                let names: Vec<&str> = args[1..]
                    .iter()
                    .map(|a| a.trim_start_matches("--pool="))
                    .collect();
                debug!(
                    "Attached the following pools to your system: {}",
                    names.join(", ")
                );
                Ok(true)
            }
            Err(e) => {
                warn!("Unable to attach pool {last} due to {e}");
                Ok(false)
            }
        }
    }

    fn update_repos(&self) -> Result<bool, ModuleError> {
        let repos = |key: &str| -> Option<Vec<Value>> {
            match self.opt(key) {
                None => Some(Vec::new()),
                Some(Value::Array(a)) => Some(a.clone()),
                Some(_) => None,
            }
        };
        let (Some(enable), Some(disable)) = (repos("enable-repo"), repos("disable-repo")) else {
            warn!("Repo IDs must in the format of a list.");
            return Ok(false);
        };
        if enable.is_empty() && disable.is_empty() {
            debug!("No repo IDs to enable or disable");
            return Ok(true);
        }
        let active = self.repo_ids("--list-enabled")?;
        let inactive = self.repo_ids("--list-disabled")?;
        let among = |v: &Value, l: &[String]| v.as_str().is_some_and(|s| l.iter().any(|x| x == s));
        let mut enable_args = Vec::new();
        let mut enable_fail = Vec::new();
        for r in &enable {
            if among(r, &inactive) {
                enable_args.push(format!("--enable={}", py_str(r)));
            } else {
                enable_fail.push(r);
            }
        }
        let mut disable_args = Vec::new();
        let mut disable_fail = Vec::new();
        for r in &disable {
            if among(r, &active) {
                disable_args.push(format!("--disable={}", py_str(r)));
            } else {
                disable_fail.push(r);
            }
        }
        for r in enable_fail {
            if among(r, &active) {
                debug!("Repo {} is already enabled", py_str(r));
            } else {
                warn!("Repo {} does not appear to exist", py_str(r));
            }
        }
        for r in disable_fail {
            debug!("Repo {} not disabled because it is not enabled", py_str(r));
        }
        let mut args = vec!["repos".to_string()];
        args.extend(disable_args.iter().cloned());
        args.extend(enable_args.iter().cloned());
        if let Err(e) = self.sub_man(&args, None) {
            warn!("Unable to alter repos due to {e}");
            return Ok(false);
        }
        if !enable_args.is_empty() {
            debug!(
                "Enabled the following repos: {}",
                enable_args.join(", ").replace("--enable=", "")
            );
        }
        if !disable_args.is_empty() {
            debug!(
                "Disabled the following repos: {}",
                disable_args.join(", ").replace("--disable=", "")
            );
        }
        Ok(true)
    }

    /// The ids of `subscription-manager repos <which>`: the text after the
    /// first colon of every `Repo ID:` line, up to the next colon.
    fn repo_ids(&self, which: &str) -> Result<Vec<String>, ModuleError> {
        let out = self
            .sub_man(&["repos".to_string(), which.to_string()], None)
            .map_err(process_error)?;
        Ok(out
            .split('\n')
            .filter(|l| l.contains("Repo ID:"))
            .filter_map(|l| l.split(':').nth(1))
            .map(|s| s.trim().to_string())
            .collect())
    }

    /// `subscription-manager <args>` in the target, output captured.
    /// `hidden` replaces the command line in the log (it holds secrets).
    fn sub_man(&self, args: &[String], hidden: Option<&str>) -> Result<String, ExecError> {
        let mut argv = vec![TOOL.to_string()];
        argv.extend(args.iter().cloned());
        let shown = match hidden {
            Some(h) => h.to_string(),
            None => py_list(&argv),
        };
        if self.ctx.host.which_target(TOOL).is_none() {
            return Err(subp::not_started(&shown, &subp::missing_program(TOOL)));
        }
        let mut cmd = Cmd::new(argv).in_target();
        if let Some(h) = hidden {
            cmd = cmd.redact(h);
        }
        subp::run(self.ctx.host, &cmd, &shown, &[0]).map(|o| o.stdout_str())
    }
}

/// Each non-empty output line at debug level, as upstream logs them.
fn debug_lines(out: &str) {
    for line in out.split('\n').filter(|l| !l.is_empty()) {
        debug!("{line}");
    }
}

/// An output as upstream's error object keeps it: `-` when the command did
/// not run, else with every line after the first indented.
fn shown_output(e: &ExecError, text: &str) -> String {
    if e.exit_code.is_none() {
        "-".to_string()
    } else {
        indented(text)
    }
}

fn indented(text: &str) -> String {
    text.trim_end_matches('\n').replace('\n', "\n        ")
}

/// An unguarded command failure fails the module with upstream's error.
fn process_error(e: ExecError) -> ModuleError {
    ModuleError::with_class("ProcessExecutionError", e.text)
}

#[cfg(test)]
mod tests;

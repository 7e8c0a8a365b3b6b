//! `ansible`: install Ansible (distro package or pip), then run the
//! configured `ansible-galaxy` commands, `ansible-pull` of a playbook
//! repository, and the controller setup (clone repositories, run
//! `ansible-playbook`), optionally as `run_user`.

use crate::subp::{missing_program, not_started, shown_list, ExecError};
use crate::{pkg, Ctx, ModResult, ModuleError};
use ci_host::Cmd;
use ci_pyval::{py_repr, py_str, py_type, truthy};
use serde_json::{Map, Value};

/// Upstream exports `ansible_config` under this (lower-case) name.
const CFG_OVERRIDE: &str = "ansible_config";
/// `--diff` needs ansible-pull 2.7.0 or later.
const DIFF_SINCE: Version = Version([2, 7, 0, -1]);

use crate::util::PyVersion as Version;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Distro,
    Pip,
}

/// How the commands run: as root with upstream's environment, or through
/// `su - run_user`.
struct Runner<'a> {
    ctx: &'a Ctx<'a>,
    method: Method,
    run_user: Option<String>,
    env: Vec<(String, String)>,
    /// The interpreter pip runs under (upstream's `sys.executable`).
    python: String,
}

pub fn handle(ctx: &Ctx) -> ModResult {
    let section = ctx
        .get("ansible")
        .cloned()
        .unwrap_or(Value::Object(Map::new()));
    let Value::Object(cfg) = section else {
        return Err(ModuleError::with_class(
            "AttributeError",
            format!("'{}' object has no attribute 'get'", py_type(&section)),
        ));
    };
    if cfg.is_empty() {
        return Ok(());
    }
    let method = validate_config(&cfg)?;
    let run_user = cfg.get("run_user").filter(|v| truthy(v)).map(py_str);
    let package_name = cfg.get("package_name").map(py_str).unwrap_or_default();
    let mut ansible = Runner::new(ctx, method, run_user)?;
    ansible.install(&package_name)?;
    ansible.check_deps()?;
    if let Some(v) = cfg.get(CFG_OVERRIDE).filter(|v| truthy(v)) {
        ansible.env.push((CFG_OVERRIDE.to_string(), py_str(v)));
    }
    if let Some(galaxy) = cfg.get("galaxy").filter(|v| truthy(v)) {
        ansible_galaxy(galaxy, &ansible)?;
    }
    if let Some(pull) = cfg.get("pull").filter(|v| truthy(v)) {
        run_ansible_pull(&ansible, pull)?;
    }
    if let Some(controller) = cfg.get("setup_controller").filter(|v| truthy(v)) {
        ansible_controller(controller, &ansible)?;
    }
    Ok(())
}

fn value_error(msg: String) -> ModuleError {
    ModuleError::with_class("ValueError", msg)
}

/// `get_cfg_by_path(cfg, "a/b")` is set (truthy).
fn path_set(cfg: &Map<String, Value>, path: &str) -> bool {
    let mut parts = path.split('/');
    let mut cur = parts.next().and_then(|k| cfg.get(k));
    for part in parts {
        cur = cur.and_then(|v| v.get(part));
    }
    cur.is_some_and(truthy)
}

/// Upstream's `validate_config`, in its order.
fn validate_config(cfg: &Map<String, Value>) -> Result<Method, ModuleError> {
    let shown = || py_repr(&Value::Object(cfg.clone()));
    for key in ["install_method", "package_name"] {
        if !path_set(cfg, key) {
            return Err(value_error(format!(
                "Missing required key '{key}' from {}",
                shown()
            )));
        }
    }
    if cfg.get("pull").is_some_and(truthy) {
        for key in ["pull/url", "pull/playbook_name"] {
            if !path_set(cfg, key) {
                return Err(value_error(format!(
                    "Missing required key '{key}' from {}",
                    shown()
                )));
            }
        }
    }
    if let Some(controller) = cfg.get("setup_controller").filter(|v| truthy(v)) {
        no_get_unless_mapping(controller)?;
        let has = |k: &str| controller.get(k).is_some_and(truthy);
        if !has("repositories") && !has("run_ansible") {
            return Err(value_error(format!(
                "Missing required key from {}",
                py_repr(controller)
            )));
        }
    }
    match cfg.get("install_method").and_then(Value::as_str) {
        Some("pip") => Ok(Method::Pip),
        Some("distro") => Ok(Method::Distro),
        // Upstream's message is not formatted: the braces stay.
        _ => Err(value_error("Invalid install method {install}".into())),
    }
}

impl<'a> Runner<'a> {
    fn new(
        ctx: &'a Ctx<'a>,
        method: Method,
        run_user: Option<String>,
    ) -> Result<Self, ModuleError> {
        // Some Ansible modules read HOME, which the boot may not set.
        let home = std::env::var("HOME").unwrap_or_else(|_| "/root".to_string());
        let python = ctx
            .host
            .which_target("python3")
            .unwrap_or_else(|| "/usr/bin/python3".to_string());
        let runner = Runner {
            ctx,
            method,
            run_user,
            env: vec![("HOME".to_string(), home)],
            python,
        };
        if method == Method::Pip && runner.run_user.is_some() {
            // Upstream asks the user's site for its script directory to add
            // to PATH; the PATH only reaches commands run without a user,
            // so only the call itself (and its failure) carries over.
            runner.do_as(&[
                runner.python.clone(),
                "-c".into(),
                "import site; print(site.getuserbase())".into(),
            ])?;
        }
        Ok(runner)
    }

    /// Run `argv` captured, as `run_user` when set, failing with upstream's
    /// `ProcessExecutionError`; returns stdout.
    fn do_as(&self, argv: &[String]) -> Result<String, ModuleError> {
        self.do_as_in(argv, None)
    }

    fn do_as_in(&self, argv: &[String], cwd: Option<&str>) -> Result<String, ModuleError> {
        let exec = |e: ExecError| ModuleError::with_class("ProcessExecutionError", e.text);
        match &self.run_user {
            Some(user) => {
                let dir = cwd.map(|d| format!("cd {d} && ")).unwrap_or_default();
                let line = format!("{dir}env PATH=$PATH {}", argv.join(" "));
                let su = vec![
                    "su".to_string(),
                    "-".to_string(),
                    user.clone(),
                    "-c".to_string(),
                    line,
                ];
                self.capture(&su, None).map_err(exec)
            }
            None => self.capture(argv, cwd).map_err(exec),
        }
    }

    fn capture(&self, argv: &[String], cwd: Option<&str>) -> Result<String, ExecError> {
        let shown = shown_list(argv);
        let prog = argv.first().map(String::as_str).unwrap_or_default();
        if let Some(dir) = cwd {
            // The working directory is entered before the program is looked
            // up, so a missing one is the error upstream reports.
            if !self.ctx.host.is_dir(dir) {
                return Err(not_started(
                    &shown,
                    &format!(
                        "[Errno 2] No such file or directory: {}",
                        ci_pyval::py_quote(dir)
                    ),
                ));
            }
        }
        if self.ctx.host.which_target(prog).is_none() {
            return Err(not_started(&shown, &missing_program(prog)));
        }
        let full: Vec<String> = match cwd {
            Some(dir) => {
                let mut v: Vec<String> =
                    ["sh", "-c", "cd \"$1\" && shift && exec \"$@\"", "sh", dir]
                        .iter()
                        .map(|s| s.to_string())
                        .collect();
                v.extend(argv.iter().cloned());
                v
            }
            None => argv.to_vec(),
        };
        let mut cmd = Cmd::new(full).in_target();
        if self.run_user.is_none() {
            for (k, v) in &self.env {
                cmd = cmd.env(k.clone(), v.clone());
            }
        }
        crate::subp::run(self.ctx.host, &cmd, &shown, &[0]).map(|o| o.stdout_str())
    }

    fn install(&self, pkg_name: &str) -> ModResult {
        match self.method {
            Method::Distro => {
                if !self.is_installed()? {
                    pkg::install_packages(self.ctx, &[pkg_name.to_string()])?;
                }
                Ok(())
            }
            Method::Pip => self.pip_install(pkg_name),
        }
    }

    fn pip_install(&self, pkg_name: &str) -> ModResult {
        let mut probe = self.python_facts();
        if !probe.has_pip {
            let name = match self.ctx.distro.family {
                ci_distro::Family::Alpine => "py3-pip",
                _ => "python3-pip",
            };
            pkg::install_packages(self.ctx, &[name.to_string()])?;
            probe = self.python_facts();
        }
        if self.is_installed()? {
            return Ok(());
        }
        let mut cmd: Vec<String> = vec![
            self.python.clone(),
            "-m".into(),
            "pip".into(),
            "install".into(),
        ];
        if probe.externally_managed {
            cmd.push("--break-system-packages".into());
        }
        if self.run_user.is_some() {
            cmd.push("--user".into());
        }
        let with = |extra: &[&str]| {
            let mut v = cmd.clone();
            v.extend(extra.iter().map(|s| s.to_string()));
            v
        };
        self.do_as(&with(&["--upgrade", "pip"]))?;
        self.do_as(&with(&[pkg_name]))?;
        Ok(())
    }

    /// What upstream learns from its own interpreter: whether pip imports,
    /// and whether the standard library is marked externally managed
    /// (PEP 668). Ours asks the target's interpreter; none means no pip.
    fn python_facts(&self) -> PythonFacts {
        let script = "import importlib.util, sysconfig; print(importlib.util.find_spec('pip') is not None); print(sysconfig.get_path('stdlib'))";
        let argv = vec![self.python.clone(), "-c".to_string(), script.to_string()];
        if self.ctx.host.which_target(&self.python).is_none() {
            return PythonFacts::default();
        }
        let out = self
            .ctx
            .host
            .runner()
            .execute(self.ctx.host, &Cmd::new(argv).in_target());
        let Ok(out) = out.map(|o| o.stdout_str()) else {
            return PythonFacts::default();
        };
        let mut lines = out.lines();
        let has_pip = lines.next() == Some("True");
        let externally_managed = lines
            .next()
            .filter(|d| d.starts_with('/'))
            .is_some_and(|d| self.ctx.host.exists(format!("{d}/EXTERNALLY-MANAGED")));
        PythonFacts {
            has_pip,
            externally_managed,
        }
    }

    fn is_installed(&self) -> Result<bool, ModuleError> {
        match self.method {
            Method::Distro => Ok(self.ctx.host.which_target("ansible").is_some()),
            Method::Pip => {
                let mut cmd = vec![
                    self.python.clone(),
                    "-m".to_string(),
                    "pip".to_string(),
                    "list".to_string(),
                ];
                if self.run_user.is_some() {
                    cmd.push("--user".into());
                }
                Ok(self.do_as(&cmd)?.contains("ansible"))
            }
        }
    }

    fn check_deps(&self) -> ModResult {
        if self.is_installed()? {
            return Ok(());
        }
        Err(value_error("command: ansible is not installed".into()))
    }

    /// The version `ansible-pull --version` prints on its first line.
    fn version(&self) -> Result<Option<Version>, ModuleError> {
        let out = self.do_as(&["ansible-pull".to_string(), "--version".to_string()])?;
        let Some(first) = out.lines().next() else {
            return Err(ModuleError::with_class("IndexError", "pop from empty list"));
        };
        match first_version_run(first) {
            Some(text) => Version::parse(text).map(Some),
            None => Ok(None),
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct PythonFacts {
    has_pip: bool,
    externally_managed: bool,
}

/// The first run of digits and dots in `line` (upstream's `[\d\.]+`).
fn first_version_run(line: &str) -> Option<&str> {
    let is_part = |c: char| c.is_ascii_digit() || c == '.';
    let start = line.find(is_part)?;
    let rest = &line[start..];
    let end = rest.find(|c: char| !is_part(c)).unwrap_or(rest.len());
    Some(&rest[..end])
}

/// Options as upstream's `filter_args`: underscores become dashes, and
/// options set to `false` are left out.
fn filter_args(cfg: &Map<String, Value>) -> Vec<(String, &Value)> {
    cfg.iter()
        .filter(|(_, v)| **v != Value::Bool(false))
        .map(|(k, v)| (k.replace('_', "-"), v))
        .collect()
}

fn run_ansible_pull(ansible: &Runner, pull: &Value) -> ModResult {
    let mut cfg = pull.as_object().cloned().unwrap_or_default();
    let playbook = cfg
        .shift_remove("playbook_name")
        .map(|v| py_str(&v))
        .unwrap_or_default();
    match ansible.version()? {
        None => log::warn!("Cannot parse ansible version"),
        Some(v) if v < DIFF_SINCE => {
            if cfg.get("diff").is_some_and(truthy) {
                let [major, minor, patch, _] = v.0;
                return Err(value_error(format!(
                    "Ansible version {major}.{minor}.{patch}doesn't support --diff flag, exiting."
                )));
            }
        }
        Some(_) => {}
    }
    let mut argv = vec!["ansible-pull".to_string()];
    for (key, value) in filter_args(&cfg) {
        argv.push(match value {
            Value::Bool(true) => format!("--{key}"),
            other => format!("--{key}={}", py_str(other)),
        });
    }
    argv.push(playbook);
    let out = ansible.do_as(&argv)?;
    if !out.is_empty() {
        use std::io::Write;
        let mut o = std::io::stdout().lock();
        // Losing the copy of ansible-pull's report must not fail the run.
        let _ = o.write_all(out.as_bytes());
        let _ = o.flush();
    }
    Ok(())
}

fn ansible_galaxy(galaxy: &Value, ansible: &Runner) -> ModResult {
    no_get_unless_mapping(galaxy)?;
    let actions = galaxy
        .get("actions")
        .cloned()
        .unwrap_or(Value::Array(Vec::new()));
    if !truthy(&actions) {
        log::warn!("Invalid config: {}", py_repr(galaxy));
    }
    for command in crate::util::py_iter(&actions)? {
        ansible.do_as(&string_list(&command)?)?;
    }
    Ok(())
}

fn ansible_controller(controller: &Value, ansible: &Runner) -> ModResult {
    let repositories = controller
        .get("repositories")
        .cloned()
        .unwrap_or(Value::Array(Vec::new()));
    for repo in crate::util::py_iter(&repositories)? {
        let field = |k: &str| {
            repo.get(k)
                .map(py_str)
                .ok_or_else(|| ModuleError::with_class("KeyError", ci_pyval::py_quote(k)))
        };
        let (source, path) = (field("source")?, field("path")?);
        ansible.do_as(&["git".to_string(), "clone".to_string(), source, path])?;
    }
    let runs = controller
        .get("run_ansible")
        .cloned()
        .unwrap_or(Value::Array(Vec::new()));
    for run in crate::util::py_iter(&runs)? {
        let mut args = run.as_object().cloned().unwrap_or_default();
        let mut take = |k: &str| {
            args.shift_remove(k)
                .map(|v| py_str(&v))
                .ok_or_else(|| ModuleError::with_class("KeyError", ci_pyval::py_quote(k)))
        };
        let playbook_dir = take("playbook_dir")?;
        let playbook_name = take("playbook_name")?;
        let mut argv = vec!["ansible-playbook".to_string(), playbook_name];
        // Unlike ansible-pull's, these options keep `=True`.
        for (key, value) in filter_args(&args) {
            argv.push(format!("--{key}={}", py_str(value)));
        }
        ansible.do_as_in(&argv, Some(&playbook_dir))?;
    }
    Ok(())
}

/// Upstream calls `.get` on these sections: anything but a mapping fails.
fn no_get_unless_mapping(v: &Value) -> ModResult {
    if v.is_object() {
        return Ok(());
    }
    Err(ModuleError::with_class(
        "AttributeError",
        format!("'{}' object has no attribute 'get'", py_type(v)),
    ))
}

/// A galaxy action: the command's words.
fn string_list(v: &Value) -> Result<Vec<String>, ModuleError> {
    match v {
        Value::Array(a) => Ok(a.iter().map(py_str).collect()),
        Value::String(s) => Ok(vec![s.clone()]),
        other => Err(ModuleError::with_class(
            "TypeError",
            format!("'{}' object is not iterable", py_type(other)),
        )),
    }
}

#[cfg(test)]
mod tests;

//! Reading the system configuration from the target.
//!
//! Layers, highest priority first (upstream `ConfigMerger` over
//! `fetch_base_config`), each merged with [`merge_many`] so a layer's own
//! `merge_how` says how it merges under the layers above it:
//!
//! 1. `--file` files (the first one given wins over later ones)
//! 2. the file named by `CLOUD_CFG`
//! 3. instance cloud-config (`cloud-config.txt` > `vendor2-` > `vendor-`),
//!    only with [`LoadOptions::instance`]
//! 4. the datasource's own config ([`LoadOptions::datasource`])
//! 5. base: kernel `cc:` > `<run_dir>/cloud.cfg` > `cloud.cfg.d/*.cfg`
//!    (later name wins) > `/etc/cloud/cloud.cfg` > builtin.
//!
//! Target files (`/etc/cloud`, run_dir, instance files) are read through the
//! [`Host`] root; `--file` and `CLOUD_CFG` name files on the machine running
//! the agent, as given on its command line and environment.

mod builtin;
mod files;

pub use builtin::{
    builtin_config, SystemPaths, CFG_ENV_NAME, CLOUD_CONFIG, DATASOURCE_LIST, DEFAULT_CLOUD_DIR,
    DEFAULT_DOCS_DIR, DEFAULT_RUN_DIR, DEFAULT_TEMPLATES_DIR,
};
pub use files::{cc_text_from_cmdline, parse_mapping, template_kind, ConfigWarning};

use crate::merge::merge_many;
use builtin::{join, paths_of};
use ci_host::Host;
use files::{conf_from_read, read_local, read_result, Read};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// Renders a `## template: jinja` config file: (template body without its
/// header line, file name, instance data) → rendered text. Supplied by the
/// caller so that jinja lives in one place (user-data needs it too).
pub type TemplateRenderer<'a> = &'a dyn Fn(&str, &str, &Value) -> Result<String, String>;

/// What to load besides the base configuration.
#[derive(Default)]
pub struct LoadOptions<'a> {
    /// `--file` arguments, highest priority (first wins).
    pub extra_files: Vec<PathBuf>,
    /// The `CLOUD_CFG` file; [`LoadOptions::from_env`] fills it.
    pub env_file: Option<PathBuf>,
    /// Also read the current instance's cloud-config files.
    pub instance: bool,
    /// Also read `vendor2-cloud-config.txt` and `vendor-cloud-config.txt`.
    pub include_vendor: bool,
    /// The datasource's own config (`get_config_obj`).
    pub datasource: Option<Value>,
    /// Jinja renderer for templated `/etc/cloud` files; without one such a
    /// file is read unrendered, with a warning, when instance data exists.
    pub renderer: Option<TemplateRenderer<'a>>,
}

impl<'a> LoadOptions<'a> {
    /// `extra_files` plus `CLOUD_CFG` from this process's environment.
    pub fn from_env(extra_files: &[PathBuf]) -> Self {
        LoadOptions {
            extra_files: extra_files.to_vec(),
            env_file: std::env::var_os(CFG_ENV_NAME).map(PathBuf::from),
            include_vendor: true,
            ..Default::default()
        }
    }
}

/// Merge builtin, /etc/cloud/cloud.cfg, cloud.cfg.d/*.cfg, /run/cloud-init/cloud.cfg,
/// kernel `cc:`, `CLOUD_CFG` and `extra_files` (highest) into one mapping.
/// Instance and datasource config are not included (see [`load_config`]).
pub fn load_system_config(host: &Host, extra_files: &[PathBuf]) -> (Value, Vec<ConfigWarning>) {
    load_config(host, &LoadOptions::from_env(extra_files))
}

/// Upstream `Init._read_cfg`: read with the default run_dir; when the result
/// sets another `system_info.paths.run_dir`, read again with those paths.
pub fn load_config(host: &Host, opts: &LoadOptions) -> (Value, Vec<ConfigWarning>) {
    let first = read_layers(host, opts, &SystemPaths::default());
    let paths = paths_of(&first.0);
    let run_dir = paths.and_then(|p| p.get("run_dir"));
    match run_dir {
        None | Some(Value::Null) => first,
        Some(Value::String(s)) if s == DEFAULT_RUN_DIR => first,
        Some(_) => read_layers(host, opts, &SystemPaths::from_paths(paths)),
    }
}

fn read_layers(
    host: &Host,
    opts: &LoadOptions,
    paths: &SystemPaths,
) -> (Value, Vec<ConfigWarning>) {
    let mut l = Loader {
        host,
        warnings: Vec::new(),
        renderer: opts.renderer,
    };
    let mut cfgs = Vec::new();
    for f in &opts.extra_files {
        cfgs.push(l.local(f, "Failed loading of configuration from"));
    }
    if let Some(f) = &opts.env_file {
        cfgs.push(l.local(f, "Failed loading of env. config from"));
    }
    if opts.instance {
        let mut names = vec!["cloud-config.txt"];
        if opts.include_vendor {
            names.extend(["vendor2-cloud-config.txt", "vendor-cloud-config.txt"]);
        }
        for n in names {
            cfgs.push(l.instance_file(&paths.instance_file(n)));
        }
    }
    if let Some(ds) = &opts.datasource {
        cfgs.push(ds.clone());
    }
    cfgs.push(l.base(paths));
    (merge_many(&cfgs), l.warnings)
}

/// Upstream `fetch_base_config`: kernel `cc:` > run_dir/cloud.cfg >
/// cloud.cfg.d > cloud.cfg > builtin.
pub fn base_config(host: &Host, run_dir: &str) -> (Value, Vec<ConfigWarning>) {
    let paths = SystemPaths {
        run_dir: run_dir.to_string(),
        ..SystemPaths::default()
    };
    let mut l = Loader {
        host,
        warnings: Vec::new(),
        renderer: None,
    };
    let v = l.base(&paths);
    (v, l.warnings)
}

/// The kernel command line's `cc:` config alone (`None` when there is none
/// or it is unusable, then with the warning).
pub fn cmdline_config(host: &Host) -> (Option<Value>, Vec<ConfigWarning>) {
    let text = cc_text_from_cmdline(&host.kernel_cmdline());
    match parse_mapping(&text, "kernel command line") {
        Ok(m) => (m.map(Value::Object), Vec::new()),
        Err(w) => (None, vec![w]),
    }
}

/// One config file on the machine running the agent (as `--file`): `{}` for
/// a missing or empty file; an error for one that cannot be read or parsed
/// or is not a mapping.
pub fn read_config_file(path: &Path) -> Result<Value, ConfigWarning> {
    match conf_from_read(
        read_local(path),
        &path.display().to_string(),
        "Error accessing file",
    ) {
        (_, Some(w)) => Err(w),
        (v, None) => Ok(v),
    }
}

/// One config file on the target (a path like `/etc/cloud/cloud.cfg`).
pub fn read_target_config_file(host: &Host, target: &str) -> Result<Value, ConfigWarning> {
    match conf_from_read(
        read_result(host.read_optional(target)),
        target,
        "Error accessing file",
    ) {
        (_, Some(w)) => Err(w),
        (v, None) => Ok(v),
    }
}

struct Loader<'h, 'r> {
    host: &'h Host,
    warnings: Vec<ConfigWarning>,
    renderer: Option<TemplateRenderer<'r>>,
}

impl Loader<'_, '_> {
    fn keep(&mut self, (v, w): (Value, Option<ConfigWarning>)) -> Value {
        self.warnings.extend(w);
        v
    }

    fn local(&mut self, path: &Path, fail_prefix: &str) -> Value {
        let name = path.display().to_string();
        let read = read_local(path);
        self.keep(conf_from_read(read, &name, fail_prefix))
    }

    fn instance_file(&mut self, target: &str) -> Value {
        match read_result(self.host.read_optional(target)) {
            // Upstream skips these quietly when not root.
            Read::Denied => {
                log::debug!("Skipped loading cloud-config from {target} due to non-root.");
                Value::Object(Map::new())
            }
            read => self.keep(conf_from_read(
                read,
                target,
                "Failed loading of cloud-config from",
            )),
        }
    }

    fn base(&mut self, paths: &SystemPaths) -> Value {
        let instance_data = self.instance_data(&paths.instance_data_sensitive());
        let etc = self.conf_with_confd(CLOUD_CONFIG, instance_data.as_ref());
        let runtime_target = join(&paths.run_dir, "cloud.cfg");
        let runtime = self.target_file(&runtime_target, None);
        let (cmdline, w) = cmdline_config(self.host);
        self.warnings.extend(w);
        let cmdline = cmdline.unwrap_or(Value::Null);
        merge_many(&[cmdline, runtime, etc, builtin_config()])
    }

    /// `Some(data)` when the instance data file exists (the trigger for
    /// rendering templated config files), `Null` if it does not parse.
    fn instance_data(&mut self, target: &str) -> Option<Value> {
        match self.host.read_optional(target) {
            Ok(None) => None,
            Ok(Some(b)) => Some(serde_json::from_slice(&b).unwrap_or(Value::Null)),
            Err(_) => Some(Value::Null),
        }
    }

    /// Upstream `read_conf_with_confd`: the `.d` directory (or `conf_d:`)
    /// wins over the file itself.
    fn conf_with_confd(&mut self, target: &str, idata: Option<&Value>) -> Value {
        let main = self.target_file(target, idata);
        let default_dir = format!("{target}.d");
        let confd = match main.get("conf_d") {
            Some(Value::String(s)) => s.trim().to_string(),
            Some(v) if !ci_pyval::truthy(v) => String::new(),
            Some(other) => {
                let w = ConfigWarning::new(
                    target,
                    format!(
                        "Config file {target} contains 'conf_d' with non-string type {}",
                        ci_pyval::py_type(other)
                    ),
                );
                self.warnings.push(w.log());
                String::new()
            }
            None if self.host.is_dir(&default_dir) => default_dir,
            None => String::new(),
        };
        let mut cfgs = Vec::new();
        if !confd.is_empty() && self.host.is_dir(&confd) {
            cfgs.push(self.conf_d(&confd, idata));
        }
        cfgs.push(main);
        merge_many(&cfgs)
    }

    /// Upstream `read_conf_d`: `*.cfg` regular files, later names first.
    fn conf_d(&mut self, dir: &str, idata: Option<&Value>) -> Value {
        let mut names: Vec<String> = self
            .host
            .list_dir(dir)
            .into_iter()
            .filter(|n| n.ends_with(".cfg"))
            .collect();
        names.reverse();
        let mut cfgs = Vec::new();
        for n in names {
            let target = join(dir, &n);
            if self.host.resolve(&target).is_file() {
                cfgs.push(self.target_file(&target, idata));
            }
        }
        merge_many(&cfgs)
    }

    fn target_file(&mut self, target: &str, idata: Option<&Value>) -> Value {
        let read = match (read_result(self.host.read_optional(target)), idata) {
            (Read::Text(t), Some(data)) => Read::Text(self.render(target, t, data)),
            (Read::Denied, _) => {
                let w = ConfigWarning::new(
                    target,
                    format!("REDACTED config part {target}, insufficient permissions"),
                );
                self.warnings.push(w.log());
                return Value::Object(Map::new());
            }
            (read, _) => read,
        };
        self.keep(conf_from_read(read, target, "Error accessing file"))
    }

    /// Render a `## template: jinja` file; on any failure the text is used
    /// as it is, with a warning, as upstream.
    fn render(&mut self, target: &str, text: String, data: &Value) -> String {
        if template_kind(&text).as_deref() != Some("jinja") {
            return text;
        }
        let body = text.split_once('\n').map(|(_, b)| b).unwrap_or_default();
        let message = match (self.renderer, data) {
            (_, Value::Null) => "Could not apply Jinja template: Loading Jinja instance data failed".to_string(),
            (None, _) => format!(
                "Jinja templates in config files are not supported yet; '{target}' is read unrendered"
            ),
            (Some(render), _) => match render(body, target, data) {
                Ok(out) => return out,
                Err(e) => format!("Failed to render templated yaml config file '{target}'. {e}"),
            },
        };
        self.warnings
            .push(ConfigWarning::new(target, message).log());
        text
    }
}

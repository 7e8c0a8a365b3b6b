//! User-data and vendor-data processing: raw blob → parts → results.
//!
//! [`process`] does what upstream's `UserDataProcessor` and default part
//! handlers do, without touching the disk (except the include-once url
//! cache): gunzip, MIME, `#include`, `#cloud-config-archive`, launch-index
//! filtering, then the handlers: cloud-config merging (and jsonp), shell
//! scripts by destination, boothooks, `## template: jinja`. The caller
//! writes the returned files and runs boothooks.
//!
//! Errors upstream raises (`ERROR_ON_USER_DATA_FAILURE`: a failed include
//! fetch, a bad gzip part) end processing: [`Processed::errors`] is set and
//! nothing else is returned, as upstream consumes nothing then
//! ("Consuming user data failed!").

pub mod bounds;
mod diag;
mod fetch;
mod gzip;
mod handlers;
mod jinja;
mod jsonpatch;
mod mime;
mod process;
mod pyrepr;
mod sniff;
mod yamlutil;

pub use fetch::{Fetcher, HttpFetcher};
pub use jinja::{
    jinja_alias, jinja_vars, missing_vars, render_jinja, render_jinja_body, JinjaError,
    MISSING_JINJA_PREFIX,
};
pub use sniff::type_from_starts_with;

/// The md5 hex digest upstream names include-once cache files and MIME
/// parts by.
pub fn md5_hex(data: &[u8]) -> String {
    ci_pyval::digest::hex(&ci_pyval::digest::md5(data))
}

use ci_host::Host;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Which blob is processed; decides file names and script directories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Kind {
    #[default]
    User,
    Vendor,
    Vendor2,
}

impl Kind {
    /// The merged cloud-config file in the instance dir.
    pub fn cloud_config_file(self) -> &'static str {
        match self {
            Kind::User => "cloud-config.txt",
            Kind::Vendor => "vendor-cloud-config.txt",
            Kind::Vendor2 => "vendor2-cloud-config.txt",
        }
    }

    /// The processed MIME file in the instance dir.
    pub fn processed_file(self) -> &'static str {
        match self {
            Kind::User => "user-data.txt.i",
            Kind::Vendor => "vendor-data.txt.i",
            Kind::Vendor2 => "vendor-data2.txt.i",
        }
    }

    /// The raw blob file in the instance dir.
    pub fn raw_file(self) -> &'static str {
        match self {
            Kind::User => "user-data.txt",
            Kind::Vendor => "vendor-data.txt",
            Kind::Vendor2 => "vendor-data2.txt",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ProcessOptions<'a> {
    pub kind: Kind,
    /// Metadata `launch-index`; parts with another `Launch-Index` are
    /// dropped (user-data only, as upstream).
    pub launch_index: Option<i64>,
    /// instance-data-sensitive JSON for `## template: jinja` parts. `None`:
    /// such parts are skipped with upstream's warning.
    pub instance_data: Option<Value>,
    /// The url cache dir for `#include-once`, as a target path
    /// (`/var/lib/cloud/instances/<iid>/data/urlcache`); read and written
    /// through `host`. `None`: include-once URLs are always fetched.
    pub include_once_cache: Option<PathBuf>,
    pub host: Option<&'a Host>,
    /// Content types not to handle (`vendor_data.disabled_handlers`).
    pub disabled_handlers: Vec<String>,
}

/// Where a shell-script part goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptDest {
    /// `instances/<iid>/scripts/` (run by `scripts_user`).
    UserScripts,
    /// `instances/<iid>/scripts/vendor/` (run by `scripts_vendor`).
    Vendor,
    /// `scripts/per-boot/` (`scripts/vendor/per-boot/` for vendor-data).
    PerBoot,
    PerInstance,
    PerOnce,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// Already cleaned as upstream's `clean_filename`.
    pub filename: String,
    /// CRLF turned to LF when the first line ends in CRLF (upstream
    /// `dos2unix`). Written with mode 0700.
    pub content: Vec<u8>,
    pub dest: ScriptDest,
    pub kind: Kind,
}

impl Script {
    /// The file's path given the cloud dir (`/var/lib/cloud`) and the
    /// instance dir (`/var/lib/cloud/instance` or `.../instances/<iid>`).
    pub fn path(&self, cloud_dir: &Path, instance_dir: &Path) -> PathBuf {
        let vendor = if self.kind == Kind::User {
            ""
        } else {
            "vendor"
        };
        let freq = |f: &str| {
            let mut p = cloud_dir.join("scripts");
            if !vendor.is_empty() {
                p.push(vendor);
            }
            p.join(f).join(&self.filename)
        };
        match self.dest {
            ScriptDest::UserScripts => instance_dir.join("scripts").join(&self.filename),
            ScriptDest::Vendor => instance_dir.join("scripts/vendor").join(&self.filename),
            ScriptDest::PerBoot => freq("per-boot"),
            ScriptDest::PerInstance => freq("per-instance"),
            ScriptDest::PerOnce => freq("per-once"),
        }
    }
}

/// A `#cloud-boothook` part: write to `instances/<iid>/boothooks/<filename>`
/// (0700) and run it with `INSTANCE_ID` set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Boothook {
    pub filename: String,
    /// The header line and leading blank removed, CRLF → LF.
    pub content: Vec<u8>,
}

/// One part as attached to the processed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartInfo {
    pub content_type: String,
    pub filename: String,
    pub launch_index: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Processed {
    /// All cloud-config parts merged (jsonp patches applied). `None`: no
    /// cloud-config part at all.
    pub cloud_config: Option<Value>,
    /// The exact `cloud-config.txt` (or vendor variant) upstream writes;
    /// empty when there is no cloud-config part.
    pub cloud_config_text: String,
    pub scripts: Vec<Script>,
    pub boothooks: Vec<Boothook>,
    /// `#part-handler` parts: (part file name, Python source). Not run.
    pub part_handlers: Vec<(String, Vec<u8>)>,
    /// Every part attached to the processed message, before launch-index
    /// filtering, in order.
    pub parts: Vec<PartInfo>,
    /// `user-data.txt.i` (or vendor variant): valid MIME, not byte-equal
    /// to upstream's.
    pub processed_mime: Vec<u8>,
    /// Upstream's WARNING records, in order (already logged).
    pub warnings: Vec<String>,
    /// What upstream raises on; when set nothing else was consumed.
    pub errors: Vec<String>,
}

/// Processes one user-data or vendor-data blob. Never panics on input;
/// every problem is a warning or an error in the result (and logged).
pub fn process(raw: &[u8], opts: &ProcessOptions, fetch: &dyn Fetcher) -> Processed {
    let mut diag = diag::Diag::default();
    let mut budget = bounds::Budget::default();
    let parts = match process::expand(raw, opts, fetch, &mut diag, &mut budget) {
        Ok(parts) => parts,
        Err(e) => {
            diag.error(e);
            return Processed {
                warnings: diag.warnings,
                errors: diag.errors,
                ..Processed::default()
            };
        }
    };
    let processed_mime = mime::write_multipart(
        &parts
            .iter()
            .map(|p| (p.head.headers.clone(), p.payload.clone()))
            .collect::<Vec<_>>(),
    );
    let infos = parts
        .iter()
        .map(|p| PartInfo {
            content_type: p.head.content_type(),
            filename: p.head.filename().unwrap_or_default(),
            launch_index: p.head.get("Launch-Index").map(str::to_string),
        })
        .collect();
    let selected = match (opts.kind, opts.launch_index) {
        (Kind::User, Some(want)) => process::filter_launch_index(parts, want),
        _ => parts,
    };
    let out = handlers::run(&selected, opts, &mut diag, &mut budget);
    Processed {
        cloud_config: out.cloud_config,
        cloud_config_text: out.cloud_config_text,
        scripts: out.scripts,
        boothooks: out.boothooks,
        part_handlers: out.part_handlers,
        parts: infos,
        processed_mime,
        warnings: diag.warnings,
        errors: diag.errors,
    }
}

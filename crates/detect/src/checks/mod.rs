//! The per-datasource checks (upstream's `dscheck_<Name>` functions), one
//! Rust function each, looked up by the name written in `datasource_list`.
//! A new cloud is a function and a row in [`CHECKS`].

mod ec2;
mod openstack;
mod ovf;
mod simple;
mod wsl;

use crate::cfg::{check_config, ConfigHit};
use crate::facts::Facts;
use crate::log::DiLog;
use crate::shellish::glob_match;
use crate::Env;
use ci_host::{Cmd, Host};

/// A check's answer (upstream `DS_FOUND`, `DS_MAYBE`, `DS_NOT_FOUND`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    Yes,
    Maybe,
    No,
}

type CheckFn = fn(&mut Probe) -> Found;

/// Every datasource upstream's ds-identify has a check for, by the name
/// written in `datasource_list` (case matters: upstream looks up a shell
/// function by that name).
const CHECKS: &[(&str, CheckFn)] = &[
    ("MAAS", simple::maas),
    ("ConfigDrive", openstack::config_drive),
    ("NoCloud", simple::nocloud),
    ("AltCloud", simple::alt_cloud),
    ("Azure", ovf::azure),
    ("Bigstep", simple::bigstep),
    ("CloudSigma", simple::cloud_sigma),
    ("CloudStack", simple::cloud_stack),
    ("DigitalOcean", simple::digital_ocean),
    ("Vultr", simple::vultr),
    ("AliYun", simple::ali_yun),
    ("Ec2", ec2::ec2),
    ("GCE", simple::gce),
    ("OpenNebula", simple::open_nebula),
    ("OpenStack", openstack::openstack),
    ("VMware", ovf::vmware),
    ("OVF", ovf::ovf),
    ("SmartOS", simple::smart_os),
    ("Scaleway", simple::scaleway),
    ("Hetzner", simple::hetzner),
    ("IBMCloud", openstack::ibm_cloud),
    ("Oracle", simple::oracle),
    ("Exoscale", simple::exoscale),
    ("RbxCloud", simple::rbx_cloud),
    ("UpCloud", simple::up_cloud),
    ("LXD", simple::lxd),
    ("NWCS", simple::nwcs),
    ("Akamai", simple::akamai),
    ("WSL", wsl::wsl),
    ("CloudCIX", simple::cloud_cix),
    ("None", simple::none),
];

/// The names that have a check, in upstream's default search order
/// (`None` last).
pub fn datasources() -> impl Iterator<Item = &'static str> {
    CHECKS.iter().map(|(n, _)| *n)
}

/// True when `name` has a check.
pub fn has_check(name: &str) -> bool {
    CHECKS.iter().any(|(n, _)| *n == name)
}

/// What checks may look at, shared by all checks of one run (upstream's
/// globals: some answers are computed once and reused).
pub(crate) struct Probe<'a> {
    pub host: &'a Host,
    pub env: &'a Env,
    pub facts: &'a Facts,
    pub cfg_files: &'a [String],
    /// The datasource list being searched (`is_ds_enabled`).
    pub dslist: &'a [String],
    pub log: &'a mut DiLog,
    /// `is_ibm_cloud`, once computed.
    ibm_cloud: Option<bool>,
    /// Config a check wants added to cloud.cfg with its answer
    /// (upstream `_RET_excfg`); reset before each check.
    pub excfg: String,
}

impl<'a> Probe<'a> {
    pub fn new(
        host: &'a Host,
        env: &'a Env,
        facts: &'a Facts,
        cfg_files: &'a [String],
        dslist: &'a [String],
        log: &'a mut DiLog,
    ) -> Self {
        Probe {
            host,
            env,
            facts,
            cfg_files,
            dslist,
            log,
            ibm_cloud: None,
            excfg: String::new(),
        }
    }

    /// Run the check for `name`; `None` when there is no such check.
    pub fn check(&mut self, name: &str) -> Option<Found> {
        let (_, f) = CHECKS.iter().find(|(n, _)| *n == name)?;
        self.excfg.clear();
        Some(f(self))
    }

    fn container(&self) -> bool {
        self.facts.is_container()
    }

    /// `dmi_product_name_matches`: a glob, never in a container.
    fn product_name_matches(&self, glob: &str) -> bool {
        !self.container() && glob_match(glob, &self.facts.dmi_product_name)
    }

    fn product_serial_matches(&self, glob: &str) -> bool {
        !self.container() && glob_match(glob, &self.facts.dmi_product_serial)
    }

    fn chassis_asset_tag_matches(&self, glob: &str) -> bool {
        !self.container() && glob_match(glob, &self.facts.dmi_chassis_asset_tag)
    }

    /// `dmi_sys_vendor_is`: equality, never in a container.
    fn sys_vendor_is(&self, vendor: &str) -> bool {
        !self.container() && self.facts.dmi_sys_vendor == vendor
    }

    fn has_label(&self, labels: &[&str]) -> bool {
        labels.iter().any(|l| self.facts.fs.has_label(l))
    }

    /// A blank-separated word of the kernel command line equals `word`.
    fn cmdline_has_word(&self, word: &str) -> bool {
        self.facts.kernel_cmdline.split(' ').any(|w| w == word)
    }

    /// `check_config KEY` over cloud.cfg and cloud.cfg.d/*.cfg.
    fn config(&self, key: &str) -> Option<ConfigHit> {
        check_config(self.host, self.cfg_files, key)
    }

    /// `check_seed_dir NAME FILES...` and its Ubuntu Core twin under
    /// `/writable/system-data`.
    fn seed_dir(&self, name: &str, files: &[&str]) -> bool {
        let dir = format!("/var/lib/cloud/seed/{name}");
        seed_dir_has(self.host, &dir, files)
    }

    fn writable_seed_dir(&self, name: &str, files: &[&str]) -> bool {
        self.host.is_dir("/writable/system-data")
            && seed_dir_has(
                self.host,
                &format!("/writable/system-data/var/lib/cloud/seed/{name}"),
                files,
            )
    }

    /// `[ -f PATH ]` under the root.
    fn is_file(&self, path: &str) -> bool {
        self.host.resolve(path).is_file()
    }

    /// Run a program as the script would (found on PATH); `None` when it
    /// cannot be started (`command -v` fails). Returns the status, stdout
    /// and stderr.
    fn run(&self, argv: &[&str]) -> Option<(i32, String, String)> {
        let out = self
            .host
            .runner()
            .execute(self.host, &Cmd::new(argv.iter().copied()))
            .ok()?;
        Some((out.status, out.stdout_str(), out.stderr_str()))
    }

    /// The root-mapped path as upstream prints it (`${PATH_ROOT}/...`).
    fn shown(&self, path: &str) -> String {
        self.host.path(path).display().to_string()
    }
}

fn seed_dir_has(host: &Host, dir: &str, files: &[&str]) -> bool {
    host.resolve(dir).is_dir()
        && files
            .iter()
            .all(|f| host.resolve(format!("{dir}/{f}")).is_file())
}

/// Lines of `text` holding an ASCII letter or digit, joined by newlines
/// (`| grep '[[:alnum:]]'` inside `$(...)`); `None` when there are none.
fn alnum_lines(text: &str) -> Option<String> {
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.chars().any(|c| c.is_ascii_alphanumeric()))
        .collect();
    (!lines.is_empty()).then(|| lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blkid::FsInfo;

    pub(super) fn with_probe(f: Facts, run: impl FnOnce(&mut Probe)) {
        let d = tempfile::tempdir().unwrap();
        let h = Host::new(d.path());
        let env = Env::default();
        let files = Vec::new();
        let list = Vec::new();
        let mut log = DiLog::new(2);
        run(&mut Probe::new(&h, &env, &f, &files, &list, &mut log));
    }

    #[test]
    fn dmi_matches_respect_containers() {
        let f = Facts {
            dmi_product_name: "CloudStack KVM".into(),
            dmi_sys_vendor: "Linode".into(),
            ..Facts::default()
        };
        with_probe(f.clone(), |p| {
            assert_eq!(p.check("CloudStack"), Some(Found::Yes));
            assert_eq!(p.check("Akamai"), Some(Found::Yes));
            assert_eq!(p.check("Hetzner"), Some(Found::No));
        });
        let f = Facts {
            virt: "lxc".into(),
            ..f
        };
        with_probe(f, |p| {
            assert_eq!(p.check("CloudStack"), Some(Found::No));
            assert_eq!(p.check("Akamai"), Some(Found::No));
        });
    }

    #[test]
    fn names_are_case_sensitive() {
        let f = Facts {
            fs: FsInfo {
                labels: "root,CiData".into(),
                ..FsInfo::default()
            },
            ..Facts::default()
        };
        with_probe(f, |p| {
            assert_eq!(p.check("NoCloud"), Some(Found::No));
            assert_eq!(p.check("None"), Some(Found::No));
            assert_eq!(p.check("nocloud"), None);
        });
        assert!(has_check("OpenStack") && !has_check("openstack"));
        assert_eq!(datasources().last(), Some("None"));
    }

    #[test]
    fn default_list_is_every_check_but_none() {
        let checks: Vec<&str> = datasources().filter(|n| *n != "None").collect();
        assert_eq!(
            checks,
            crate::cfg::DEFAULT_DSLIST,
            "upstream's default order"
        );
    }

    #[test]
    fn alnum_filter() {
        assert_eq!(alnum_lines("\n  \n--\n"), None);
        assert_eq!(alnum_lines("a\n\n-b-\n").as_deref(), Some("a\n-b-"));
    }
}

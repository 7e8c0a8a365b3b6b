//! Per-datasource checks as data. A datasource is found when any of its
//! signals holds; most upstream checks are DMI or label matches, so a new
//! cloud is usually one table row (see [`CHECKS`]).

use crate::cfg::check_config;
use crate::facts::Facts;
use crate::shellish::glob_match;
use ci_host::Host;

/// A check's answer (upstream `DS_FOUND`, `DS_MAYBE`, `DS_NOT_FOUND`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    Yes,
    Maybe,
    No,
}

/// One piece of evidence for a datasource.
#[derive(Debug, Clone, Copy)]
pub enum Signal {
    /// DMI `product_name` matches a shell glob (never in a container).
    ProductName(&'static str),
    /// DMI `sys_vendor` equals the text (never in a container).
    SysVendor(&'static str),
    /// DMI `chassis_asset_tag` matches a shell glob (never in a container).
    ChassisAssetTag(&'static str),
    /// DMI `board_name` equals the text.
    BoardName(&'static str),
    /// A blank-separated word of DMI `product_serial` starts with the text
    /// (`ds=nocloud` in the SMBIOS serial).
    SerialWordPrefix(&'static str),
    /// A filesystem carries one of these labels (exact, case-sensitive).
    FsLabel(&'static [&'static str]),
    /// A filesystem has this UUID.
    FsUuid(&'static str),
    /// `/var/lib/cloud/seed/<name>` (or Ubuntu Core's writable copy) holds
    /// all these files.
    SeedDir(&'static str, &'static [&'static str]),
    /// Every key appears on a counted line of cloud.cfg(.d) (upstream
    /// `check_config`).
    ConfigKeys(&'static [&'static str]),
    /// All of the signals hold.
    All(&'static [Signal]),
}

/// A datasource and its evidence.
#[derive(Debug, Clone, Copy)]
pub struct DatasourceCheck {
    /// The name as written in `datasource_list` (case matters, as the
    /// shell function names upstream do).
    pub name: &'static str,
    /// Found when any holds.
    pub any: &'static [Signal],
}

const NOCLOUD_SEED: &[&str] = &["meta-data", "user-data"];

/// The checks cloud-init-rs implements. `None` is never found: it is what
/// is left when nothing else is.
pub const CHECKS: &[DatasourceCheck] = &[
    DatasourceCheck {
        name: "NoCloud",
        any: &[
            Signal::SerialWordPrefix("ds=nocloud"),
            Signal::SeedDir("nocloud", NOCLOUD_SEED),
            Signal::SeedDir("nocloud-net", NOCLOUD_SEED),
            Signal::FsLabel(&["cidata", "CIDATA"]),
            Signal::All(&[
                Signal::ConfigKeys(&["NoCloud"]),
                Signal::ConfigKeys(&["user-data", "meta-data"]),
            ]),
            Signal::All(&[
                Signal::ConfigKeys(&["NoCloud"]),
                Signal::ConfigKeys(&["seedfrom"]),
            ]),
        ],
    },
    DatasourceCheck {
        name: "None",
        any: &[],
    },
];

/// The check for a `datasource_list` entry, if we have one.
pub fn check_for(name: &str) -> Option<&'static DatasourceCheck> {
    CHECKS.iter().find(|c| c.name == name)
}

/// What a check may look at.
pub struct Probe<'a> {
    pub host: &'a Host,
    pub facts: &'a Facts,
    pub cfg_files: &'a [String],
}

impl DatasourceCheck {
    pub fn run(&self, p: &Probe) -> Found {
        if self.any.iter().any(|s| s.holds(p)) {
            Found::Yes
        } else {
            Found::No
        }
    }
}

impl Signal {
    pub fn holds(&self, p: &Probe) -> bool {
        let f = p.facts;
        match *self {
            Signal::ProductName(g) => !f.is_container() && glob_match(g, &f.dmi_product_name),
            Signal::SysVendor(v) => !f.is_container() && f.dmi_sys_vendor == v,
            Signal::ChassisAssetTag(g) => {
                !f.is_container() && glob_match(g, &f.dmi_chassis_asset_tag)
            }
            Signal::BoardName(v) => f.dmi_board_name == v,
            Signal::SerialWordPrefix(w) => f
                .dmi_product_serial
                .split(' ')
                .any(|word| word.starts_with(w)),
            Signal::FsLabel(labels) => labels.iter().any(|l| f.fs.has_label(l)),
            Signal::FsUuid(u) => f.fs.has_uuid(u),
            Signal::SeedDir(name, files) => {
                let dir = format!("/var/lib/cloud/seed/{name}");
                let writable = format!("/writable/system-data{dir}");
                seed_dir_has(p.host, &dir, files)
                    || (p.host.is_dir("/writable/system-data")
                        && seed_dir_has(p.host, &writable, files))
            }
            Signal::ConfigKeys(keys) => keys
                .iter()
                .all(|k| check_config(p.host, p.cfg_files, k).is_some()),
            Signal::All(all) => all.iter().all(|s| s.holds(p)),
        }
    }
}

fn seed_dir_has(host: &Host, dir: &str, files: &[&str]) -> bool {
    host.is_dir(dir)
        && files
            .iter()
            .all(|f| host.resolve(format!("{dir}/{f}")).is_file())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blkid::FsInfo;

    fn probe_facts(f: Facts, run: impl FnOnce(&Probe)) {
        let d = tempfile::tempdir().unwrap();
        let h = Host::new(d.path());
        let files = Vec::new();
        run(&Probe {
            host: &h,
            facts: &f,
            cfg_files: &files,
        });
    }

    #[test]
    fn dmi_signals_respect_containers() {
        let f = Facts {
            dmi_product_name: "CloudStack KVM".into(),
            dmi_sys_vendor: "Linode".into(),
            ..Facts::default()
        };
        probe_facts(f.clone(), |p| {
            assert!(Signal::ProductName("CloudStack*").holds(p));
            assert!(Signal::SysVendor("Linode").holds(p));
            assert!(!Signal::SysVendor("Akamai").holds(p));
        });
        let f = Facts {
            virt: "lxc".into(),
            ..f
        };
        probe_facts(f, |p| {
            assert!(!Signal::ProductName("CloudStack*").holds(p));
            assert!(!Signal::SysVendor("Linode").holds(p));
        });
    }

    #[test]
    fn serial_word_prefix() {
        for (serial, want) in [
            ("ds=nocloud;s=http://x/", true),
            ("abc ds=nocloud-net", true),
            ("xds=nocloud", false),
            ("unavailable", false),
        ] {
            let f = Facts {
                dmi_product_serial: serial.into(),
                ..Facts::default()
            };
            probe_facts(f, |p| {
                assert_eq!(
                    Signal::SerialWordPrefix("ds=nocloud").holds(p),
                    want,
                    "{serial}"
                );
            });
        }
    }

    #[test]
    fn labels_are_case_sensitive() {
        let f = Facts {
            fs: FsInfo {
                labels: "root,CiData".into(),
                ..FsInfo::default()
            },
            ..Facts::default()
        };
        probe_facts(f, |p| {
            let nocloud = check_for("NoCloud").unwrap();
            assert_eq!(nocloud.run(p), Found::No);
            assert_eq!(check_for("None").unwrap().run(p), Found::No);
        });
        assert!(check_for("nocloud").is_none());
    }
}

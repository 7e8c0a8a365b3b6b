//! Fuzz target bodies: one function per parser of untrusted input, each
//! taking raw bytes. libFuzzer drives them through the binaries in
//! `fuzz/` (`tools/fuzz.sh`); `tests/replay.rs` runs them over the
//! committed corpora and regressions on every `cargo test`.
//!
//! Contract of every target: no panic, no hang, no unbounded memory on any
//! input. Errors are fine. Where an invariant is cheap to state (a value
//! that survives its own serialisation) the target checks it and panics
//! when it breaks, so libFuzzer reports it like a crash.

mod datasources;
mod net;
mod text;

pub use datasources::*;
pub use net::*;
pub use text::*;

use ci_host::Host;
use std::path::PathBuf;

/// A host whose root does not exist: every read the parsers make through
/// it (MACs in sysfs, `/etc/hosts`, ENI `source` files) finds nothing, and
/// nothing of this machine is touched.
pub(crate) fn empty_host() -> Host {
    Host::new(PathBuf::from("/nonexistent/ci-fuzz-root"))
}

/// Text as a parser that is given text sees it: undecodable bytes replaced.
pub(crate) fn lossy(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// A target body: one input, no result but a panic when something broke.
pub type Target = fn(&[u8]);

/// Every target by name, as the binaries and the replay test know them.
pub const TARGETS: &[(&str, Target)] = &[
    ("yaml", yaml),
    ("userdata", userdata),
    ("mime", mime),
    ("netcfg_v1", netcfg_v1),
    ("netcfg_v2", netcfg_v2),
    ("eni", eni),
    ("network_data_json", network_data_json),
    ("ovf_xml", ovf_xml),
    ("azure_goalstate", azure_goalstate),
    ("azure_imds", azure_imds),
    ("dhcp_lease", dhcp_lease),
    ("kernel_cmdline", kernel_cmdline),
    ("ec2_tree", ec2_tree),
    ("openstack_layout", openstack_layout),
    ("gce_keys", gce_keys),
    ("fat_seed", fat_seed),
    ("ds_nocloud", ds_nocloud),
    ("ds_ec2", ds_ec2),
    ("ds_gce", ds_gce),
    ("ds_digitalocean", ds_digitalocean),
    ("ds_hetzner", ds_hetzner),
    ("ds_vultr", ds_vultr),
    ("ds_aliyun", ds_aliyun),
    ("ds_scaleway", ds_scaleway),
    ("ds_upcloud", ds_upcloud),
    ("ds_akamai", ds_akamai),
    ("ds_exoscale", ds_exoscale),
    ("ds_cloudstack", ds_cloudstack),
    ("ds_openstack", ds_openstack),
    ("ds_configdrive", ds_configdrive),
    ("ds_oracle", ds_oracle),
    ("ds_azure", ds_azure),
    ("ds_lxd", ds_lxd),
    ("ds_vmware", ds_vmware),
];

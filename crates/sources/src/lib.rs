//! Datasources: where an instance's metadata, user-data, vendor-data and
//! network configuration come from, and the search that picks one.
//!
//! A [`Datasource`] only reads (files under the host root, commands through
//! the host runner, HTTP through a [`url::UrlReader`] whose base URLs and
//! budgets are constructor values); it never writes state. The stage runner
//! stores what it needs from [`Datasource::to_cache`] and rebuilds it with
//! [`from_cache`].

pub mod akamai;
pub mod aliyun;
pub mod azure;
mod blob;
mod cache_entry;
pub mod cloudstack;
pub mod cmdline;
pub mod configdrive;
mod context;
mod datasource;
mod deprecate;
mod devices;
pub mod digitalocean;
pub mod dmi;
pub mod ec2;
pub mod ephemeral;
mod error;
pub mod exoscale;
pub mod fatseed;
#[doc(hidden)]
pub mod fuzzing;
pub mod gce;
pub mod hetzner;
pub mod lxd;
mod merge;
mod nocloud;
mod none;
pub mod openstack;
pub mod oracle;
pub mod password_server;
mod registry;
pub mod scaleway;
mod search;
pub mod seed;
pub mod upcloud;
pub mod url;
mod url_ext;
pub mod vmware;
pub mod vultr;
mod yamlblob;

pub use context::{SourceContext, SourceOptions, Stage};
pub use datasource::{
    instance_id_problem, normalize_pubkey_data, Datasource, DsHostname, Dsmode, METADATA_UNKNOWN,
};
pub use devices::DeviceScan;
pub use ec2::Ec2;
pub use error::SourceError;
pub use merge::merge_many;
pub use nocloud::NoCloud;
pub use none::NoneSource;
pub use registry::{by_name, from_cache, is_upstream_name, CACHE_FORMAT};
pub use search::{find_source, not_found_message, EventResult, SearchEvent};

pub use serde_json::Value;

//! The clouds the emulator speaks for. Each module turns a seed directory
//! into a [`CloudApi`] that answers requests the way that cloud's metadata
//! service does; [`api_for`] picks one by the `--cloud` name.

mod akamai;
mod aliyun;
mod azure;
mod cloudstack;
mod digitalocean;
mod ec2;
mod exoscale;
mod gce;
mod hetzner;
mod openstack;
mod oracle;
mod scaleway;
mod upcloud;
mod vultr;

pub use ec2::Ec2Api;

use crate::http::{Request, Response};
use crate::seedfiles::SeedFiles;
use crate::ImdsError;
use std::path::Path;

/// One cloud's metadata API.
pub trait CloudApi: Send + Sync {
    /// The cloud's name for logs ("EC2", "GCE", ...).
    fn name(&self) -> &'static str;
    /// Answer one request; faults are applied by the server around this.
    fn answer(&self, req: &Request) -> Response;
    /// Forget issued session tokens (the `revoke-tokens-after` fault).
    fn revoke_tokens(&self) {}
}

/// `--cloud` names, with the function building each API from a seed dir.
type Builder = fn(&Path) -> Result<Box<dyn CloudApi>, ImdsError>;

const CLOUDS: &[(&[&str], Builder)] = &[
    (&["ec2", "aws"], |dir| {
        Ok(Box::new(Ec2Api::new(crate::seed::load_seed(dir)?)))
    }),
    (&["gce", "google"], |dir| {
        Ok(Box::new(gce::GceApi::new(SeedFiles::load(dir)?)))
    }),
    (&["digitalocean", "do"], |dir| {
        Ok(Box::new(digitalocean::DigitalOceanApi::new(
            SeedFiles::load(dir)?,
        )))
    }),
    (&["hetzner", "hcloud"], |dir| {
        Ok(Box::new(hetzner::HetznerApi::new(SeedFiles::load(dir)?)))
    }),
    (&["openstack"], |dir| {
        Ok(Box::new(openstack::OpenStackApi::new(SeedFiles::load(
            dir,
        )?)))
    }),
    (&["oracle", "oci"], |dir| {
        Ok(Box::new(oracle::OracleApi::new(SeedFiles::load(dir)?)))
    }),
    (&["vultr"], |dir| {
        Ok(Box::new(vultr::VultrApi::new(SeedFiles::load(dir)?)))
    }),
    (&["aliyun", "alibaba"], |dir| {
        Ok(Box::new(aliyun::AliYunApi::new(SeedFiles::load(dir)?)))
    }),
    (&["azure"], |dir| {
        Ok(Box::new(azure::AzureApi::new(SeedFiles::load(dir)?)))
    }),
    (&["scaleway", "scw"], |dir| {
        Ok(Box::new(scaleway::ScalewayApi::new(SeedFiles::load(dir)?)))
    }),
    (&["upcloud"], |dir| {
        Ok(Box::new(upcloud::UpCloudApi::new(SeedFiles::load(dir)?)))
    }),
    (&["akamai", "linode"], |dir| {
        Ok(Box::new(akamai::AkamaiApi::new(SeedFiles::load(dir)?)))
    }),
    (&["exoscale"], |dir| {
        Ok(Box::new(exoscale::ExoscaleApi::new(SeedFiles::load(dir)?)))
    }),
    (&["cloudstack"], |dir| {
        Ok(Box::new(cloudstack::CloudStackApi::new(SeedFiles::load(
            dir,
        )?)))
    }),
];

/// The API for `cloud` (case-insensitive) serving the seed in `dir`.
pub fn api_for(cloud: &str, dir: &Path) -> Result<Box<dyn CloudApi>, ImdsError> {
    let want = cloud.to_ascii_lowercase();
    for (names, build) in CLOUDS {
        if names.contains(&want.as_str()) {
            return build(dir);
        }
    }
    Err(ImdsError::Cloud(cloud.to_string()))
}

/// The primary `--cloud` names, for messages.
pub fn supported() -> Vec<&'static str> {
    CLOUDS
        .iter()
        .filter_map(|(names, _)| names.first().copied())
        .collect()
}

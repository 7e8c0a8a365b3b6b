//! Entry points for the fuzz targets (crate `ci-fuzz`): the decoders of
//! metadata-service responses that are crate-private, driven from bytes.
//! Not an API; each function returns what it decoded so a caller can check
//! invariants, and must never panic whatever the input.

use crate::openstack::reader::{self, Backend, OsError};
use crate::url::UrlError;
use ci_host::Host;
use serde_json::{json, Value};
use std::cell::Cell;

/// How many listing/leaf fetches one walk of an EC2-style tree may make:
/// a listing can name itself, and fuzz inputs must stay fast.
const FETCH_BUDGET: usize = 64;

/// Serves `chunks` in turn as the responses of an EC2-style metadata tree,
/// then 404s once they or the budget run out.
fn chunk_fetcher<'a>(chunks: &'a [&'a [u8]]) -> impl Fn(&str) -> Result<Vec<u8>, UrlError> + 'a {
    let next = Cell::new(0usize);
    move |url: &str| {
        let i = next.get();
        next.set(i + 1);
        match chunks.get(i).filter(|_| i < FETCH_BUDGET) {
            Some(c) => Ok(c.to_vec()),
            None => Err(UrlError::NotFound {
                url: url.to_string(),
                message: format!("404 Client Error: Not Found for url: {url}"),
            }),
        }
    }
}

/// EC2 `meta-data/` listings and leaves: the NUL-separated `data` are the
/// responses, the first being the root listing. Returns the materialized
/// tree, plus each chunk parsed as a listing and decoded as a leaf.
pub fn ec2_tree(data: &[u8]) -> (Option<Value>, Vec<Value>) {
    let chunks: Vec<&[u8]> = data.split(|b| *b == 0).collect();
    let fetch = chunk_fetcher(&chunks);
    let tree =
        crate::openstack::ec2md::materialize("http://127.0.0.1/latest/meta-data/", &fetch).ok();
    let mut leaves = Vec::new();
    for c in &chunks {
        let (fields, _children) = crate::ec2::crawl::parse_listing(&String::from_utf8_lossy(c));
        for (field, _) in fields {
            leaves.push(crate::ec2::crawl::decode_leaf(&field, c));
        }
    }
    let _ = crate::ec2::crawl::maybe_b64decode(data.to_vec());
    (tree, leaves)
}

/// An OpenStack layout held in memory: NUL-separated `meta_data.json`,
/// `network_data.json`, `vendor_data.json`, `vendor_data2.json`,
/// `user_data` and one file every `content_path` names.
struct MemBackend<'a> {
    chunks: Vec<&'a [u8]>,
}

impl Backend for MemBackend<'_> {
    fn base(&self) -> &str {
        "mem:"
    }

    fn join(&self, parts: &[&str]) -> String {
        parts.join("/")
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        let names = [
            "meta_data.json",
            "network_data.json",
            "vendor_data.json",
            "vendor_data2.json",
            "user_data",
        ];
        let index = names
            .iter()
            .position(|n| path.ends_with(&format!("/{n}")))
            .unwrap_or(names.len());
        self.chunks
            .get(index)
            .map(|c| c.to_vec())
            .ok_or_else(|| format!("[Errno 2] No such file or directory: '{path}'"))
    }

    fn versions(&self) -> Result<Vec<String>, String> {
        Ok(vec![reader::OS_LATEST.to_string()])
    }

    fn ec2_metadata(&self) -> Result<Value, OsError> {
        Ok(json!({}))
    }
}

/// What the OpenStack/ConfigDrive reader made of a layout.
#[derive(Debug, Default)]
pub struct OpenStackDecoded {
    pub metadata: Option<Value>,
    pub network: Option<Value>,
    pub public_keys: Vec<String>,
    pub vendordata: (Option<Vec<u8>>, Option<Vec<u8>>),
}

/// Upstream `read_v2` over an in-memory layout, then what the datasource
/// derives from it: vendor-data blobs, public keys, network config.
/// `host` answers MAC lookups; give it an empty root.
pub fn openstack_layout(host: &Host, data: &[u8]) -> Result<OpenStackDecoded, String> {
    let backend = MemBackend {
        chunks: data.split(|b| *b == 0).collect(),
    };
    let crawled = reader::read_v2(&backend).map_err(|e| e.to_string())?;
    let metadata = Value::Object(crawled.metadata.clone());
    Ok(OpenStackDecoded {
        public_keys: crate::openstack::public_keys(&metadata, Some(crawled.version)),
        network: crate::openstack::convert_network(host, crawled.networkdata.as_ref()),
        vendordata: reader::vendordata_blobs(
            crawled.vendordata.as_ref(),
            crawled.vendordata2.as_ref(),
        ),
        metadata: Some(metadata),
    })
}

/// The YAML-mapping loader NoCloud, LXD and VMware read seeds with.
pub fn yaml_dict(data: &[u8]) -> Option<Value> {
    crate::yamlblob::load_dict(data, "fuzz")
}

/// A blob stored in the datasource cache and read back: must be `data`.
pub fn cache_blob_roundtrip(data: &[u8]) -> Option<Vec<u8>> {
    crate::blob::decode(Some(&crate::blob::encode(Some(data))))
        .ok()
        .flatten()
}

/// The `ds=`/`ci.ds=` name as the search logs it (deprecations included).
pub fn ds_name(cmdline: &str) -> Option<String> {
    crate::cmdline::ds_name_logged(cmdline)
}

//! Seeds: a directory (or mounted disk) of `meta-data`, `user-data`, ...
//! files, or a `seedfrom` base URL serving the same names.

use crate::error::SourceError;
use crate::url::{read_file_or_url, UrlError, UrlReader};
use crate::yamlblob::load_dict;
use ci_host::Host;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// Upstream's `pathprefix2dict`: read `dir/<name>` for every required and
/// optional name. `Ok(None)` when a required file is missing; optional
/// missing files are simply absent from the map. `dir` is a directory on
/// this machine (a mounted seed disk): links in it resolve inside it, so a
/// disk cannot make us read this machine's files.
pub fn read_seed_dir(
    dir: &Path,
    required: &[&str],
    optional: &[&str],
) -> Result<Option<BTreeMap<String, Vec<u8>>>, SourceError> {
    read_seed_dir_in(&Host::new(dir), "/", required, optional)
}

/// [`read_seed_dir`] for a directory of the target (`/var/lib/cloud/seed/nocloud`):
/// every file resolves inside the target's root, links included.
pub fn read_seed_dir_in(
    host: &Host,
    dir: &str,
    required: &[&str],
    optional: &[&str],
) -> Result<Option<BTreeMap<String, Vec<u8>>>, SourceError> {
    let mut files = BTreeMap::new();
    let mut missing = Vec::new();
    let base = dir.trim_end_matches('/');
    for name in required.iter().chain(optional) {
        let target = format!("{base}/{name}");
        match host.read_optional(&target) {
            Ok(Some(data)) => {
                files.insert((*name).to_string(), data);
            }
            Ok(None) => {
                if required.contains(name) {
                    missing.push(*name);
                }
            }
            Err(e) => {
                return Err(SourceError::Read {
                    path: host.path(&target).display().to_string(),
                    message: e.to_string(),
                })
            }
        }
    }
    if !missing.is_empty() {
        log::debug!(
            "{}: Missing required files: {}",
            host.path(dir).display(),
            missing.join(",")
        );
        return Ok(None);
    }
    Ok(Some(files))
}

/// What a `seedfrom` location served (upstream's `read_seeded` tuple).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Seeded {
    /// `meta-data` as a mapping (`{}` when empty or broken).
    pub meta_data: Value,
    pub user_data: Option<Vec<u8>>,
    pub vendor_data: Option<Vec<u8>>,
    pub network_config: Option<Value>,
}

/// The four URLs of a seed base: `%s` is replaced by each name; otherwise
/// `/` is appended unless present or the URL has a query, then the name.
pub fn seed_urls(base: &str, ext: &str) -> [(String, &'static str); 4] {
    let names = ["network-config", "meta-data", "user-data", "vendor-data"];
    names.map(|name| {
        let url = if base.contains("%s") {
            base.replace("%s", &format!("{name}{ext}"))
        } else {
            let has_query = base
                .split_once('?')
                .is_some_and(|(_, q)| !q.split('#').next().unwrap_or_default().is_empty());
            let sep = if base.is_empty() || base.ends_with('/') || has_query {
                ""
            } else {
                "/"
            };
            format!("{base}{sep}{name}{ext}")
        };
        (url, name)
    })
}

/// Upstream's `read_seeded`: `network-config` and `vendor-data` are
/// optional (failures logged at debug); `meta-data` and `user-data` must
/// be readable.
pub fn read_seeded(
    host: &Host,
    reader: &UrlReader,
    base: &str,
    ext: &str,
) -> Result<Seeded, UrlError> {
    let [(net_url, _), (md_url, _), (ud_url, _), (vd_url, _)] = seed_urls(base, ext);
    let mut out = Seeded {
        meta_data: Value::Object(Default::default()),
        ..Default::default()
    };
    match read_file_or_url(host, reader, &net_url) {
        Ok(r) => out.network_config = load_dict(&r.body, &net_url),
        Err(e) => log::debug!("No network config provided: {e}"),
    }
    let md = read_file_or_url(host, reader, &md_url)?;
    if let Some(v) = load_dict(&md.body, &md_url) {
        out.meta_data = v;
    }
    out.user_data = Some(read_file_or_url(host, reader, &ud_url)?.body);
    match read_file_or_url(host, reader, &vd_url) {
        Ok(r) => out.vendor_data = Some(r.body),
        Err(e) => log::debug!("Error in vendor-data response: {e}"),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_forms() {
        let u = seed_urls("http://h/base", "");
        assert_eq!(u[1].0, "http://h/base/meta-data");
        assert_eq!(u[0].0, "http://h/base/network-config");
        let u = seed_urls("http://h/base/", "");
        assert_eq!(u[2].0, "http://h/base/user-data");
        let u = seed_urls("http://h/x?f=%s", "");
        assert_eq!(u[3].0, "http://h/x?f=vendor-data");
        let u = seed_urls("http://h/x?a=1&", "");
        assert_eq!(u[1].0, "http://h/x?a=1&meta-data");
        let u = seed_urls("/seed", ".txt");
        assert_eq!(u[1].0, "/seed/meta-data.txt");
    }

    #[test]
    fn seed_dir_required_and_optional() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("meta-data"), b"a: 1").unwrap();
        assert!(
            read_seed_dir(d.path(), &["user-data", "meta-data"], &["vendor-data"])
                .unwrap()
                .is_none()
        );
        std::fs::write(d.path().join("user-data"), b"").unwrap();
        let m = read_seed_dir(d.path(), &["user-data", "meta-data"], &["vendor-data"])
            .unwrap()
            .unwrap();
        assert_eq!(m.keys().collect::<Vec<_>>(), vec!["meta-data", "user-data"]);
    }

    #[test]
    fn seed_files_resolve_links_inside_the_root() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let secret = outside.path().join("secret");
        std::fs::write(&secret, b"host-secret: 1").unwrap();
        let host = Host::new(root.path());
        let seed = "/var/lib/cloud/seed/nocloud";
        std::fs::create_dir_all(host.path(seed)).unwrap();
        // An absolute link to this machine's file, as a hostile image would ship it.
        std::os::unix::fs::symlink(&secret, host.path(format!("{seed}/meta-data"))).unwrap();
        assert!(read_seed_dir_in(&host, seed, &["meta-data"], &[])
            .unwrap()
            .is_none());
        // The same link names the image's own file once that exists.
        let inside = host.path(&secret);
        std::fs::create_dir_all(inside.parent().unwrap()).unwrap();
        std::fs::write(&inside, b"image: 1").unwrap();
        let m = read_seed_dir_in(&host, seed, &["meta-data"], &[])
            .unwrap()
            .unwrap();
        assert_eq!(m["meta-data"], b"image: 1");
        // A mounted disk's links stay on the disk.
        let disk = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(&secret, disk.path().join("meta-data")).unwrap();
        assert!(read_seed_dir(disk.path(), &["meta-data"], &[])
            .unwrap()
            .is_none());
    }
}

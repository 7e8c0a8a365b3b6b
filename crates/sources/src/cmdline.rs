//! The datasource selection on the kernel command line (and in the SMBIOS
//! system serial, which upstream parses the same way):
//! `ds=nocloud;s=http://10.0.0.1/;i=iid-1;h=myhost`.

use serde_json::{Map, Value};

/// `ds=NAME` (then the deprecated `ci.ds=NAME`, `ci.datasource=NAME`), as
/// upstream's `parse_cmdline_or_dmi`: the first token starting with the key
/// wins; the name ends at whitespace or `;`.
pub fn parse_ds_name(input: &str) -> Option<String> {
    ds_name_with_key(input).map(|(_, name)| name)
}

/// Like [`parse_ds_name`], also logging upstream's deprecation for the `ci.` forms.
pub(crate) fn ds_name_logged(input: &str) -> Option<String> {
    let (key, name) = ds_name_with_key(input)?;
    if key != "ds" {
        crate::deprecate::deprecate(
            &format!(
                "Defining the datasource on the command line using ci.ds={name} or ci.datasource={name}"
            ),
            "23.2",
            &format!("Use ds={name} instead"),
        );
    }
    Some(name)
}

fn ds_name_with_key(input: &str) -> Option<(&'static str, String)> {
    ["ds", "ci.ds", "ci.datasource"]
        .into_iter()
        .find_map(|key| {
            find_value(input, &format!("{key}="))
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .map(|v| (key, v))
        })
}

/// First `<prefix>VALUE` at the start of the input or after whitespace,
/// VALUE being one or more characters up to whitespace or `;`.
fn find_value<'a>(input: &'a str, prefix: &str) -> Option<&'a str> {
    let mut from = 0;
    while let Some(pos) = input.get(from..).and_then(|s| s.find(prefix)) {
        let at = from + pos;
        let boundary = input[..at]
            .chars()
            .next_back()
            .is_none_or(char::is_whitespace);
        let rest = &input[at + prefix.len()..];
        let end = rest
            .find(|c: char| c.is_whitespace() || c == ';')
            .unwrap_or(rest.len());
        if boundary && end > 0 {
            return Some(&rest[..end]);
        }
        from = at + prefix.len();
    }
    None
}

/// A `ds=NAME;k=v;k2` selection with its parameters, for the generator and
/// for datasources that take settings this way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DsArg {
    /// `ds`, `ci.ds` or `ci.datasource`.
    pub key: String,
    pub name: String,
    /// `k=v` → `(k, Some(v))`, a bare `k` → `(k, None)`; empty items dropped.
    pub params: Vec<(String, Option<String>)>,
}

/// The first `ds=`/`ci.ds=`/`ci.datasource=` token with its `;k=v` pairs.
pub fn parse_ds_arg(input: &str) -> Option<DsArg> {
    ["ds", "ci.ds", "ci.datasource"]
        .into_iter()
        .find_map(|key| {
            let prefix = format!("{key}=");
            input.split_whitespace().find_map(|tok| {
                let rest = tok.strip_prefix(&prefix)?;
                let mut parts = rest.split(';');
                let name = parts.next().unwrap_or_default().to_string();
                if name.is_empty() {
                    return None;
                }
                Some(DsArg {
                    key: key.to_string(),
                    name,
                    params: parts.filter(|p| !p.is_empty()).map(split_kv).collect(),
                })
            })
        })
}

fn split_kv(item: &str) -> (String, Option<String>) {
    match item.split_once('=') {
        Some((k, v)) => (k.to_string(), Some(v.to_string())),
        None => (item.to_string(), None),
    }
}

/// Upstream's `parse_cmdline_data(ds_id, fill, cmdline)`: if ` <ds_id> ` or
/// ` <ds_id>;` occurs, the `;k=v` pairs of the last token starting with
/// `ds_id` (short keys `h`, `i`, `s` expanded to `local-hostname`,
/// `instance-id`, `seedfrom`); a bare `k` maps to null.
pub fn parse_cmdline_data(ds_id: &str, cmdline: &str) -> Option<Map<String, Value>> {
    let padded = format!(" {cmdline} ");
    if !(padded.contains(&format!(" {ds_id} ")) || padded.contains(&format!(" {ds_id};"))) {
        return None;
    }
    let argline = padded
        .split_whitespace()
        .rfind(|t| t.starts_with(ds_id))
        .and_then(|t| t.split_once('='))
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    let mut fill = Map::new();
    for item in argline.split(';').skip(1) {
        if item.is_empty() {
            continue;
        }
        let (k, v) = split_kv(item);
        let k = match k.as_str() {
            "h" => "local-hostname".to_string(),
            "i" => "instance-id".to_string(),
            "s" => "seedfrom".to_string(),
            _ => k,
        };
        fill.insert(k, v.map(Value::String).unwrap_or(Value::Null));
    }
    Some(fill)
}

/// Upstream's NoCloud `load_cmdline_data`: `ds=nocloud` (dsmode `local`) or
/// `ds=nocloud-net` (dsmode `net`) data, with `dsmode` inferred from the
/// `seedfrom` scheme unless given explicitly.
pub fn nocloud_cmdline_data(cmdline: &str) -> Option<Map<String, Value>> {
    for (ds_id, dsmode) in [("ds=nocloud", "local"), ("ds=nocloud-net", "net")] {
        let Some(mut fill) = parse_cmdline_data(ds_id, cmdline) else {
            continue;
        };
        if fill.contains_key("dsmode") {
            return Some(fill);
        }
        match fill.get("seedfrom") {
            Some(Value::String(s)) if !s.is_empty() => {
                if ["http://", "https://", "ftp://", "ftps://"]
                    .iter()
                    .any(|p| s.starts_with(p))
                {
                    fill.insert("dsmode".into(), "net".into());
                } else if s.starts_with("file://") || s.starts_with('/') {
                    fill.insert("dsmode".into(), "local".into());
                }
            }
            _ => {
                fill.insert("dsmode".into(), dsmode.into());
            }
        }
        return Some(fill);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ds_name_forms() {
        assert_eq!(
            parse_ds_name("ro ds=nocloud;s=x quiet").as_deref(),
            Some("nocloud")
        );
        assert_eq!(parse_ds_name("ds=OpenStack").as_deref(), Some("OpenStack"));
        assert_eq!(parse_ds_name("ci.ds=Ec2 x").as_deref(), Some("Ec2"));
        assert_eq!(parse_ds_name("ci.datasource=GCE").as_deref(), Some("GCE"));
        // `ds=` must start a token and carry a name.
        assert_eq!(parse_ds_name("xds=nocloud"), None);
        assert_eq!(parse_ds_name("ds=;s=1"), None);
        assert_eq!(parse_ds_name("ds= ds=nocloud").as_deref(), Some("nocloud"));
        // ds= beats ci.ds= wherever it is.
        assert_eq!(parse_ds_name("ci.ds=Ec2 ds=GCE").as_deref(), Some("GCE"));
        assert_eq!(parse_ds_name(""), None);
    }

    #[test]
    fn ds_arg_params() {
        let a = parse_ds_arg("root=/dev/vda ds=nocloud;s=http://1.2.3.4/;i=abc;;flag").unwrap();
        assert_eq!(a.key, "ds");
        assert_eq!(a.name, "nocloud");
        assert_eq!(
            a.params,
            vec![
                ("s".to_string(), Some("http://1.2.3.4/".to_string())),
                ("i".to_string(), Some("abc".to_string())),
                ("flag".to_string(), None)
            ]
        );
        assert_eq!(parse_ds_arg("ci.ds=Ec2").unwrap().key, "ci.ds");
        assert!(parse_ds_arg("quiet").is_none());
    }

    #[test]
    fn nocloud_data_and_dsmode() {
        let m = nocloud_cmdline_data("ro ds=nocloud;i=cmd-iid;h=cmdhost").unwrap();
        assert_eq!(
            Value::Object(m),
            json!({"instance-id": "cmd-iid", "local-hostname": "cmdhost", "dsmode": "local"})
        );
        let m = nocloud_cmdline_data("ds=nocloud;s=http://x/").unwrap();
        assert_eq!(m.get("dsmode"), Some(&json!("net")));
        let m = nocloud_cmdline_data("ds=nocloud-net").unwrap();
        assert_eq!(m.get("dsmode"), Some(&json!("net")));
        let m = nocloud_cmdline_data("ds=nocloud-net;s=file:///x/").unwrap();
        assert_eq!(m.get("dsmode"), Some(&json!("local")));
        let m = nocloud_cmdline_data("ds=nocloud;dsmode=net;s=/x").unwrap();
        assert_eq!(m.get("dsmode"), Some(&json!("net")));
        // Unknown scheme: no dsmode inferred (upstream).
        let m = nocloud_cmdline_data("ds=nocloud;s=gopher://x").unwrap();
        assert_eq!(m.get("dsmode"), None);
        // Bare key → null, empty seedfrom → stage default.
        let m = nocloud_cmdline_data("ds=nocloud;i;s=").unwrap();
        assert_eq!(
            Value::Object(m),
            json!({"instance-id": null, "seedfrom": "", "dsmode": "local"})
        );
        assert!(nocloud_cmdline_data("ds=nocloudx").is_none());
        assert!(nocloud_cmdline_data("ds=ec2").is_none());
        assert!(nocloud_cmdline_data("").is_none());
    }
}

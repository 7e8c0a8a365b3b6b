//! The built-in NTP client configuration layouts and their renderer.
//!
//! Each file under `layouts/` is the text a client's configuration file
//! gets, with markers where the user's lists go:
//!
//! * `@{a+b:TEXT}` — TEXT once, when any of the lists `a`, `b` has items;
//! * `@{a+b*TEXT}` — TEXT once per item of `a` then `b`, `%s` replaced by
//!   the item;
//! * `@@{` — a literal `@{`.
//!
//! TEXT may itself hold markers and runs up to the matching `}`. The
//! layouts reproduce, byte for byte, what upstream's templates render to
//! (the tests compare them with renderings made by upstream 25.1.4), so a
//! target without `/etc/cloud/templates` still gets upstream's files.

use ci_pyval::py_str;
use serde_json::Value;

/// The lists a layout refers to.
#[derive(Debug, Default, Clone)]
pub struct Lists {
    pub servers: Vec<Value>,
    pub pools: Vec<Value>,
    pub peers: Vec<Value>,
    pub allow: Vec<Value>,
}

impl Lists {
    fn get(&self, name: &str) -> &[Value] {
        match name {
            "servers" => &self.servers,
            "pools" => &self.pools,
            "peers" => &self.peers,
            "allow" => &self.allow,
            _ => &[],
        }
    }
}

/// The built-in layout for upstream's template `name` (`chrony.conf.debian`),
/// `None` when upstream ships no such template.
pub fn builtin(name: &str) -> Option<&'static str> {
    Some(match name {
        "chrony.conf.alpine" => include_str!("layouts/chrony.conf.alpine"),
        "chrony.conf.almalinux"
        | "chrony.conf.centos"
        | "chrony.conf.cloudlinux"
        | "chrony.conf.rhel"
        | "chrony.conf.rocky" => include_str!("layouts/chrony.conf.rhel"),
        "chrony.conf.cos" => include_str!("layouts/chrony.conf.cos"),
        "chrony.conf.debian" => include_str!("layouts/chrony.conf.debian"),
        "chrony.conf.ubuntu" => include_str!("layouts/chrony.conf.ubuntu"),
        "chrony.conf.fedora" | "chrony.conf.photon" => include_str!("layouts/chrony.conf.fedora"),
        "chrony.conf.opensuse"
        | "chrony.conf.opensuse-leap"
        | "chrony.conf.opensuse-microos"
        | "chrony.conf.opensuse-tumbleweed"
        | "chrony.conf.sles"
        | "chrony.conf.sle_hpc"
        | "chrony.conf.sle-micro" => include_str!("layouts/chrony.conf.opensuse"),
        "chrony.conf.freebsd" => include_str!("layouts/chrony.conf.freebsd"),
        "ntp.conf.rhel" => include_str!("layouts/ntp.conf.rhel"),
        "ntp.conf.almalinux" | "ntp.conf.cloudlinux" | "ntp.conf.photon" | "ntp.conf.rocky" => {
            include_str!("layouts/ntp.conf.almalinux")
        }
        "ntp.conf.freebsd" => include_str!("layouts/ntp.conf.freebsd"),
        "ntp.conf.fedora" => include_str!("layouts/ntp.conf.fedora"),
        "ntp.conf.debian" => include_str!("layouts/ntp.conf.debian"),
        "ntp.conf.ubuntu" => include_str!("layouts/ntp.conf.ubuntu"),
        "ntp.conf.alpine" => include_str!("layouts/ntp.conf.alpine"),
        "ntp.conf.opensuse" | "ntp.conf.sles" => include_str!("layouts/ntp.conf.opensuse"),
        "ntpd.conf.openbsd" => include_str!("layouts/ntpd.conf.openbsd"),
        "timesyncd.conf" => include_str!("layouts/timesyncd.conf"),
        _ => return None,
    })
}

enum Node<'a> {
    Text(&'a str),
    /// `@{` itself, from `@@{`.
    At,
    Once(Vec<&'a str>, Vec<Node<'a>>),
    Each(Vec<&'a str>, Vec<Node<'a>>),
}

/// Render `layout` with `lists`. A malformed layout is our bug, reported as
/// an error naming the offset rather than a panic.
pub fn render(layout: &str, lists: &Lists) -> Result<String, String> {
    let (nodes, rest) = parse(layout, false)?;
    if !rest.is_empty() {
        return Err(format!(
            "layout: unmatched '}}' at offset {}",
            layout.len() - rest.len()
        ));
    }
    let mut out = String::with_capacity(layout.len() + 256);
    emit(&nodes, lists, None, &mut out);
    Ok(out)
}

/// Parse up to the end of `s` (top level) or up to the `}` closing a marker
/// body (`nested`); returns the nodes and what follows the closing brace.
fn parse(mut s: &str, nested: bool) -> Result<(Vec<Node<'_>>, &str), String> {
    let mut nodes = Vec::new();
    loop {
        let stop = if nested {
            s.find(['@', '}'])
        } else {
            s.find('@')
        };
        let Some(i) = stop else {
            if nested {
                return Err("layout: marker body without closing '}'".into());
            }
            if !s.is_empty() {
                nodes.push(Node::Text(s));
            }
            return Ok((nodes, ""));
        };
        if i > 0 {
            nodes.push(Node::Text(&s[..i]));
        }
        let rest = &s[i..];
        if let Some(after) = rest.strip_prefix('}') {
            return Ok((nodes, after));
        }
        if let Some(after) = rest.strip_prefix("@@{") {
            nodes.push(Node::At);
            s = after;
        } else if let Some(after) = rest.strip_prefix("@{") {
            let k = after
                .find([':', '*'])
                .ok_or_else(|| "layout: marker without ':' or '*'".to_string())?;
            let names: Vec<&str> = after[..k].split('+').collect();
            let (body, tail) = parse(&after[k + 1..], true)?;
            nodes.push(if after.as_bytes()[k] == b':' {
                Node::Once(names, body)
            } else {
                Node::Each(names, body)
            });
            s = tail;
        } else {
            nodes.push(Node::Text("@"));
            s = &rest[1..];
        }
    }
}

fn emit(nodes: &[Node], lists: &Lists, item: Option<&str>, out: &mut String) {
    for n in nodes {
        match n {
            Node::Text(t) => match item {
                Some(v) => out.push_str(&t.replace("%s", v)),
                None => out.push_str(t),
            },
            Node::At => out.push_str("@{"),
            Node::Once(names, body) => {
                if names.iter().any(|n| !lists.get(n).is_empty()) {
                    emit(body, lists, item, out);
                }
            }
            Node::Each(names, body) => {
                for name in names {
                    for v in lists.get(name) {
                        emit(body, lists, Some(&py_str(v)), out);
                    }
                }
            }
        }
    }
}

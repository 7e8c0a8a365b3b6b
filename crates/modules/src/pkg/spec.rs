//! The `packages` list as upstream reads it: names, `[name, version]`
//! pairs, and `{manager: [...]}` mappings that send packages to one
//! package manager.

use crate::ModuleError;
use ci_pyval::{py_repr, py_str, truthy};
use serde_json::Value;

/// A package as upstream's distro layer keeps it once validated: a name,
/// or a (name, version) pair that each package manager spells its own way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Package {
    Name(String),
    Pinned(String, Value),
}

impl Package {
    /// The name alone, as upstream's error messages and availability
    /// checks show a package.
    pub fn name(&self) -> &str {
        match self {
            Package::Name(n) | Package::Pinned(n, _) => n,
        }
    }

    /// `util.expand_package_list(fmt, [pkg])` for one package: `fmt` puts
    /// the version after the name (`=` for apt and snap, `-` elsewhere);
    /// an empty version is left out.
    pub fn spelled(&self, sep: &str) -> String {
        match self {
            Package::Pinned(n, v) if truthy(v) => format!("{n}{sep}{}", py_str(v)),
            other => other.name().to_string(),
        }
    }

    /// Python's repr of the entry (a str, or a tuple), as a set of
    /// failed packages shows it.
    pub fn py_repr(&self) -> String {
        match self {
            Package::Name(n) => ci_pyval::py_quote(n),
            Package::Pinned(n, v) => format!("({}, {})", ci_pyval::py_quote(n), py_repr(v)),
        }
    }
}

/// The package managers upstream's `packages` mappings can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Manager {
    Apt,
    Snap,
}

impl Manager {
    pub fn name(self) -> &'static str {
        match self {
            Manager::Apt => "apt",
            Manager::Snap => "snap",
        }
    }

    fn parse(key: &str) -> Option<Manager> {
        match key {
            "apt" => Some(Manager::Apt),
            "snap" => Some(Manager::Snap),
            _ => None,
        }
    }
}

/// `packages` split as upstream's `_extract_package_by_manager`: packages
/// a mapping sends to one manager, and the generic rest. Upstream keeps
/// sets (their order changes from run to run); these keep the first
/// occurrence of each package in the order given.
#[derive(Debug, Default, PartialEq)]
pub struct Request {
    pub by_manager: Vec<(Manager, Vec<Package>)>,
    pub generic: Vec<Package>,
}

fn invalid_spec() -> ModuleError {
    ModuleError::with_class(
        "ValueError",
        "Invalid 'packages' yaml specification. Check schema definition.",
    )
}

/// Upstream's `_validate_entry`: a string, or a list of exactly two.
fn validate(entry: &Value) -> Result<Package, ModuleError> {
    match entry {
        Value::String(s) => Ok(Package::Name(s.clone())),
        Value::Array(a) if a.len() == 2 => Ok(Package::Pinned(py_str(&a[0]), a[1].clone())),
        _ => Err(invalid_spec()),
    }
}

pub fn push_unique(list: &mut Vec<Package>, p: Package) {
    if !list.contains(&p) {
        list.push(p);
    }
}

/// Parse `packages`; a mapping naming a manager upstream does not know is
/// logged and its packages dropped, as upstream does.
pub fn parse(entries: &[Value]) -> Result<Request, ModuleError> {
    let mut req = Request::default();
    for entry in entries {
        let Value::Object(map) = entry else {
            push_unique(&mut req.generic, validate(entry)?);
            continue;
        };
        for (key, list) in map {
            for definition in definitions(list) {
                let pkg = validate(&definition)?;
                match Manager::parse(key) {
                    Some(m) => {
                        let slot = match req.by_manager.iter().position(|(k, _)| *k == m) {
                            Some(i) => i,
                            None => {
                                req.by_manager.push((m, Vec::new()));
                                req.by_manager.len() - 1
                            }
                        };
                        push_unique(&mut req.by_manager[slot].1, pkg);
                    }
                    None => log::error!(
                        "Cannot install packages under '{key}' as it is not a supported package manager!"
                    ),
                }
            }
        }
    }
    Ok(req)
}

/// What upstream's `for definition in package_list` walks: a list's items,
/// a string's characters.
fn definitions(list: &Value) -> Vec<Value> {
    match list {
        Value::Array(a) => a.clone(),
        Value::String(s) => s.chars().map(|c| Value::String(c.to_string())).collect(),
        Value::Object(m) => m.keys().map(|k| Value::String(k.clone())).collect(),
        _ => Vec::new(),
    }
}

/// `util.expand_package_list(fmt, pkgs)` over the raw `packages` entries,
/// as the families without upstream's manager layer take them: strings as
/// they are, `[name]` and `[name, version]` joined with `sep`.
pub fn expand(entries: &[Value], sep: &str) -> Result<Vec<String>, ModuleError> {
    let mut out = Vec::with_capacity(entries.len());
    for entry in entries {
        match entry {
            Value::String(s) => out.push(s.clone()),
            Value::Array(a) if a.is_empty() || a.len() > 2 => {
                return Err(ModuleError::new("Invalid package & version tuple."))
            }
            Value::Array(a) => {
                let name = py_str(&a[0]);
                match a.get(1) {
                    Some(v) if truthy(v) => out.push(format!("{name}{sep}{}", py_str(v))),
                    _ => out.push(name),
                }
            }
            _ => return Err(ModuleError::new("Invalid package type.")),
        }
    }
    Ok(out)
}

/// Plain names as `packages` entries.
pub fn names(pkgs: &[String]) -> Vec<Value> {
    pkgs.iter().map(|p| Value::String(p.clone())).collect()
}

/// Python's repr of a set of packages: `{'a', ('b', '1')}`.
pub fn py_set(pkgs: &[Package]) -> String {
    let items: Vec<String> = pkgs.iter().map(Package::py_repr).collect();
    format!("{{{}}}", items.join(", "))
}

/// Python's repr of a list of package strings.
pub fn py_list(pkgs: &[String]) -> String {
    ci_pyval::py_list(pkgs)
}

//! Merge specifications: `list(append)+dict(no_replace,recurse_list)+str()`
//! strings and the list-of-`{name, settings}` form found under `merge_how` /
//! `merge_type`.

use ci_pyval::py_type;
use serde_json::{Map, Value};
use std::fmt;

/// Which upstream merger module (`m_dict`, `m_list`, `m_str`) a step names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergerKind {
    Dict,
    List,
    Str,
}

impl MergerKind {
    fn from_name(name: &str) -> Option<MergerKind> {
        // Upstream prefixes `m_` unless present, then imports that module
        // (case-sensitively), so `m_dict` and `dict` are the same merger.
        let name = name.strip_prefix("m_").unwrap_or(name);
        match name {
            "dict" => Some(MergerKind::Dict),
            "list" => Some(MergerKind::List),
            "str" => Some(MergerKind::Str),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            MergerKind::Dict => "dict",
            MergerKind::List => "list",
            MergerKind::Str => "str",
        }
    }
}

/// A merger's options. Upstream tests each option with Python's `in`, which
/// is a substring test when the settings were written as one string and a
/// membership test for a list (or a mapping's keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeOpts {
    List(Vec<String>),
    Text(String),
}

impl MergeOpts {
    pub fn has(&self, opt: &str) -> bool {
        match self {
            MergeOpts::List(v) => v.iter().any(|o| o == opt),
            MergeOpts::Text(s) => s.contains(opt),
        }
    }
}

/// One step of a spec: a merger and its options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergerStep {
    pub kind: MergerKind,
    pub opts: MergeOpts,
}

/// An ordered list of mergers. For a value of a given type the first merger
/// that handles that type is used; values no merger handles are kept as the
/// base has them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MergeSpec {
    pub mergers: Vec<MergerStep>,
}

impl fmt::Display for MergeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .mergers
            .iter()
            .map(|m| {
                let opts = match &m.opts {
                    MergeOpts::List(v) => v.join(","),
                    MergeOpts::Text(s) => s.clone(),
                };
                format!("{}({})", m.kind.name(), opts)
            })
            .collect();
        f.write_str(&parts.join("+"))
    }
}

/// Upstream's default for config files (`mergemanydict`).
pub const CONFIG_DEFAULT: &str = "list()+dict()+str()";
/// Upstream's default between cloud-config parts of user-data.
pub const USERDATA_DEFAULT: &str = "dict(replace)+list()+str()";

impl MergeSpec {
    /// Parse the string form. An empty string gives an empty spec (callers
    /// then fall back to their default, as upstream does).
    pub fn parse(s: &str) -> Result<MergeSpec, String> {
        let mut mergers = Vec::new();
        for raw in s.split('+') {
            let item = raw.trim().to_lowercase().replace('-', "_");
            if item.is_empty() {
                continue;
            }
            let (name, opts) = split_call(&item)
                .ok_or_else(|| format!("Matcher identifier '{item}' is not in the right format"))?;
            let opts: Vec<String> = opts
                .split(',')
                .map(|o| o.trim().to_lowercase())
                .filter(|o| !o.is_empty())
                .collect();
            mergers.push(step(name, MergeOpts::List(opts))?);
        }
        Ok(MergeSpec { mergers })
    }

    /// The spec carried by a config mapping under `merge_how` (or, when that
    /// is absent or null, `merge_type`). `None` when there is none, it is
    /// empty, or it is malformed (see [`MergeSpec::from_config_checked`]).
    pub fn from_config(v: &Value) -> Option<MergeSpec> {
        MergeSpec::from_config_checked(v).ok().flatten()
    }

    /// Like [`MergeSpec::from_config`] but reports a malformed spec.
    /// `Ok(None)` when absent or empty.
    pub fn from_config_checked(v: &Value) -> Result<Option<MergeSpec>, String> {
        let Some(map) = v.as_object() else {
            return Ok(None);
        };
        let raw = match map.get("merge_how") {
            Some(Value::Null) | None => map.get("merge_type"),
            found => found,
        };
        let spec = match raw {
            None | Some(Value::Null) => return Ok(None),
            Some(raw) => MergeSpec::from_value(raw)?,
        };
        Ok((!spec.mergers.is_empty()).then_some(spec))
    }

    /// Remove `merge_how` and `merge_type` the way upstream pops them
    /// (`merge_type` is only looked at, and removed, when `merge_how` is
    /// absent or null) and return the spec they held.
    pub fn extract(map: &mut Map<String, Value>) -> Result<Option<MergeSpec>, String> {
        let mut raw = map.shift_remove("merge_how").unwrap_or(Value::Null);
        if raw.is_null() {
            raw = map.shift_remove("merge_type").unwrap_or(Value::Null);
        }
        if raw.is_null() {
            return Ok(None);
        }
        let spec = MergeSpec::from_value(&raw)?;
        Ok((!spec.mergers.is_empty()).then_some(spec))
    }

    /// The string form, or a list whose items are `{name, settings}`
    /// mappings or `[name, opt, ...]` lists.
    pub fn from_value(raw: &Value) -> Result<MergeSpec, String> {
        let items: Vec<&Value> = match raw {
            Value::String(s) => return MergeSpec::parse(s),
            Value::Array(items) => items.iter().collect(),
            other => {
                return Err(format!(
                    "merge_how must be a string or a list, not {}",
                    py_type(other)
                ))
            }
        };
        let mut mergers = Vec::new();
        for item in items {
            let (name, opts) = match item {
                Value::Object(m) => {
                    let name = m
                        .get("name")
                        .ok_or("merge_how entry has no 'name'")?
                        .as_str()
                        .ok_or("merge_how entry 'name' is not a string")?;
                    let settings = m
                        .get("settings")
                        .ok_or("merge_how entry has no 'settings'")?;
                    (
                        name.replace('-', "_").trim().to_string(),
                        opts_from(settings)?,
                    )
                }
                Value::Array(v) => {
                    let name = v
                        .first()
                        .ok_or("merge_how entry is an empty list")?
                        .as_str()
                        .ok_or("merge_how entry name is not a string")?;
                    let rest = v.get(1..).unwrap_or_default();
                    (name.to_string(), opts_from(&Value::Array(rest.to_vec()))?)
                }
                Value::String(s) => {
                    // Upstream indexes the string: its first character is
                    // the name, the rest are options.
                    let mut chars = s.chars();
                    let name: String = chars.next().map(String::from).unwrap_or_default();
                    let rest: Vec<String> = chars.map(String::from).collect();
                    (name, MergeOpts::List(rest))
                }
                other => {
                    return Err(format!(
                        "merge_how entry must be a mapping or a list, not {}",
                        py_type(other)
                    ))
                }
            };
            if name.is_empty() {
                continue;
            }
            mergers.push(step(&name, opts)?);
        }
        Ok(MergeSpec { mergers })
    }

    /// `list()+dict()+str()`: how config files merge (no replacing).
    pub fn config_default() -> MergeSpec {
        default_spec(CONFIG_DEFAULT)
    }

    /// `dict(replace)+list()+str()`: how user-data cloud-config parts merge.
    pub fn userdata_default() -> MergeSpec {
        default_spec(USERDATA_DEFAULT)
    }

    /// The first merger of `kind`, which upstream's lookup picks.
    pub fn find(&self, kind: MergerKind) -> Option<&MergerStep> {
        self.mergers.iter().find(|m| m.kind == kind)
    }

    /// Mergers of `self` followed by those of `other` (earlier ones win the
    /// lookup), as upstream joins a part's own spec with its MIME header.
    pub fn chain(mut self, other: MergeSpec) -> MergeSpec {
        self.mergers.extend(other.mergers);
        self
    }
}

fn default_spec(s: &str) -> MergeSpec {
    MergeSpec::parse(s).unwrap_or_default()
}

fn step(name: &str, opts: MergeOpts) -> Result<MergerStep, String> {
    let kind = MergerKind::from_name(name).ok_or_else(|| {
        let module = if name.starts_with("m_") {
            name.to_string()
        } else {
            format!("m_{name}")
        };
        format!("Could not find merger module named '{module}' with attribute 'Merger'")
    })?;
    Ok(MergerStep { kind, opts })
}

/// `name(opts)` with the closing parenthesis last, as upstream's pattern.
fn split_call(item: &str) -> Option<(&str, &str)> {
    let open = item.find('(')?;
    let name = item.get(..open)?;
    let inner = item.get(open + 1..)?.strip_suffix(')')?;
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !first_ok || !rest_ok || inner.contains('\n') {
        return None;
    }
    Some((name, inner))
}

fn opts_from(settings: &Value) -> Result<MergeOpts, String> {
    match settings {
        Value::String(s) => Ok(MergeOpts::Text(s.clone())),
        // Non-string items can never equal an option name.
        Value::Array(v) => Ok(MergeOpts::List(
            v.iter()
                .filter_map(|o| o.as_str().map(String::from))
                .collect(),
        )),
        Value::Object(m) => Ok(MergeOpts::List(m.keys().cloned().collect())),
        other => Err(format!(
            "merge_how settings must be a list, not {}",
            py_type(other)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_string_forms() {
        let s = MergeSpec::parse(" List(Append) + dict(no-replace, recurse_list)+str()+").unwrap();
        assert_eq!(
            s.to_string(),
            "list(append)+dict(no_replace,recurse_list)+str()"
        );
        assert_eq!(
            MergeSpec::parse("m_dict()").unwrap().mergers[0].kind,
            MergerKind::Dict
        );
        assert!(MergeSpec::parse("").unwrap().mergers.is_empty());
        let e = MergeSpec::parse("dict").unwrap_err();
        assert!(e.contains("not in the right format"), "{e}");
        let e = MergeSpec::parse("foo()").unwrap_err();
        assert!(e.contains("m_foo"), "{e}");
    }

    #[test]
    fn reads_list_forms_and_merge_type() {
        let v = json!({"merge_type": [{"name": "list", "settings": ["append"]},
                                      ["dict", "replace"]]});
        let s = MergeSpec::from_config(&v).unwrap();
        assert_eq!(s.to_string(), "list(append)+dict(replace)");
        let v = json!({"merge_how": null, "merge_type": "str(append)"});
        assert_eq!(
            MergeSpec::from_config(&v).unwrap().to_string(),
            "str(append)"
        );
        assert_eq!(MergeSpec::from_config(&json!({"a": 1})), None);
        assert!(MergeSpec::from_config_checked(&json!({"merge_how": 3})).is_err());
    }

    #[test]
    fn string_settings_match_substrings() {
        let v = json!({"merge_how": [{"name": "dict", "settings": "no_replace"}]});
        let s = MergeSpec::from_config(&v).unwrap();
        assert!(s.mergers[0].opts.has("replace"));
    }

    #[test]
    fn extract_pops_both_keys_only_when_how_is_null() {
        let mut m = json!({"merge_how": "dict(replace)", "merge_type": "list()", "a": 1});
        let map = m.as_object_mut().unwrap();
        let s = MergeSpec::extract(map).unwrap().unwrap();
        assert_eq!(s.to_string(), "dict(replace)");
        assert!(map.contains_key("merge_type"));
        let mut m = json!({"merge_how": null, "merge_type": "list()"});
        let map = m.as_object_mut().unwrap();
        assert_eq!(
            MergeSpec::extract(map).unwrap().unwrap().to_string(),
            "list()"
        );
        assert!(map.is_empty());
    }
}

//! Applying a [`MergeSpec`]: upstream's `m_dict`, `m_list` and `m_str`
//! mergers, dispatched on the type of the *base* value.

use super::spec::{MergeSpec, MergerKind, MergerStep};
use ci_pyval::py_type;
use serde_json::{Map, Value};

/// A merge upstream cannot finish (it raises there: Python `TypeError` or
/// `KeyError`), e.g. `str(append)` asked to append a list to a string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MergeError(pub String);

type Res = Result<Value, MergeError>;

/// Merge `new` into `base` with `spec`.
pub fn try_merge(base: &Value, new: &Value, spec: &MergeSpec) -> Res {
    let kind = match base {
        Value::Object(_) => MergerKind::Dict,
        Value::Array(_) => MergerKind::List,
        Value::String(_) => MergerKind::Str,
        // No merger handles numbers, booleans or null: the base stays.
        _ => return Ok(base.clone()),
    };
    let Some(step) = spec.find(kind) else {
        return Ok(base.clone());
    };
    match base {
        Value::Object(m) => on_dict(m, new, step, spec),
        Value::Array(v) => on_list(v, new, step, spec),
        Value::String(s) => on_str(s, new, step),
        _ => Ok(base.clone()),
    }
}

fn recurse_array(step: &MergerStep) -> bool {
    step.opts.has("recurse_array") || step.opts.has("recurse_list")
}

fn on_dict(base: &Map<String, Value>, new: &Value, step: &MergerStep, spec: &MergeSpec) -> Res {
    let Value::Object(new) = new else {
        return Ok(Value::Object(base.clone()));
    };
    // The first of `replace` / `no_replace` found wins; `no_replace` also
    // contains `replace` when settings were one string, as upstream.
    let replace = step.opts.has("replace");
    let allow_delete = step.opts.has("allow_delete");
    let recurse_str = step.opts.has("recurse_str");
    let recurse_arr = recurse_array(step);
    let mut out = base.clone();
    for (k, v) in new {
        match out.get(k) {
            Some(_) if v.is_null() && allow_delete => {
                out.shift_remove(k);
            }
            Some(old) => {
                let merged = if replace {
                    v.clone()
                } else {
                    match v {
                        Value::Array(_) if recurse_arr => try_merge(old, v, spec)?,
                        Value::String(_) if recurse_str => try_merge(old, v, spec)?,
                        // Dicts always recurse (upstream: backwards compat).
                        Value::Object(_) => try_merge(old, v, spec)?,
                        _ => old.clone(),
                    }
                };
                out.insert(k.clone(), merged);
            }
            None => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Ok(Value::Object(out))
}

#[derive(PartialEq)]
enum ListMethod {
    Append,
    Prepend,
    Replace,
    NoReplace,
}

fn list_method(step: &MergerStep) -> ListMethod {
    for (name, m) in [
        ("append", ListMethod::Append),
        ("prepend", ListMethod::Prepend),
        ("replace", ListMethod::Replace),
        ("no_replace", ListMethod::NoReplace),
    ] {
        if step.opts.has(name) {
            return m;
        }
    }
    ListMethod::Replace
}

/// Python's `list.extend(x)` over a non-list: a string gives its
/// characters, a mapping its keys; anything else raises.
fn iter_items(new: &Value) -> Result<Vec<Value>, MergeError> {
    match new {
        Value::Array(v) => Ok(v.clone()),
        Value::String(s) => Ok(s.chars().map(|c| Value::String(c.to_string())).collect()),
        Value::Object(m) => Ok(m.keys().map(|k| Value::String(k.clone())).collect()),
        other => Err(MergeError(format!(
            "'{}' object is not iterable",
            py_type(other)
        ))),
    }
}

fn on_list(base: &[Value], new: &Value, step: &MergerStep, spec: &MergeSpec) -> Res {
    let method = list_method(step);
    if method == ListMethod::Replace && !new.is_array() {
        return Ok(new.clone());
    }
    match method {
        ListMethod::Prepend => {
            let mut out = iter_items(new)?;
            out.extend(base.iter().cloned());
            return Ok(Value::Array(out));
        }
        ListMethod::Append => {
            let mut out = base.to_vec();
            out.extend(iter_items(new)?);
            return Ok(Value::Array(out));
        }
        ListMethod::Replace | ListMethod::NoReplace => {}
    }
    let mut out = base.to_vec();
    let new_items: Vec<Value> = match new {
        Value::Array(v) => v.clone(),
        // Only `no_replace` gets here with a non-list; it keeps the old
        // items, but upstream still indexes the new value first.
        Value::String(s) => s.chars().map(|c| Value::String(c.to_string())).collect(),
        Value::Object(m) if m.is_empty() || base.is_empty() => Vec::new(),
        Value::Object(_) => return Err(MergeError("KeyError: 0".into())),
        other => {
            return Err(MergeError(format!(
                "object of type '{}' has no len()",
                py_type(other)
            )))
        }
    };
    let recurse_str = step.opts.has("recurse_str");
    let recurse_dict = step.opts.has("recurse_dict");
    let recurse_arr = recurse_array(step);
    for (slot, new_v) in out.iter_mut().zip(new_items.iter()) {
        if method == ListMethod::NoReplace {
            continue;
        }
        let merged = match new_v {
            Value::Array(_) if recurse_arr => try_merge(slot, new_v, spec)?,
            Value::String(_) if recurse_str => try_merge(slot, new_v, spec)?,
            Value::Object(_) if recurse_dict => try_merge(slot, new_v, spec)?,
            _ => new_v.clone(),
        };
        *slot = merged;
    }
    Ok(Value::Array(out))
}

fn on_str(base: &str, new: &Value, step: &MergerStep) -> Res {
    if !step.opts.has("append") {
        return Ok(new.clone());
    }
    match new {
        Value::String(s) => Ok(Value::String(format!("{base}{s}"))),
        other => Err(MergeError(format!(
            "can only concatenate str (not \"{}\") to str",
            py_type(other)
        ))),
    }
}

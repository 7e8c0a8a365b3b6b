//! upstream `util.load_yaml`: failures become a warning and a default.

use crate::diag::Diag;
use ci_pyval::py_type;
use serde_json::Value;

/// Which root types a caller accepts, with Python's spelling for the
/// warning text.
#[derive(Clone, Copy)]
pub(crate) enum Allowed {
    Dict,
    List,
}

/// `None` for an empty document or on failure (after upstream's warning).
pub(crate) fn load(text: &str, allowed: Allowed, diag: &mut Diag) -> Option<Value> {
    match ci_yaml::load(text) {
        Ok(Value::Null) => None,
        Ok(v) => {
            let ok = match allowed {
                Allowed::Dict => v.is_object(),
                Allowed::List => v.is_array(),
            };
            if ok {
                return Some(v);
            }
            let names = match allowed {
                Allowed::Dict => "(<class 'dict'>,)",
                Allowed::List => "(<class 'list'>, <class 'set'>)",
            };
            diag.warn(format!(
                "Failed loading yaml blob. Yaml load allows {names} root types, but got {} instead",
                py_type(&v)
            ));
            None
        }
        Err(e) => {
            diag.warn(e.load_yaml_warning(text));
            None
        }
    }
}

/// [`load`] for a payload that may not be UTF-8. Upstream decodes such
/// bytes with surrogate escapes, which PyYAML then refuses.
pub(crate) fn load_bytes(data: &[u8], allowed: Allowed, diag: &mut Diag) -> Option<Value> {
    match std::str::from_utf8(data) {
        Ok(text) => load(text, allowed, diag),
        Err(e) => {
            let valid = e.valid_up_to();
            let position = String::from_utf8_lossy(&data[..valid]).chars().count();
            let byte = data.get(valid).copied().unwrap_or(0);
            diag.warn(format!(
                "Failed loading yaml blob. unacceptable character #x{:04x}: special characters are not allowed\n  in \"<unicode string>\", position {position}",
                0xdc00 + u32::from(byte)
            ));
            None
        }
    }
}

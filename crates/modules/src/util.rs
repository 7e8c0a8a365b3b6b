//! Config-reading helpers the stage runner (crates/cli) reaches through
//! this crate.

pub use ci_pyval::{loose_bool as is_true, str_list};

/// What Python's `for x in value` yields: a list's items, a mapping's keys,
/// a string's characters; anything else is upstream's `TypeError`.
pub(crate) fn py_iter(v: &serde_json::Value) -> Result<Vec<serde_json::Value>, crate::ModuleError> {
    use serde_json::Value;
    match v {
        Value::Array(a) => Ok(a.clone()),
        Value::Object(m) => Ok(m.keys().map(|k| Value::String(k.clone())).collect()),
        Value::String(s) => Ok(s.chars().map(|c| Value::String(c.to_string())).collect()),
        other => Err(crate::ModuleError::with_class(
            "TypeError",
            format!("'{}' object is not iterable", ci_pyval::py_type(other)),
        )),
    }
}

/// Upstream's `lifecycle.Version.from_str`: `int()` of every dotted segment
/// (a `ValueError` names the first bad one), then at most four of them (a
/// `TypeError` otherwise). Missing fields are -1, so they sort below any
/// number, as the tuple ordering upstream inherits does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct PyVersion(pub [i64; 4]);

impl PyVersion {
    pub(crate) fn parse(text: &str) -> Result<PyVersion, crate::ModuleError> {
        let mut parts: Vec<i64> = Vec::new();
        for seg in text.split('.') {
            let n = seg.trim().parse::<i64>().map_err(|_| {
                crate::ModuleError::with_class(
                    "ValueError",
                    format!(
                        "invalid literal for int() with base 10: {}",
                        ci_pyval::py_quote(seg)
                    ),
                )
            })?;
            parts.push(n);
        }
        if parts.len() > 4 {
            return Err(crate::ModuleError::with_class(
                "TypeError",
                format!(
                    "Version.__new__() takes from 1 to 5 positional arguments but {} were given",
                    parts.len() + 1
                ),
            ));
        }
        Ok(PyVersion::from_parts(&parts))
    }

    /// `Version(*parts)` for up to four numbers.
    pub(crate) fn from_parts(parts: &[i64]) -> PyVersion {
        let mut v = [-1i64; 4];
        for (slot, n) in v.iter_mut().zip(parts) {
            *slot = *n;
        }
        PyVersion(v)
    }
}

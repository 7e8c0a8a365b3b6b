//! Upstream's `util.load_yaml(blob, allowed=(dict,))`: a YAML mapping, or
//! nothing. An unparsable blob or one of another type is a WARNING
//! (`Failed loading yaml blob...`, here naming where the blob came from),
//! not an error: the datasource carries on without it.

use ci_pyval::py_type;
use serde_json::Value;

/// The mapping in `blob`; `None` when empty, `null`, broken or not a mapping.
pub(crate) fn load_dict(blob: &[u8], origin: &str) -> Option<Value> {
    let text = match std::str::from_utf8(blob) {
        Ok(t) => t,
        Err(e) => {
            log::warn!("Failed loading yaml blob from {origin}. 'utf-8' codec can't decode: {e}");
            return None;
        }
    };
    log::debug!(
        "Attempting to load yaml from string of length {} with allowed root types (<class 'dict'>,)",
        text.chars().count()
    );
    match ci_yaml::load(text) {
        Ok(Value::Null) => {
            log::debug!("loaded blob returned None, returning default.");
            None
        }
        Ok(v @ Value::Object(_)) => Some(v),
        Ok(other) => {
            log::warn!(
                "Failed loading yaml blob from {origin}. Yaml load allows (<class 'dict'>,) root types, but got {} instead",
                py_type(&other)
            );
            None
        }
        Err(e) if e.mark().is_none() => {
            log::warn!(
                "Failed loading yaml blob from {origin}. {}",
                e.pyyaml_text(text)
            );
            None
        }
        Err(e) => {
            log::warn!(
                "Failed loading yaml blob from {origin}. Invalid format at line {} column {}: \"{}\"",
                e.line,
                e.column,
                e.message
            );
            None
        }
    }
}

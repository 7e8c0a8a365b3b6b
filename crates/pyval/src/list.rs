//! Config values that may be given as one comma-separated string or as a
//! list.

use crate::binary::is_binary_str;
use serde_json::Value;

/// A string is split on commas (pieces trimmed, empty ones dropped); a
/// list keeps its strings and numbers (as JSON prints them) and skips
/// other items; anything else is empty. Bytes are not text (they never
/// equal a name in Python), so they are skipped like other non-text.
pub fn str_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) if is_binary_str(s) => Vec::new(),
        Some(Value::String(s)) => s
            .split(',')
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| match x {
                Value::String(s) if !is_binary_str(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_and_lists() {
        assert_eq!(str_list(Some(&json!(" a, b,,c "))), ["a", "b", "c"]);
        assert_eq!(
            str_list(Some(&json!(["a b", 3, null, true, ["x"]]))),
            ["a b", "3"]
        );
        assert!(str_list(Some(&json!({"a": 1}))).is_empty());
        assert!(str_list(None).is_empty());
        let bytes = crate::binary::encode(b"a,b");
        assert!(str_list(Some(&bytes)).is_empty());
        assert_eq!(str_list(Some(&json!(["a", bytes]))), ["a"]);
    }
}

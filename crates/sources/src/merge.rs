//! `util.mergemanydict` with upstream's default mergers: earlier sources win,
//! mappings are merged key by key, nothing else is replaced or appended.

use serde_json::{Map, Value};

/// Merge mappings, first one wins; non-mappings and empty values are skipped.
pub fn merge_many(sources: &[&Value]) -> Map<String, Value> {
    let mut out = Map::new();
    for src in sources {
        if let Value::Object(m) = src {
            merge_into(&mut out, m);
        }
    }
    out
}

pub(crate) fn merge_into(base: &mut Map<String, Value>, new: &Map<String, Value>) {
    for (k, v) in new {
        match base.get_mut(k) {
            None => {
                base.insert(k.clone(), v.clone());
            }
            Some(Value::Object(old)) => {
                if let Value::Object(newm) = v {
                    merge_into(old, newm);
                }
            }
            Some(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn first_wins_and_dicts_merge() {
        // The example from upstream's mergemanydict docstring.
        let a = json!({"a": 1, "b": 2, "c": [1, 2, 3], "d": {"a": 1, "b": 2}});
        let b = json!({"a": 10, "c": [4], "d": {"a": 3, "f": 10}, "e": 20});
        let m = Value::Object(merge_many(&[&a, &b]));
        assert_eq!(
            m,
            json!({"a": 1, "b": 2, "c": [1, 2, 3], "d": {"a": 1, "b": 2, "f": 10}, "e": 20})
        );
        assert_eq!(Value::Object(merge_many(&[&Value::Null, &b])), b);
    }
}

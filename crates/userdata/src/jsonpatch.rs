//! RFC 6902 JSON Patch over serde_json values, with the failure cases of
//! Python's `jsonpatch` that upstream uses for `#cloud-config-jsonp`.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchError {
    /// The text is not JSON (Python: `ValueError`, reported in detail).
    Json(String),
    /// Malformed patch or a failed operation (Python: `JsonPatchException`
    /// or `JsonPointerException`).
    Patch(String),
    /// The patch would grow the document past a bound (named in the text).
    Bound(String),
}

/// Parses `text` as a patch document and applies it to a copy of `doc`.
#[cfg(test)]
pub fn apply_str(doc: &Value, text: &str) -> Result<Value, PatchError> {
    apply_str_bounded(
        doc,
        text,
        &mut crate::bounds::JSONP_MAX_COPIED_BYTES.to_owned(),
    )
}

/// As [`apply_str`], with `copied_left` bytes left for `copy` operations
/// to add (charged as they run).
pub(crate) fn apply_str_bounded(
    doc: &Value,
    text: &str,
    copied_left: &mut u64,
) -> Result<Value, PatchError> {
    let patch: Value =
        serde_json::from_str(text).map_err(|e| PatchError::Json(py_json_error(text, &e)))?;
    apply_bounded(doc, &patch, copied_left)
}

/// The message Python's `json.loads` gives for the same mistake (the
/// common cases; others keep serde_json's wording), with Python's
/// `line L column C (char N)` position.
fn py_json_error(text: &str, e: &serde_json::Error) -> String {
    let msg = e.to_string();
    let what = msg.split(" at line ").next().unwrap_or(&msg);
    let py = match what {
        "key must be a string" => "Expecting property name enclosed in double quotes",
        "expected value" | "EOF while parsing a value" => "Expecting value",
        "expected `,` or `]`"
        | "expected `,` or `}`"
        | "EOF while parsing a list"
        | "EOF while parsing an object" => "Expecting ',' delimiter",
        "expected `:`" => "Expecting ':' delimiter",
        "trailing characters" => "Extra data",
        "trailing comma" => "Illegal trailing comma before end of array",
        other => other,
    };
    let (line, column) = (e.line(), e.column());
    let offset: usize = text
        .split('\n')
        .take(line.saturating_sub(1))
        .map(|l| l.chars().count() + 1)
        .sum::<usize>()
        + column.saturating_sub(1);
    format!("{py}: line {line} column {column} (char {offset})")
}

#[cfg(test)]
pub fn apply(doc: &Value, patch: &Value) -> Result<Value, PatchError> {
    apply_bounded(
        doc,
        patch,
        &mut crate::bounds::JSONP_MAX_COPIED_BYTES.to_owned(),
    )
}

fn apply_bounded(doc: &Value, patch: &Value, copied_left: &mut u64) -> Result<Value, PatchError> {
    let ops = match patch {
        Value::Array(ops) => ops.as_slice(),
        Value::Object(m) if m.is_empty() => return Ok(doc.clone()),
        _ => {
            return Err(PatchError::Patch(
                "Document is expected to be sequence of operations".into(),
            ))
        }
    };
    for op in ops {
        if !op.is_object() {
            return Err(PatchError::Patch(format!(
                "Operation must be an object: {op}"
            )));
        }
    }
    let mut out = doc.clone();
    for op in ops {
        apply_op(&mut out, op, copied_left)?;
    }
    Ok(out)
}

fn perr(msg: impl Into<String>) -> PatchError {
    PatchError::Patch(msg.into())
}

fn field<'a>(op: &'a Value, name: &str) -> Result<&'a Value, PatchError> {
    op.get(name)
        .ok_or_else(|| perr(format!("The operation does not contain a '{name}' member")))
}

fn str_field<'a>(op: &'a Value, name: &str) -> Result<&'a str, PatchError> {
    field(op, name)?
        .as_str()
        .ok_or_else(|| perr(format!("The '{name}' member must be a string")))
}

fn apply_op(doc: &mut Value, op: &Value, copied_left: &mut u64) -> Result<(), PatchError> {
    let name = op
        .get("op")
        .ok_or_else(|| perr("Operation does not contain 'op' member"))?
        .as_str()
        .ok_or_else(|| perr("Operation's op must be a string"))?;
    let path = pointer(str_field(op, "path")?)?;
    match name {
        "add" => add(doc, &path, field(op, "value")?.clone()),
        "remove" => remove(doc, &path).map(|_| ()),
        "replace" => {
            let value = field(op, "value")?.clone();
            if path.is_empty() {
                *doc = value;
                return Ok(());
            }
            let target = get_mut(doc, &path)?;
            *target = value;
            Ok(())
        }
        "move" => {
            let from = pointer(str_field(op, "from")?)?;
            if from == path {
                return Ok(());
            }
            if path.len() > from.len() && path[..from.len()] == from[..] {
                return Err(perr("Cannot move values into their own children"));
            }
            let v = remove(doc, &from)?;
            add(doc, &path, v)
        }
        "copy" => {
            let from = pointer(str_field(op, "from")?)?;
            let src = get(doc, &from)?;
            // Sized before cloning, so a doubling patch stops at the bound
            // instead of after the allocation.
            let Some(size) = json_size(src, *copied_left) else {
                *copied_left = 0;
                return Err(PatchError::Bound(crate::bounds::exceeded(
                    "JSON patch copy operations: the copied data",
                    "JSONP_MAX_COPIED_BYTES",
                    crate::bounds::JSONP_MAX_COPIED_BYTES,
                )));
            };
            *copied_left -= size;
            let v = src.clone();
            add(doc, &path, v)
        }
        "test" => {
            let want = field(op, "value")?;
            let got = get(doc, &path)?;
            if got == want {
                Ok(())
            } else {
                Err(perr(format!(
                    "{got} ({}) is not equal to tested value {want}",
                    kind(got)
                )))
            }
        }
        other => Err(perr(format!("Unknown operation {other:?}"))),
    }
}

/// About the serialized JSON size of `v`; `None` once it passes `limit`
/// (so the walk costs at most `limit` steps).
fn json_size(v: &Value, limit: u64) -> Option<u64> {
    let mut total: u64 = 0;
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        let here = match v {
            Value::Null | Value::Bool(_) => 5,
            Value::Number(_) => 8,
            Value::String(s) => s.len() as u64 + 2,
            Value::Array(a) => {
                stack.extend(a.iter());
                2 + a.len() as u64
            }
            Value::Object(m) => {
                for (k, v) in m {
                    total = total.saturating_add(k.len() as u64 + 4);
                    stack.push(v);
                }
                2
            }
        };
        total = total.saturating_add(here);
        if total > limit {
            return None;
        }
    }
    Some(total)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

fn pointer(p: &str) -> Result<Vec<String>, PatchError> {
    if p.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = p.strip_prefix('/') else {
        return Err(perr(format!("Location must start with /: {p}")));
    };
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn index(token: &str, len: usize, allow_end: bool) -> Result<usize, PatchError> {
    let valid =
        token == "0" || (!token.starts_with('0') && token.bytes().all(|b| b.is_ascii_digit()));
    if !valid || token.is_empty() {
        return Err(perr(format!("'{token}' is not a valid sequence index")));
    }
    let i: usize = token
        .parse()
        .map_err(|_| perr(format!("'{token}' is not a valid sequence index")))?;
    if i > len || (!allow_end && i == len) {
        return Err(perr("index out of range"));
    }
    Ok(i)
}

fn get<'a>(doc: &'a Value, path: &[String]) -> Result<&'a Value, PatchError> {
    let mut cur = doc;
    for t in path {
        cur = match cur {
            Value::Object(m) => m
                .get(t)
                .ok_or_else(|| perr(format!("member '{t}' not found in {cur}")))?,
            Value::Array(a) => {
                let i = index(t, a.len(), false)?;
                a.get(i).ok_or_else(|| perr("index out of range"))?
            }
            _ => return Err(perr(format!("Document '{cur}' does not support indexing"))),
        };
    }
    Ok(cur)
}

fn get_mut<'a>(doc: &'a mut Value, path: &[String]) -> Result<&'a mut Value, PatchError> {
    let mut cur = doc;
    for t in path {
        cur = match cur {
            Value::Object(m) => m
                .get_mut(t)
                .ok_or_else(|| perr(format!("can't replace a non-existent object '{t}'")))?,
            Value::Array(a) => {
                let i = index(t, a.len(), false)?;
                a.get_mut(i).ok_or_else(|| perr("index out of range"))?
            }
            _ => return Err(perr("Document does not support indexing")),
        };
    }
    Ok(cur)
}

fn split_last(path: &[String]) -> Result<(&[String], &String), PatchError> {
    match path.split_last() {
        Some((last, parent)) => Ok((parent, last)),
        None => Err(perr("the root has no parent")),
    }
}

fn add(doc: &mut Value, path: &[String], value: Value) -> Result<(), PatchError> {
    if path.is_empty() {
        *doc = value;
        return Ok(());
    }
    let (parent, last) = split_last(path)?;
    match get_mut_any(doc, parent)? {
        Value::Object(m) => {
            m.insert(last.clone(), value);
            Ok(())
        }
        Value::Array(a) => {
            if last == "-" {
                a.push(value);
            } else {
                let i =
                    index(last, a.len(), true).map_err(|_| perr("can't insert outside of list"))?;
                a.insert(i, value);
            }
            Ok(())
        }
        _ => Err(perr("invalid document type")),
    }
}

fn remove(doc: &mut Value, path: &[String]) -> Result<Value, PatchError> {
    let (parent, last) = split_last(path)?;
    match get_mut_any(doc, parent)? {
        Value::Object(m) => m
            .shift_remove(last)
            .ok_or_else(|| perr(format!("can't remove a non-existent object '{last}'"))),
        Value::Array(a) => {
            let i = index(last, a.len(), false)?;
            Ok(a.remove(i))
        }
        _ => Err(perr("invalid document type")),
    }
}

fn get_mut_any<'a>(doc: &'a mut Value, path: &[String]) -> Result<&'a mut Value, PatchError> {
    let mut cur = doc;
    for t in path {
        cur = match cur {
            Value::Object(m) => m
                .get_mut(t)
                .ok_or_else(|| perr(format!("member '{t}' not found")))?,
            Value::Array(a) => {
                let i = index(t, a.len(), false)?;
                a.get_mut(i).ok_or_else(|| perr("index out of range"))?
            }
            _ => return Err(perr("Document does not support indexing")),
        };
    }
    Ok(cur)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc6902_operations() {
        let doc = json!({"a": [1, 2], "b": {"c": 1}});
        let patch = json!([
            {"op": "add", "path": "/a/-", "value": 3},
            {"op": "add", "path": "/a/0", "value": 0},
            {"op": "replace", "path": "/b/c", "value": 2},
            {"op": "copy", "from": "/b", "path": "/d"},
            {"op": "move", "from": "/d/c", "path": "/e"},
            {"op": "remove", "path": "/a/1"},
            {"op": "test", "path": "/e", "value": 2},
            {"op": "add", "path": "/x~1y", "value": true}
        ]);
        let got = apply(&doc, &patch).unwrap();
        assert_eq!(
            got,
            json!({"a": [0, 2, 3], "b": {"c": 2}, "d": {}, "e": 2, "x/y": true})
        );
    }

    #[test]
    fn failures_leave_the_document_untouched() {
        let doc = json!({"a": 1});
        assert_eq!(
            apply_str(&doc, "\n{not json"),
            Err(PatchError::Json(
                "Expecting property name enclosed in double quotes: line 2 column 2 (char 2)"
                    .into()
            ))
        );
        for bad in [
            json!([{"op": "remove", "path": "/nope"}]),
            json!([{"op": "replace", "path": "/nope", "value": 1}]),
            json!([{"op": "test", "path": "/a", "value": 2}]),
            json!([{"op": "add", "path": "/x/y", "value": 1}]),
            json!([{"op": "frob", "path": "/a"}]),
            json!([{"path": "/a"}]),
            json!(["add"]),
        ] {
            assert!(
                matches!(apply(&doc, &bad), Err(PatchError::Patch(_))),
                "{bad}"
            );
        }
    }
}

#[cfg(test)]
mod bound_tests {
    use super::*;
    use crate::bounds::JSONP_MAX_COPIED_BYTES;
    use serde_json::json;
    use std::time::{Duration, Instant};

    /// A blob, then `n` copies of the whole document into itself: the
    /// document doubles with every operation.
    fn doubling(blob: usize, n: usize) -> String {
        let mut ops = vec![json!({"op": "add", "path": "/blob", "value": "x".repeat(blob)})];
        for i in 0..n {
            ops.push(json!({"op": "copy", "from": "", "path": format!("/c{i}")}));
        }
        Value::Array(ops).to_string()
    }

    #[test]
    fn doubling_copies_stop_at_the_bound_quickly() {
        let t = Instant::now();
        let mut left = JSONP_MAX_COPIED_BYTES;
        let e = apply_str_bounded(&json!({}), &doubling(2000, 40), &mut left).unwrap_err();
        let PatchError::Bound(m) = e else {
            panic!("{e:?}")
        };
        assert!(m.contains("bound JSONP_MAX_COPIED_BYTES"), "{m}");
        assert_eq!(left, 0);
        assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    }

    #[test]
    fn copies_just_under_the_bound_pass_and_the_budget_is_shared() {
        // 1 MiB copied 15 times: about 15 MiB, under 16 MiB.
        let mut ops = vec![json!({"op": "add", "path": "/blob", "value": "x".repeat(1 << 20)})];
        for i in 0..15 {
            ops.push(json!({"op": "copy", "from": "/blob", "path": format!("/c{i}")}));
        }
        let text = Value::Array(ops).to_string();
        let mut left = JSONP_MAX_COPIED_BYTES;
        let doc = apply_str_bounded(&json!({}), &text, &mut left).unwrap();
        assert_eq!(doc.as_object().unwrap().len(), 16);
        assert!(left < (1 << 20), "{left}");
        // A second part of the same blob has less than 1 MiB left.
        assert!(matches!(
            apply_str_bounded(&json!({}), &text, &mut left),
            Err(PatchError::Bound(_))
        ));
    }
}

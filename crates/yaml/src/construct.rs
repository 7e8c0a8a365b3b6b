//! PyYAML SafeConstructor over the composed nodes, producing JSON values
//! and recording the position of every mapping key and sequence item.
//!
//! Mapping keys become strings the way Python's `json.dumps` converts dict
//! keys: `True`→`"true"`, `None`→`"null"`, `1`→`"1"`, `1.5`→`"1.5"`.
//! Timestamp and binary keys (a TypeError in json.dumps) use their string
//! form. Keys Python treats as equal (`1`, `1.0`, `true`) collapse into one
//! entry named after the first, as in a Python dict.

use crate::compose::{Kind, Node};
use crate::error::YamlError;
use crate::resolve::{resolve_plain, Implicit, TAG_PREFIX};
use crate::scalar;
use crate::Marks;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// A document expanding (through aliases) past this many values is
/// refused: each alias is copied into the JSON tree.
const MAX_VALUES: usize = 2_000_000;

pub(crate) struct Constructor<'m> {
    marks: Option<&'m mut Marks>,
    made: usize,
}

/// The tag a node ends up with after implicit resolution.
pub(crate) fn node_tag(node: &Node) -> String {
    match (&node.kind, node.tag.as_deref()) {
        (Kind::Scalar { value, plain }, tag) => match tag {
            None if *plain => resolve_plain(value).tag(),
            None => Implicit::Str.tag(),
            // PyYAML resolves a non-specific `!` scalar like a plain one.
            Some("!") => resolve_plain(value).tag(),
            Some(t) => t.to_string(),
        },
        (Kind::Seq(_), None | Some("!")) => format!("{TAG_PREFIX}seq"),
        (Kind::Map(_), None | Some("!")) => format!("{TAG_PREFIX}map"),
        (_, Some(t)) => t.to_string(),
    }
}

fn join(path: &str, part: &str) -> String {
    if path.is_empty() {
        part.to_string()
    } else {
        format!("{path}.{part}")
    }
}

/// A mapping pair after merge flattening; `key_as_str` marks a `=` key
/// PyYAML retags as a plain string.
pub(crate) type Pair<'n> = (&'n Node, &'n Node, bool);

impl<'m> Constructor<'m> {
    pub(crate) fn new(marks: Option<&'m mut Marks>) -> Self {
        Constructor { marks, made: 0 }
    }

    fn mark(&mut self, path: String, node: &Node) {
        if let Some(m) = self.marks.as_deref_mut() {
            m.insert(path, (node.start.line, node.start.col));
        }
    }

    pub(crate) fn construct(&mut self, node: &Node, path: &str) -> Result<Value, YamlError> {
        let tag = node_tag(node);
        self.construct_tagged(node, &tag, path)
    }

    fn construct_tagged(&mut self, node: &Node, tag: &str, path: &str) -> Result<Value, YamlError> {
        self.made += 1;
        if self.made > MAX_VALUES {
            return Err(YamlError::at(
                node.start,
                "document expands to too many values (alias expansion limit)",
            ));
        }
        let Some(short) = tag.strip_prefix(TAG_PREFIX) else {
            return Err(undefined(node, tag));
        };
        let bad = |msg: String| YamlError::at(node.start, msg);
        match short {
            "str" | "null" | "bool" | "int" | "float" | "timestamp" | "binary" => {
                construct_scalar(node, short)
            }
            "seq" => match &node.kind {
                Kind::Seq(items) => {
                    let mut out = Vec::with_capacity(items.len());
                    for (i, item) in items.iter().enumerate() {
                        let p = join(path, &i.to_string());
                        self.mark(p.clone(), item);
                        out.push(self.construct(item, &p)?);
                    }
                    Ok(Value::Array(out))
                }
                _ => Err(bad(format!(
                    "expected a sequence node, but found {}",
                    node.id()
                ))),
            },
            "map" => self.mapping(node, path).map(Value::Object),
            "set" => self.set(node, path),
            "omap" | "pairs" => self.pairs(node, short, path),
            _ => Err(undefined(node, tag)),
        }
    }

    /// PyYAML's `flatten_mapping`: `<<` values (a mapping, or a list of
    /// mappings where earlier ones win) go first, the node's own pairs after,
    /// so own keys override merged ones.
    fn flatten<'n>(&self, node: &'n Node) -> Result<Vec<Pair<'n>>, YamlError> {
        flatten(node)
    }

    fn key(
        &mut self,
        map_node: &Node,
        k: &Node,
        as_str: bool,
    ) -> Result<(Value, String, Option<String>), YamlError> {
        let key = if as_str {
            self.construct_tagged(k, &Implicit::Str.tag(), "")?
        } else {
            // Marks below a key are meaningless to callers; build it without.
            let saved = self.marks.take();
            let r = self.construct(k, "");
            self.marks = saved;
            r?
        };
        match json_key(&key) {
            Some((name, ident)) => Ok((key, name, ident)),
            None => Err(YamlError::at(k.start, "found unhashable key")
                .with_context("while constructing a mapping", map_node.start)),
        }
    }

    fn mapping(&mut self, node: &Node, path: &str) -> Result<Map<String, Value>, YamlError> {
        let pairs = self.flatten(node)?;
        let mut out = Map::new();
        let mut same: HashMap<String, String> = HashMap::new();
        for (k, v, as_str) in pairs {
            let (_, mut name, ident) = self.key(node, k, as_str)?;
            if let Some(id) = ident {
                name = same.entry(id).or_insert(name).clone();
            }
            let p = join(path, &name);
            self.mark(p.clone(), k);
            let value = self.construct(v, &p)?;
            out.insert(name, value);
        }
        Ok(out)
    }

    /// `!!set`: the keys, first occurrence order (Python prints a set in
    /// hash order, which JSON cannot follow).
    fn set(&mut self, node: &Node, path: &str) -> Result<Value, YamlError> {
        let pairs = self.flatten(node)?;
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut out: Vec<Value> = Vec::new();
        for (k, v, as_str) in pairs {
            let (key, name, ident) = self.key(node, k, as_str)?;
            let _ = self.construct(v, path)?;
            let id = ident.unwrap_or_else(|| format!("s:{name}"));
            if let std::collections::hash_map::Entry::Vacant(slot) = seen.entry(id) {
                slot.insert(out.len());
                self.mark(join(path, &out.len().to_string()), k);
                out.push(key);
            }
        }
        Ok(Value::Array(out))
    }

    /// `!!omap` / `!!pairs`: a list of `[key, value]` pairs (Python's list
    /// of tuples).
    fn pairs(&mut self, node: &Node, short: &str, path: &str) -> Result<Value, YamlError> {
        let ctx = if short == "omap" {
            "while constructing an ordered map"
        } else {
            "while constructing pairs"
        };
        let Kind::Seq(items) = &node.kind else {
            return Err(YamlError::at(
                node.start,
                format!("expected a sequence, but found {}", node.id()),
            )
            .with_context(ctx, node.start));
        };
        let mut out = Vec::new();
        for (i, sub) in items.iter().enumerate() {
            let Kind::Map(kv) = &sub.kind else {
                return Err(YamlError::at(
                    sub.start,
                    format!("expected a mapping of length 1, but found {}", sub.id()),
                )
                .with_context(ctx, node.start));
            };
            let [(k, v)] = kv.as_slice() else {
                return Err(YamlError::at(
                    sub.start,
                    format!(
                        "expected a single mapping item, but found {} items",
                        kv.len()
                    ),
                )
                .with_context(ctx, node.start));
            };
            let p = join(path, &i.to_string());
            self.mark(p.clone(), sub);
            let key = self.construct(k, &join(&p, "0"))?;
            let value = self.construct(v, &join(&p, "1"))?;
            out.push(Value::Array(vec![key, value]));
        }
        Ok(Value::Array(out))
    }
}

fn scalar_text(node: &Node) -> Result<&str, YamlError> {
    match &node.kind {
        Kind::Scalar { value, .. } => Ok(value),
        _ => Err(YamlError::at(
            node.start,
            format!("expected a scalar node, but found {}", node.id()),
        )),
    }
}

/// The scalar constructors (`short` is the tag after `tag:yaml.org,2002:`).
pub(crate) fn construct_scalar(node: &Node, short: &str) -> Result<Value, YamlError> {
    let bad = |msg: String| YamlError::at(node.start, msg);
    let text = scalar_text(node)?;
    match short {
        "str" => Ok(Value::String(text.to_string())),
        "null" => Ok(Value::Null),
        "bool" => scalar::construct_bool(text).map_err(bad),
        "int" => scalar::construct_int(text).map_err(bad),
        "float" => scalar::construct_float(text).map_err(bad),
        "timestamp" => scalar::construct_timestamp(text)
            .map(Value::String)
            .map_err(bad),
        _ => {
            let bytes = scalar::decode_base64(text)
                .map_err(|e| bad(format!("failed to decode base64 data: {e}")))?;
            Ok(Value::String(match String::from_utf8(bytes) {
                Ok(s) => s,
                Err(e) => scalar::encode_base64(e.as_bytes()),
            }))
        }
    }
}

pub(crate) fn undefined(node: &Node, tag: &str) -> YamlError {
    YamlError::at(
        node.start,
        format!("could not determine a constructor for the tag '{tag}'"),
    )
}

/// The JSON key for a constructed key, plus an identity for keys Python
/// compares equal across types (`1 == 1.0 == True`). `None` when unhashable.
fn json_key(v: &Value) -> Option<(String, Option<String>)> {
    match v {
        Value::String(s) => Some((s.clone(), None)),
        Value::Null => Some(("null".into(), None)),
        Value::Bool(b) => Some((b.to_string(), Some(format!("n:{}", u8::from(*b))))),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Some((i.to_string(), Some(format!("n:{i}"))))
            } else if let Some(u) = n.as_u64() {
                Some((u.to_string(), Some(format!("n:{u}"))))
            } else {
                let f = n.as_f64().unwrap_or(0.0);
                let ident = if f.fract() == 0.0 && f.abs() < 1e18 {
                    format!("n:{}", f as i64)
                } else {
                    format!("f:{}", f.to_bits())
                };
                Some((ci_pyval::float_repr(f), Some(ident)))
            }
        }
        Value::Array(_) | Value::Object(_) => None,
    }
}

/// PyYAML's `flatten_mapping` (see `Constructor::flatten`).
pub(crate) fn flatten<'n>(node: &'n Node) -> Result<Vec<Pair<'n>>, YamlError> {
    let Kind::Map(pairs) = &node.kind else {
        return Err(YamlError::at(
            node.start,
            format!("expected a mapping node, but found {}", node.id()),
        ));
    };
    let mut merge: Vec<Pair<'n>> = Vec::new();
    let mut own: Vec<Pair<'n>> = Vec::new();
    for (k, v) in pairs {
        let ktag = node_tag(k);
        if ktag == Implicit::Merge.tag() {
            match &v.kind {
                Kind::Map(_) => merge.extend(flatten(v)?),
                Kind::Seq(subs) => {
                    let mut sub_lists = Vec::new();
                    for sub in subs {
                        if !matches!(sub.kind, Kind::Map(_)) {
                            return Err(YamlError::at(
                                sub.start,
                                format!("expected a mapping for merging, but found {}", sub.id()),
                            )
                            .with_context("while constructing a mapping", node.start));
                        }
                        sub_lists.push(flatten(sub)?);
                    }
                    for list in sub_lists.into_iter().rev() {
                        merge.extend(list);
                    }
                }
                Kind::Scalar { .. } => {
                    return Err(YamlError::at(
                        v.start,
                        format!(
                            "expected a mapping or list of mappings for merging, but found {}",
                            v.id()
                        ),
                    )
                    .with_context("while constructing a mapping", node.start));
                }
            }
        } else {
            own.push((k, v, ktag == Implicit::Value.tag()));
        }
    }
    merge.extend(own);
    Ok(merge)
}

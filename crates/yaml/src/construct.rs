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

/// Bounds on what a document may expand to: PyYAML shares an aliased
/// node, but each alias is copied into the JSON tree, so a small document
/// of nested aliases ("billion laughs") or of aliases to one long string
/// would otherwise take unbounded time and memory.
/// Values (and merged pairs) built beyond the document's length: a value
/// takes at least one character of text unless it comes through an alias.
pub(crate) const MAX_EXPANDED_VALUES: usize = 1_000_000;
/// Scalar text (keys and values, plus mark paths when asked for) built
/// beyond the document's own length.
pub(crate) const MAX_EXPANDED_TEXT_BYTES: usize = 32 << 20;

pub(crate) struct Constructor<'m> {
    marks: Option<&'m mut Marks>,
    made: usize,
    /// Bytes of scalar text and mark paths built so far.
    bytes: usize,
    /// `bytes` may reach this: the source length plus the bound.
    byte_budget: usize,
    /// Pairs merge flattening may still produce (see [`flatten`]).
    merge_budget: usize,
    /// `made` may reach this: the source length plus the bound.
    value_budget: usize,
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
        Constructor {
            marks,
            made: 0,
            bytes: 0,
            byte_budget: MAX_EXPANDED_TEXT_BYTES,
            merge_budget: MAX_EXPANDED_VALUES,
            value_budget: MAX_EXPANDED_VALUES,
        }
    }

    /// Allows for `len` bytes of source text besides the expansion bound.
    pub(crate) fn source_len(mut self, len: usize) -> Self {
        self.byte_budget = MAX_EXPANDED_TEXT_BYTES.saturating_add(len);
        self.value_budget = MAX_EXPANDED_VALUES.saturating_add(len);
        self.merge_budget = self.value_budget;
        self
    }

    fn spend(&mut self, node: &Node, bytes: usize) -> Result<(), YamlError> {
        self.bytes = self.bytes.saturating_add(bytes);
        if self.bytes > self.byte_budget {
            return Err(YamlError::at(
                node.start,
                format!(
                    "document expands to too much text through aliases (YAML alias expansion bound: {MAX_EXPANDED_TEXT_BYTES} bytes beyond the document's size)"
                ),
            ));
        }
        Ok(())
    }

    /// A child's dotted path; only marks use paths, so none is built
    /// without them (an alias under long keys would repeat them all).
    fn join(&self, path: &str, part: &str) -> String {
        if self.marks.is_none() {
            return String::new();
        }
        join(path, part)
    }

    fn mark(&mut self, path: String, node: &Node) -> Result<(), YamlError> {
        if self.marks.is_some() {
            self.spend(node, path.len())?;
        }
        if let Some(m) = self.marks.as_deref_mut() {
            m.insert(path, (node.start.line, node.start.col));
        }
        Ok(())
    }

    pub(crate) fn construct(&mut self, node: &Node, path: &str) -> Result<Value, YamlError> {
        let tag = node_tag(node);
        self.construct_tagged(node, &tag, path)
    }

    fn construct_tagged(&mut self, node: &Node, tag: &str, path: &str) -> Result<Value, YamlError> {
        self.made += 1;
        if self.made > self.value_budget {
            return Err(YamlError::at(
                node.start,
                format!("document expands to too many values through aliases (YAML alias expansion bound: {MAX_EXPANDED_VALUES} values beyond the document's size)"),
            ));
        }
        let Some(short) = tag.strip_prefix(TAG_PREFIX) else {
            return Err(undefined(node, tag));
        };
        let bad = |msg: String| YamlError::at(node.start, msg);
        match short {
            "str" | "null" | "bool" | "int" | "float" | "timestamp" | "binary" => {
                self.spend(node, scalar_text(node).map_or(0, str::len))?;
                construct_scalar(node, short)
            }
            "seq" => match &node.kind {
                Kind::Seq(items) => {
                    let mut out = Vec::with_capacity(items.len());
                    for (i, item) in items.iter().enumerate() {
                        let p = self.join(path, &i.to_string());
                        self.mark(p.clone(), item)?;
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
    fn flatten<'n>(&mut self, node: &'n Node) -> Result<Vec<Pair<'n>>, YamlError> {
        flatten(node, &mut self.merge_budget)
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
            let p = self.join(path, &name);
            self.mark(p.clone(), k)?;
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
                self.mark(self.join(path, &out.len().to_string()), k)?;
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
            let p = self.join(path, &i.to_string());
            self.mark(p.clone(), sub)?;
            let key = self.construct(k, &self.join(&p, "0"))?;
            let value = self.construct(v, &self.join(&p, "1"))?;
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
            if let Some(e) = scalar::ascii_error(text) {
                return Err(bad(e));
            }
            let bytes = scalar::decode_base64(text)
                .map_err(|e| bad(format!("failed to decode base64 data: {e}")))?;
            Ok(crate::binary::encode(&bytes))
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
        // Keys stay text: bytes as their UTF-8 text, else their base64.
        Value::String(s) => match crate::binary::decode_str(s) {
            Some(b) => Some((
                String::from_utf8(b).unwrap_or_else(|e| scalar::encode_base64(e.as_bytes())),
                None,
            )),
            None => Some((s.clone(), None)),
        },
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

/// PyYAML's `flatten_mapping` (see `Constructor::flatten`). Merges of
/// merges through aliases multiply, so every pair made is taken from
/// `budget` (shared by one load), and running out is an error.
fn take_budget(node: &Node, budget: &mut usize, n: usize) -> Result<(), YamlError> {
    match budget.checked_sub(n) {
        Some(left) => {
            *budget = left;
            Ok(())
        }
        None => Err(YamlError::at(
            node.start,
            format!("document expands to too many values through aliases (YAML alias expansion bound: {MAX_EXPANDED_VALUES} merged pairs beyond the document's size)"),
        )),
    }
}

pub(crate) fn flatten<'n>(node: &'n Node, budget: &mut usize) -> Result<Vec<Pair<'n>>, YamlError> {
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
                Kind::Map(_) => {
                    let sub = flatten(v, budget)?;
                    take_budget(v, budget, sub.len())?;
                    merge.extend(sub);
                }
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
                        let list = flatten(sub, budget)?;
                        take_budget(sub, budget, list.len())?;
                        sub_lists.push(list);
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

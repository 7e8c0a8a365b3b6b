//! Which construction error PyYAML reports first. SafeConstructor builds
//! scalars on the spot but collections through generators that run later,
//! batch after batch (breadth-first), so with several bad nodes the one it
//! reports is not simply the first in the text. This walk visits nodes in
//! that order and returns the first error; the real construction follows.

use crate::compose::{Kind, Node};
use crate::construct::{construct_scalar, flatten, node_tag, undefined};
use crate::error::YamlError;
use crate::resolve::TAG_PREFIX;
use std::collections::HashSet;
use std::rc::Rc;

const COLLECTIONS: [&str; 5] = ["seq", "map", "set", "omap", "pairs"];

struct Walk<'n> {
    seen: HashSet<*const Node>,
    next: Vec<&'n Node>,
    merge_budget: usize,
}

/// `source_len` widens the merge bound as for the constructor.
pub(crate) fn first_construct_error(root: &Rc<Node>, source_len: usize) -> Option<YamlError> {
    let mut w = Walk {
        seen: HashSet::new(),
        next: Vec::new(),
        merge_budget: crate::construct::MAX_EXPANDED_VALUES.saturating_add(source_len),
    };
    if let Err(e) = w.object(root) {
        return Some(e);
    }
    while !w.next.is_empty() {
        let batch = std::mem::take(&mut w.next);
        for node in batch {
            if let Err(e) = w.generator(node) {
                return Some(e);
            }
        }
    }
    None
}

fn short(node: &Node) -> Result<String, YamlError> {
    let tag = node_tag(node);
    match tag.strip_prefix(TAG_PREFIX) {
        Some(s) => Ok(s.to_string()),
        None => Err(undefined(node, &tag)),
    }
}

impl<'n> Walk<'n> {
    /// `construct_object`: scalars now, collections deferred.
    fn object(&mut self, node: &'n Node) -> Result<(), YamlError> {
        if !self.seen.insert(node as *const Node) {
            return Ok(());
        }
        let s = short(node)?;
        if COLLECTIONS.contains(&s.as_str()) {
            self.next.push(node);
            return Ok(());
        }
        match s.as_str() {
            "str" | "null" | "bool" | "int" | "float" | "timestamp" | "binary" => {
                construct_scalar(node, &s).map(|_| ())
            }
            _ => Err(undefined(node, &node_tag(node))),
        }
    }

    fn generator(&mut self, node: &'n Node) -> Result<(), YamlError> {
        let s = short(node)?;
        match (s.as_str(), &node.kind) {
            ("seq", Kind::Seq(items)) => items.iter().try_for_each(|i| self.object(i)),
            ("seq", _) => Err(YamlError::at(
                node.start,
                format!("expected a sequence node, but found {}", node.id()),
            )),
            ("map" | "set", _) => {
                for (k, v, key_as_str) in flatten(node, &mut self.merge_budget)? {
                    if key_as_str {
                        // PyYAML retags a `=` key as a string.
                        self.seen.insert(k as *const Node);
                        self.object(v)?;
                        continue;
                    }
                    self.object(k)?;
                    let key_is_collection = matches!(k.kind, Kind::Seq(_) | Kind::Map(_))
                        && short(k).is_ok_and(|t| COLLECTIONS.contains(&t.as_str()));
                    if key_is_collection {
                        return Err(YamlError::at(k.start, "found unhashable key")
                            .with_context("while constructing a mapping", node.start));
                    }
                    self.object(v)?;
                }
                Ok(())
            }
            (_, Kind::Seq(items)) => {
                // omap / pairs: the shape is checked by the real constructor,
                // in this same order.
                for sub in items {
                    if let Kind::Map(kv) = &sub.kind {
                        if let [(k, v)] = kv.as_slice() {
                            self.object(k)?;
                            self.object(v)?;
                        }
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

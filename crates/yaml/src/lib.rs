//! YAML 1.1 as PyYAML's SafeLoader reads it, into JSON-like values.
//!
//! API contract (other crates rely on it):
//! - [`load`] parses one document into a `serde_json::Value` (empty → `Null`).
//! - [`load_with_marks`] also returns the line/column (1-based) of every
//!   mapping key and sequence item, keyed by dotted path (`users.0.name`).
//! - [`dump`] writes a value as PyYAML `safe_dump(default_flow_style=False)`;
//!   [`dumps`] as cloud-init's `safeyaml.dumps` (indent 4, `---`/`...`).
//! - Errors carry 1-based line and column and PyYAML's problem text, plus
//!   its context and context mark ([`YamlError::reported_mark`] is the mark
//!   upstream prints, [`YamlError::pyyaml_text`] the full `str(e)`).
//!
//! yaml-rust2's event parser does the syntax. Where its YAML 1.2 rules
//! differ from PyYAML's scanner, this crate adds PyYAML's checks (tabs
//! outside scalars and comments, anchor names, block scalar headers, `:`
//! without a key, `...` opening a stream) and patches over whitespace-only
//! strictness (see `repair`). Tag resolution and construction follow PyYAML
//! 6 SafeLoader, including its construction order for error reporting.
//!
//! Where JSON cannot represent what Python builds: NaN/±inf →
//! `"NaN"`/`"Infinity"`/`"-Infinity"`; timestamps → Python's `str()` of the
//! date/datetime; `!!binary` → UTF-8 text (else canonical base64); `!!set` →
//! list of members; `!!omap`/`!!pairs` → list of `[key, value]`; non-string
//! keys → json.dumps key text (`true`, `null`, `1`, `1.5`); integers beyond
//! i64/u64 → f64.

mod compose;
mod construct;
mod emit;
mod error;
mod flowcheck;
mod order;
mod repair;
mod resolve;
mod scalar;
mod scan_errors;
mod tabs;
mod text;

pub use emit::{dump, dump_with, dumps, DumpOptions};
pub use error::YamlError;
pub use serde_json::Value;
use std::collections::BTreeMap;

/// Dotted path (`users.0.name`) → (line, column), both 1-based.
pub type Marks = BTreeMap<String, (usize, usize)>;

/// One document, like `yaml.safe_load`: an empty stream is `Null`, and a
/// second document is an error ("expected a single document in the stream").
pub fn load(text: &str) -> Result<Value, YamlError> {
    load_inner(text, None)
}

/// [`load`], plus the position of every mapping key and sequence item.
pub fn load_with_marks(text: &str) -> Result<(Value, Marks), YamlError> {
    let mut marks = Marks::new();
    let v = load_inner(text, Some(&mut marks))?;
    Ok((v, marks))
}

/// PyYAML's reader drops a byte order mark at the start of the stream.
fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

fn load_inner(text: &str, marks: Option<&mut Marks>) -> Result<Value, YamlError> {
    let (roots, inserts) = compose_stream(strip_bom(text), true)?;
    let Some(root) = roots.first() else {
        return Ok(Value::Null);
    };
    if let Some(e) = order::first_construct_error(root) {
        return Err(unpatch_error(e, &inserts));
    }
    let mut local = Marks::new();
    let want_marks = marks.is_some();
    let value = construct::Constructor::new(want_marks.then_some(&mut local))
        .construct(root, "")
        .map_err(|e| unpatch_error(e, &inserts))?;
    if let Some(out) = marks {
        for (path, (line, col)) in local {
            let p = repair::to_original(&inserts, error::Pos { line, col });
            out.insert(path, (p.line, p.col));
        }
    }
    Ok(value)
}

fn unpatch_error(mut e: YamlError, inserts: &[repair::Insert]) -> YamlError {
    if inserts.is_empty() {
        return e;
    }
    let p = repair::to_original(
        inserts,
        error::Pos {
            line: e.line,
            col: e.column,
        },
    );
    (e.line, e.column) = (p.line, p.col);
    if let Some((line, col)) = e.context_mark {
        let c = repair::to_original(inserts, error::Pos { line, col });
        e.context_mark = Some((c.line, c.col));
    }
    e
}

type Roots = Vec<std::rc::Rc<compose::Node>>;

/// Composes the first document (`single`, checking that no other
/// follows) or all of them, patching whitespace yaml-rust2 is stricter
/// about than PyYAML (see `repair`). Node positions are in the patched
/// text; the inserts map them back.
fn compose_stream(text: &str, single: bool) -> Result<(Roots, Vec<repair::Insert>), YamlError> {
    let mut current = std::borrow::Cow::Borrowed(text);
    let mut inserts = Vec::new();
    for attempt in 0..=repair::MAX_REPAIRS {
        let mut composer = compose::Composer::new(&current);
        let composed = if single {
            compose_single(&mut composer).map(|r| r.into_iter().collect())
        } else {
            compose_all(&mut composer)
        };
        let Err(e) = composed else {
            if let Some(t) = composer.first_error(None) {
                return Err(unpatch_error(t, &inserts));
            }
            return composed.map(|r| (r, inserts));
        };
        // A repair is tried even when the early (tab) error comes first:
        // that check cannot see quoted scalars yaml-rust2 failed to scan,
        // and it runs again on the patched text.
        let first = composer
            .first_error(Some(e.clone()))
            .unwrap_or_else(|| e.clone());
        if attempt < repair::MAX_REPAIRS {
            let patched = composer
                .raw_error()
                .and_then(|(info, pos)| repair::repair(&current, info, *pos));
            if let Some((t, ins)) = patched {
                current = std::borrow::Cow::Owned(t);
                inserts.extend(ins);
                continue;
            }
        }
        let first = unpatch_error(first, &inserts);
        // PyYAML stops earlier on a `:` that cannot follow in flow context.
        if let Some(flow) = flowcheck::first_flow_error(text) {
            if (flow.line, flow.column) < (first.line, first.column) {
                return Err(flow);
            }
        }
        return Err(first);
    }
    Err(YamlError::at(
        error::Pos { line: 1, col: 1 },
        "too many repairs",
    ))
}

fn compose_all(composer: &mut compose::Composer) -> Result<Roots, YamlError> {
    let mut roots = Vec::new();
    while let Some((root, _)) = composer.next_document()? {
        roots.push(root);
    }
    Ok(roots)
}

fn compose_single(
    composer: &mut compose::Composer,
) -> Result<Option<std::rc::Rc<compose::Node>>, YamlError> {
    let Some((root, _)) = composer.next_document()? else {
        return Ok(None);
    };
    if let Some(next) = composer.peek_document_start()? {
        return Err(YamlError::at(next, "but found another document")
            .with_context("expected a single document in the stream", root.start));
    }
    Ok(Some(root))
}

/// Every document of a stream, like `yaml.safe_load_all`.
pub fn load_all(text: &str) -> Result<Vec<Value>, YamlError> {
    let (roots, inserts) = compose_stream(strip_bom(text), false)?;
    let mut out = Vec::with_capacity(roots.len());
    for root in &roots {
        if let Some(e) = order::first_construct_error(root) {
            return Err(unpatch_error(e, &inserts));
        }
        out.push(
            construct::Constructor::new(None)
                .construct(root, "")
                .map_err(|e| unpatch_error(e, &inserts))?,
        );
    }
    Ok(out)
}

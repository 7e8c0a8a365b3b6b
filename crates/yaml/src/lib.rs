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
//! - [`binary`]: the bytes `!!binary` loads to, inside JSON values.
//!   A character PyYAML's reader refuses (C0 controls but TAB/LF/CR, DEL,
//!   C1 controls but NEL, U+FFFE/U+FFFF) is an error wherever it is, with
//!   PyYAML's `position` and no mark ([`YamlError::mark`] is `None`).
//! - Alias expansion is bounded (values, merged pairs and text built beyond
//!   the document's own size); a document over a bound is an error whose
//!   message names it ("YAML alias expansion bound: ...").
//!
//! yaml-rust2's event parser does the syntax. Where its YAML 1.2 rules
//! differ from PyYAML's scanner, this crate adds PyYAML's checks (tabs
//! outside scalars and comments, anchor names, block scalar headers, `:`
//! without a key, `...` opening a stream) and patches over whitespace-only
//! strictness (see `repair`; all at once where `predict` finds them, so
//! the work stays linear in the document's size). Tag resolution and
//! construction follow PyYAML 6 SafeLoader, including its construction
//! order for error reporting.
//!
//! Where JSON cannot represent what Python builds: NaN/±inf →
//! `"NaN"`/`"Infinity"`/`"-Infinity"`; timestamps → Python's `str()` of the
//! date/datetime; `!!binary` → bytes as [`binary`] carries them (a string
//! of U+FDD0, a tag and canonical base64: use [`binary::decode`],
//! [`binary::py_repr`], [`binary::to_ci_b64`], never the text; [`dump`]
//! writes them back as `!!binary`); `!!set` →
//! list of members; `!!omap`/`!!pairs` → list of `[key, value]`; non-string
//! keys → json.dumps key text (`true`, `null`, `1`, `1.5`); integers beyond
//! i64/u64 → f64.

pub mod binary;
mod compose;
mod construct;
mod emit;
mod error;
mod flowcheck;
mod order;
mod predict;
mod reader;
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
    reader::check_printable(text)?;
    let (roots, inserts) = compose_stream(strip_bom(text), true)?;
    let Some(root) = roots.first() else {
        return Ok(Value::Null);
    };
    if let Some(e) = order::first_construct_error(root, text.len()) {
        return Err(unpatch_error(e, &inserts));
    }
    let mut local = Marks::new();
    let want_marks = marks.is_some();
    let value = construct::Constructor::new(want_marks.then_some(&mut local))
        .source_len(text.len())
        .construct(root, "")
        .map_err(|e| unpatch_error(e, &inserts))?;
    if let Some(out) = marks {
        for (path, (line, col)) in local {
            let p = inserts.to_original(error::Pos { line, col });
            out.insert(path, (p.line, p.col));
        }
    }
    Ok(value)
}

fn unpatch_error(mut e: YamlError, inserts: &repair::Inserts) -> YamlError {
    if inserts.is_empty() {
        return e;
    }
    let p = inserts.to_original(error::Pos {
        line: e.line,
        col: e.column,
    });
    (e.line, e.column) = (p.line, p.col);
    if let Some((line, col)) = e.context_mark {
        let c = inserts.to_original(error::Pos { line, col });
        e.context_mark = Some((c.line, c.col));
    }
    e
}

type Roots = Vec<std::rc::Rc<compose::Node>>;

/// One parse of `text`: the documents, or PyYAML's first error (in
/// `text`'s positions) and the patch `repair` offers for it, if any.
enum Attempt {
    Done(Roots),
    Failed {
        error: YamlError,
        patch: Option<repair::Repaired>,
        /// Whether the parse itself failed (a `:` PyYAML refuses in flow
        /// context may then come first); not when only PyYAML's extra
        /// checks did.
        parse_failed: bool,
        /// The flow collections open where yaml-rust2 stopped.
        open_flows: usize,
    },
}

#[cfg(test)]
thread_local! {
    /// Parses made, for the tests that repairs stay linear.
    static PARSES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn compose(text: &str, single: bool) -> (compose::Composer<'_>, Result<Roots, YamlError>) {
    #[cfg(test)]
    PARSES.with(|p| p.set(p.get() + 1));
    let mut composer = compose::Composer::new(text);
    let composed = if single {
        compose_single(&mut composer).map(|r| r.into_iter().collect())
    } else {
        compose_all(&mut composer)
    };
    (composer, composed)
}

fn attempt(text: &str, single: bool) -> Attempt {
    match compose(text, single) {
        (composer, Ok(roots)) => match composer.first_error(None) {
            Some(t) => Attempt::Failed {
                error: t,
                patch: None,
                parse_failed: false,
                open_flows: 0,
            },
            None => Attempt::Done(roots),
        },
        (composer, Err(e)) => {
            // A repair is tried even when the early (tab) error comes
            // first: that check cannot see quoted scalars yaml-rust2 failed
            // to scan, and it runs again on the patched text.
            let first = composer
                .first_error(Some(e.clone()))
                .unwrap_or_else(|| e.clone());
            let patch = composer
                .raw_error()
                .and_then(|(info, pos)| repair::repair(text, info, *pos))
                .filter(|(t, ins, _)| !ins.is_empty() || t != text);
            Attempt::Failed {
                error: first,
                patch,
                parse_failed: true,
                open_flows: composer.open_flows(),
            }
        }
    }
}

/// A parse of a text with predicted patches.
enum Predicted {
    /// Parsed, every patch confirmed.
    Done(Roots),
    /// The document's own error (no repair addresses it, and the patches
    /// before it hold), and whether the parse itself failed.
    Final(YamlError, bool),
    /// The patches before this char index hold; from there on, repair
    /// error by error.
    Partial(usize),
}

fn attempt_predicted(text: &str, single: bool, checks: &[repair::Check]) -> Predicted {
    let (composer, composed) = compose(text, single);
    match composed {
        Ok(roots) => match (
            composer.first_unconfirmed(checks, usize::MAX),
            composer.first_error(None),
        ) {
            (Some(k), _) => Predicted::Partial(k),
            (None, Some(t)) => Predicted::Final(t, false),
            (None, None) => Predicted::Done(roots),
        },
        Err(e) => {
            let stop = composer
                .raw_error()
                .map_or(0, |(_, pos)| composer.index_of(*pos));
            if let Some(k) = composer.first_unconfirmed(checks, stop) {
                return Predicted::Partial(k);
            }
            let repairable = composer
                .raw_error()
                .and_then(|(info, pos)| repair::repair(text, info, *pos))
                .is_some();
            if repairable {
                return Predicted::Partial(stop);
            }
            let first = composer.first_error(Some(e.clone())).unwrap_or(e);
            Predicted::Final(first, true)
        }
    }
}

/// Composes the first document (`single`, checking that no other
/// follows) or all of them, patching whitespace yaml-rust2 is stricter
/// about than PyYAML (see `repair`). Node positions are in the patched
/// text; the inserts map them back.
///
/// A document that needs a repair is patched everywhere `predict`
/// expects one and parsed again. Where yaml-rust2 does not confirm a
/// predicted patch (or still fails), the patches before that place are
/// kept, the next error is repaired on its own, and prediction resumes
/// from there; so the parses made grow with the wrong predictions, not
/// with the repairs.
fn compose_stream(text: &str, single: bool) -> Result<(Roots, repair::Inserts), YamlError> {
    let none = repair::Inserts::default();
    match attempt(text, single) {
        Attempt::Done(roots) => return Ok((roots, none)),
        Attempt::Failed {
            error,
            patch: None,
            parse_failed,
            ..
        } => return Err(final_error(text, error, &none, parse_failed)),
        Attempt::Failed { patch: Some(_), .. } => {}
    }
    let mut current = text.to_string();
    let mut inserts = repair::Inserts::default();
    // Where prediction starts, and the flow collections open there.
    let (mut from, mut flows) = (0, 0);
    // Every round makes one repair at least; this only guards against a
    // repair that failed to move on.
    for _ in 0..4 * text.len() + 8 {
        let chars: Vec<char> = current.chars().collect();
        let plan = predict::plan(&chars, from, flows);
        if let Some((patched, ins, checks)) = repair::apply_plan(&current, &plan) {
            let mut with = repair::Inserts::default();
            with.extend(ins.clone());
            match attempt_predicted(&patched, single, &checks) {
                Predicted::Done(roots) => {
                    inserts.extend(ins);
                    return Ok((roots, inserts));
                }
                Predicted::Final(e, parse_failed) => {
                    inserts.extend(ins);
                    return Err(final_error(text, e, &inserts, parse_failed));
                }
                Predicted::Partial(k) => {
                    let p = with.to_original(text::Text::new(&patched).pos(k));
                    let limit = text::Text::new(&current).idx(p);
                    if let Some((t, ins, _)) = repair::apply_plan(&current, &plan.before(limit)) {
                        current = t;
                        inserts.extend(ins);
                    }
                }
            }
        }
        match attempt(&current, single) {
            Attempt::Done(roots) => return Ok((roots, inserts)),
            Attempt::Failed {
                patch: Some((t, ins, resume)),
                open_flows,
                ..
            } => {
                // Prediction resumes at the token the repair was about,
                // knowing the flow collections open around it.
                from = resume;
                flows = open_flows;
                current = t;
                inserts.extend(ins);
            }
            Attempt::Failed {
                error,
                patch: None,
                parse_failed,
                ..
            } => return Err(final_error(text, error, &inserts, parse_failed)),
        }
    }
    Err(final_error(
        text,
        YamlError::at(
            error::Pos { line: 1, col: 1 },
            "the document could not be repaired",
        ),
        &inserts,
        false,
    ))
}

/// Repairs one yaml-rust2 error per parse until none is left or one
/// cannot be repaired (what `compose_stream` does when no prediction
/// holds; kept to check the predictions against).
#[cfg(test)]
fn repair_each(text: &str, single: bool) -> Result<(Roots, repair::Inserts), YamlError> {
    let mut current = std::borrow::Cow::Borrowed(text);
    let mut inserts = repair::Inserts::default();
    loop {
        match attempt(&current, single) {
            Attempt::Done(roots) => return Ok((roots, inserts)),
            Attempt::Failed {
                patch: Some((t, ins, _)),
                ..
            } => {
                current = std::borrow::Cow::Owned(t);
                inserts.extend(ins);
            }
            Attempt::Failed {
                error,
                patch: None,
                parse_failed,
                ..
            } => return Err(final_error(text, error, &inserts, parse_failed)),
        }
    }
}

/// The error to report, in the caller's positions.
fn final_error(
    text: &str,
    error: YamlError,
    inserts: &repair::Inserts,
    parse_failed: bool,
) -> YamlError {
    let first = unpatch_error(error, inserts);
    if !parse_failed {
        return first;
    }
    // PyYAML stops earlier on a `:` that cannot follow in flow context.
    if let Some(flow) = flowcheck::first_flow_error(text) {
        if (flow.line, flow.column) < (first.line, first.column) {
            return flow;
        }
    }
    first
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
    reader::check_printable(text)?;
    let (roots, inserts) = compose_stream(strip_bom(text), false)?;
    let mut out = Vec::with_capacity(roots.len());
    for root in &roots {
        if let Some(e) = order::first_construct_error(root, text.len()) {
            return Err(unpatch_error(e, &inserts));
        }
        out.push(
            construct::Constructor::new(None)
                .source_len(text.len())
                .construct(root, "")
                .map_err(|e| unpatch_error(e, &inserts))?,
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parses(text: &str) -> (usize, Result<Value, YamlError>) {
        PARSES.with(|p| p.set(0));
        let r = load(text);
        (PARSES.with(std::cell::Cell::get), r)
    }

    /// However many places need a repair, a document is parsed at most
    /// three times (as is, patched, and once more when the patched parse
    /// ends in the document's own error).
    #[test]
    fn repairs_take_a_fixed_number_of_parses() {
        let n = 3000;
        type Shape = (&'static str, fn(usize) -> String);
        let shapes: [Shape; 6] = [
            ("quoted", |i| format!("  k{i}: \"a\nb\"\n")),
            ("single quoted tab", |i| format!("  k{i}: 'a\n\tb'\n")),
            ("flow", |i| format!("  k{i}: [a,\nb]\n")),
            ("flow map", |i| format!("  k{i}: {{x: 1,\ny: 2}}\n")),
            ("tight comment", |i| format!("  k{i}: [a]#c\n")),
            ("seq item", |i| format!("  - \"a{i}\nb\"\n")),
        ];
        for (what, line) in shapes {
            let body: String = (0..n).map(line).collect();
            let text = format!("top:\n{body}");
            let (count, r) = parses(&text);
            let v = r.unwrap_or_else(|e| panic!("{what}: {e}"));
            let top = &v["top"];
            let len = top
                .as_object()
                .map_or_else(|| top.as_array().map_or(0, Vec::len), |m| m.len());
            assert_eq!(len, n, "{what}");
            assert!(count <= 2, "{what}: {count} parses");
            let (count, r) = parses(&format!("{text}bad: *missing\n"));
            assert!(r.is_err(), "{what}");
            assert!(count <= 2, "{what} then an error: {count} parses");
        }
    }

    /// Patching every predicted place at once gives what repairing one
    /// error at a time gives, over the corpus and damaged copies of it.
    #[test]
    fn prediction_agrees_with_repairing_each_error() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
        let mut texts = Vec::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let n = p.file_name().unwrap().to_string_lossy().to_string();
            if n.ends_with(".yaml") && !n.ends_with(".dump.yaml") && !n.ends_with(".dumps.yaml") {
                texts.push(std::fs::read_to_string(&p).unwrap());
            }
        }
        let mut compared = 0;
        for text in &texts {
            let cuts: Vec<usize> = text.char_indices().map(|(i, _)| i).step_by(7).collect();
            let mut variants = vec![text.clone()];
            for &i in &cuts {
                for ins in ["\n", "\n\t", "#", "\"", "'", "[", "\n  \"a\nb\"\n"] {
                    variants.push(format!("{}{}{}", &text[..i], ins, &text[i..]));
                }
            }
            for v in &variants {
                let v = strip_bom(v);
                let Attempt::Failed { patch: Some(_), .. } = attempt(v, true) else {
                    continue;
                };
                compared += 1;
                // Errors may differ in place: repairing one error at a time
                // can stop on an error PyYAML does not report (the oracle
                // fixtures check the places).
                let fast = compose_stream(v, true);
                let slow = repair_each(v, true);
                assert_eq!(fast.is_ok(), slow.is_ok(), "{v:?}");
                if let (Ok((a, ia)), Ok((b, ib))) = (fast, slow) {
                    let va = construct::Constructor::new(None).construct(&a[0], "");
                    let vb = construct::Constructor::new(None).construct(&b[0], "");
                    assert_eq!(
                        va.map_err(|e| unpatch_error(e, &ia)),
                        vb.map_err(|e| unpatch_error(e, &ib)),
                        "{v:?}"
                    );
                }
            }
        }
        assert!(compared > 50, "only {compared} documents needed a repair");
    }

    /// Quotes inside plain scalars are not taken for quoted scalars; the
    /// values are PyYAML's.
    #[test]
    fn quotes_in_plain_scalars() {
        let (count, v) = parses("top:\n  k: [a\n\"b\nc\", \"d\ne\"]\n");
        assert_eq!(
            v.unwrap(),
            serde_json::json!({"top": {"k": ["a \"b c\"", "d e"]}})
        );
        assert!(count <= 2, "{count}");
        let (count, v) = parses("top:\n  - value\n    \"x\n  - \"a\nb\"\n");
        assert_eq!(v.unwrap(), serde_json::json!({"top": ["value \"x", "a b"]}));
        assert!(count <= 2, "{count}");
    }

    /// A predicted patch yaml-rust2 does not confirm is not kept: here a
    /// line outside any flow collection, taken for a flow line.
    #[test]
    fn unconfirmed_patches_are_refused() {
        let text = "a: [1,\n2]\nb: 2\n";
        let plan = predict::Plan {
            flow_lines: vec![7, 10],
            ..Default::default()
        };
        let (patched, _, checks) = repair::apply_plan(text, &plan).unwrap();
        assert!(patched.ends_with("\n b: 2\n"), "{patched:?}");
        match attempt_predicted(&patched, true, &checks) {
            Predicted::Partial(k) => assert_eq!(
                k,
                text::Text::new(&patched).idx(error::Pos { line: 3, col: 1 })
            ),
            _ => panic!("the patch of line 3 was taken"),
        }
        // The right plan alone is confirmed.
        let plan = predict::Plan {
            flow_lines: vec![7],
            ..Default::default()
        };
        let (patched, _, checks) = repair::apply_plan(text, &plan).unwrap();
        assert!(matches!(
            attempt_predicted(&patched, true, &checks),
            Predicted::Done(_)
        ));
    }
}

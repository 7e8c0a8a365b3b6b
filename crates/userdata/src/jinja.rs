//! `## template: jinja` rendering with instance data, as upstream's
//! templater: `trim_blocks`, a trailing newline kept, and undefined
//! variables printed as `CI_MISSING_JINJA_VAR/<name>`.
//!
//! Dicts of the instance data are wrapped in [`JMap`] so a missing key
//! yields a [`Missing`] marker that still knows its name (minijinja's own
//! undefined value does not), and the `default` filter and `defined` tests
//! are replaced to treat that marker as undefined.

use minijinja::value::{Enumerator, Object, ObjectRepr};
use minijinja::{Environment, Error as MjError, ErrorKind, State, Value as Mj};
use serde_json::{Map, Value};
use std::fmt;
use std::sync::Arc;

pub const MISSING_JINJA_PREFIX: &str = "CI_MISSING_JINJA_VAR/";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JinjaError {
    /// The text does not start with `## template: jinja`.
    #[error("Payload is not a jinja template")]
    NotJinja,
    #[error("Unknown template rendering type '{0}' requested")]
    UnknownType(String),
    /// Upstream's `JinjaSyntaxParsingException` text.
    #[error("{0}")]
    Syntax(String),
    /// An error while rendering (upstream: TypeError / UndefinedError).
    #[error("{0}")]
    Render(String),
}

/// Splits off the `## template: <type>` line. `Ok(None)`: no header.
fn template_type(text: &str) -> Result<Option<(String, &str)>, JinjaError> {
    let (ident, rest) = match text.split_once('\n') {
        Some((a, b)) => (a, b),
        None => (text, ""),
    };
    let Some(after) = ident.strip_prefix("##") else {
        return Ok(None);
    };
    let after = after.trim_start();
    if after.len() < 9
        || !after.is_char_boundary(9)
        || !after[..9].eq_ignore_ascii_case("template:")
    {
        return Ok(None);
    }
    let kind = after[9..].trim().to_lowercase();
    if kind != "jinja" && kind != "basic" {
        return Err(JinjaError::UnknownType(kind));
    }
    Ok(Some((kind, rest)))
}

/// Renders user-data that starts with `## template: jinja` (the header line
/// is removed), as `cloud-init devel render`. Missing variables are left as
/// `CI_MISSING_JINJA_VAR/<name>`; see [`missing_vars`].
pub fn render_jinja(text: &str, instance_data: &Value) -> Result<String, JinjaError> {
    match template_type(text)? {
        Some((kind, body)) if kind == "jinja" => render_jinja_body(body, instance_data),
        _ => Err(JinjaError::NotJinja),
    }
}

/// Renders a template body (no header line) with the aliased instance
/// data, e.g. for `cloud-init query --format`.
pub fn render_jinja_body(body: &str, instance_data: &Value) -> Result<String, JinjaError> {
    let mut budget = crate::bounds::JinjaBudget::default();
    render_with_vars(body, &jinja_vars(instance_data), &mut budget)
}

/// The names upstream warns about after rendering: every
/// `CI_MISSING_JINJA_VAR/<non-space run>` in the output.
pub fn missing_vars(rendered: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = rendered;
    while let Some(i) = rest.find(MISSING_JINJA_PREFIX) {
        let after = &rest[i + MISSING_JINJA_PREFIX.len()..];
        let end = after.find(char::is_whitespace).unwrap_or(after.len());
        if end > 0 {
            out.push(after[..end].to_string());
        }
        rest = &after[end..];
    }
    out
}

/// Renders a user-data part as upstream's jinja part handler does, logging
/// upstream's warnings, spending from `fuel_left` (shared by the parts of
/// a blob). `None`: the part is ignored (or rendered empty).
pub(crate) fn render_part_bounded(
    payload: &str,
    filename: &str,
    instance_data: &Value,
    diag: &mut crate::diag::Diag,
    budget: &mut crate::bounds::JinjaBudget,
) -> Option<String> {
    let body = match template_type(payload) {
        Ok(Some((kind, body))) if kind == "jinja" => body,
        Ok(_) => {
            diag.warn(format!(
                "Failed calling handler JinjaTemplatePartHandler: [['text/jinja2']] (text/jinja2, {filename}, 3) with frequency once-per-instance"
            ));
            log::debug!("NotJinjaError: Payload is not a jinja template");
            return None;
        }
        Err(e) => {
            diag.warn(format!(
                "Failed calling handler JinjaTemplatePartHandler: [['text/jinja2']] (text/jinja2, {filename}, 3) with frequency once-per-instance"
            ));
            log::debug!("{e}");
            return None;
        }
    };
    let rendered = match render_with_vars(body, &jinja_vars(instance_data), budget) {
        Ok(r) => r,
        Err(JinjaError::Syntax(msg)) => {
            diag.warn(format!(
                "Ignoring jinja template for {filename}. Failed to render template. {msg}"
            ));
            return None;
        }
        Err(e) => {
            diag.warn(format!("Ignoring jinja template for {filename}: {e}"));
            return None;
        }
    };
    let missing = missing_vars(&rendered);
    if !missing.is_empty() {
        let list: Vec<String> = missing.iter().map(|m| format!("'{m}'")).collect();
        diag.warn(format!(
            "Could not render jinja template variables in file '{filename}': {}",
            list.join(", ")
        ));
    }
    if rendered.is_empty() {
        return None;
    }
    Some(rendered)
}

/// Output sink that refuses to grow past `limit` bytes.
struct CappedOutput {
    buf: Vec<u8>,
    limit: u64,
    over: bool,
}

impl std::io::Write for CappedOutput {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buf.len() as u64 + data.len() as u64 > self.limit {
            self.over = true;
            return Err(std::io::Error::other("template output over its bound"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Renders within `budget` and charges the fuel and output used. A failed
/// render cannot report its fuel, so it is charged half of what was left:
/// the total work of a blob stays under twice the bound.
fn render_with_vars(
    body: &str,
    vars: &Value,
    budget: &mut crate::bounds::JinjaBudget,
) -> Result<String, JinjaError> {
    use crate::bounds::{exceeded, JINJA_FUEL, JINJA_MAX_OUTPUT_BYTES};
    let fuel_error = || {
        JinjaError::Render(format!(
            "template work exceeds {JINJA_FUEL} fuel (bound JINJA_FUEL); input rejected"
        ))
    };
    if budget.fuel == 0 {
        return Err(fuel_error());
    }
    let mut env = environment();
    env.set_fuel(Some(budget.fuel));
    let tmpl = env
        .template_from_str(body)
        .map_err(|e| syntax_error(&e, body))?;
    let root = match vars {
        Value::Object(m) => Mj::from_object(JMap {
            map: m.clone(),
            root: true,
        }),
        _ => Mj::from_object(JMap {
            map: Map::new(),
            root: true,
        }),
    };
    let mut sink = CappedOutput {
        buf: Vec::new(),
        limit: budget.output,
        over: false,
    };
    let rendered = tmpl.render_captured_to(root, &mut sink);
    let mut out = match rendered {
        Ok(captured) => {
            let used = captured.state().fuel_levels().map_or(0, |(used, _)| used);
            budget.fuel = budget.fuel.saturating_sub(used);
            budget.output = budget.output.saturating_sub(sink.buf.len() as u64);
            drop(captured);
            // minijinja writes whole `str` fragments.
            String::from_utf8_lossy(&sink.buf).into_owned()
        }
        Err(e) => {
            budget.fuel /= 2;
            return Err(match e.kind() {
                _ if sink.over => JinjaError::Render(exceeded(
                    "template output",
                    "JINJA_MAX_OUTPUT_BYTES",
                    JINJA_MAX_OUTPUT_BYTES,
                )),
                ErrorKind::OutOfFuel => {
                    budget.fuel = 0;
                    fuel_error()
                }
                ErrorKind::SyntaxError => syntax_error(&e, body),
                _ => JinjaError::Render(
                    e.detail()
                        .map(str::to_string)
                        .unwrap_or_else(|| e.to_string()),
                ),
            });
        }
    };
    // Jinja drops one trailing newline of the source and upstream appends
    // one whenever the source ended with one, even if the output already
    // ends with a newline (a template ending in a blank line keeps it).
    if body.ends_with('\n') {
        out.push('\n');
    }
    Ok(out)
}

fn syntax_error(e: &MjError, body: &str) -> JinjaError {
    // Upstream counts the removed header line.
    let line = e.line().unwrap_or(1) + 1;
    let content = body
        .lines()
        .nth(line.saturating_sub(2))
        .map(str::trim)
        .unwrap_or_default();
    let content = if content.is_empty() {
        String::new()
    } else {
        format!(": {content}")
    };
    let msg = e.detail().unwrap_or("unknown syntax error");
    JinjaError::Syntax(format!(
        "Unable to parse Jinja template due to syntax error: {msg} on line {line}{content}"
    ))
}

/// Names minijinja resolves as globals; the root context must not shadow
/// them with missing-variable markers.
const GLOBALS: &[&str] = &["range", "dict", "debug", "namespace"];

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    let mut syntax = minijinja::syntax::SyntaxConfig::builder();
    syntax.trim_blocks(true);
    if let Ok(cfg) = syntax.build() {
        env.set_syntax(cfg);
    }
    env.set_formatter(format_value);
    env.add_filter("default", default_filter);
    env.add_filter("d", default_filter);
    env.add_filter("join", bounded_join);
    env.add_filter("string", bounded_string);
    env.add_filter("pprint", bounded_pprint);
    env.add_filter("sum", numeric_sum);
    env.add_test("defined", |v: &Mj| !is_missing(v));
    env.add_test("undefined", |v: &Mj| is_missing(v));
    env.set_unknown_method_callback(str_methods);
    env
}

/// minijinja's `join` with its result capped: with an empty joiner the
/// built-in grows its string before charging fuel for it, so a list
/// repeated lazily (`[big] * 1000`) could join to gigabytes.
fn bounded_join(
    state: &State,
    value: &Mj,
    joiner: Option<Mj>,
    attribute: Option<Mj>,
    kwargs: minijinja::value::Kwargs,
) -> Result<Mj, MjError> {
    use crate::bounds::{exceeded, JINJA_MAX_OUTPUT_BYTES};
    let joiner = match joiner {
        Some(j) => Some(j),
        None => kwargs.get::<Option<Mj>>("d")?,
    };
    let attribute = match attribute {
        Some(a) => Some(a),
        None => kwargs.get::<Option<Mj>>("attribute")?,
    };
    kwargs.assert_all_used()?;
    let joiner = joiner.map(|j| j.to_string()).unwrap_or_default();
    let iter = value.try_iter().map_err(|e| {
        MjError::new(
            ErrorKind::InvalidOperation,
            format!("cannot join value of type {}", value.kind()),
        )
        .with_source(e)
    })?;
    let mut out = String::new();
    for (i, item) in iter.enumerate() {
        let item = match &attribute {
            Some(path) => attr_path(&item, path)?,
            None => item,
        };
        if i > 0 {
            out.push_str(&joiner);
        }
        match item.as_str() {
            Some(s) => out.push_str(s),
            None => out.push_str(&bounded_display(&item)?),
        }
        if out.len() as u64 > JINJA_MAX_OUTPUT_BYTES {
            return Err(MjError::new(
                ErrorKind::InvalidOperation,
                exceeded(
                    "joined string",
                    "JINJA_MAX_OUTPUT_BYTES",
                    JINJA_MAX_OUTPUT_BYTES,
                ),
            ));
        }
        state.consume_fuel(1)?;
    }
    // One fuel per 64 bytes produced, as minijinja charges data.
    state.consume_fuel(out.len() as u64 / 64)?;
    Ok(Mj::from(out))
}

/// A capped `fmt::Write`: formatting stops at the output bound.
struct CappedString(String);

impl fmt::Write for CappedString {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if (self.0.len() + s.len()) as u64 > crate::bounds::JINJA_MAX_OUTPUT_BYTES {
            return Err(fmt::Error);
        }
        self.0.push_str(s);
        Ok(())
    }
}

/// `v.to_string()` that gives up past the output bound (a lazily repeated
/// list displays as far more text than it holds).
fn bounded_display(v: &Mj) -> Result<String, MjError> {
    capped_fmt(format_args!("{v}"))
}

/// Formats into a string, giving up past the output bound.
fn capped_fmt(args: fmt::Arguments) -> Result<String, MjError> {
    use crate::bounds::{exceeded, JINJA_MAX_OUTPUT_BYTES};
    let mut out = CappedString(String::new());
    fmt::Write::write_fmt(&mut out, args).map_err(|_| {
        MjError::new(
            ErrorKind::InvalidOperation,
            exceeded(
                "value as text",
                "JINJA_MAX_OUTPUT_BYTES",
                JINJA_MAX_OUTPUT_BYTES,
            ),
        )
    })?;
    Ok(out.0)
}

/// minijinja's `pprint` (pretty debug form), capped as [`bounded_display`].
fn bounded_pprint(state: &State, v: &Mj) -> Result<Mj, MjError> {
    let s = capped_fmt(format_args!("{v:#?}"))?;
    state.consume_fuel(s.len() as u64 / 64)?;
    Ok(Mj::from(s))
}

/// Python's `sum` as Jinja's filter: numbers only. minijinja also adds
/// strings, each step copying the whole result, so a list of large strings
/// took time quadratic in its size; Python refuses strings anyway.
fn numeric_sum(
    state: &State,
    value: &Mj,
    attribute: Option<Mj>,
    start: Option<Mj>,
    kwargs: minijinja::value::Kwargs,
) -> Result<Mj, MjError> {
    let attribute = match attribute {
        Some(a) => Some(a),
        None => kwargs.get::<Option<Mj>>("attribute")?,
    };
    let start = match start {
        Some(s) => Some(s),
        None => kwargs.get::<Option<Mj>>("start")?,
    };
    kwargs.assert_all_used()?;
    let unsupported = |v: &Mj| {
        MjError::new(
            ErrorKind::InvalidOperation,
            format!("unsupported operand type(s) for +: {}", v.kind()),
        )
    };
    let mut int: Option<i64> = Some(0);
    let mut float = 0f64;
    let mut add = |v: &Mj| -> Result<(), MjError> {
        if v.kind() != minijinja::value::ValueKind::Number {
            return Err(unsupported(v));
        }
        match (i64::try_from(v.clone()), int) {
            (Ok(i), Some(acc)) => match acc.checked_add(i) {
                Some(n) => int = Some(n),
                None => {
                    float = acc as f64 + i as f64;
                    int = None;
                }
            },
            _ => {
                let f = f64::try_from(v.clone()).map_err(|_| unsupported(v))?;
                if let Some(acc) = int.take() {
                    float = acc as f64;
                }
                float += f;
            }
        }
        Ok(())
    };
    if let Some(s) = &start {
        add(s)?;
    }
    for item in value.try_iter()? {
        state.consume_fuel(1)?;
        let item = match &attribute {
            Some(path) => attr_path(&item, path)?,
            None => item,
        };
        add(&item)?;
    }
    Ok(match int {
        Some(n) => Mj::from(n),
        None => Mj::from(float),
    })
}

/// minijinja's `string`, through [`bounded_display`].
fn bounded_string(state: &State, v: &Mj) -> Result<Mj, MjError> {
    if v.as_str().is_some() {
        return Ok(v.clone());
    }
    let s = bounded_display(v)?;
    state.consume_fuel(s.len() as u64 / 64)?;
    Ok(Mj::from(s))
}

/// `attribute=` of `join`: a dotted path, numbers indexing lists.
fn attr_path(item: &Mj, path: &Mj) -> Result<Mj, MjError> {
    let Some(path) = path.as_str() else {
        return item.get_item(path);
    };
    let mut cur = item.clone();
    for seg in path.split('.') {
        cur = match seg.parse::<i64>() {
            Ok(n) => cur.get_item(&Mj::from(n))?,
            Err(_) => cur.get_attr(seg)?,
        };
    }
    Ok(cur)
}

fn is_missing(v: &Mj) -> bool {
    v.is_undefined() || v.downcast_object_ref::<Missing>().is_some()
}

fn default_filter(v: &Mj, other: Option<Mj>, boolean: Option<bool>) -> Mj {
    if is_missing(v) || (boolean.unwrap_or(false) && !v.is_true()) {
        other.unwrap_or_else(|| Mj::from(""))
    } else {
        v.clone()
    }
}

fn format_value(out: &mut minijinja::Output, state: &mut State, v: &Mj) -> Result<(), MjError> {
    if let Some(p) = v.downcast_object_ref::<Poison>() {
        return Err(MjError::new(ErrorKind::UndefinedError, p.0.clone()));
    }
    let text = match v.kind() {
        minijinja::value::ValueKind::Bool => {
            Some(if v.is_true() { "True" } else { "False" }.to_string())
        }
        minijinja::value::ValueKind::None => Some("None".to_string()),
        _ => None,
    };
    match text {
        Some(t) => out
            .write_str(&t)
            .map_err(|_| MjError::from(ErrorKind::WriteFailure)),
        None => minijinja::escape_formatter(out, state, v),
    }
}

/// A few Python `str` methods templates commonly use.
fn str_methods(_state: &mut State, v: &Mj, method: &str, args: &[Mj]) -> Result<Mj, MjError> {
    let Some(s) = v.as_str() else {
        return Err(MjError::from(ErrorKind::UnknownMethod));
    };
    let arg = |i: usize| args.get(i).and_then(|a| a.as_str()).map(str::to_string);
    let r = match method {
        "lower" => Mj::from(s.to_lowercase()),
        "upper" => Mj::from(s.to_uppercase()),
        "strip" => Mj::from(match arg(0) {
            Some(c) => s.trim_matches(|x| c.contains(x)).to_string(),
            None => s.trim().to_string(),
        }),
        "lstrip" => Mj::from(s.trim_start().to_string()),
        "rstrip" => Mj::from(s.trim_end().to_string()),
        "startswith" => Mj::from(arg(0).is_some_and(|p| s.starts_with(&p))),
        "endswith" => Mj::from(arg(0).is_some_and(|p| s.ends_with(&p))),
        "replace" => match (arg(0), arg(1)) {
            (Some(a), Some(b)) => Mj::from(s.replace(&a, &b)),
            _ => return Err(MjError::from(ErrorKind::MissingArgument)),
        },
        "split" => {
            let parts: Vec<Mj> = match arg(0) {
                Some(sep) if !sep.is_empty() => s.split(sep.as_str()).map(Mj::from).collect(),
                _ => s.split_whitespace().map(Mj::from).collect(),
            };
            Mj::from(parts)
        }
        _ => return Err(MjError::from(ErrorKind::UnknownMethod)),
    };
    Ok(r)
}

fn to_mj(v: &Value) -> Mj {
    match v {
        Value::Null => Mj::from(()),
        Value::Bool(b) => Mj::from(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Mj::from(i)
            } else if let Some(u) = n.as_u64() {
                Mj::from(u)
            } else {
                Mj::from(n.as_f64().unwrap_or(0.0))
            }
        }
        Value::String(s) => Mj::from(s.as_str()),
        Value::Array(items) => Mj::from_object(JList(items.clone())),
        Value::Object(m) => Mj::from_object(JMap {
            map: m.clone(),
            root: false,
        }),
    }
}

/// An instance-data dict: missing keys give a named [`Missing`] marker.
#[derive(Debug)]
struct JMap {
    map: Map<String, Value>,
    root: bool,
}

impl Object for JMap {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Mj) -> Option<Mj> {
        let name = match key.as_str() {
            Some(s) => s.to_string(),
            None => key.to_string(),
        };
        if let Some(v) = self.map.get(&name) {
            return Some(to_mj(v));
        }
        if self.root && GLOBALS.contains(&name.as_str()) {
            return None;
        }
        let why = if self.root {
            format!("'{name}' is undefined")
        } else {
            format!(
                "'dict object' has no attribute {}",
                ci_pyval::py_quote(&name)
            )
        };
        Some(Mj::from_object(Missing { name, why }))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.map.keys().map(|k| Mj::from(k.as_str())).collect())
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Mj],
    ) -> Result<Mj, MjError> {
        match method {
            "items" => Ok(Mj::from(
                self.map
                    .iter()
                    .map(|(k, v)| Mj::from(vec![Mj::from(k.as_str()), to_mj(v)]))
                    .collect::<Vec<_>>(),
            )),
            "keys" => Ok(Mj::from(
                self.map
                    .keys()
                    .map(|k| Mj::from(k.as_str()))
                    .collect::<Vec<_>>(),
            )),
            "values" => Ok(Mj::from(self.map.values().map(to_mj).collect::<Vec<_>>())),
            "get" => {
                let key = args.first().and_then(|a| a.as_str()).unwrap_or_default();
                Ok(match self.map.get(key) {
                    Some(v) => to_mj(v),
                    None => args.get(1).cloned().unwrap_or_else(|| Mj::from(())),
                })
            }
            _ => Err(MjError::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&ci_pyval::py_repr(&Value::Object(self.map.clone())))
    }
}

/// An instance-data list, rendered as Python prints lists.
#[derive(Debug)]
struct JList(Vec<Value>);

impl Object for JList {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Mj) -> Option<Mj> {
        let idx = key.as_i64()?;
        let len = self.0.len() as i64;
        let idx = if idx < 0 { idx + len } else { idx };
        let item = usize::try_from(idx).ok().and_then(|i| self.0.get(i));
        match item {
            Some(v) => Some(to_mj(v)),
            None => Some(Mj::from_object(Missing {
                name: key.to_string(),
                why: format!("'list object' has no attribute {key}"),
            })),
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.0.len())
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&ci_pyval::py_repr(&Value::Array(self.0.clone())))
    }
}

/// A variable or key that does not exist: prints as upstream's marker, is
/// false, empty and not `defined`.
#[derive(Debug)]
struct Missing {
    name: String,
    /// Jinja's UndefinedError text for using this value further.
    why: String,
}

impl Object for Missing {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, _key: &Mj) -> Option<Mj> {
        // Jinja raises on attribute access of an undefined value; the
        // error surfaces when the result is printed.
        Some(Mj::from_object(Poison(self.why.clone())))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Empty
    }

    fn is_true(self: &Arc<Self>) -> bool {
        false
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{MISSING_JINJA_PREFIX}{}", self.name)
    }
}

/// The result of looking into a [`Missing`] value; printing it is an
/// error carrying Jinja's UndefinedError text.
#[derive(Debug)]
struct Poison(String);

impl Object for Poison {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, _key: &Mj) -> Option<Mj> {
        Some(Mj::from_object(Poison(self.0.clone())))
    }

    fn is_true(self: &Arc<Self>) -> bool {
        false
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// ---- the variable set ----

/// The characters and pairs Jinja's lexer treats as operators; each is
/// replaced by one `_` in key aliases.
const OPERATORS_2: &[&str] = &["//", "**", "==", "!=", ">=", "<="];
const OPERATORS_1: &str = "+-/*%~[](){}><=.:|,;";

/// Upstream's `get_jinja_variable_alias`: `None` when the key needs none.
pub fn jinja_alias(key: &str) -> Option<String> {
    let mut out = String::with_capacity(key.len());
    let mut rest = key;
    while let Some(c) = rest.chars().next() {
        if let Some(op) = OPERATORS_2.iter().find(|op| rest.starts_with(**op)) {
            out.push('_');
            rest = &rest[op.len()..];
            continue;
        }
        if OPERATORS_1.contains(c) {
            out.push('_');
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    (out != key).then_some(out)
}

/// The variables a template sees: the instance data with keys sorted,
/// `base64-encoded-keys` decoded, each `vN` dict also copied one level up
/// (so `v1.region` is also `region`), and `_` aliases for keys containing
/// Jinja operators (`ds.meta_data` for `ds.meta-data`).
pub fn jinja_vars(instance_data: &Value) -> Value {
    let Value::Object(m) = instance_data else {
        return Value::Object(Map::new());
    };
    let decode: Vec<String> = m
        .get("base64-encoded-keys")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(|p| p.replace('-', "_"))
                .collect()
        })
        .unwrap_or_default();
    Value::Object(convert(m, "", &decode))
}

fn convert(data: &Map<String, Value>, prefix: &str, decode: &[String]) -> Map<String, Value> {
    let mut keys: Vec<&String> = data.keys().collect();
    keys.sort();
    let mut out = Map::new();
    for key in keys {
        let Some(value) = data.get(key) else { continue };
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}/{key}")
        };
        let value = if decode.contains(&path) {
            b64_decode_value(value)
        } else {
            value.clone()
        };
        if let Value::Object(sub) = &value {
            let converted = convert(sub, &path, decode);
            if is_version_key(key) {
                for (k, v) in &converted {
                    out.insert(k.clone(), v.clone());
                }
            }
            out.insert(key.clone(), Value::Object(converted));
        } else {
            out.insert(key.clone(), value);
        }
        if let Some(alias) = jinja_alias(key) {
            if let Some(v) = out.get(key).cloned() {
                out.insert(alias, v);
            }
        }
    }
    out
}

fn is_version_key(key: &str) -> bool {
    key.strip_prefix('v')
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

fn b64_decode_value(v: &Value) -> Value {
    use base64::Engine;
    let Some(s) = v.as_str() else {
        return v.clone();
    };
    match base64::engine::general_purpose::STANDARD.decode(s.trim()) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => Value::String(text),
            Err(e) => Value::String(String::from_utf8_lossy(e.as_bytes()).into_owned()),
        },
        Err(_) => v.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn data() -> Value {
        json!({
            "v1": {"region": "r1", "local-hostname": "h1", "public_ssh_keys": ["k1"]},
            "ds": {"meta-data": {"a.b": 1, "flag": true}},
        })
    }

    #[test]
    fn aliases_and_v1_copies() {
        let v = jinja_vars(&data());
        assert_eq!(v["region"], json!("r1"));
        assert_eq!(v["local_hostname"], json!("h1"));
        assert_eq!(v["v1"]["local_hostname"], json!("h1"));
        assert_eq!(v["ds"]["meta_data"]["a_b"], json!(1));
        assert_eq!(jinja_alias("a//b==c"), Some("a_b_c".into()));
        assert_eq!(jinja_alias("plain_key"), None);
    }

    #[test]
    fn renders_missing_markers_and_defaults() {
        let out = render_jinja(
            "## template: jinja\n{{ v1.region }} {{ nosuch }} {{ v1.nope }} {{ nosuch | default('d') }} {% if v1.nope is defined %}x{% endif %}{{ ds.meta_data.flag }}\n",
            &data(),
        )
        .unwrap();
        assert_eq!(
            out,
            "r1 CI_MISSING_JINJA_VAR/nosuch CI_MISSING_JINJA_VAR/nope d True\n"
        );
        assert_eq!(missing_vars(&out), vec!["nosuch", "nope"]);
    }

    #[test]
    fn trim_blocks_and_loops() {
        let out = render_jinja(
            "## template: jinja\n{% for k in v1.public_ssh_keys %}\n- {{ k }}\n{% endfor %}\n{{ range(2) | list | length }}",
            &data(),
        )
        .unwrap();
        assert_eq!(out, "- k1\n2");
    }

    // Expected values printed by the oracle:
    // cloudinit.templater.render_string("## template: jinja\n" + body, {"a": "x"})
    #[test]
    fn trailing_newlines_as_upstream() {
        for (body, want) in [
            ("{{a}}", "x"),
            ("{{a}}\n", "x\n"),
            ("{{a}}\n\n", "x\n\n"),
            ("{{a}}\n\n\n", "x\n\n\n"),
            ("{% if a %}\n{{a}}\n{% endif %}\n", "x\n\n"),
            ("{% if a %}\n{{a}}\n{% endif %}\n\n", "x\n\n"),
            ("\n", "\n"),
            ("", ""),
            (
                "::1 localhost\nff02::2 ip6-allrouters\n\n",
                "::1 localhost\nff02::2 ip6-allrouters\n\n",
            ),
        ] {
            let text = format!("## template: jinja\n{body}");
            assert_eq!(
                render_jinja(&text, &json!({"a": "x"})).as_deref(),
                Ok(want),
                "{body:?}"
            );
        }
    }

    #[test]
    fn errors() {
        assert_eq!(
            render_jinja("#cloud-config\n", &data()),
            Err(JinjaError::NotJinja)
        );
        match render_jinja("## template: jinja\nline\n{% if %}\n", &data()) {
            Err(JinjaError::Syntax(m)) => {
                assert!(
                    m.starts_with("Unable to parse Jinja template due to syntax error: "),
                    "{m}"
                );
                assert!(m.ends_with("on line 3: {% if %}"), "{m}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            render_jinja("## template: jinja\n{{ nosuch.attr }}\n", &data()),
            Err(JinjaError::Render(_))
        ));
    }
}

#[cfg(test)]
mod bound_tests {
    use super::*;
    use crate::bounds::{JINJA_FUEL, JINJA_MAX_OUTPUT_BYTES};
    use serde_json::json;
    use std::time::{Duration, Instant};

    fn render(body: &str, fuel: &mut u64) -> Result<String, JinjaError> {
        let mut budget = crate::bounds::JinjaBudget {
            fuel: *fuel,
            output: JINJA_MAX_OUTPUT_BYTES,
        };
        let r = render_with_vars(body, &json!({}), &mut budget);
        *fuel = budget.fuel;
        r
    }

    #[test]
    fn output_budget_is_shared_by_the_templates_of_a_blob() {
        let mut budget = crate::bounds::JinjaBudget {
            fuel: JINJA_FUEL,
            output: 10,
        };
        assert_eq!(
            render_with_vars("12345", &json!({}), &mut budget).unwrap(),
            "12345"
        );
        assert_eq!(budget.output, 5);
        let e = render_with_vars("123456", &json!({}), &mut budget)
            .unwrap_err()
            .to_string();
        assert!(e.contains("bound JINJA_MAX_OUTPUT_BYTES"), "{e}");
    }

    fn quick(body: &str) -> (Result<String, JinjaError>, Duration) {
        let t = Instant::now();
        let r = render(body, &mut JINJA_FUEL.to_owned());
        (r, t.elapsed())
    }

    #[test]
    fn nested_loops_run_out_of_fuel_quickly() {
        let body = "{% set ns = namespace(a=1) %}{% for i in range(100) %}{% for j in range(100) %}{% for k in range(100) %}{% for l in range(100) %}{% for m in range(100) %}{% set ns.a = ns.a + 1 %}{% endfor %}{% endfor %}{% endfor %}{% endfor %}{% endfor %}\nruncmd: [echo {{ ns.a }}]\n";
        let (r, took) = quick(body);
        let e = r.unwrap_err().to_string();
        assert!(e.contains("bound JINJA_FUEL"), "{e}");
        assert!(took < Duration::from_secs(5), "{took:?}");
    }

    #[test]
    fn join_of_large_strings_is_refused_quickly() {
        let body = "{% set a = 'x' * 100000 %}{% set b = a ~ a ~ a ~ a ~ a ~ a ~ a ~ a ~ a ~ a %}{% set c = [b]*1000 %}runcmd: [echo {{ c|join('') }}]\n";
        let (r, took) = quick(body);
        let e = r.unwrap_err().to_string();
        assert!(e.contains("(bound JINJA_"), "{e}");
        assert!(took < Duration::from_secs(5), "{took:?}");
    }

    #[test]
    fn doubling_a_string_is_refused() {
        let body = "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}";
        let (r, took) = quick(body);
        let e = r.unwrap_err().to_string();
        assert!(e.contains("(bound JINJA_"), "{e}");
        assert!(took < Duration::from_secs(5), "{took:?}");
    }

    #[test]
    fn output_over_the_bound_is_refused_and_just_under_passes() {
        // Plain text costs no fuel per byte beyond the bytes themselves.
        let under = "y".repeat(JINJA_MAX_OUTPUT_BYTES as usize - 1);
        let mut fuel = u64::MAX / 128;
        assert_eq!(render(&under, &mut fuel).unwrap().len(), under.len());
        let over = format!("{under}yy");
        let mut fuel = u64::MAX / 128;
        let e = render(&over, &mut fuel).unwrap_err().to_string();
        assert!(e.contains("bound JINJA_MAX_OUTPUT_BYTES"), "{e}");
    }

    #[test]
    fn real_templates_fit_and_fuel_is_shared() {
        // A generous real-world template: thousands of loop items.
        let body = "#cloud-config\nwrite_files:\n{% for i in range(2000) %}- path: /etc/f{{ i }}\n  content: {{ 'line ' ~ i }}\n{% endfor %}";
        let mut fuel = JINJA_FUEL;
        let out = render(body, &mut fuel).unwrap();
        assert!(out.contains("/etc/f1999"));
        let used = JINJA_FUEL - fuel;
        assert!(used > 0 && used < JINJA_FUEL / 20, "used {used}");
        // What the first part used is gone for the next.
        let mut small = 10;
        let e = render(body, &mut small).unwrap_err().to_string();
        assert!(e.contains("bound JINJA_FUEL"), "{e}");
        assert_eq!(small, 0);
        assert!(render("x", &mut small).is_err());
    }
}

#[cfg(test)]
mod join_tests {
    use super::*;
    use serde_json::json;
    use std::time::{Duration, Instant};

    #[test]
    fn join_keeps_its_meaning() {
        let v = json!({"users": [{"name": "a"}, {"name": "b"}]});
        let r = |t: &str| render_jinja_body(t, &v).unwrap();
        assert_eq!(r("{{ [1, 2, 3]|join }}"), "123");
        assert_eq!(r("{{ ['a', 'b']|join(', ') }}"), "a, b");
        assert_eq!(r("{{ ['a', 'b']|join(d='-') }}"), "a-b");
        assert_eq!(r("{{ users|join(',', attribute='name') }}"), "a,b");
        assert_eq!(r("{{ users|join(',', 'name') }}"), "a,b");
        assert_eq!(r("{{ 'abc'|join('.') }}"), "a.b.c");
        assert_eq!(r("{{ [1, 2, 3]|sum }}"), "6");
        assert_eq!(r("{{ [1, 2.5]|sum(start=1) }}"), "4.5");
        assert_eq!(
            r("{{ users|sum(attribute='n') if false else [{'n': 2}, {'n': 3}]|sum('n') }}"),
            "5"
        );
    }

    #[test]
    fn other_ways_to_inflate_a_lazy_list_are_bounded() {
        let big = "{% set a = 'x' * 1000000 %}{% set c = [a]*1000 %}";
        for tail in [
            "{{ c }}",
            "{{ c|string|length }}",
            "{{ c|pprint|length }}",
            "{{ c|join(',')|length }}",
            "{{ c|sum(start='')|length }}",
            "{{ c|sum|length }}",
            "{% for x in c %}{{ x }}{% endfor %}",
        ] {
            let t = Instant::now();
            let r = render_jinja_body(&format!("{big}{tail}"), &json!({}));
            let took = t.elapsed();
            let e = r.expect_err(tail).to_string();
            // Python refuses to sum strings; the rest hit a bound.
            let refused = e.contains("(bound JINJA_") || e.contains("unsupported operand");
            assert!(refused, "{tail}: {e}");
            assert!(took < Duration::from_secs(5), "{tail}: {took:?}");
        }
    }
}

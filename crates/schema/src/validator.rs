//! JSON Schema Draft 4 as upstream runs it: jsonschema 4.19's keywords and
//! messages, plus cloud-init's `deprecated`/`changed` annotations and its
//! own `anyOf`/`oneOf`, which report deprecations separately and pick the
//! errors users see.

use crate::regex::Regex;
use ci_pyval::py_quote;
// Loaded values may hold bytes (YAML `!!binary`); messages show them as
// Python does, `b'...'`.
use ci_yaml::binary::{self, py_repr};
use serde_json::{Map, Value};
use std::fmt;

/// One step of an error's location in the instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathItem {
    Key(String),
    Index(usize),
}

impl fmt::Display for PathItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathItem::Key(k) => f.write_str(k),
            PathItem::Index(i) => write!(f, "{i}"),
        }
    }
}

/// A validation finding, like jsonschema's `ValidationError`.
#[derive(Debug, Clone)]
pub struct SchemaError {
    /// Location in the instance (relative while validating, absolute in
    /// what [`Validator::iter_errors`] returns).
    pub path: Vec<PathItem>,
    pub message: String,
    /// The keyword that failed (`type`, `anyOf`, ...).
    pub keyword: String,
    /// `Some(version)` marks a deprecation rather than an error.
    pub deprecated_version: Option<String>,
    /// Sub-errors of `anyOf`/`oneOf` failures, for best-match selection.
    pub context: Vec<SchemaError>,
    /// The failing schema is the root schema (upstream renames the path of
    /// top-level unknown keys by this).
    pub at_root: bool,
    matches_type: bool,
    /// The failing schema's `properties.type.enum`, which cloud-init's
    /// `oneOf` uses to find the branch meant for a typed item.
    type_enum: Option<Vec<Value>>,
}

impl SchemaError {
    pub fn is_deprecation(&self) -> bool {
        self.deprecated_version.is_some()
    }

    /// Dotted path as upstream prints it (`users.0.name`).
    pub fn dotted_path(&self) -> String {
        self.path
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(".")
    }

    /// jsonschema's `relevance` key; bigger is more relevant.
    fn relevance(&self) -> (i64, bool, bool, bool) {
        let weak = matches!(self.keyword.as_str(), "anyOf" | "oneOf");
        (-(self.path.len() as i64), !weak, false, !self.matches_type)
    }
}

/// A validator bound to one root schema (for `$ref` resolution).
pub struct Validator<'s> {
    root: &'s Value,
}

impl<'s> Validator<'s> {
    pub fn new(root: &'s Value) -> Self {
        Validator { root }
    }

    /// Every error and deprecation for `instance` against the root schema.
    pub fn iter_errors(&self, instance: &Value) -> Vec<SchemaError> {
        self.validate(instance, self.root)
    }

    /// Valid, ignoring deprecations (cloud-init's `is_valid` override).
    pub fn is_valid(&self, instance: &Value, schema: &Value) -> bool {
        self.validate(instance, schema)
            .iter()
            .all(SchemaError::is_deprecation)
    }

    fn descend(
        &self,
        instance: &Value,
        schema: &Value,
        path: Option<PathItem>,
    ) -> Vec<SchemaError> {
        let mut errs = self.validate(instance, schema);
        if let Some(p) = path {
            for e in &mut errs {
                e.path.insert(0, p.clone());
            }
        }
        errs
    }

    fn validate(&self, instance: &Value, schema: &Value) -> Vec<SchemaError> {
        let Some(obj) = schema.as_object() else {
            return Vec::new();
        };
        // Unlike jsonschema's own Draft4Validator, the validator upstream
        // builds with `create()` applies `$ref` together with its siblings.
        let mut out = Vec::new();
        for (kw, val) in obj {
            if kw == "$ref" {
                match val.as_str().and_then(|r| self.resolve(r)) {
                    Some(target) => out.extend(self.validate(instance, target)),
                    None => out.push(self.error(
                        "$ref",
                        format!("Unresolvable JSON pointer: {}", py_repr(val)),
                        instance,
                        schema,
                    )),
                }
                continue;
            }
            self.keyword(kw, val, instance, obj, schema, &mut out);
        }
        out
    }

    fn resolve(&self, reference: &str) -> Option<&'s Value> {
        let pointer = reference.strip_prefix('#')?;
        if pointer.is_empty() {
            return Some(self.root);
        }
        self.root.pointer(pointer)
    }

    fn error(&self, kw: &str, message: String, instance: &Value, schema: &Value) -> SchemaError {
        SchemaError {
            path: Vec::new(),
            message,
            keyword: kw.to_string(),
            deprecated_version: None,
            context: Vec::new(),
            at_root: std::ptr::eq(schema, self.root),
            matches_type: matches_type(instance, schema),
            type_enum: schema
                .pointer("/properties/type/enum")
                .and_then(Value::as_array)
                .cloned(),
        }
    }

    fn keyword(
        &self,
        kw: &str,
        val: &Value,
        inst: &Value,
        obj: &Map<String, Value>,
        schema: &Value,
        out: &mut Vec<SchemaError>,
    ) {
        let mut push = |msg: String| out.push(self.error(kw, msg, inst, schema));
        match kw {
            "type" => {
                let types: Vec<&str> = match val {
                    Value::String(s) => vec![s.as_str()],
                    Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                    _ => return,
                };
                if !types.iter().any(|t| is_type(inst, t)) {
                    let reprs: Vec<String> = types.iter().map(|t| py_quote(t)).collect();
                    push(format!(
                        "{} is not of type {}",
                        py_repr(inst),
                        reprs.join(", ")
                    ));
                }
            }
            "enum" => {
                let Some(choices) = val.as_array() else {
                    return;
                };
                if !choices.iter().any(|c| equal(c, inst)) {
                    push(format!("{} is not one of {}", py_repr(inst), py_repr(val)));
                }
            }
            "required" => {
                let (Some(m), Some(req)) = (inst.as_object(), val.as_array()) else {
                    return;
                };
                for r in req.iter().filter_map(Value::as_str) {
                    if !m.contains_key(r) {
                        push(format!("{} is a required property", py_quote(r)));
                    }
                }
            }
            "minProperties" | "maxProperties" => {
                let (Some(m), Some(n)) = (inst.as_object(), val.as_u64()) else {
                    return;
                };
                let len = m.len() as u64;
                if kw == "minProperties" && len < n {
                    push(format!("{} does not have enough properties", py_repr(inst)));
                } else if kw == "maxProperties" && len > n {
                    push(format!("{} has too many properties", py_repr(inst)));
                }
            }
            "minItems" | "maxItems" => {
                let (Some(a), Some(n)) = (inst.as_array(), val.as_u64()) else {
                    return;
                };
                let len = a.len() as u64;
                if kw == "minItems" && len < n {
                    push(format!("{} is too short", py_repr(inst)));
                } else if kw == "maxItems" && len > n {
                    push(format!("{} is too long", py_repr(inst)));
                }
            }
            "minLength" | "maxLength" => {
                let (Some(s), Some(n)) = (inst.as_str(), val.as_u64()) else {
                    return;
                };
                // Upstream's checker counts a bytes value's bytes.
                let len = match binary::decode_str(s) {
                    Some(b) => b.len() as u64,
                    None => s.chars().count() as u64,
                };
                if kw == "minLength" && len < n {
                    push(format!("{} is too short", py_repr(inst)));
                } else if kw == "maxLength" && len > n {
                    push(format!("{} is too long", py_repr(inst)));
                }
            }
            "uniqueItems" => {
                let Some(a) = inst.as_array() else { return };
                if val.as_bool() == Some(true) && has_duplicates(a) {
                    push(format!("{} has non-unique elements", py_repr(inst)));
                }
            }
            "pattern" => {
                // A str pattern cannot search bytes (upstream's `re` raises
                // instead of reporting); report nothing for them.
                let (Some(s), Some(p)) = (inst.as_str(), val.as_str()) else {
                    return;
                };
                if binary::is_binary_str(s) {
                    return;
                }
                if !Regex::new(p).is_some_and(|r| r.is_match(s)) {
                    push(format!("{} does not match {}", py_repr(inst), py_quote(p)));
                }
            }
            "minimum" | "maximum" => {
                let (Some(x), Some(limit)) = (number(inst), val.as_f64()) else {
                    return;
                };
                let is_min = kw == "minimum";
                let exclusive_key = if is_min {
                    "exclusiveMinimum"
                } else {
                    "exclusiveMaximum"
                };
                let exclusive = obj.get(exclusive_key).is_some_and(ci_pyval::truthy);
                let (failed, cmp) = match (is_min, exclusive) {
                    (true, true) => (x <= limit, "less than or equal to"),
                    (true, false) => (x < limit, "less than"),
                    (false, true) => (x >= limit, "greater than or equal to"),
                    (false, false) => (x > limit, "greater than"),
                };
                if failed {
                    let side = if is_min { "minimum" } else { "maximum" };
                    push(format!(
                        "{} is {cmp} the {side} of {}",
                        py_repr(inst),
                        py_repr(val)
                    ));
                }
            }
            "properties" => {
                let (Some(m), Some(props)) = (inst.as_object(), val.as_object()) else {
                    return;
                };
                for (name, sub) in props {
                    if let Some(child) = m.get(name) {
                        out.extend(self.descend(child, sub, Some(PathItem::Key(name.clone()))));
                    }
                }
            }
            "patternProperties" => {
                let (Some(m), Some(pats)) = (inst.as_object(), val.as_object()) else {
                    return;
                };
                for (pat, sub) in pats {
                    let Some(re) = Regex::new(pat) else { continue };
                    for (k, child) in m {
                        if re.is_match(k) {
                            out.extend(self.descend(child, sub, Some(PathItem::Key(k.clone()))));
                        }
                    }
                }
            }
            "additionalProperties" => self.additional_properties(val, inst, obj, schema, out),
            "items" => {
                let Some(a) = inst.as_array() else { return };
                match val {
                    Value::Object(_) => {
                        for (i, item) in a.iter().enumerate() {
                            out.extend(self.descend(item, val, Some(PathItem::Index(i))));
                        }
                    }
                    Value::Array(tuple) => {
                        for (i, (item, sub)) in a.iter().zip(tuple).enumerate() {
                            out.extend(self.descend(item, sub, Some(PathItem::Index(i))));
                        }
                    }
                    _ => {}
                }
            }
            "additionalItems" => {
                let Some(a) = inst.as_array() else { return };
                let items = obj.get("items");
                if items.is_none_or(Value::is_object) {
                    return;
                }
                let n = items.and_then(Value::as_array).map_or(0, Vec::len);
                if val.is_object() {
                    for (i, item) in a.iter().enumerate().skip(n) {
                        out.extend(self.descend(item, val, Some(PathItem::Index(i))));
                    }
                } else if val.as_bool() == Some(false) && a.len() > n {
                    let extra: Vec<String> = a.iter().skip(n).map(py_repr).collect();
                    let verb = if extra.len() == 1 { "was" } else { "were" };
                    push(format!(
                        "Additional items are not allowed ({} {verb} unexpected)",
                        extra.join(", ")
                    ));
                }
            }
            "dependencies" => {
                let (Some(m), Some(deps)) = (inst.as_object(), val.as_object()) else {
                    return;
                };
                for (prop, dep) in deps {
                    if !m.contains_key(prop) {
                        continue;
                    }
                    match dep {
                        Value::Array(names) => {
                            for each in names.iter().filter_map(Value::as_str) {
                                if !m.contains_key(each) {
                                    out.push(self.error(
                                        kw,
                                        format!(
                                            "{} is a dependency of {}",
                                            py_quote(each),
                                            py_quote(prop)
                                        ),
                                        inst,
                                        schema,
                                    ));
                                }
                            }
                        }
                        other => out.extend(self.descend(inst, other, None)),
                    }
                }
            }
            // Upstream's FormatChecker only has checkers whose libraries are
            // installed; of the formats our schemas use, that is `date`
            // (`uri` needs rfc3987, which upstream does not require).
            // The date checker passes anything that is not str, bytes too.
            "format"
                if val.as_str() == Some("date") && !binary::is_binary(inst) && !is_date(inst) =>
            {
                push(format!("{} is not a 'date'", py_repr(inst)));
            }
            "allOf" => {
                for sub in val.as_array().into_iter().flatten() {
                    out.extend(self.descend(inst, sub, None));
                }
            }
            "not" if self.is_valid(inst, val) => {
                push(format!(
                    "{} should not be valid under {}",
                    py_repr(inst),
                    py_repr(val)
                ));
            }
            "anyOf" => self.any_of(val, inst, schema, out),
            "oneOf" => self.one_of(val, inst, schema, out),
            "deprecated" | "changed" if ci_pyval::truthy(val) => {
                let mut e = self.error(kw, lifecycle_message(obj, kw), inst, schema);
                let version = obj
                    .get("deprecated_version")
                    .map(ci_pyval::py_str)
                    .unwrap_or_else(|| "devel".to_string());
                e.deprecated_version = Some(version);
                out.push(e);
            }
            _ => {}
        }
    }

    fn additional_properties(
        &self,
        ap: &Value,
        inst: &Value,
        obj: &Map<String, Value>,
        schema: &Value,
        out: &mut Vec<SchemaError>,
    ) {
        let Some(m) = inst.as_object() else { return };
        let props = obj.get("properties").and_then(Value::as_object);
        let patterns: Vec<Regex> = obj
            .get("patternProperties")
            .and_then(Value::as_object)
            .map(|p| p.keys().filter_map(|k| Regex::new(k)).collect())
            .unwrap_or_default();
        let mut extras: Vec<&String> = m
            .keys()
            .filter(|k| !props.is_some_and(|p| p.contains_key(*k)))
            .filter(|k| !patterns.iter().any(|r| r.is_match(k)))
            .collect();
        if ap.is_object() {
            for k in extras {
                if let Some(child) = m.get(k) {
                    out.extend(self.descend(child, ap, Some(PathItem::Key(k.clone()))));
                }
            }
            return;
        }
        if ap.as_bool() != Some(false) || extras.is_empty() {
            return;
        }
        extras.sort();
        let joined = extras
            .iter()
            .map(|k| py_quote(k))
            .collect::<Vec<_>>()
            .join(", ");
        let message = match obj.get("patternProperties").and_then(Value::as_object) {
            Some(pp) => {
                let verb = if extras.len() == 1 { "does" } else { "do" };
                let mut pats: Vec<&String> = pp.keys().collect();
                pats.sort();
                let pats = pats
                    .iter()
                    .map(|p| py_quote(p))
                    .collect::<Vec<_>>()
                    .join(", ");
                format!("{joined} {verb} not match any of the regexes: {pats}")
            }
            None => {
                let verb = if extras.len() == 1 { "was" } else { "were" };
                format!("Additional properties are not allowed ({joined} {verb} unexpected)")
            }
        };
        out.push(self.error("additionalProperties", message, inst, schema));
    }

    /// cloud-init's `anyOf`: deprecations of failing branches are dropped;
    /// on failure the best match and the summary are both reported.
    fn any_of(&self, val: &Value, inst: &Value, schema: &Value, out: &mut Vec<SchemaError>) {
        let Some(subs) = val.as_array() else { return };
        let mut all_errors = Vec::new();
        let mut skip_best = false;
        let inst_type = inst.as_object().and_then(|m| m.get("type"));
        for sub in subs {
            let (errs, deps): (Vec<_>, Vec<_>) = self
                .descend(inst, sub, None)
                .into_iter()
                .partition(|e| !e.is_deprecation());
            if errs.is_empty() {
                out.extend(deps);
                return;
            }
            // Network-config `anyOf_type_X` refs name the branch that matches
            // the item's `type`; its errors are the ones to show.
            let sref = sub.get("$ref").and_then(Value::as_str).unwrap_or("");
            if let Some(t) = inst_type {
                if sref.contains("anyOf_type")
                    && sref.contains(&format!("anyOf_type_{}", ci_pyval::py_str(t)))
                {
                    skip_best = true;
                    out.extend(errs.iter().cloned());
                }
            }
            all_errors.extend(errs);
        }
        if !skip_best {
            if let Some(best) = best_match(&all_errors) {
                out.push(best);
            }
        }
        let mut summary = self.error(
            "anyOf",
            format!(
                "{} is not valid under any of the given schemas",
                py_repr(inst)
            ),
            inst,
            schema,
        );
        summary.context = all_errors;
        out.push(summary);
    }

    /// cloud-init's `oneOf`: on failure only the deepest errors are shown.
    fn one_of(&self, val: &Value, inst: &Value, schema: &Value, out: &mut Vec<SchemaError>) {
        let Some(subs) = val.as_array() else { return };
        let mut all_errors = Vec::new();
        let mut first_valid = None;
        let mut deprecations = Vec::new();
        for (i, sub) in subs.iter().enumerate() {
            let (errs, deps): (Vec<_>, Vec<_>) = self
                .descend(inst, sub, None)
                .into_iter()
                .partition(|e| !e.is_deprecation());
            if errs.is_empty() {
                first_valid = Some(i);
                deprecations = deps;
                break;
            }
            all_errors.extend(errs);
        }
        let Some(first) = first_valid else {
            out.extend(deepest_matches(all_errors, inst));
            return;
        };
        let mut more: Vec<&Value> = subs
            .iter()
            .skip(first + 1)
            .filter(|s| self.is_valid(inst, s))
            .collect();
        if more.is_empty() {
            out.extend(deprecations);
            return;
        }
        if let Some(f) = subs.get(first) {
            more.push(f);
        }
        let reprs = more
            .iter()
            .map(|s| py_repr(s))
            .collect::<Vec<_>>()
            .join(", ");
        out.push(self.error(
            "oneOf",
            format!("{} is valid under each of {reprs}", py_repr(inst)),
            inst,
            schema,
        ));
    }
}

/// `Deprecated in version X. <description>` as upstream words annotations.
fn lifecycle_message(obj: &Map<String, Value>, key: &str) -> String {
    let description = obj
        .get("description")
        .map(ci_pyval::py_str)
        .unwrap_or_default();
    let version = obj
        .get(&format!("{key}_version"))
        .map(ci_pyval::py_str)
        .unwrap_or_else(|| format!("<missing {key}_version key, please file a bug report>"));
    let key_description = obj
        .get(&format!("{key}_description"))
        .map(ci_pyval::py_str)
        .unwrap_or_default();
    let mut title = key.to_string();
    if let Some(first) = title.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    format!("{description} {title} in version {version}. {key_description}")
        .trim_end()
        .to_string()
}

/// jsonschema's `best_match`: most relevant error, then down its context
/// while one sub-error is strictly the least relevant.
fn best_match(errors: &[SchemaError]) -> Option<SchemaError> {
    let mut best = errors.first()?;
    for e in errors.iter().skip(1) {
        // `max` keeps the first of equal keys.
        if e.relevance() > best.relevance() {
            best = e;
        }
    }
    while !best.context.is_empty() {
        let mut sorted: Vec<&SchemaError> = best.context.iter().collect();
        sorted.sort_by_key(|e| e.relevance());
        match (sorted.first(), sorted.get(1)) {
            (Some(a), Some(b)) if a.relevance() == b.relevance() => return Some(best.clone()),
            (Some(a), _) => best = a,
            (None, _) => break,
        }
    }
    Some(best.clone())
}

/// cloud-init's `cloud_init_deepest_matches`.
fn deepest_matches(errors: Vec<SchemaError>, inst: &Value) -> Vec<SchemaError> {
    let mut best = Vec::new();
    let mut depth = 0;
    let inst_type = inst.as_object().and_then(|m| m.get("type"));
    for e in errors {
        if let Some(t) = inst_type {
            if e.type_enum.as_ref().is_some_and(|en| en.contains(t)) {
                return vec![e];
            }
            // jsonschema's json_path ends with the last path step.
            if e.path
                .last()
                .is_some_and(|p| p.to_string().ends_with("type"))
            {
                best.push(e);
            }
        } else if e.path.len() == depth {
            best.push(e);
        } else if e.path.len() > depth {
            depth = e.path.len();
            best = vec![e];
        }
    }
    best
}

fn matches_type(instance: &Value, schema: &Value) -> bool {
    match schema.get("type") {
        Some(Value::String(t)) => is_type(instance, t),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .any(|t| is_type(instance, t)),
        _ => false,
    }
}

/// Draft 4 types as Python sees YAML-loaded values: `integer` excludes
/// floats (even 1.0) and booleans; `string` includes bytes (upstream's
/// type checker accepts them, so `!!binary` content is valid).
pub fn is_type(v: &Value, t: &str) -> bool {
    match t {
        "string" => v.is_string(),
        "integer" => matches!(v, Value::Number(n) if !n.is_f64()),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        _ => false,
    }
}

/// jsonschema's `date` check: `YYYY-MM-DD` that `date.fromisoformat`
/// accepts; non-strings pass.
fn is_date(v: &Value) -> bool {
    let Some(s) = v.as_str() else { return true };
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        });
    if !shape {
        return false;
    }
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|t| t.parse::<u32>().ok()).unwrap_or(0);
    let (year, month, day) = (num(0..4), num(5..7), num(8..10));
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    };
    year >= 1 && (1..=days).contains(&day)
}

fn number(v: &Value) -> Option<f64> {
    v.as_number().and_then(serde_json::Number::as_f64)
}

/// jsonschema's `equal`: booleans never equal numbers; 1 == 1.0.
fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equal(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal(v, w)))
        }
        _ => a == b,
    }
}

fn has_duplicates(items: &[Value]) -> bool {
    items
        .iter()
        .enumerate()
        .any(|(i, a)| items.iter().skip(i + 1).any(|b| equal(a, b)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn messages(schema: Value, inst: Value) -> Vec<(String, String)> {
        Validator::new(&schema)
            .iter_errors(&inst)
            .into_iter()
            .map(|e| (e.dotted_path(), e.message))
            .collect()
    }

    #[test]
    fn type_enum_required() {
        let s = json!({"properties": {"a": {"type": "string"}, "b": {"enum": ["x", true]}}, "required": ["c"]});
        let got = messages(s, json!({"a": 123, "b": 1}));
        assert_eq!(
            got,
            vec![
                ("a".into(), "123 is not of type 'string'".into()),
                ("b".into(), "1 is not one of ['x', True]".into()),
                ("".into(), "'c' is a required property".into()),
            ]
        );
    }

    #[test]
    fn integer_excludes_bool_and_float() {
        let s = json!({"type": "integer"});
        assert_eq!(messages(s.clone(), json!(true)).len(), 1);
        assert_eq!(messages(s.clone(), json!(1.0)).len(), 1);
        assert!(messages(s, json!(3)).is_empty());
    }

    #[test]
    fn date_format() {
        let s = json!({"format": "date"});
        assert!(messages(s.clone(), json!("2024-02-29")).is_empty());
        assert_eq!(
            messages(s.clone(), json!("2023-02-29"))[0].1,
            "'2023-02-29' is not a 'date'"
        );
        assert_eq!(messages(s.clone(), json!("0000-01-01")).len(), 1);
        assert_eq!(messages(s.clone(), json!("2024-1-01")).len(), 1);
        assert!(messages(s, json!(5)).is_empty());
    }

    #[test]
    fn exclusive_minimum_and_tuple_items() {
        let s = json!({"minimum": 1, "exclusiveMinimum": true});
        assert_eq!(
            messages(s, json!(1))[0].1,
            "1 is less than or equal to the minimum of 1"
        );
        let s = json!({"items": [{"type": "string"}], "additionalItems": false});
        assert_eq!(
            messages(s, json!(["a", 2, 3]))[0].1,
            "Additional items are not allowed (2, 3 were unexpected)"
        );
    }
}

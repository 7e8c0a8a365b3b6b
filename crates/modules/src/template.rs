//! Upstream's `templater.render_string`: a first line `## template: jinja`
//! selects Jinja (rendered with the project's upstream-compatible dialect),
//! anything else the "basic" `$name` / `${name}` substitution.

use ci_pyval::{py_str, py_type};
use serde_json::{Map, Value};

/// Render `text` with `vars`. `Err` carries upstream's message.
pub(crate) fn render_string(text: &str, vars: &Map<String, Value>) -> Result<String, String> {
    let (ident, rest) = text.split_once('\n').unwrap_or((text, ""));
    match template_kind(ident)? {
        None => basic_render(text, vars),
        Some(Kind::Basic) => basic_render(rest, vars),
        Some(Kind::Jinja) => render_jinja(rest, vars),
    }
}

fn render_jinja(body: &str, vars: &Map<String, Value>) -> Result<String, String> {
    ci_userdata::render_jinja_body(body, &Value::Object(vars.clone())).map_err(|e| e.to_string())
}

enum Kind {
    Jinja,
    Basic,
}

/// Upstream matches `##\s*template:(.*)` case-insensitively on the first line.
fn template_kind(ident: &str) -> Result<Option<Kind>, String> {
    let Some(after) = ident.strip_prefix("##") else {
        return Ok(None);
    };
    let after = after.trim_start();
    let Some(head) = after.get(..9) else {
        return Ok(None);
    };
    if !head.eq_ignore_ascii_case("template:") {
        return Ok(None);
    }
    let kind = after[9..].trim().to_lowercase();
    match kind.as_str() {
        "jinja" => Ok(Some(Kind::Jinja)),
        "basic" => Ok(Some(Kind::Basic)),
        other => Err(format!(
            "Unknown template rendering type '{other}' requested"
        )),
    }
}

/// `$name`, `${name}` and dotted paths (`$a.b`) replaced from `vars`;
/// a missing key is an error, as upstream's `KeyError`.
pub(crate) fn basic_render(text: &str, vars: &Map<String, Value>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.';
        let (name, consumed) = if let Some(inner) = after.strip_prefix('{') {
            let end = inner.find(|c: char| !is_name(c)).unwrap_or(inner.len());
            if end > 0 && inner[end..].starts_with('}') {
                (Some(&inner[..end]), end + 2)
            } else {
                (None, 0)
            }
        } else {
            let end = after.find(|c: char| !is_name(c)).unwrap_or(after.len());
            if end > 0 {
                (Some(&after[..end]), end)
            } else {
                (None, 0)
            }
        };
        match name {
            Some(n) => {
                out.push_str(&lookup(vars, n)?);
                rest = &after[consumed..];
            }
            None => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn lookup(vars: &Map<String, Value>, name: &str) -> Result<String, String> {
    let mut parts = name.split('.').peekable();
    let mut cur: &Map<String, Value> = vars;
    while let Some(key) = parts.next() {
        let v = cur.get(key).ok_or_else(|| format!("'{key}'"))?;
        if parts.peek().is_none() {
            return Ok(py_str(v));
        }
        cur = match v {
            Value::Object(m) => m,
            other => {
                let next = parts.peek().copied().unwrap_or_default();
                return Err(format!(
                    "Can not traverse into non-dictionary '{}' of type {} while looking for subkey '{next}'",
                    py_str(other),
                    py_type(other)
                ));
            }
        };
    }
    Ok(String::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn basic_and_jinja() {
        let v = vars(json!({"a": "x", "b": {"c": 2}}));
        assert_eq!(basic_render("$a-${a} $b.c $ $1x", &v).unwrap_err(), "'1x'");
        assert_eq!(basic_render("$a-${a} $b.c $ ${", &v).unwrap(), "x-x 2 $ ${");
        assert_eq!(basic_render("$zz", &v).unwrap_err(), "'zz'");
        assert_eq!(
            render_string("## template: jinja\n{{a}} {{missing}}\n", &v).unwrap(),
            "x CI_MISSING_JINJA_VAR/missing\n"
        );
        assert_eq!(render_string("## template: basic\n$a", &v).unwrap(), "x");
        assert!(render_string("## template: mako\n", &v).is_err());
        // A blank last line survives, as with upstream's Jinja.
        assert_eq!(
            render_string("## template: jinja\n{{a}}\n\n", &v).unwrap(),
            "x\n\n"
        );
        assert_eq!(render_string("## template: jinja\n{{a}}", &v).unwrap(), "x");
        assert_eq!(
            render_string("## template: jinja\n{% if a %}\n{{a}}\n{% endif %}\n", &v).unwrap(),
            "x\n\n"
        );
    }
}

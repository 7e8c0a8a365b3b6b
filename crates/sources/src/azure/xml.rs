//! A small, bounded XML reader for the documents Azure hands us
//! (`ovf-env.xml`, the wireserver goal state): elements with namespaces and
//! text, nothing else (no DTDs, no external entities). Errors are worded as
//! Python's expat-backed `ElementTree` words them (`mismatched tag: line 3,
//! column 2`), since upstream puts that text in its failure reports.

/// Documents larger than this are refused.
const MAX_DOC: usize = 4 * 1024 * 1024;
/// Nesting deeper than this is refused.
const MAX_DEPTH: usize = 64;

/// One element: namespace URI (resolved from its prefix), local name, the
/// text before its first child (ElementTree's `.text`) and its children.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    pub ns: Option<String>,
    pub name: String,
    pub text: Option<String>,
    pub children: Vec<Element>,
}

impl Element {
    /// Children named `name` in namespace `ns` (`None`: no namespace).
    pub fn find_all(&self, ns: Option<&str>, name: &str) -> Vec<&Element> {
        self.children
            .iter()
            .filter(|c| c.name == name && c.ns.as_deref() == ns)
            .collect()
    }

    pub fn find(&self, ns: Option<&str>, name: &str) -> Option<&Element> {
        self.children
            .iter()
            .find(|c| c.name == name && c.ns.as_deref() == ns)
    }

    /// Follow a path of un-namespaced child names (goal-state style).
    pub fn path(&self, names: &[&str]) -> Option<&Element> {
        let mut cur = self;
        for n in names {
            cur = cur.find(None, n)?;
        }
        Some(cur)
    }
}

/// A parse error with expat's wording and 1-based line, 0-based column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlError {
    pub msg: String,
}

impl std::fmt::Display for XmlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.msg)
    }
}

struct RawElem {
    qname: String,
    /// Prefix → URI declared on this element (`""` for the default namespace).
    decls: Vec<(String, String)>,
    text: Option<String>,
    children: Vec<Element>,
    /// Text seen after a child: kept out of `.text`, as ElementTree's `.tail`.
    seen_child: bool,
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn err(&self, what: &str, at: usize) -> XmlError {
        let before = self.s.get(..at).unwrap_or(self.s);
        let line = before.matches('\n').count() + 1;
        let col = before
            .rsplit('\n')
            .next()
            .map(|l| l.chars().count())
            .unwrap_or(0);
        XmlError {
            msg: format!("{what}: line {line}, column {col}"),
        }
    }

    fn rest(&self) -> &'a str {
        self.s.get(self.pos..).unwrap_or("")
    }

    fn skip_ws(&mut self) {
        let r = self.rest();
        let trimmed = r.trim_start_matches([' ', '\t', '\r', '\n']);
        self.pos += r.len() - trimmed.len();
    }

    fn name(&mut self) -> Option<String> {
        let r = self.rest();
        let end = r
            .char_indices()
            .find(|(i, c)| {
                !(c.is_alphanumeric()
                    || matches!(c, '_' | ':' | '-' | '.')
                    || (*i > 0 && c.is_ascii_digit()))
            })
            .map(|(i, _)| i)
            .unwrap_or(r.len());
        let n = r.get(..end)?;
        if n.is_empty() || n.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '.') {
            return None;
        }
        self.pos += end;
        Some(n.to_string())
    }
}

/// Replace the five predefined entities and character references.
fn unescape(p: &Parser, raw: &str, at: usize) -> Result<String, XmlError> {
    if !raw.contains('&') {
        return Ok(raw.to_string());
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('&') {
        out.push_str(rest.get(..i).unwrap_or(""));
        let after = rest.get(i + 1..).unwrap_or("");
        let Some(end) = after.find(';') else {
            return Err(p.err("not well-formed (invalid token)", at));
        };
        let ent = after.get(..end).unwrap_or("");
        let ch = match ent {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => {
                let num = if let Some(h) = ent.strip_prefix("#x") {
                    u32::from_str_radix(h, 16).ok()
                } else if let Some(d) = ent.strip_prefix('#') {
                    d.parse::<u32>().ok()
                } else {
                    return Err(p.err("undefined entity", at));
                };
                num.and_then(char::from_u32)
            }
        };
        match ch {
            Some(c) => out.push(c),
            None => return Err(p.err("reference to invalid character number", at)),
        }
        rest = after.get(end + 1..).unwrap_or("");
    }
    out.push_str(rest);
    Ok(out)
}

fn resolve(stack: &[RawElem], own: &[(String, String)], prefix: &str) -> Option<String> {
    own.iter()
        .chain(stack.iter().rev().flat_map(|e| e.decls.iter()))
        .find(|(p, _)| p == prefix)
        .map(|(_, u)| u.clone())
        .filter(|u| !u.is_empty())
}

fn split_qname(q: &str) -> (&str, &str) {
    match q.split_once(':') {
        Some((p, l)) => (p, l),
        None => ("", q),
    }
}

/// Parse a whole document (UTF-8; a BOM is allowed).
pub fn parse(bytes: &[u8]) -> Result<Element, XmlError> {
    if bytes.len() > MAX_DOC {
        return Err(XmlError {
            msg: format!(
                "document too large ({} bytes, limit {MAX_DOC})",
                bytes.len()
            ),
        });
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let p = Parser {
                s: std::str::from_utf8(bytes.get(..e.valid_up_to()).unwrap_or_default())
                    .unwrap_or(""),
                pos: 0,
            };
            return Err(p.err("not well-formed (invalid token)", e.valid_up_to()));
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut p = Parser { s: text, pos: 0 };
    let mut stack: Vec<RawElem> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        if stack.is_empty() {
            p.skip_ws();
        }
        let start = p.pos;
        let rest = p.rest();
        if rest.is_empty() {
            if let Some(r) = root {
                if stack.is_empty() {
                    return Ok(r);
                }
            }
            return Err(p.err("no element found", start));
        }
        if let Some(r) = rest.strip_prefix("<?") {
            let Some(end) = r.find("?>") else {
                return Err(p.err("unclosed token", start));
            };
            p.pos += 2 + end + 2;
            continue;
        }
        if let Some(r) = rest.strip_prefix("<!--") {
            let Some(end) = r.find("-->") else {
                return Err(p.err("unclosed token", start));
            };
            p.pos += 4 + end + 3;
            continue;
        }
        if let Some(r) = rest.strip_prefix("<![CDATA[") {
            let Some(end) = r.find("]]>") else {
                return Err(p.err("unclosed CDATA section", start));
            };
            let data = r.get(..end).unwrap_or("");
            match stack.last_mut() {
                Some(top) => push_text(top, data),
                None => return Err(p.err("syntax error", start)),
            }
            p.pos += 9 + end + 3;
            continue;
        }
        if rest.starts_with("<!") {
            // DOCTYPE and friends: not part of the documents we read.
            return Err(p.err("syntax error", start));
        }
        if let Some(r) = rest.strip_prefix("</") {
            p.pos += 2;
            let Some(name) = p.name() else {
                return Err(p.err("not well-formed (invalid token)", start));
            };
            p.skip_ws();
            if !p.rest().starts_with('>') {
                return Err(p.err("not well-formed (invalid token)", p.pos));
            }
            p.pos += 1;
            let _ = r;
            let Some(top) = stack.pop() else {
                return Err(p.err("not well-formed (invalid token)", start));
            };
            if top.qname != name {
                return Err(p.err("mismatched tag", start + 2));
            }
            let (prefix, local) = split_qname(&top.qname);
            let ns = resolve(&stack, &top.decls, prefix);
            if !prefix.is_empty() && ns.is_none() {
                return Err(p.err("unbound prefix", start));
            }
            let el = Element {
                ns,
                name: local.to_string(),
                text: top.text,
                children: top.children,
            };
            match stack.last_mut() {
                Some(parent) => {
                    parent.children.push(el);
                    parent.seen_child = true;
                }
                None => root = Some(el),
            }
            continue;
        }
        if rest.starts_with('<') {
            if root.is_some() && stack.is_empty() {
                return Err(p.err("junk after document element", start));
            }
            if stack.len() >= MAX_DEPTH {
                return Err(p.err("document nested too deeply", start));
            }
            p.pos += 1;
            let Some(qname) = p.name() else {
                return Err(p.err("not well-formed (invalid token)", p.pos));
            };
            let mut decls = Vec::new();
            let self_closing;
            loop {
                let before = p.pos;
                p.skip_ws();
                let r = p.rest();
                if r.starts_with("/>") {
                    p.pos += 2;
                    self_closing = true;
                    break;
                }
                if r.starts_with('>') {
                    p.pos += 1;
                    self_closing = false;
                    break;
                }
                if r.is_empty() {
                    return Err(p.err("unclosed token", start));
                }
                if p.pos == before {
                    return Err(p.err("not well-formed (invalid token)", p.pos));
                }
                let at = p.pos;
                let Some(attr) = p.name() else {
                    return Err(p.err("not well-formed (invalid token)", at));
                };
                p.skip_ws();
                if !p.rest().starts_with('=') {
                    return Err(p.err("not well-formed (invalid token)", p.pos));
                }
                p.pos += 1;
                p.skip_ws();
                let r = p.rest();
                let Some(q) = r.chars().next().filter(|c| *c == '"' || *c == '\'') else {
                    return Err(p.err("not well-formed (invalid token)", p.pos));
                };
                let Some(end) = r.get(1..).and_then(|x| x.find(q)) else {
                    return Err(p.err("unclosed token", start));
                };
                let raw = r.get(1..1 + end).unwrap_or("");
                if raw.contains('<') {
                    return Err(p.err("not well-formed (invalid token)", p.pos));
                }
                let value = unescape(&p, raw, p.pos)?;
                p.pos += end + 2;
                if attr == "xmlns" {
                    decls.push((String::new(), value));
                } else if let Some(px) = attr.strip_prefix("xmlns:") {
                    decls.push((px.to_string(), value));
                }
            }
            let (prefix, _) = split_qname(&qname);
            if !prefix.is_empty() && resolve(&stack, &decls, prefix).is_none() {
                return Err(p.err("unbound prefix", start));
            }
            let raw = RawElem {
                qname,
                decls,
                text: None,
                children: Vec::new(),
                seen_child: false,
            };
            if self_closing {
                let (prefix, local) = split_qname(&raw.qname);
                let ns = resolve(&stack, &raw.decls, prefix);
                if !prefix.is_empty() && ns.is_none() {
                    return Err(p.err("unbound prefix", start));
                }
                let el = Element {
                    ns,
                    name: local.to_string(),
                    text: None,
                    children: Vec::new(),
                };
                match stack.last_mut() {
                    Some(parent) => {
                        parent.children.push(el);
                        parent.seen_child = true;
                    }
                    None => root = Some(el),
                }
            } else {
                stack.push(raw);
            }
            continue;
        }
        // Character data up to the next markup.
        let end = rest.find('<').unwrap_or(rest.len());
        let raw = rest.get(..end).unwrap_or("");
        match stack.last_mut() {
            Some(_) => {
                let t = unescape(&p, raw, start)?;
                if let Some(top) = stack.last_mut() {
                    push_text(top, &t);
                }
            }
            None if root.is_some() => return Err(p.err("junk after document element", start)),
            None => return Err(p.err("syntax error", start)),
        }
        p.pos += end;
    }
}

fn push_text(top: &mut RawElem, t: &str) {
    if top.seen_child {
        return;
    }
    top.text.get_or_insert_with(String::new).push_str(t);
}

/// `xml.sax.saxutils.escape`: `&`, `<`, `>`.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_text_and_children() {
        let doc = br#"<?xml version="1.0"?>
<Environment xmlns="urn:a" xmlns:wa="urn:wa"><!-- c -->
  <wa:Section><wa:Name>x &amp; y</wa:Name><wa:Empty/><wa:E2></wa:E2>
  <Plain a='1'>t<![CDATA[<c>]]></Plain></wa:Section>
</Environment>"#;
        let root = parse(doc).unwrap();
        assert_eq!(root.name, "Environment");
        assert_eq!(root.ns.as_deref(), Some("urn:a"));
        let sec = root.find(Some("urn:wa"), "Section").unwrap();
        assert_eq!(
            sec.find(Some("urn:wa"), "Name").unwrap().text.as_deref(),
            Some("x & y")
        );
        assert_eq!(sec.find(Some("urn:wa"), "Empty").unwrap().text, None);
        assert_eq!(sec.find(Some("urn:wa"), "E2").unwrap().text, None);
        assert_eq!(
            sec.find(Some("urn:a"), "Plain").unwrap().text.as_deref(),
            Some("t<c>")
        );
    }

    #[test]
    fn errors_worded_like_expat() {
        // Oracle (ET.fromstring): these messages.
        assert_eq!(
            parse(b"").unwrap_err().msg,
            "no element found: line 1, column 0"
        );
        assert_eq!(
            parse(b"<a>\n  <b></c></a>").unwrap_err().msg,
            "mismatched tag: line 2, column 7"
        );
        assert_eq!(
            parse(b"<a></a><b/>").unwrap_err().msg,
            "junk after document element: line 1, column 7"
        );
        assert_eq!(
            parse(b"<a>").unwrap_err().msg,
            "no element found: line 1, column 3"
        );
        assert_eq!(
            parse(b"<a>\n<b>").unwrap_err().msg,
            "no element found: line 2, column 3"
        );
        assert_eq!(
            parse(b"<a x=1/>").unwrap_err().msg,
            "not well-formed (invalid token): line 1, column 5"
        );
        assert_eq!(
            parse(b"<a>&foo;</a>").unwrap_err().msg,
            "undefined entity: line 1, column 3"
        );
        assert_eq!(
            parse(b"not xml").unwrap_err().msg,
            "syntax error: line 1, column 0"
        );
        assert_eq!(
            parse(b"<x:a></x:a>").unwrap_err().msg,
            "unbound prefix: line 1, column 0"
        );
    }
}

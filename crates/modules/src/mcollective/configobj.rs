//! `server.cfg` as upstream edits it, with Python's `configobj`: comments
//! and order kept, `key = value` lines at the top (the "main" section),
//! `[section]` / `[[subsection]]` blocks, values unquoted on reading (a
//! comma makes a list) and quoted again on writing only where configobj
//! must; scalars are written before the sections of the same level.

use crate::ModuleError;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    Str(String),
    List(Vec<String>),
    Section(Section),
}

/// One entry with the comment lines above it and its inline comment.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    key: String,
    val: Val,
    comments: Vec<String>,
    inline: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Section {
    entries: Vec<Entry>,
}

impl Section {
    /// Set `key`: an existing entry keeps its place and comments.
    pub(crate) fn set(&mut self, key: &str, val: Val) {
        match self.entries.iter_mut().find(|e| e.key == key) {
            Some(e) => e.val = val,
            None => self.entries.push(Entry {
                key: key.to_string(),
                val,
                comments: Vec::new(),
                inline: String::new(),
            }),
        }
    }

    /// The subsection `name`, made (replacing a scalar of that name) when
    /// missing.
    pub(crate) fn section_mut(&mut self, name: &str) -> Option<&mut Section> {
        let pos = match self.entries.iter().position(|e| e.key == name) {
            Some(p) => {
                if !matches!(self.entries[p].val, Val::Section(_)) {
                    self.entries[p].val = Val::Section(Section::default());
                }
                p
            }
            None => {
                self.set(name, Val::Section(Section::default()));
                self.entries.len() - 1
            }
        };
        match &mut self.entries[pos].val {
            Val::Section(s) => Some(s),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ConfigObj {
    initial_comment: Vec<String>,
    final_comment: Vec<String>,
    pub(crate) main: Section,
    indent_type: String,
    newline: String,
}

impl Default for ConfigObj {
    fn default() -> Self {
        ConfigObj {
            initial_comment: Vec::new(),
            final_comment: Vec::new(),
            main: Section::default(),
            indent_type: String::new(),
            newline: "\n".into(),
        }
    }
}

fn parse_error(msg: String, lineno: usize) -> ModuleError {
    ModuleError::with_class("ParseError", format!("{msg} at line \"{lineno}\"."))
}

impl ConfigObj {
    pub(crate) fn parse(text: &str) -> Result<ConfigObj, ModuleError> {
        let mut co = ConfigObj::default();
        if text.contains("\r\n") {
            co.newline = "\r\n".into();
        }
        let lines: Vec<&str> = text
            .split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .collect();
        // A trailing newline is no empty last line.
        let lines = match lines.split_last() {
            Some((&"", rest)) => rest.to_vec(),
            _ => lines,
        };
        let mut indent: Option<String> = None;
        let mut comments: Vec<String> = Vec::new();
        let mut started = false;
        // The path of section names from the top to the current section.
        let mut path: Vec<String> = Vec::new();
        let mut i = 0;
        while i < lines.len() {
            let line = lines[i];
            let lineno = i + 1;
            i += 1;
            let stripped = line.trim();
            if stripped.is_empty() || stripped.starts_with('#') {
                comments.push(line.to_string());
                continue;
            }
            if !started {
                co.initial_comment = std::mem::take(&mut comments);
                started = true;
            }
            let lead = &line[..line.len() - line.trim_start().len()];
            if indent.is_none() && !lead.is_empty() {
                indent = Some(lead.to_string());
            }
            if stripped.starts_with('[') {
                let depth = stripped.chars().take_while(|c| *c == '[').count();
                let rest = &stripped[depth..];
                let close = "]".repeat(depth);
                let Some(end) = rest.find(&close) else {
                    return Err(parse_error(
                        "Cannot compute the section depth".into(),
                        lineno,
                    ));
                };
                let name = unquote_key(rest[..end].trim());
                let inline = rest[end + depth..].trim().to_string();
                if depth > path.len() + 1 {
                    return Err(parse_error("Section too nested".into(), lineno));
                }
                path.truncate(depth - 1);
                let parent = section_at(&mut co.main, &path)
                    .ok_or_else(|| parse_error("Section too nested".into(), lineno))?;
                if parent.entries.iter().any(|e| e.key == name) {
                    return Err(parse_error("Duplicate section name".into(), lineno));
                }
                parent.entries.push(Entry {
                    key: name.clone(),
                    val: Val::Section(Section::default()),
                    comments: std::mem::take(&mut comments),
                    inline,
                });
                path.push(name);
                continue;
            }
            let Some(eq) = stripped.find('=') else {
                return Err(parse_error(
                    "Invalid line ('".to_string() + line + "')",
                    lineno,
                ));
            };
            let key = unquote_key(stripped[..eq].trim());
            let raw = stripped[eq + 1..].trim_start();
            let (val, inline) =
                if let Some(q) = ["'''", "\"\"\""].iter().find(|q| raw.starts_with(**q)) {
                    // A triple-quoted value may run over several lines.
                    let mut body = raw[3..].to_string();
                    loop {
                        if let Some(end) = body.find(q) {
                            let rest = body[end + 3..].trim().to_string();
                            body.truncate(end);
                            break (Val::Str(body), rest);
                        }
                        let Some(next) = lines.get(i) else {
                            return Err(parse_error(
                                "Unterminated triple-quoted value".into(),
                                lineno,
                            ));
                        };
                        body.push('\n');
                        body.push_str(next);
                        i += 1;
                    }
                } else {
                    parse_value(raw).ok_or_else(|| {
                        parse_error(format!("Parse error in value ('{line}')"), lineno)
                    })?
                };
            let section = section_at(&mut co.main, &path)
                .ok_or_else(|| parse_error("Section too nested".into(), lineno))?;
            if section.entries.iter().any(|e| e.key == key) {
                return Err(parse_error("Duplicate keyword name".into(), lineno));
            }
            section.entries.push(Entry {
                key,
                val,
                comments: std::mem::take(&mut comments),
                inline,
            });
        }
        if started {
            co.final_comment = comments;
        } else {
            co.initial_comment = comments;
        }
        co.indent_type = indent.unwrap_or_default();
        Ok(co)
    }

    /// configobj's `write`: the lines joined with the file's newline, and
    /// one at the end.
    pub(crate) fn render(&self) -> String {
        let mut out: Vec<String> = self.initial_comment.iter().map(|l| commented(l)).collect();
        self.write_section(&self.main, 0, &mut out);
        out.extend(self.final_comment.iter().map(|l| commented(l)));
        let mut text = out.join(&self.newline);
        if !text.ends_with(&self.newline) {
            text.push_str(&self.newline);
        }
        text
    }

    fn write_section(&self, section: &Section, depth: usize, out: &mut Vec<String>) {
        let indent = self.indent_type.repeat(depth);
        let scalars = section
            .entries
            .iter()
            .filter(|e| !matches!(e.val, Val::Section(_)));
        let sections = section
            .entries
            .iter()
            .filter(|e| matches!(e.val, Val::Section(_)));
        for e in scalars.chain(sections) {
            for c in &e.comments {
                let c = c.trim_start();
                out.push(format!("{indent}{}", commented(c)));
            }
            let comment = self.inline_comment(&e.inline);
            match &e.val {
                Val::Section(s) => {
                    let d = depth + 1;
                    out.push(format!(
                        "{indent}{}{}{}{comment}",
                        "[".repeat(d),
                        quote(&e.key, false),
                        "]".repeat(d)
                    ));
                    self.write_section(s, d, out);
                }
                Val::Str(v) => out.push(format!(
                    "{indent}{} = {}{comment}",
                    quote(&e.key, false),
                    quote(v, true)
                )),
                Val::List(items) => {
                    let v = match items.len() {
                        0 => ",".to_string(),
                        1 => format!("{},", quote(&items[0], false)),
                        _ => items
                            .iter()
                            .map(|x| quote(x, false))
                            .collect::<Vec<_>>()
                            .join(", "),
                    };
                    out.push(format!("{indent}{} = {v}{comment}", quote(&e.key, false)));
                }
            }
        }
    }

    fn inline_comment(&self, c: &str) -> String {
        if c.is_empty() {
            return String::new();
        }
        if c.starts_with('#') {
            format!("{}{c}", self.indent_type)
        } else {
            format!("{} # {c}", self.indent_type)
        }
    }
}

fn section_at<'a>(main: &'a mut Section, path: &[String]) -> Option<&'a mut Section> {
    let mut s = main;
    for name in path {
        s = s.section_mut(name)?;
    }
    Some(s)
}

/// A comment line keeps its text; a non-empty one without `#` gets `# `.
fn commented(line: &str) -> String {
    let s = line.trim();
    if !s.is_empty() && !s.starts_with('#') {
        format!("# {line}")
    } else {
        line.to_string()
    }
}

fn unquote_key(k: &str) -> String {
    for q in ['"', '\''] {
        if k.len() >= 2 && k.starts_with(q) && k.ends_with(q) {
            return k[1..k.len() - 1].to_string();
        }
    }
    k.to_string()
}

/// One value: quoted or bare items separated by commas (a list when there
/// is a comma), then an optional `# comment`.
fn parse_value(raw: &str) -> Option<(Val, String)> {
    let mut items: Vec<String> = Vec::new();
    let mut rest = raw.trim();
    let mut is_list = false;
    loop {
        if rest.is_empty() || rest.starts_with('#') {
            break;
        }
        let (item, after) = if let Some(q) = rest.chars().next().filter(|c| *c == '"' || *c == '\'')
        {
            let end = rest[1..].find(q)? + 1;
            (rest[1..end].to_string(), rest[end + 1..].trim_start())
        } else {
            let end = rest.find([',', '#']).unwrap_or(rest.len());
            (rest[..end].trim_end().to_string(), &rest[end..])
        };
        items.push(item);
        rest = after;
        match rest.strip_prefix(',') {
            Some(r) => {
                is_list = true;
                rest = r.trim_start();
            }
            None => break,
        }
    }
    let comment = rest.trim();
    if !comment.is_empty() && !comment.starts_with('#') {
        return None;
    }
    let val = if is_list {
        items.retain(|s| !s.is_empty());
        Val::List(items)
    } else {
        Val::Str(items.pop().unwrap_or_default())
    };
    Some((val, comment.to_string()))
}

/// configobj's `_quote` (list values on, no empty-value writing).
fn quote(value: &str, multiline: bool) -> String {
    if value.is_empty() {
        return "\"\"".into();
    }
    let has_sq = value.contains('\'');
    let has_dq = value.contains('"');
    let need_triple = multiline && ((has_sq && has_dq) || value.contains('\n'));
    let hash_triple = multiline && !need_triple && has_sq && has_dq && value.contains('#');
    const WSPACE_PLUS: &str = " \r\n\u{b}\t'\"";
    let first = value.chars().next().unwrap_or(' ');
    let last = value.chars().last().unwrap_or(' ');
    let single = |v: &str| {
        if v.contains('"') {
            format!("'{v}'")
        } else {
            format!("\"{v}\"")
        }
    };
    let quoted = if !need_triple && !hash_triple {
        if !WSPACE_PLUS.contains(first) && !WSPACE_PLUS.contains(last) && !value.contains(',') {
            None
        } else {
            Some(single(value))
        }
    } else if value.contains("\"\"\"") {
        Some(format!("\"\"\"{value}\"\"\""))
    } else {
        Some(format!("'''{value}'''"))
    };
    match quoted {
        Some(q) => q,
        None if value.contains('#') => single(value),
        None => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_config_layout_and_quoting() {
        let mut co = ConfigObj::default();
        co.main.set("loglevel", Val::Str("debug".into()));
        let s = co.main.section_mut("sec").unwrap();
        for (k, v) in [
            ("d", "x, y"),
            ("e", ""),
            ("f", " sp"),
            ("g", "a#b"),
            ("i", "it's"),
            ("j", "q\"d"),
            ("k", "both'\""),
            ("l", "multi\nline"),
        ] {
            s.set(k, Val::Str(v.into()));
        }
        s.set("h", Val::List(vec!["l1".into(), "l2".into()]));
        co.main.set("m", Val::Str("5".into()));
        assert_eq!(
            co.render(),
            "loglevel = debug\nm = 5\n[sec]\nd = \"x, y\"\ne = \"\"\nf = \" sp\"\ng = \"a#b\"\ni = it's\nj = q\"d\nk = '''both'\"'''\nl = '''multi\nline'''\nh = l1, l2\n"
        );
    }

    #[test]
    fn existing_file_keeps_comments_order_and_indent() {
        let src = "# top comment\n\n# another\nmain_collective = mcollective\ncollectives = mcollective, other  # inline\nlibdir = '/usr/share/mcollective/plugins'\n\n[sect]\n  x = 1\n  [[sub]]\n    y = 2\n# final\n";
        let mut co = ConfigObj::parse(src).unwrap();
        co.main.set("loglevel", Val::Str("debug".into()));
        let s = co.main.section_mut("sect").unwrap();
        s.set("x", Val::Str("9".into()));
        s.set("z", Val::Str("3".into()));
        co.main
            .section_mut("new")
            .unwrap()
            .set("k", Val::Str("v".into()));
        assert_eq!(
            co.render(),
            "# top comment\n\n# another\nmain_collective = mcollective\ncollectives = mcollective, other  # inline\nlibdir = /usr/share/mcollective/plugins\nloglevel = debug\n\n[sect]\n  x = 9\n  z = 3\n  [[sub]]\n    y = 2\n[new]\n  k = v\n# final\n"
        );
    }

    #[test]
    fn crlf_files_stay_crlf() {
        let mut co = ConfigObj::parse("a = 1\r\nb = 2\r\n").unwrap();
        co.main.set("c", Val::Str("3".into()));
        assert_eq!(co.render(), "a = 1\r\nb = 2\r\nc = 3\r\n");
    }
}

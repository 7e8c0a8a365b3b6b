//! `puppet.conf` as upstream edits it: read by Python's `RawConfigParser`
//! (comments dropped, option names lowercased, `[DEFAULT]` kept apart),
//! changed with `set`, and written back in the parser's own layout
//! (`key = value`, a blank line after every section).

use crate::ModuleError;

/// The sections of one INI file, in file order.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Ini {
    defaults: Vec<(String, String)>,
    sections: Vec<(String, Vec<(String, String)>)>,
}

const DEFAULT_SECTION: &str = "DEFAULT";

fn parse_error(class: &'static str, msg: String) -> ModuleError {
    ModuleError::with_class(class, msg)
}

impl Ini {
    /// `read_file` on `text` after upstream strips each line's leading
    /// blanks (so no line continues the value before it). `source` names
    /// the file in error messages, as the parser does.
    pub(crate) fn parse(text: &str, source: &str) -> Result<Ini, ModuleError> {
        let mut ini = Ini::default();
        // Index into `sections`, or `None` for [DEFAULT]; unset before the
        // first header.
        let mut current: Option<Option<usize>> = None;
        let mut bad: Vec<(usize, String)> = Vec::new();
        for (n, raw) in text.split('\n').enumerate() {
            let lineno = n + 1;
            let line = raw.trim_start();
            let value = line.trim();
            if value.is_empty() || value.starts_with('#') || value.starts_with(';') {
                continue;
            }
            if let Some(name) = section_header(value) {
                if name == DEFAULT_SECTION {
                    current = Some(None);
                    continue;
                }
                if ini.sections.iter().any(|(s, _)| s == name) {
                    return Err(parse_error(
                        "DuplicateSectionError",
                        format!(
                            "While reading from '{source}' [line {lineno:2}]: section '{name}' already exists"
                        ),
                    ));
                }
                ini.sections.push((name.to_string(), Vec::new()));
                current = Some(Some(ini.sections.len() - 1));
                continue;
            }
            let Some(cur) = current else {
                return Err(parse_error(
                    "MissingSectionHeaderError",
                    format!(
                        "File contains no section headers.\nfile: '{source}', line: {lineno}\n{}",
                        ci_pyval::py_quote(&format!("{raw}\n"))
                    ),
                ));
            };
            let Some((opt, val)) = split_option(value) else {
                bad.push((lineno, raw.to_string()));
                continue;
            };
            let items = match cur {
                None => &mut ini.defaults,
                Some(i) => &mut ini.sections[i].1,
            };
            if items.iter().any(|(k, _)| *k == opt) {
                let section = match cur {
                    None => DEFAULT_SECTION.to_string(),
                    Some(i) => ini.sections[i].0.clone(),
                };
                return Err(parse_error(
                    "DuplicateOptionError",
                    format!(
                        "While reading from '{source}' [line {lineno:2}]: option '{opt}' in section '{section}' already exists"
                    ),
                ));
            }
            items.push((opt, val));
        }
        if !bad.is_empty() {
            let mut msg = format!("Source contains parsing errors: '{source}'");
            for (n, l) in bad {
                msg.push_str(&format!(
                    "\n\t[line {n:2}]: {}",
                    ci_pyval::py_quote(&format!("{l}\n"))
                ));
            }
            return Err(parse_error("ParsingError", msg));
        }
        Ok(ini)
    }

    /// Upstream's `DefaultingConfigParser.set`: a missing section is added
    /// (any spelling of "default" but `DEFAULT` itself is refused, as the
    /// parser does), the option name lowercased, the value replaced in
    /// place or appended.
    pub(crate) fn set(
        &mut self,
        section: &str,
        option: &str,
        value: String,
    ) -> Result<(), ModuleError> {
        let option = option.to_lowercase();
        let items = if section == DEFAULT_SECTION {
            &mut self.defaults
        } else {
            let pos = match self.sections.iter().position(|(s, _)| s == section) {
                Some(p) => p,
                None if section.to_lowercase() == "default" => {
                    return Err(ModuleError::with_class(
                        "NoSectionError",
                        format!("No section: {}", ci_pyval::py_quote(section)),
                    ));
                }
                None => {
                    self.sections.push((section.to_string(), Vec::new()));
                    self.sections.len() - 1
                }
            };
            &mut self.sections[pos].1
        };
        match items.iter_mut().find(|(k, _)| *k == option) {
            Some(item) => item.1 = value,
            None => items.push((option, value)),
        }
        Ok(())
    }

    /// The parser's `write`: `[DEFAULT]` first when it has options, then
    /// every section; a value's newlines continue on tab-indented lines.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        let mut section = |name: &str, items: &[(String, String)]| {
            out.push_str(&format!("[{name}]\n"));
            for (k, v) in items {
                out.push_str(&format!("{k} = {}\n", v.replace('\n', "\n\t")));
            }
            out.push('\n');
        };
        if !self.defaults.is_empty() {
            section(DEFAULT_SECTION, &self.defaults);
        }
        for (name, items) in &self.sections {
            section(name, items);
        }
        out
    }
}

/// `[name]` at the start of the line; the name runs to the last `]`.
fn section_header(line: &str) -> Option<&str> {
    let rest = line.strip_prefix('[')?;
    let end = rest.rfind(']')?;
    let name = &rest[..end];
    (!name.is_empty()).then_some(name)
}

/// `name = value` or `name: value`, split at the first delimiter; the name
/// is lowercased and must not be empty.
fn split_option(line: &str) -> Option<(String, String)> {
    let at = line.find(['=', ':'])?;
    let name = line[..at].trim_end();
    if name.is_empty() {
        return None;
    }
    Some((name.to_lowercase(), line[at + 1..].trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_as_the_python_parser() {
        let text = "# comment\n[main]\n  logdir=/var/log/puppet\nVarDir : /var/lib/puppet\n\n[agent]\nserver = old\n";
        let mut ini = Ini::parse(text, "/etc/puppet/puppet.conf").unwrap();
        ini.set("agent", "Server", "new".into()).unwrap();
        ini.set("user", "x", "a\nb".into()).unwrap();
        ini.set("DEFAULT", "d", "1".into()).unwrap();
        assert_eq!(
            ini.render(),
            "[DEFAULT]\nd = 1\n\n[main]\nlogdir = /var/log/puppet\nvardir = /var/lib/puppet\n\n[agent]\nserver = new\n\n[user]\nx = a\n\tb\n\n"
        );
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let e = Ini::parse("key = v\n", "/p.conf").unwrap_err();
        assert_eq!(e.py_class(), "MissingSectionHeaderError");
        assert!(e.to_string().contains("file: '/p.conf', line: 1"), "{e}");
        let e = Ini::parse("[a]\nx=1\nx=2\n", "/p.conf").unwrap_err();
        assert_eq!(e.py_class(), "DuplicateOptionError");
        let e = Ini::parse("[a]\nnovalue\n", "/p.conf").unwrap_err();
        assert_eq!(e.py_class(), "ParsingError");
        let mut ini = Ini::default();
        assert_eq!(
            ini.set("default", "a", "b".into()).unwrap_err().py_class(),
            "NoSectionError"
        );
    }
}

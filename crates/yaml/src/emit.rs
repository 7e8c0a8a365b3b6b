//! A YAML writer that reproduces PyYAML's SafeDumper output for JSON
//! values in block style: sorted keys, indentless sequences under mapping
//! keys, empty collections as `[]`/`{}`, strings quoted only when PyYAML
//! would (when they would read back as another type, or contain indicators),
//! non-ASCII escaped in double quotes (PyYAML's default `allow_unicode=False`),
//! and PyYAML's line folding at 80 columns.

use crate::resolve::{resolve_plain, Implicit};
use ci_pyval::float_repr;
use serde_json::Value;

/// Options of `yaml.dump` that callers use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpOptions {
    /// PyYAML `indent` (2..=9; anything else means 2).
    pub indent: usize,
    /// PyYAML `width` (line folding column).
    pub width: usize,
    /// Write `---` before the document.
    pub explicit_start: bool,
    /// Write `...` after the document.
    pub explicit_end: bool,
}

impl Default for DumpOptions {
    fn default() -> Self {
        DumpOptions {
            indent: 2,
            width: 80,
            explicit_start: false,
            explicit_end: false,
        }
    }
}

/// `yaml.safe_dump(v, default_flow_style=False)`.
pub fn dump(v: &Value) -> String {
    dump_with(v, &DumpOptions::default())
}

/// cloud-init's `safeyaml.dumps(v)`: indent 4, explicit `---` and `...`.
pub fn dumps(v: &Value) -> String {
    dump_with(
        v,
        &DumpOptions {
            indent: 4,
            explicit_start: true,
            explicit_end: true,
            ..DumpOptions::default()
        },
    )
}

pub fn dump_with(v: &Value, opts: &DumpOptions) -> String {
    let best_indent = if (2..10).contains(&opts.indent) {
        opts.indent
    } else {
        2
    };
    let best_width = if opts.width > best_indent * 2 {
        opts.width
    } else {
        80
    };
    let mut e = Emitter {
        out: String::new(),
        best_indent,
        best_width,
        indent: None,
        indents: Vec::new(),
        column: 0,
        whitespace: true,
        indention: true,
        open_ended: false,
        flow_level: 0,
        root_context: false,
        mapping_context: false,
        simple_key_context: false,
    };
    let empty_doc = matches!(v, Value::String(s) if s.is_empty());
    if opts.explicit_start || empty_doc {
        e.write_indent();
        e.write_indicator("---", true, false, false);
    }
    e.node(v, true, false, false);
    e.write_indent();
    if opts.explicit_end {
        e.write_indicator("...", true, false, false);
        e.write_indent();
    }
    if e.open_ended {
        e.write_indicator("...", true, false, false);
        e.write_indent();
    }
    e.out
}

fn is_break(c: char) -> bool {
    matches!(c, '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_ws(c: char) -> bool {
    matches!(
        c,
        '\0' | ' ' | '\t' | '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    Single,
    Double,
}

struct Analysis {
    empty: bool,
    multiline: bool,
    allow_flow_plain: bool,
    allow_block_plain: bool,
    allow_single_quoted: bool,
}

/// Which styles can carry this text unchanged (PyYAML's analyze_scalar).
fn analyze(text: &[char]) -> Analysis {
    if text.is_empty() {
        return Analysis {
            empty: true,
            multiline: false,
            allow_flow_plain: false,
            allow_block_plain: true,
            allow_single_quoted: true,
        };
    }
    let (mut block_ind, mut flow_ind, mut line_breaks, mut special) = (false, false, false, false);
    let (mut lead_space, mut lead_break, mut trail_space, mut trail_break) =
        (false, false, false, false);
    let (mut break_space, mut space_break) = (false, false);
    let starts = |p: &str| text.iter().take(3).copied().eq(p.chars());
    if starts("---") || starts("...") {
        block_ind = true;
        flow_ind = true;
    }
    let mut preceded_by_ws = true;
    let mut followed_by_ws = text.len() == 1 || text.get(1).is_some_and(|c| is_ws(*c));
    let (mut prev_space, mut prev_break) = (false, false);
    let last = text.len() - 1;
    for (i, &ch) in text.iter().enumerate() {
        if i == 0 {
            if "#,[]{}&*!|>'\"%@`".contains(ch) {
                flow_ind = true;
                block_ind = true;
            }
            if ch == '?' || ch == ':' {
                flow_ind = true;
                if followed_by_ws {
                    block_ind = true;
                }
            }
            if ch == '-' && followed_by_ws {
                flow_ind = true;
                block_ind = true;
            }
        } else {
            if ",?[]{}".contains(ch) {
                flow_ind = true;
            }
            if ch == ':' {
                flow_ind = true;
                if followed_by_ws {
                    block_ind = true;
                }
            }
            if ch == '#' && preceded_by_ws {
                flow_ind = true;
                block_ind = true;
            }
        }
        if is_break(ch) {
            line_breaks = true;
        }
        if !(ch == '\n' || (' '..='~').contains(&ch)) {
            // Without allow_unicode every non-ASCII character is special.
            special = true;
        }
        if ch == ' ' {
            lead_space |= i == 0;
            trail_space |= i == last;
            break_space |= prev_break;
            prev_space = true;
            prev_break = false;
        } else if is_break(ch) {
            lead_break |= i == 0;
            trail_break |= i == last;
            space_break |= prev_space;
            prev_space = false;
            prev_break = true;
        } else {
            prev_space = false;
            prev_break = false;
        }
        preceded_by_ws = is_ws(ch);
        followed_by_ws = i + 2 >= text.len() || text.get(i + 2).is_some_and(|c| is_ws(*c));
    }
    let (mut flow_plain, mut block_plain, mut single) = (true, true, true);
    if lead_space || lead_break || trail_space || trail_break {
        flow_plain = false;
        block_plain = false;
    }
    if break_space {
        flow_plain = false;
        block_plain = false;
        single = false;
    }
    if space_break || special {
        flow_plain = false;
        block_plain = false;
        single = false;
    }
    if line_breaks {
        flow_plain = false;
        block_plain = false;
    }
    if flow_ind {
        flow_plain = false;
    }
    if block_ind {
        block_plain = false;
    }
    Analysis {
        empty: false,
        multiline: line_breaks,
        allow_flow_plain: flow_plain,
        allow_block_plain: block_plain,
        allow_single_quoted: single,
    }
}

/// The scalar text and whether it reads back as the same type when plain.
fn scalar_text(v: &Value) -> (String, bool) {
    match v {
        Value::Null => ("null".into(), true),
        Value::Bool(b) => (b.to_string(), true),
        Value::Number(n) => {
            if n.is_f64() {
                let f = n.as_f64().unwrap_or(0.0);
                let mut r = float_repr(f).to_lowercase();
                if !r.contains('.') && r.contains('e') {
                    r = r.replacen('e', ".0e", 1);
                }
                (r, true)
            } else {
                (n.to_string(), true)
            }
        }
        Value::String(s) => (s.clone(), resolve_plain(s) == Implicit::Str),
        Value::Array(_) | Value::Object(_) => (String::new(), false),
    }
}

struct Emitter {
    out: String,
    best_indent: usize,
    best_width: usize,
    indent: Option<usize>,
    indents: Vec<Option<usize>>,
    column: usize,
    whitespace: bool,
    indention: bool,
    open_ended: bool,
    flow_level: usize,
    root_context: bool,
    mapping_context: bool,
    simple_key_context: bool,
}

impl Emitter {
    fn write(&mut self, data: &str) {
        self.column += data.chars().count();
        self.out.push_str(data);
    }

    fn write_chars(&mut self, data: &[char]) {
        self.column += data.len();
        self.out.extend(data.iter());
    }

    fn write_indicator(&mut self, ind: &str, need_ws: bool, whitespace: bool, indention: bool) {
        if !self.whitespace && need_ws {
            self.write(" ");
        }
        self.write(ind);
        self.whitespace = whitespace;
        self.indention = self.indention && indention;
        self.open_ended = false;
    }

    fn write_indent(&mut self) {
        let indent = self.indent.unwrap_or(0);
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.write_line_break(None);
        }
        if self.column < indent {
            self.whitespace = true;
            let pad = " ".repeat(indent - self.column);
            self.write(&pad);
        }
    }

    fn write_line_break(&mut self, br: Option<char>) {
        self.whitespace = true;
        self.indention = true;
        self.column = 0;
        self.out.push(br.unwrap_or('\n'));
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        self.indent = match self.indent {
            None if flow => Some(self.best_indent),
            None => Some(0),
            Some(i) if !indentless => Some(i + self.best_indent),
            Some(i) => Some(i),
        };
    }

    fn pop_indent(&mut self) {
        self.indent = self.indents.pop().unwrap_or(None);
    }

    fn node(&mut self, v: &Value, root: bool, mapping: bool, simple_key: bool) {
        self.root_context = root;
        self.mapping_context = mapping;
        self.simple_key_context = simple_key;
        match v {
            Value::Array(items) if self.flow_level == 0 && !items.is_empty() => {
                let indentless = self.mapping_context && !self.indention;
                self.increase_indent(false, indentless);
                for item in items {
                    self.write_indent();
                    self.write_indicator("-", true, false, true);
                    self.node(item, false, false, false);
                }
                self.pop_indent();
            }
            Value::Object(map) if self.flow_level == 0 && !map.is_empty() => {
                self.increase_indent(false, false);
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                for k in keys {
                    let key = Value::String(k.clone());
                    let val = map.get(k).unwrap_or(&Value::Null);
                    self.write_indent();
                    let chars: Vec<char> = k.chars().collect();
                    let a = analyze(&chars);
                    if chars.len() < 128 && !a.empty && !a.multiline {
                        self.node(&key, false, true, true);
                        self.write_indicator(":", false, false, false);
                    } else {
                        self.write_indicator("?", true, false, true);
                        self.node(&key, false, true, false);
                        self.write_indent();
                        self.write_indicator(":", true, false, true);
                    }
                    self.node(val, false, true, false);
                }
                self.pop_indent();
            }
            Value::Array(_) | Value::Object(_) => {
                let (open, close) = if v.is_array() { ("[", "]") } else { ("{", "}") };
                self.write_indicator(open, true, true, false);
                self.flow_level += 1;
                self.increase_indent(true, false);
                self.pop_indent();
                self.flow_level -= 1;
                self.write_indicator(close, false, false, false);
            }
            _ => self.scalar(v),
        }
    }

    fn scalar(&mut self, v: &Value) {
        if let Some(bytes) = crate::binary::decode(v) {
            self.binary(&bytes);
            return;
        }
        let (text, implicit) = scalar_text(v);
        let chars: Vec<char> = text.chars().collect();
        let a = analyze(&chars);
        let mut style = if a.allow_single_quoted && !(self.simple_key_context && a.multiline) {
            Style::Single
        } else {
            Style::Double
        };
        if implicit
            && !(self.simple_key_context && (a.empty || a.multiline))
            && ((self.flow_level > 0 && a.allow_flow_plain)
                || (self.flow_level == 0 && a.allow_block_plain))
        {
            style = Style::Plain;
        }
        self.increase_indent(true, false);
        let split = !self.simple_key_context;
        match style {
            Style::Plain => self.write_plain(&chars, split),
            Style::Single => self.write_single_quoted(&chars, split),
            Style::Double => self.write_double_quoted(&chars, split),
        }
        self.pop_indent();
    }

    /// PyYAML's `represent_binary`: tag `!!binary`, `base64.encodebytes`
    /// text (76 characters a line), literal style where a block scalar
    /// may go, double quotes elsewhere (and for no bytes, whose empty text
    /// cannot be a block scalar).
    fn binary(&mut self, bytes: &[u8]) {
        let b64 = crate::scalar::encode_base64(bytes);
        let mut text = String::with_capacity(b64.len() + b64.len() / 76 + 1);
        for line in b64.as_bytes().chunks(76) {
            text.push_str(std::str::from_utf8(line).unwrap_or_default());
            text.push('\n');
        }
        self.write_indicator("!!binary", true, false, false);
        self.increase_indent(true, false);
        if self.flow_level == 0 && !self.simple_key_context && !text.is_empty() {
            self.write_literal(&text);
        } else {
            let chars: Vec<char> = text.chars().collect();
            let split = !self.simple_key_context;
            self.write_double_quoted(&chars, split);
        }
        self.pop_indent();
    }

    /// PyYAML's `write_literal` for text of complete lines that starts with
    /// neither a space nor a break (no chomping or indentation hint).
    fn write_literal(&mut self, text: &str) {
        self.write_indicator("|", true, false, false);
        self.write_line_break(None);
        for line in text.lines() {
            self.write_indent();
            self.write(line);
            self.write_line_break(None);
        }
    }

    fn write_plain(&mut self, text: &[char], split: bool) {
        if self.root_context {
            self.open_ended = true;
        }
        if text.is_empty() {
            return;
        }
        if !self.whitespace {
            self.write(" ");
        }
        self.whitespace = false;
        self.indention = false;
        let (mut spaces, mut start, mut end) = (false, 0, 0);
        while end <= text.len() {
            let ch = text.get(end).copied();
            if spaces {
                if ch != Some(' ') {
                    if start + 1 == end && self.column > self.best_width && split {
                        self.write_indent();
                        self.whitespace = false;
                        self.indention = false;
                    } else {
                        self.write_chars(text.get(start..end).unwrap_or(&[]));
                    }
                    start = end;
                }
            } else if ch.is_none() || ch == Some(' ') {
                self.write_chars(text.get(start..end).unwrap_or(&[]));
                start = end;
            }
            if let Some(c) = ch {
                spaces = c == ' ';
            }
            end += 1;
        }
    }

    fn write_breaks(&mut self, text: &[char]) {
        for &br in text {
            self.write_line_break(if br == '\n' { None } else { Some(br) });
        }
    }

    fn write_single_quoted(&mut self, text: &[char], split: bool) {
        self.write_indicator("'", true, false, false);
        let (mut spaces, mut breaks, mut start, mut end) = (false, false, 0, 0);
        while end <= text.len() {
            let ch = text.get(end).copied();
            if spaces {
                if ch != Some(' ') {
                    if start + 1 == end
                        && self.column > self.best_width
                        && split
                        && start != 0
                        && end != text.len()
                    {
                        self.write_indent();
                    } else {
                        self.write_chars(text.get(start..end).unwrap_or(&[]));
                    }
                    start = end;
                }
            } else if breaks {
                if !ch.is_some_and(is_break) {
                    if text.get(start) == Some(&'\n') {
                        self.write_line_break(None);
                    }
                    self.write_breaks(text.get(start..end).unwrap_or(&[]));
                    self.write_indent();
                    start = end;
                }
            } else if (ch.is_none() || ch.is_some_and(|c| c == ' ' || c == '\'' || is_break(c)))
                && start < end
            {
                self.write_chars(text.get(start..end).unwrap_or(&[]));
                start = end;
            }
            if ch == Some('\'') {
                self.write("''");
                start = end + 1;
            }
            if let Some(c) = ch {
                spaces = c == ' ';
                breaks = is_break(c);
            }
            end += 1;
        }
        self.write_indicator("'", false, false, false);
    }

    fn write_double_quoted(&mut self, text: &[char], split: bool) {
        self.write_indicator("\"", true, false, false);
        let (mut start, mut end) = (0, 0);
        while end <= text.len() {
            let ch = text.get(end).copied();
            let needs_escape = |c: char| {
                "\"\\\u{85}\u{2028}\u{2029}\u{FEFF}".contains(c) || !(' '..='~').contains(&c)
            };
            if ch.is_none_or(needs_escape) {
                if start < end {
                    self.write_chars(text.get(start..end).unwrap_or(&[]));
                    start = end;
                }
                if let Some(c) = ch {
                    let esc = match c {
                        '\0' => "\\0".to_string(),
                        '\x07' => "\\a".into(),
                        '\x08' => "\\b".into(),
                        '\t' => "\\t".into(),
                        '\n' => "\\n".into(),
                        '\x0B' => "\\v".into(),
                        '\x0C' => "\\f".into(),
                        '\r' => "\\r".into(),
                        '\x1B' => "\\e".into(),
                        '"' => "\\\"".into(),
                        '\\' => "\\\\".into(),
                        '\u{85}' => "\\N".into(),
                        '\u{A0}' => "\\_".into(),
                        '\u{2028}' => "\\L".into(),
                        '\u{2029}' => "\\P".into(),
                        c if u32::from(c) <= 0xFF => format!("\\x{:02X}", u32::from(c)),
                        c if u32::from(c) <= 0xFFFF => format!("\\u{:04X}", u32::from(c)),
                        c => format!("\\U{:08X}", u32::from(c)),
                    };
                    self.write(&esc);
                    start = end + 1;
                }
            }
            if 0 < end
                && end + 1 < text.len()
                && (ch == Some(' ') || start >= end)
                && self.column + end.saturating_sub(start) > self.best_width
                && split
            {
                let mut data: Vec<char> = text.get(start..end).unwrap_or(&[]).to_vec();
                data.push('\\');
                if start < end {
                    start = end;
                }
                self.write_chars(&data);
                self.write_indent();
                self.whitespace = false;
                self.indention = false;
                if text.get(start) == Some(&' ') {
                    self.write("\\");
                }
            }
            end += 1;
        }
        self.write_indicator("\"", false, false, false);
    }
}

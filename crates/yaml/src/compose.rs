//! Turns yaml-rust2's event stream into a node graph, like PyYAML's
//! Composer: anchors are per document, aliases share the anchored node, and a
//! node's start mark is that of its first property (anchor or tag) if any.

use crate::error::{Pos, YamlError};
use crate::repair::Check;
use crate::scan_errors::{block_header_problem, translate, ErrCtx, Open};
use crate::tabs::{close_quote, first_bad_tab, Span};
use crate::text::Text;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Scanner, TScalarStyle, TokenType};

/// PyYAML recurses per nesting level; beyond this depth it would hit
/// Python's recursion limit, and we would risk the native stack.
const MAX_DEPTH: usize = 512;

#[derive(Debug)]
pub(crate) enum Kind {
    Scalar { value: String, plain: bool },
    Seq(Vec<Rc<Node>>),
    Map(Vec<(Rc<Node>, Rc<Node>)>),
}

#[derive(Debug)]
pub(crate) struct Node {
    pub kind: Kind,
    /// Full tag (`tag:yaml.org,2002:int`, `!foo`, `!`), as written.
    pub tag: Option<String>,
    pub start: Pos,
}

impl Node {
    /// PyYAML's `node.id`, used in its error messages.
    pub(crate) fn id(&self) -> &'static str {
        match self.kind {
            Kind::Scalar { .. } => "scalar",
            Kind::Seq(_) => "sequence",
            Kind::Map(_) => "mapping",
        }
    }
}

/// An anchor or tag token, in source order: yaml-rust2's events carry
/// neither anchor names nor property positions, so a plain scanner pass
/// recovers them.
struct Prop {
    anchor: Option<String>,
    pos: Pos,
}

enum Frame {
    Seq {
        tag: Option<String>,
        anchor: Option<usize>,
        start: Pos,
        flow: bool,
        items: Vec<Rc<Node>>,
    },
    Map {
        tag: Option<String>,
        anchor: Option<usize>,
        start: Pos,
        flow: bool,
        /// Whether `start` came from an anchor or tag (and must stay).
        has_props: bool,
        pairs: Vec<(Rc<Node>, Rc<Node>)>,
        key: Option<Rc<Node>>,
    },
}

pub(crate) struct Composer<'a> {
    parser: Parser<std::str::Chars<'a>>,
    text: Text,
    props: VecDeque<Prop>,
    /// Anchor id (yaml-rust2) → node, for the current document.
    anchors: HashMap<usize, Rc<Node>>,
    /// Anchor name → start of its first node in the current document.
    anchor_names: HashMap<String, Pos>,
    /// Alias tokens by position, to name an undefined alias in errors.
    aliases: HashMap<(usize, usize), String>,
    /// Block scalar content position (what yaml-rust2 reports) → position
    /// of its `|`/`>` indicator (PyYAML's start mark).
    block_indicators: HashMap<(usize, usize), Pos>,
    /// Positions of block sequence `-` indicators, by column, each in
    /// source order.
    dashes: HashMap<usize, Vec<Pos>>,
    /// Positions of `:` value indicators, in source order.
    values: Vec<Pos>,
    /// The stream opens with `...`, which PyYAML rejects.
    leading_doc_end: Option<Pos>,
    stack: Vec<Frame>,
    started: bool,
    tab_error: Option<YamlError>,
    /// yaml-rust2's own wording and position of the last parse error.
    raw_error: Option<(String, Pos)>,
    /// Where yaml-rust2 saw quoted scalars (opening, closing quote), flow
    /// collections (opening, closing indicator) and flow indicators, as
    /// char indices: what checks a predicted repair.
    quoted_spans: Vec<(usize, usize)>,
    flow_ranges: Vec<(usize, usize)>,
    flow_indicators: Vec<usize>,
    /// Flow collections still open where the scan stopped.
    open_flows: usize,
}

/// PyYAML's anchor and alias names are `[0-9A-Za-z_-]+`, and must be
/// followed by a blank or one of `?:,]}%@\``; yaml-rust2 (YAML 1.2) allows
/// far more, so names are checked here.
fn check_anchor_name(text: &Text, index: usize, name: &str, what: &str) -> Option<YamlError> {
    let bad_at = name
        .chars()
        .position(|c| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    let at = match bad_at {
        Some(k) => index + 1 + k,
        None => {
            let after = index + 1 + name.chars().count();
            match text.get(after) {
                None => return None,
                Some(c) if " \t\r\n\u{85}\u{2028}\u{2029}?:,]}%@`".contains(c) => return None,
                Some(_) => after,
            }
        }
    };
    let found = text.get(at).unwrap_or(' ');
    Some(
        YamlError::at(
            text.pos(at),
            format!("expected alphabetic or numeric character, but found '{found}'"),
        )
        .with_context(format!("while scanning an {what}"), text.pos(index)),
    )
}

fn full_tag(tag: Option<Tag>) -> Option<String> {
    tag.map(|t| format!("{}{}", t.handle, t.suffix))
}

impl<'a> Composer<'a> {
    pub(crate) fn new(source: &'a str) -> Self {
        let text = Text::new(source);
        let mut props = VecDeque::new();
        let mut aliases = HashMap::new();
        let mut spans: Vec<Span> = Vec::new();
        let mut block_indicators = HashMap::new();
        let mut prev_index = 0;
        let mut dashes: HashMap<usize, Vec<Pos>> = HashMap::new();
        let mut values = Vec::new();
        let mut leading_doc_end = None;
        let mut first = true;
        let mut name_error: Option<YamlError> = None;
        let mut quoted_spans = Vec::new();
        let mut flow_ranges = Vec::new();
        let mut flow_indicators = Vec::new();
        let mut flow_open = Vec::new();
        for tok in Scanner::new(source.chars()) {
            let pos = Pos::from_marker(&tok.0);
            let index = tok.0.index();
            if let Some(last) = spans.last_mut().filter(|s| s.next == usize::MAX) {
                last.next = index;
            }
            if first && !matches!(tok.1, TokenType::StreamStart(_)) {
                first = false;
                if tok.1 == TokenType::DocumentEnd {
                    leading_doc_end = Some(pos);
                }
            }
            match tok.1 {
                TokenType::FlowSequenceStart | TokenType::FlowMappingStart => {
                    flow_open.push(index);
                    flow_indicators.push(index);
                }
                TokenType::FlowSequenceEnd | TokenType::FlowMappingEnd => {
                    if let Some(open) = flow_open.pop() {
                        flow_ranges.push((open, index));
                    }
                    flow_indicators.push(index);
                }
                TokenType::FlowEntry => flow_indicators.push(index),
                TokenType::Value => values.push(pos),
                TokenType::BlockEntry => {
                    // Marked after the "- "; find the dash itself.
                    let mut i = index;
                    while i > 0 && text.get(i).is_none_or(|c| c != '-') {
                        i -= 1;
                    }
                    let p = text.pos(i);
                    dashes.entry(p.col).or_default().push(p);
                }
                TokenType::Scalar(style, _) => {
                    if matches!(
                        style,
                        TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted
                    ) {
                        quoted_spans.push((index, close_quote(&text.chars, index)));
                    }
                    let mut start = index;
                    if matches!(style, TScalarStyle::Literal | TScalarStyle::Folded) {
                        // The token is marked at its content; find the indicator.
                        if let Some(i) =
                            (prev_index..index).find(|i| matches!(text.get(*i), Some('|' | '>')))
                        {
                            start = i;
                            block_indicators.insert((pos.line, pos.col), text.pos(i));
                            if name_error.is_none() {
                                name_error = block_header_problem(&text, i);
                            }
                        }
                    }
                    spans.push(Span {
                        start,
                        style,
                        next: usize::MAX,
                    });
                }
                TokenType::Anchor(name) => {
                    if name_error.is_none() {
                        name_error = check_anchor_name(&text, index, &name, "anchor");
                    }
                    props.push_back(Prop {
                        anchor: Some(name),
                        pos,
                    });
                }
                TokenType::Tag(..) => props.push_back(Prop { anchor: None, pos }),
                TokenType::Alias(name) => {
                    if name_error.is_none() {
                        name_error = check_anchor_name(&text, index, &name, "alias");
                    }
                    aliases.insert((pos.line, pos.col), name);
                }
                _ => {}
            }
            prev_index = index;
        }
        let tab_error = first_bad_tab(&text.chars, &spans).map(|bad| {
            let p = text.pos(bad.at);
            match bad.header_of {
                None => YamlError::at(p, "found character '\\t' that cannot start any token")
                    .with_context("while scanning for the next token", p),
                Some(ind) => {
                    let after_indicators = (ind + 1..bad.at).all(|i| {
                        text.get(i)
                            .is_some_and(|c| c == '+' || c == '-' || c.is_ascii_digit())
                    });
                    let msg = if after_indicators {
                        "expected chomping or indentation indicators, but found '\\t'"
                    } else {
                        "expected a comment or a line break, but found '\\t'"
                    };
                    YamlError::at(p, msg)
                        .with_context("while scanning a block scalar", text.pos(ind))
                }
            }
        });
        let tab_error = match (tab_error, name_error) {
            (Some(t), Some(n)) if (n.line, n.column) < (t.line, t.column) => Some(n),
            (Some(t), _) => Some(t),
            (None, n) => n,
        };
        Composer {
            parser: Parser::new_from_str(source),
            text,
            props,
            anchors: HashMap::new(),
            anchor_names: HashMap::new(),
            aliases,
            block_indicators,
            dashes,
            values,
            leading_doc_end,
            stack: Vec::new(),
            started: false,
            tab_error,
            raw_error: None,
            quoted_spans,
            flow_ranges,
            flow_indicators,
            open_flows: flow_open.len(),
        }
    }

    /// Flow collections open where the token scan stopped (at a scan
    /// error: open around it).
    pub(crate) fn open_flows(&self) -> usize {
        self.open_flows
    }

    /// Whether yaml-rust2's tokens confirm every predicted patch: each
    /// reindented line inside a quoted scalar (or, for flow lines, a flow
    /// collection), each comment space right after a flow indicator or a
    /// closing quote. Only then is the patch whitespace PyYAML ignores.
    /// The first patch (by position) before char index `limit` that
    /// yaml-rust2's tokens do not confirm: its char index.
    pub(crate) fn first_unconfirmed(&self, checks: &[Check], limit: usize) -> Option<usize> {
        let n = self.text.chars.len() + 2;
        // Depth of quoted scalars / flow collections over each index.
        let mut quoted = vec![0i32; n];
        let mut flow = vec![0i32; n];
        let mut closes = vec![false; n];
        for &(open, close) in &self.quoted_spans {
            if let Some(d) = quoted.get_mut(open + 1) {
                *d += 1;
            }
            if let Some(d) = quoted.get_mut(close + 1) {
                *d -= 1;
            }
            if let Some(c) = closes.get_mut(close) {
                *c = true;
            }
        }
        for &(open, close) in &self.flow_ranges {
            if let Some(d) = flow.get_mut(open + 1) {
                *d += 1;
            }
            if let Some(d) = flow.get_mut(close) {
                *d -= 1;
            }
        }
        for &k in &self.flow_indicators {
            if let Some(c) = closes.get_mut(k) {
                *c = true;
            }
        }
        for k in 1..n {
            quoted[k] += quoted[k - 1];
            flow[k] += flow[k - 1];
        }
        let inside = |v: &[i32], k: usize| v.get(k).is_some_and(|d| *d > 0);
        let confirmed = |c: &Check| match *c {
            Check::QuotedLine(k) | Check::FlowLine(k) | Check::CommentSpace(k) if k >= limit => {
                true
            }
            Check::QuotedLine(k) => inside(&quoted, k),
            Check::FlowLine(k) => inside(&quoted, k) || inside(&flow, k),
            Check::CommentSpace(k) => {
                k > 0 && closes.get(k - 1) == Some(&true) && self.text.get(k + 1) == Some('#')
            }
        };
        checks.iter().find(|c| !confirmed(c)).map(|c| match *c {
            Check::QuotedLine(k) | Check::FlowLine(k) | Check::CommentSpace(k) => k,
        })
    }

    /// The char index of a position in this text.
    pub(crate) fn index_of(&self, p: Pos) -> usize {
        self.text.idx(p)
    }

    pub(crate) fn raw_error(&self) -> Option<&(String, Pos)> {
        self.raw_error.as_ref()
    }

    /// The error PyYAML reports first: a rejected tab when it comes before
    /// `e` (or when there is no other error).
    pub(crate) fn first_error(&self, e: Option<YamlError>) -> Option<YamlError> {
        match (e, &self.tab_error) {
            (Some(e), Some(t)) if (t.line, t.column) < (e.line, e.column) => Some(t.clone()),
            (Some(e), _) => Some(e),
            (None, t) => t.clone(),
        }
    }

    fn translate(&mut self, e: &yaml_rust2::scanner::ScanError) -> YamlError {
        self.raw_error = Some((e.info().to_string(), Pos::from_marker(e.marker())));
        let open = self.stack.last().map(|f| match f {
            Frame::Seq {
                flow: true, start, ..
            } => (Open::FlowSeq, *start),
            Frame::Seq { start, .. } => (Open::BlockSeq, *start),
            Frame::Map {
                flow: true, start, ..
            } => (Open::FlowMap, *start),
            Frame::Map { start, .. } => (Open::BlockMap, *start),
        });
        translate(
            e,
            &ErrCtx {
                text: &self.text,
                aliases: &self.aliases,
                open,
            },
        )
    }

    fn next_event(&mut self) -> Result<(Event, Pos), YamlError> {
        match self.parser.next_token() {
            Ok((ev, mark)) => Ok((ev, Pos::from_marker(&mark))),
            Err(e) => Err(self.translate(&e)),
        }
    }

    /// Pops the property tokens an event consumed; returns the node start
    /// (first property, else the event's own mark) and the anchor name.
    fn take_props(&mut self, anchored: bool, tagged: bool, ev_pos: Pos) -> (Pos, Option<String>) {
        let count = usize::from(anchored) + usize::from(tagged);
        let mut start = None;
        let mut name = None;
        for _ in 0..count {
            if let Some(p) = self.props.pop_front() {
                start.get_or_insert(p.pos);
                if p.anchor.is_some() {
                    name = p.anchor;
                }
            }
        }
        (start.unwrap_or(ev_pos), name)
    }

    fn register(&mut self, name: Option<String>, start: Pos) -> Result<(), YamlError> {
        if let Some(name) = name {
            if let Some(first) = self.anchor_names.get(&name) {
                return Err(YamlError::at(start, "second occurrence").with_context(
                    format!("found duplicate anchor '{name}'; first occurrence"),
                    *first,
                ));
            }
            self.anchor_names.insert(name, start);
        }
        Ok(())
    }

    /// Next document: `Ok(None)` at the end of the stream, else the root
    /// node and the position of the document start.
    pub(crate) fn next_document(&mut self) -> Result<Option<(Rc<Node>, Pos)>, YamlError> {
        if let Some(p) = self.leading_doc_end.take() {
            return Err(
                YamlError::at(p, "expected the node content, but found '<document end>'")
                    .with_context("while parsing a block node", p),
            );
        }
        if !self.started {
            self.started = true;
            let (ev, pos) = self.next_event()?;
            if ev != Event::StreamStart {
                return Err(YamlError::at(pos, "expected <stream-start>"));
            }
        }
        let (ev, doc_pos) = self.next_event()?;
        match ev {
            Event::StreamEnd => return Ok(None),
            Event::DocumentStart => {}
            _ => return Err(YamlError::at(doc_pos, "expected '<document start>'")),
        }
        self.anchors.clear();
        self.anchor_names.clear();
        let root = self.compose_node()?;
        let (ev, pos) = self.next_event()?;
        if ev != Event::DocumentEnd {
            return Err(YamlError::at(pos, "expected '<document end>'"));
        }
        Ok(Some((root, doc_pos)))
    }

    /// Peeks whether another document follows; returns its start if so.
    pub(crate) fn peek_document_start(&mut self) -> Result<Option<Pos>, YamlError> {
        let err = match self.parser.peek() {
            Ok((Event::DocumentStart, mark)) => return Ok(Some(Pos::from_marker(mark))),
            Ok(_) => return Ok(None),
            Err(e) => e,
        };
        Err(self.translate(&err))
    }

    /// yaml-rust2 marks an empty block sequence item at the next token;
    /// PyYAML right after its `-`. The entries of a block sequence are the
    /// dashes in its column, from its first line on.
    fn empty_item_pos(&self) -> Option<Pos> {
        let Some(Frame::Seq {
            flow: false,
            start,
            items,
            ..
        }) = self.stack.last()
        else {
            return None;
        };
        // Dashes of one column, in source order: binary-search the first
        // at or after the sequence start.
        let column = self.dashes.get(&start.col)?;
        let first = column.partition_point(|d| d.line < start.line);
        let dash = column.get(first + items.len())?;
        Some(Pos {
            line: dash.line,
            col: dash.col + 1,
        })
    }

    /// An empty mapping value: PyYAML marks it right after its `:`.
    fn empty_value_pos(&self, ev_pos: Pos) -> Option<Pos> {
        let Some(Frame::Map { key: Some(_), .. }) = self.stack.last() else {
            return None;
        };
        let before = self
            .values
            .partition_point(|v| (v.line, v.col) < (ev_pos.line, ev_pos.col));
        let colon = self.values.get(before.checked_sub(1)?)?;
        Some(Pos {
            line: colon.line,
            col: colon.col + 1,
        })
    }

    /// yaml-rust2 (like libyaml) reads `: value` with no key as an empty
    /// key; PyYAML's parser requires a key (or `?`) in a block mapping.
    /// An empty key after `?` is marked right after the `?`, as PyYAML does.
    fn empty_key_pos(&self, ev_pos: Pos) -> Result<Option<Pos>, YamlError> {
        let Some(Frame::Map {
            key: None,
            flow: false,
            start,
            ..
        }) = self.stack.last()
        else {
            return Ok(None);
        };
        let idx = self.text.idx(ev_pos);
        if self.text.get(idx) != Some(':') {
            return Ok(None);
        }
        let mut i = idx;
        while i > 0 && self.text.get(i - 1).is_some_and(char::is_whitespace) {
            i -= 1;
        }
        if i > 0 && self.text.get(i - 1) == Some('?') {
            return Ok(Some(self.text.pos(i)));
        }
        Err(YamlError::at(ev_pos, "expected <block end>, but found ':'")
            .with_context("while parsing a block mapping", *start))
    }

    fn compose_node(&mut self) -> Result<Rc<Node>, YamlError> {
        self.stack.clear();
        loop {
            let (ev, pos) = self.next_event()?;
            let is_seq = matches!(ev, Event::SequenceStart(..));
            let done: Rc<Node> = match ev {
                Event::Scalar(value, style, anchor_id, tag) => {
                    let mut pos = self
                        .block_indicators
                        .get(&(pos.line, pos.col))
                        .copied()
                        .unwrap_or(pos);
                    if value.is_empty()
                        && style == TScalarStyle::Plain
                        && anchor_id == 0
                        && tag.is_none()
                    {
                        let key_pos = self.empty_key_pos(pos)?;
                        pos = key_pos
                            .or_else(|| self.empty_item_pos())
                            .or_else(|| self.empty_value_pos(pos))
                            .unwrap_or(pos);
                    }
                    let (start, name) = self.take_props(anchor_id > 0, tag.is_some(), pos);
                    self.register(name, start)?;
                    let node = Rc::new(Node {
                        kind: Kind::Scalar {
                            value,
                            plain: style == TScalarStyle::Plain,
                        },
                        tag: full_tag(tag),
                        start,
                    });
                    if anchor_id > 0 {
                        self.anchors.insert(anchor_id, Rc::clone(&node));
                    }
                    node
                }
                Event::Alias(id) => match self.anchors.get(&id) {
                    Some(n) => Rc::clone(n),
                    None => {
                        // Known to the parser but not complete yet: the
                        // alias sits inside its own anchored node.
                        let name = self
                            .aliases
                            .get(&(pos.line, pos.col))
                            .cloned()
                            .unwrap_or_default();
                        return Err(YamlError::at(
                            pos,
                            format!("found recursive alias '{name}'"),
                        ));
                    }
                },
                Event::SequenceStart(anchor_id, tag) | Event::MappingStart(anchor_id, tag) => {
                    if self.stack.len() >= MAX_DEPTH {
                        return Err(YamlError::at(
                            pos,
                            format!("exceeded the maximum nesting depth (YAML nesting bound: {MAX_DEPTH} levels)"),
                        ));
                    }
                    let open_char = self.text.get(self.text.idx(pos));
                    let mut pos = pos;
                    if is_seq && open_char != Some('[') && open_char != Some('-') {
                        // yaml-rust2 marks a block entry after its "- ".
                        let mut i = self.text.idx(pos);
                        while i > 0 && self.text.get(i - 1) == Some(' ') {
                            i -= 1;
                        }
                        if i > 0 && self.text.get(i - 1) == Some('-') {
                            pos = self.text.pos(i - 1);
                        }
                    }
                    let has_props = anchor_id > 0 || tag.is_some();
                    let (start, anchor) = self.take_props(anchor_id > 0, tag.is_some(), pos);
                    self.register(anchor, start)?;
                    let tag = full_tag(tag);
                    let anchor = (anchor_id > 0).then_some(anchor_id);
                    self.stack.push(if is_seq {
                        Frame::Seq {
                            tag,
                            anchor,
                            start,
                            flow: open_char == Some('['),
                            items: Vec::new(),
                        }
                    } else {
                        Frame::Map {
                            tag,
                            anchor,
                            start,
                            flow: open_char == Some('{'),
                            has_props,
                            pairs: Vec::new(),
                            key: None,
                        }
                    });
                    continue;
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    let (node, anchor) = match self.stack.pop() {
                        Some(Frame::Seq {
                            tag,
                            anchor,
                            start,
                            items,
                            ..
                        }) => (
                            Node {
                                kind: Kind::Seq(items),
                                tag,
                                start,
                            },
                            anchor,
                        ),
                        Some(Frame::Map {
                            tag,
                            anchor,
                            start,
                            pairs,
                            ..
                        }) => (
                            Node {
                                kind: Kind::Map(pairs),
                                tag,
                                start,
                            },
                            anchor,
                        ),
                        None => return Err(YamlError::at(pos, "unexpected end of collection")),
                    };
                    let node = Rc::new(node);
                    if let Some(id) = anchor {
                        self.anchors.insert(id, Rc::clone(&node));
                    }
                    node
                }
                _ => return Err(YamlError::at(pos, "expected a node")),
            };
            match self.stack.last_mut() {
                None => return Ok(done),
                Some(Frame::Seq { items, .. }) => items.push(done),
                Some(Frame::Map {
                    pairs,
                    key,
                    start,
                    has_props,
                    ..
                }) => match key.take() {
                    None => {
                        // yaml-rust2 marks a block mapping at its first ':';
                        // PyYAML at its first key.
                        if pairs.is_empty()
                            && !*has_props
                            && (done.start.line, done.start.col) < (start.line, start.col)
                        {
                            *start = done.start;
                        }
                        *key = Some(done);
                    }
                    Some(k) => pairs.push((k, done)),
                },
            }
        }
    }
}

//! The small subset of Python `re.search` the schemas use in `pattern`
//! and `patternProperties` (anchors, `.`, classes, groups, alternation,
//! `* + ? {m,n}`), because no regex crate is in the workspace.

#[derive(Debug, Clone)]
enum Node {
    Char(char),
    Any,
    Class(Vec<(char, char)>, bool),
    Start,
    End,
    Group(Vec<Vec<Node>>),
    Repeat(Box<Node>, usize, Option<usize>),
}

/// A compiled pattern; `None` from [`Regex::new`] means unsupported syntax.
#[derive(Debug, Clone)]
pub struct Regex {
    alts: Vec<Vec<Node>>,
}

impl Regex {
    pub fn new(pattern: &str) -> Option<Regex> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut pos = 0;
        let alts = parse_alts(&chars, &mut pos)?;
        (pos == chars.len()).then_some(Regex { alts })
    }

    /// Python's `re.search`: a match starting anywhere.
    pub fn is_match(&self, text: &str) -> bool {
        let t: Vec<char> = text.chars().collect();
        let top = [Node::Group(self.alts.clone())];
        (0..=t.len()).any(|start| match_seq(&top, &t, start, &mut |_| true))
    }
}

fn parse_alts(c: &[char], pos: &mut usize) -> Option<Vec<Vec<Node>>> {
    let mut alts = vec![Vec::new()];
    while let Some(&ch) = c.get(*pos) {
        match ch {
            ')' => break,
            '|' => {
                *pos += 1;
                alts.push(Vec::new());
            }
            _ => {
                let atom = parse_atom(c, pos)?;
                let atom = parse_quant(c, pos, atom)?;
                alts.last_mut()?.push(atom);
            }
        }
    }
    Some(alts)
}

fn parse_atom(c: &[char], pos: &mut usize) -> Option<Node> {
    let ch = *c.get(*pos)?;
    *pos += 1;
    Some(match ch {
        '^' => Node::Start,
        '$' => Node::End,
        '.' => Node::Any,
        '(' => {
            if c.get(*pos) == Some(&'?') {
                // Only non-capturing groups: `(?:...)`.
                if c.get(*pos + 1) != Some(&':') {
                    return None;
                }
                *pos += 2;
            }
            let alts = parse_alts(c, pos)?;
            if c.get(*pos) != Some(&')') {
                return None;
            }
            *pos += 1;
            Node::Group(alts)
        }
        '[' => parse_class(c, pos)?,
        '\\' => {
            let e = *c.get(*pos)?;
            *pos += 1;
            escape(e)
        }
        '*' | '+' | '?' | '{' => return None,
        other => Node::Char(other),
    })
}

fn escape(e: char) -> Node {
    let digits = vec![('0', '9')];
    let word = vec![('a', 'z'), ('A', 'Z'), ('0', '9'), ('_', '_')];
    let space = vec![(' ', ' '), ('\t', '\r')];
    match e {
        'd' => Node::Class(digits, false),
        'D' => Node::Class(digits, true),
        'w' => Node::Class(word, false),
        'W' => Node::Class(word, true),
        's' => Node::Class(space, false),
        'S' => Node::Class(space, true),
        'n' => Node::Char('\n'),
        't' => Node::Char('\t'),
        other => Node::Char(other),
    }
}

fn parse_class(c: &[char], pos: &mut usize) -> Option<Node> {
    let negate = c.get(*pos) == Some(&'^');
    if negate {
        *pos += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let ch = *c.get(*pos)?;
        *pos += 1;
        if ch == ']' && !first {
            break;
        }
        first = false;
        let lo = if ch == '\\' {
            let e = *c.get(*pos)?;
            *pos += 1;
            match escape(e) {
                Node::Char(x) => x,
                Node::Class(r, false) => {
                    ranges.extend(r);
                    continue;
                }
                _ => return None,
            }
        } else {
            ch
        };
        if c.get(*pos) == Some(&'-') && c.get(*pos + 1).is_some_and(|n| *n != ']') {
            let hi = *c.get(*pos + 1)?;
            *pos += 2;
            ranges.push((lo, hi));
        } else {
            ranges.push((lo, lo));
        }
    }
    Some(Node::Class(ranges, negate))
}

fn parse_quant(c: &[char], pos: &mut usize, atom: Node) -> Option<Node> {
    let (min, max) = match c.get(*pos) {
        Some('*') => (0, None),
        Some('+') => (1, None),
        Some('?') => (0, Some(1)),
        Some('{') => {
            let close = c.get(*pos..)?.iter().position(|x| *x == '}')? + *pos;
            let body: String = c.get(*pos + 1..close)?.iter().collect();
            let (lo, hi) = match body.split_once(',') {
                Some((lo, hi)) => (
                    lo.parse().ok()?,
                    if hi.is_empty() {
                        None
                    } else {
                        Some(hi.parse().ok()?)
                    },
                ),
                None => {
                    let n = body.parse().ok()?;
                    (n, Some(n))
                }
            };
            *pos = close;
            (lo, hi)
        }
        _ => return Some(atom),
    };
    *pos += 1;
    Some(Node::Repeat(Box::new(atom), min, max))
}

fn match_seq(nodes: &[Node], t: &[char], i: usize, k: &mut dyn FnMut(usize) -> bool) -> bool {
    let Some((first, rest)) = nodes.split_first() else {
        return k(i);
    };
    match first {
        Node::Repeat(inner, min, max) => match_repeat(inner, *min, *max, 0, rest, t, i, k),
        Node::Group(alts) => alts
            .iter()
            .any(|alt| match_seq(alt, t, i, &mut |j| match_seq(rest, t, j, &mut *k))),
        Node::Start => i == 0 && match_seq(rest, t, i, k),
        // Python's `$` also matches before a final newline.
        Node::End => {
            (i == t.len() || (i + 1 == t.len() && t.get(i) == Some(&'\n')))
                && match_seq(rest, t, i, k)
        }
        single => match t.get(i) {
            Some(ch) if matches_char(single, *ch) => match_seq(rest, t, i + 1, k),
            _ => false,
        },
    }
}

#[allow(clippy::too_many_arguments)]
fn match_repeat(
    inner: &Node,
    min: usize,
    max: Option<usize>,
    count: usize,
    rest: &[Node],
    t: &[char],
    i: usize,
    k: &mut dyn FnMut(usize) -> bool,
) -> bool {
    // Greedy: try one more repetition before the rest.
    if max.is_none_or(|m| count < m) {
        let one = std::slice::from_ref(inner);
        let more = match_seq(one, t, i, &mut |j| {
            j != i && match_repeat(inner, min, max, count + 1, rest, t, j, &mut *k)
        });
        if more {
            return true;
        }
    }
    count >= min && match_seq(rest, t, i, k)
}

fn matches_char(node: &Node, ch: char) -> bool {
    match node {
        Node::Char(c) => *c == ch,
        Node::Any => ch != '\n',
        Node::Class(ranges, negate) => {
            ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&ch)) != *negate
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::Regex;

    fn m(p: &str, t: &str) -> bool {
        Regex::new(p).map(|r| r.is_match(t)).unwrap_or(false)
    }

    #[test]
    fn schema_patterns() {
        assert!(m("^.+$", "a"));
        assert!(!m("^.+$", ""));
        assert!(m("^.+:.+$", "root:pw"));
        assert!(!m("^.+:.+$", "root:"));
        let keys = "^(ecdsa|ed25519|rsa)_(public|private|certificate)$";
        assert!(m(keys, "rsa_private"));
        assert!(!m(keys, "dsa_private"));
        assert!(m("[0-9]{2,3}", "x123"));
        assert!(!m("^[0-9]{2,3}$", "1234"));
        assert!(m("^a$", "a\n"));
    }

    #[test]
    fn module_patterns() {
        let size = r"^([0-9]+)?\.?[0-9]+[BKMGT]$";
        assert!(m(size, "2G") && m(size, "1.5G") && m(size, ".5M"));
        assert!(!m(size, "10X") && !m(size, "G"));
        assert!(m(r"^\+?[0-9]+$", "+5") && !m(r"^\+?[0-9]+$", "5m"));
        // ` -_` is a range (space to underscore), as in Python.
        let repo = "^[0-9a-zA-Z -_]+$";
        assert!(m(repo, "epel testing") && m(repo, "a:b") && !m(repo, "bad name!{"));
        let csv = "^[-_0-9a-zA-Z]+(,[-_0-9a-zA-Z]+)*$";
        assert!(m(csv, "a,b-c") && !m(csv, "a,,b"));
    }
}

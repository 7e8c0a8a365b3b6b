//! `add_apt_repo_match`: upstream searches each source with a Python
//! regular expression. The patterns people give it are small (the default
//! is `^[\w-]+:\w`), so this is a backtracking matcher for the common
//! subset: `^`, `$`, `.`, literals and escapes, `\w \d \s \W \D \S`,
//! bracket classes with ranges and negation, and the `* + ?` repeats.

#[derive(Debug, Clone)]
enum Atom {
    Any,
    Lit(char),
    Class(Vec<ClassItem>, bool),
    Start,
    End,
}

#[derive(Debug, Clone)]
enum ClassItem {
    Ch(char),
    Range(char, char),
    Word(bool),
    Digit(bool),
    Space(bool),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Rep {
    One,
    Star,
    Plus,
    Opt,
}

#[derive(Debug, Clone)]
pub(crate) struct Matcher {
    items: Vec<(Atom, Rep)>,
}

fn escape_item(c: char) -> ClassItem {
    match c {
        'w' => ClassItem::Word(true),
        'W' => ClassItem::Word(false),
        'd' => ClassItem::Digit(true),
        'D' => ClassItem::Digit(false),
        's' => ClassItem::Space(true),
        'S' => ClassItem::Space(false),
        'n' => ClassItem::Ch('\n'),
        't' => ClassItem::Ch('\t'),
        other => ClassItem::Ch(other),
    }
}

impl ClassItem {
    fn matches(&self, c: char) -> bool {
        match *self {
            ClassItem::Ch(x) => c == x,
            ClassItem::Range(a, b) => a <= c && c <= b,
            ClassItem::Word(p) => (c.is_alphanumeric() || c == '_') == p,
            ClassItem::Digit(p) => c.is_numeric() == p,
            ClassItem::Space(p) => c.is_whitespace() == p,
        }
    }
}

impl Atom {
    fn matches(&self, c: char) -> bool {
        match self {
            Atom::Any => c != '\n',
            Atom::Lit(x) => *x == c,
            Atom::Class(items, negated) => items.iter().any(|i| i.matches(c)) != *negated,
            Atom::Start | Atom::End => false,
        }
    }
}

impl Matcher {
    pub(crate) fn new(pattern: &str) -> Result<Self, String> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut items: Vec<(Atom, Rep)> = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            i += 1;
            let atom = match c {
                '^' => Atom::Start,
                '$' => Atom::End,
                '.' => Atom::Any,
                '\\' => {
                    let e = *chars.get(i).ok_or("trailing backslash")?;
                    i += 1;
                    match escape_item(e) {
                        ClassItem::Ch(x) => Atom::Lit(x),
                        item => Atom::Class(vec![item], false),
                    }
                }
                '[' => {
                    let negated = chars.get(i) == Some(&'^');
                    if negated {
                        i += 1;
                    }
                    let mut set = Vec::new();
                    let mut first = true;
                    loop {
                        let c = *chars.get(i).ok_or("unterminated character set")?;
                        i += 1;
                        if c == ']' && !first {
                            break;
                        }
                        first = false;
                        let item = if c == '\\' {
                            let e = *chars.get(i).ok_or("trailing backslash")?;
                            i += 1;
                            escape_item(e)
                        } else {
                            ClassItem::Ch(c)
                        };
                        let ranged = chars.get(i) == Some(&'-')
                            && chars.get(i + 1).is_some_and(|n| *n != ']');
                        match (item, ranged) {
                            (ClassItem::Ch(lo), true) => {
                                let hi = chars[i + 1];
                                i += 2;
                                set.push(ClassItem::Range(lo, hi));
                            }
                            (item, _) => set.push(item),
                        }
                    }
                    Atom::Class(set, negated)
                }
                '(' | ')' | '|' | '{' | '}' => {
                    return Err(format!("unsupported pattern syntax '{c}'"))
                }
                '*' | '+' | '?' => return Err("nothing to repeat".into()),
                other => Atom::Lit(other),
            };
            let rep = match chars.get(i) {
                Some('*') => Rep::Star,
                Some('+') => Rep::Plus,
                Some('?') => Rep::Opt,
                _ => Rep::One,
            };
            if rep != Rep::One {
                if matches!(atom, Atom::Start | Atom::End) {
                    return Err("nothing to repeat".into());
                }
                i += 1;
            }
            items.push((atom, rep));
        }
        Ok(Matcher { items })
    }

    /// Python's `re.search`: a match anywhere in `text`.
    pub(crate) fn is_match(&self, text: &str) -> bool {
        let chars: Vec<char> = text.chars().collect();
        (0..=chars.len()).any(|start| self.at(&chars, start, 0))
    }

    fn at(&self, text: &[char], pos: usize, item: usize) -> bool {
        let Some((atom, rep)) = self.items.get(item) else {
            return true;
        };
        match atom {
            Atom::Start => return pos == 0 && self.at(text, pos, item + 1),
            Atom::End => {
                let at_end = pos == text.len() || (pos + 1 == text.len() && text[pos] == '\n');
                return at_end && self.at(text, pos, item + 1);
            }
            _ => {}
        }
        let (min, max) = match rep {
            Rep::One => (1, 1),
            Rep::Star => (0, usize::MAX),
            Rep::Plus => (1, usize::MAX),
            Rep::Opt => (0, 1),
        };
        let mut n = 0;
        while n < max && pos + n < text.len() && atom.matches(text[pos + n]) {
            n += 1;
        }
        if n < min {
            return false;
        }
        (min..=n).rev().any(|k| self.at(text, pos + k, item + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::Matcher;

    #[test]
    fn the_default_pattern_finds_ppa_and_cloud_archive_only() {
        let m = Matcher::new(r"^[\w-]+:\w").unwrap();
        assert!(m.is_match("ppa:curtin-dev/test-archive"));
        assert!(m.is_match("cloud-archive:queens"));
        assert!(!m.is_match("deb http://x/ trixie main"));
        assert!(!m.is_match("deb [signed-by=/k] http://x/ ./"));
    }

    #[test]
    fn classes_repeats_and_anchors() {
        let m = Matcher::new(r"^my[0-9]+-repo\.?:x$").unwrap();
        assert!(m.is_match("my42-repo.:x"));
        assert!(m.is_match("my4-repo:x\n"));
        assert!(!m.is_match("my-repo:x"));
        let m = Matcher::new(r"arch[^:]*:").unwrap();
        assert!(m.is_match("deb archive: x"));
        assert!(!m.is_match("deb arch"));
        assert!(Matcher::new("a(b)").is_err());
        assert!(Matcher::new("*a").is_err());
    }
}

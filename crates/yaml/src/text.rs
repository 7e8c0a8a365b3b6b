//! Source text indexed by character, for turning scanner positions into
//! PyYAML's and for the small look-arounds error reporting needs.

use crate::error::Pos;

pub(crate) struct Text {
    pub chars: Vec<char>,
    line_starts: Vec<usize>,
}

impl Text {
    pub(crate) fn new(s: &str) -> Self {
        let chars: Vec<char> = s.chars().collect();
        let mut line_starts = vec![0];
        for (i, c) in chars.iter().enumerate() {
            if *c == '\n' {
                line_starts.push(i + 1);
            }
        }
        Text { chars, line_starts }
    }

    pub(crate) fn get(&self, i: usize) -> Option<char> {
        self.chars.get(i).copied()
    }

    pub(crate) fn pos(&self, idx: usize) -> Pos {
        let line = self.line_starts.partition_point(|s| *s <= idx).max(1);
        let start = self.line_starts.get(line - 1).copied().unwrap_or(0);
        Pos {
            line,
            col: idx.saturating_sub(start) + 1,
        }
    }

    pub(crate) fn idx(&self, p: Pos) -> usize {
        let start = self
            .line_starts
            .get(p.line.saturating_sub(1))
            .copied()
            .unwrap_or(self.chars.len());
        (start + p.col.saturating_sub(1)).min(self.chars.len())
    }

    /// PyYAML's mark for the end of the stream.
    pub(crate) fn eof(&self) -> Pos {
        self.pos(self.chars.len())
    }

    /// Positions past the end (yaml-rust2 adds a virtual final line break)
    /// are the end of the stream.
    pub(crate) fn clamp(&self, p: Pos) -> Pos {
        let eof = self.eof();
        if (p.line, p.col) > (eof.line, eof.col) {
            eof
        } else {
            p
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions() {
        let t = Text::new("ab\ncd\n");
        assert_eq!(t.pos(0), Pos { line: 1, col: 1 });
        assert_eq!(t.pos(3), Pos { line: 2, col: 1 });
        assert_eq!(t.pos(4), Pos { line: 2, col: 2 });
        assert_eq!(t.eof(), Pos { line: 3, col: 1 });
        assert_eq!(t.idx(Pos { line: 2, col: 2 }), 4);
    }
}

//! Text values with `*` wildcards, and how they match (case-insensitively).

/// A text value in which `*` stands for any run of characters (a literal star is written `\*`).
///
/// Held as the literal pieces between the wildcards: `*.shop.test` is `["", ".shop.test"]`,
/// `api` is `["api"]`, `*` is `["", ""]`. The pieces are normalised so that equal patterns are
/// equal values: runs of wildcards collapse into one (no empty piece between two wildcards).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pattern {
    pieces: Vec<String>,
}

impl Pattern {
    /// The pattern that matches `text` only (no wildcard).
    pub fn exact(text: impl Into<String>) -> Self {
        Self {
            pieces: vec![text.into()],
        }
    }

    /// The pattern `*`: anything, the empty text included.
    pub fn any() -> Self {
        Self {
            pieces: vec![String::new(), String::new()],
        }
    }

    /// The literal pieces with a wildcard between each two; normalised as described above.
    pub fn from_pieces(pieces: impl IntoIterator<Item = String>) -> Self {
        let mut all: Vec<String> = pieces.into_iter().collect();
        if all.is_empty() {
            return Self::exact("");
        }
        let last = all.len() - 1;
        let mut index = 0;
        all.retain(|piece| {
            let keep = index == 0 || index == last || !piece.is_empty();
            index += 1;
            keep
        });
        Self { pieces: all }
    }

    /// The literal pieces between the wildcards (at least one; the first and last may be empty).
    pub fn pieces(&self) -> &[String] {
        &self.pieces
    }

    /// The text when the pattern has no wildcard.
    pub fn as_exact(&self) -> Option<&str> {
        match self.pieces.as_slice() {
            [only] => Some(only),
            _ => None,
        }
    }

    pub fn has_wildcard(&self) -> bool {
        self.pieces.len() > 1
    }

    /// True when the whole of `text` matches, ignoring case (`*.shop.test` matches `API.shop.test`).
    pub fn matches(&self, text: &str) -> bool {
        let text = text.to_lowercase();
        let pieces: Vec<String> = self.pieces.iter().map(|p| p.to_lowercase()).collect();
        let Some((first, rest)) = pieces.split_first() else {
            return text.is_empty();
        };
        let Some((last, middle)) = rest.split_last() else {
            return text == *first;
        };
        let Some(mut tail) = text.strip_prefix(first.as_str()) else {
            return false;
        };
        for piece in middle {
            match tail.find(piece.as_str()) {
                Some(at) => tail = &tail[at + piece.len()..],
                None => return false,
            }
        }
        tail.ends_with(last.as_str())
    }

    /// True when the pattern occurs anywhere in `text`, ignoring case (as if it began and ended
    /// with `*`): the full-text test.
    pub fn occurs_in(&self, text: &str) -> bool {
        let text = text.to_lowercase();
        let mut tail = text.as_str();
        for piece in &self.pieces {
            let piece = piece.to_lowercase();
            match tail.find(piece.as_str()) {
                Some(at) => tail = &tail[at + piece.len()..],
                None => return false,
            }
        }
        true
    }

    /// The canonical spelling: bare when the lexer reads it back as the same value, else quoted.
    /// `bare_ok` adds the caller's own restrictions (operator words, a leading `-`, …).
    pub(crate) fn write(
        &self,
        out: &mut impl std::fmt::Write,
        bare_ok: impl Fn(&str) -> bool,
    ) -> std::fmt::Result {
        let joined = self.pieces.join("*");
        let bare = !joined.is_empty()
            && !joined.chars().any(ends_bare_token)
            && !joined.contains('\\')
            && !joined.starts_with(['>', '<', '[', '{'])
            && bare_ok(&joined);
        if !bare {
            out.write_char('"')?;
        }
        for (index, piece) in self.pieces.iter().enumerate() {
            if index > 0 {
                out.write_char('*')?;
            }
            for c in piece.chars() {
                if c == '*' || (!bare && (c == '"' || c == '\\')) {
                    out.write_char('\\')?;
                }
                out.write_char(c)?;
            }
        }
        if !bare {
            out.write_char('"')?;
        }
        Ok(())
    }
}

/// Characters that end (or are not allowed in) a bare word or value.
pub(crate) fn ends_bare_token(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '"')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(pieces: &[&str]) -> Pattern {
        Pattern::from_pieces(pieces.iter().map(|p| p.to_string()))
    }

    #[test]
    fn pieces_are_normalised() {
        assert_eq!(pattern(&["a", "", "", "b"]), pattern(&["a", "b"]));
        assert_eq!(pattern(&["", "", ""]), Pattern::any());
        assert_eq!(pattern(&[]), Pattern::exact(""));
        assert_eq!(pattern(&["", "x", ""]).pieces().len(), 3);
    }

    #[test]
    fn anchored_matching() {
        let host = pattern(&["", ".shop.test"]);
        assert!(host.matches("api.shop.test"));
        assert!(host.matches("API.Shop.Test"));
        assert!(!host.matches("api.shop.test.evil"));
        assert!(pattern(&["/api/", ""]).matches("/api/v1/orders"));
        assert!(pattern(&["a", "b", "c"]).matches("a-b-c"));
        assert!(!pattern(&["ab", "ba"]).matches("aba"));
        assert!(Pattern::any().matches(""));
        assert!(Pattern::exact("GET").matches("get"));
        assert!(!Pattern::exact("GET").matches("GETS"));
    }

    #[test]
    fn unanchored_matching() {
        assert!(Pattern::exact("reset").occurs_in("Connection RESET by peer"));
        assert!(pattern(&["conn", "peer"]).occurs_in("connection reset by peer"));
        assert!(!pattern(&["peer", "conn"]).occurs_in("connection reset by peer"));
        assert!(Pattern::exact("").occurs_in(""));
    }
}

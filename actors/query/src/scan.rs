//! Reading the input: a cursor over it, and the words, values and quoted strings it holds.

use std::ops::Range;

use crate::error::QueryError;
use crate::pattern::{ends_bare_token, Pattern};

/// A word, a value or a quoted string, with escapes resolved.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    /// The text, backslash escapes resolved (a `\*` is a `*` here too).
    pub text: String,
    /// Byte offsets in `text` of the `*` that are wildcards (the unescaped ones).
    pub wildcards: Vec<usize>,
    /// Byte range in the input.
    pub span: Range<usize>,
    pub quoted: bool,
    /// True when a backslash escape was used.
    pub escaped: bool,
}

impl Token {
    pub fn pattern(&self) -> Pattern {
        let mut pieces = Vec::with_capacity(self.wildcards.len() + 1);
        let mut start = 0;
        for &at in &self.wildcards {
            pieces.push(self.text[start..at].to_owned());
            start = at + 1;
        }
        pieces.push(self.text[start..].to_owned());
        Pattern::from_pieces(pieces)
    }

    /// True for the unquoted, unescaped word `word` (operator words and `*` are recognised so).
    pub fn is_plain(&self, word: &str) -> bool {
        !self.quoted && !self.escaped && self.text == word
    }
}

/// A position in the input (a byte offset, always on a character boundary).
#[derive(Debug)]
pub(crate) struct Cursor<'a> {
    pub src: &'a str,
    pub pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(src: &'a str) -> Self {
        Self { src, pos: 0 }
    }

    pub fn rest(&self) -> &'a str {
        self.src.get(self.pos..).unwrap_or("")
    }

    pub fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    pub fn peek_second(&self) -> Option<char> {
        self.rest().chars().nth(1)
    }

    pub fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    pub fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    /// True when the input goes on with `word` as a whole word (followed by the end, a space, a
    /// parenthesis or a quote).
    pub fn at_word(&self, word: &str) -> bool {
        self.rest()
            .strip_prefix(word)
            .is_some_and(|after| after.chars().next().is_none_or(ends_bare_token))
    }

    /// An error over `bytes` of the input.
    pub fn error(&self, bytes: Range<usize>, describe: impl FnOnce(usize) -> String) -> QueryError {
        QueryError::at(self.src, bytes, describe)
    }

    /// An error at the cursor (an empty span, or the character there).
    pub fn error_here(&self, describe: impl FnOnce(usize) -> String) -> QueryError {
        let end = self.pos + self.peek().map_or(0, char::len_utf8);
        self.error(self.pos..end, describe)
    }

    /// A quoted string; the cursor is on its opening quote.
    pub fn quoted(&mut self) -> Result<Token, QueryError> {
        let start = self.pos;
        self.bump();
        let mut token = Token {
            text: String::new(),
            wildcards: Vec::new(),
            span: start..start,
            quoted: true,
            escaped: false,
        };
        loop {
            match self.bump() {
                None => {
                    return Err(self.error(start..self.src.len(), |column| {
                        format!("unclosed quote opened at column {column}")
                    }))
                }
                Some('"') => break,
                Some('\\') => self.escape(&mut token)?,
                Some('*') => {
                    token.wildcards.push(token.text.len());
                    token.text.push('*');
                }
                Some(c) => token.text.push(c),
            }
        }
        token.span = start..self.pos;
        Ok(token)
    }

    /// A bare word or value: up to a space, a parenthesis or a `stop` character. A quote inside is
    /// an error (the whole value must be quoted instead).
    pub fn bare(&mut self, stop: impl Fn(char) -> bool) -> Result<Token, QueryError> {
        let start = self.pos;
        let mut token = Token {
            text: String::new(),
            wildcards: Vec::new(),
            span: start..start,
            quoted: false,
            escaped: false,
        };
        while let Some(c) = self.peek() {
            if c == '"' {
                return Err(self.error_here(|column| {
                    format!(
                        "unexpected quote at column {column}: quote the whole value, \
                         as in \"a b\", or escape the quote as \\\""
                    )
                }));
            }
            if ends_bare_token(c) || stop(c) {
                break;
            }
            self.bump();
            match c {
                '\\' => self.escape(&mut token)?,
                '*' => {
                    token.wildcards.push(token.text.len());
                    token.text.push('*');
                }
                c => token.text.push(c),
            }
        }
        token.span = start..self.pos;
        Ok(token)
    }

    /// After a backslash: the next character, literally.
    fn escape(&mut self, token: &mut Token) -> Result<(), QueryError> {
        token.escaped = true;
        match self.bump() {
            Some(c) => {
                token.text.push(c);
                Ok(())
            }
            None => Err(self.error(self.pos - 1..self.pos, |column| {
                format!("nothing to escape after the backslash at column {column}")
            })),
        }
    }

    /// A field name (`[A-Za-z_][A-Za-z0-9_.-]*`) followed by `:`, without moving; its end.
    pub fn field_name_end(&self) -> Option<usize> {
        let rest = self.rest();
        let mut chars = rest.char_indices();
        let (_, first) = chars.next()?;
        if !(first.is_ascii_alphabetic() || first == '_') {
            return None;
        }
        let end = chars
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
            .map_or(rest.len(), |(at, _)| at);
        rest[end..].starts_with(':').then_some(self.pos + end)
    }
}

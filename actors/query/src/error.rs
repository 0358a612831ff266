//! The one error of the crate: what went wrong, and where in the query.

use std::ops::Range;

/// A query that does not parse.
///
/// `message` is a whole sentence for the user and already names the column, e.g.
/// `expected a value after "status:" at column 8`. `column` is the 1-based column (in characters)
/// where the problem is; `span` is the range of characters (0-based, end excluded) to underline.
/// Both count Unicode scalar values, not bytes, so that a UI can use them directly; a problem at
/// the end of the input has `column == chars + 1` and an empty span there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct QueryError {
    pub message: String,
    pub column: usize,
    pub span: Range<usize>,
}

impl QueryError {
    /// An error over the bytes `bytes` of `input`; `describe` gets the column and writes the message.
    pub(crate) fn at(
        input: &str,
        bytes: Range<usize>,
        describe: impl FnOnce(usize) -> String,
    ) -> Self {
        let start = char_index(input, bytes.start);
        let end = char_index(input, bytes.end).max(start);
        let column = start + 1;
        Self {
            message: describe(column),
            column,
            span: start..end,
        }
    }
}

/// The number of characters before byte `offset` (clamped to the input, rounded down to a boundary).
pub(crate) fn char_index(input: &str, offset: usize) -> usize {
    let mut offset = offset.min(input.len());
    while !input.is_char_boundary(offset) {
        offset -= 1;
    }
    input[..offset].chars().count()
}

/// The byte offset of character `index` (clamped to the end of the input).
pub(crate) fn byte_index(input: &str, index: usize) -> usize {
    input
        .char_indices()
        .nth(index)
        .map_or(input.len(), |(offset, _)| offset)
}

//! What one message from another component may cost the reader: the bounds every listener and
//! conversion applies to bytes from the wire (ARCHITECTURE.md, "Bounded memory, counted limits").
//!
//! Cap'n Proto lets a few bytes claim a lot: a list of zero-sized structs costs no bytes per
//! element on the wire, and the batch's `whisperer` text is copied into every frame read. So:
//! lists of zero-sized structs are refused by every `read_*` ([`crate::SchemaError::ZeroSized`]);
//! a batch's record lists hold at most [`MAX_BATCH_RECORDS`] elements and its names at most
//! [`MAX_NAME_BYTES`] bytes ([`read_records`], [`read_name`]), checked before anything is read;
//! and a connection reads messages with [`reader_options`]: at most [`MAX_MESSAGE_WORDS`] words
//! per message, which is also the budget of words read from it (a message is read about twice
//! when a node passes it on).

use capnp::message::ReaderOptions;
use capnp::struct_list;
use capnp::traits::OwnedStruct;

use crate::SchemaError;

/// Most words of one message a listener reads (32 MiB), and the most words read from it.
/// The largest batches agents send are about 1 MiB (a Whisperer seals at 1 MiB of frames).
pub const MAX_MESSAGE_WORDS: usize = 4 * 1024 * 1024;

/// Most elements of one record list of a batch (frames, sessions, hosts, DNS records, usage
/// records). Senders stay well below: a Whisperer seals at 2048 frames, a Gocipher sends 4096
/// records, an import 2000 frames.
pub const MAX_BATCH_RECORDS: u32 = 65_536;

/// Most bytes of a name a batch carries once for all its records (the Whisperer's name, an
/// agent id): a Kubernetes object name is at most 253.
pub const MAX_NAME_BYTES: usize = 256;

/// The options a listener reads messages with: Cap'n Proto's defaults (nesting limit 64) with
/// a traversal limit of [`MAX_MESSAGE_WORDS`], which also refuses larger messages whole.
pub fn reader_options() -> ReaderOptions {
    let mut options = ReaderOptions::new();
    options.traversal_limit_in_words(Some(MAX_MESSAGE_WORDS));
    options
}

/// Reads a name (non-empty or not) of at most [`MAX_NAME_BYTES`] bytes, before its records.
pub fn read_name(
    field: &'static str,
    value: capnp::Result<capnp::text::Reader<'_>>,
) -> Result<String, SchemaError> {
    let text = value.map_err(SchemaError::malformed(field))?;
    let len = text.as_bytes().len();
    if len > MAX_NAME_BYTES {
        return Err(SchemaError::TextTooLong {
            field,
            len,
            max: MAX_NAME_BYTES,
        });
    }
    text.to_string()
        .map_err(|_| SchemaError::InvalidUtf8 { field })
}

/// Reads a record list of a batch: at most [`MAX_BATCH_RECORDS`] elements (checked before the
/// first is read), none zero-sized, each converted with `read`; the first failure fails all.
pub fn read_records<'a, O, T>(
    field: &'static str,
    list: capnp::Result<struct_list::Reader<'a, O>>,
    read: impl FnMut(O::Reader<'a>) -> Result<T, SchemaError>,
) -> Result<Vec<T>, SchemaError>
where
    O: OwnedStruct,
{
    let list = list.map_err(SchemaError::malformed(field))?;
    if list.len() > MAX_BATCH_RECORDS {
        return Err(SchemaError::TooMany {
            field,
            len: list.len(),
            max: MAX_BATCH_RECORDS,
        });
    }
    crate::wire::read_struct_list(field, Ok(list), read)
}

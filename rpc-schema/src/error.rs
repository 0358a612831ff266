//! The error of every conversion between the wire and the model.

/// A message (or a record to write) that does not fit the schema's rules.
///
/// Reading never panics on bytes from the wire: every way a message can be malformed ends here. The
/// `field` strings name the model field (`http.client`, `usage.src`, …) so that a log line says what
/// was wrong without a dump of the message.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// The message itself is damaged: truncated, a pointer out of bounds, over the traversal or
    /// nesting limit (from `capnp` while reading the message framing).
    #[error("malformed message: {0}")]
    Message(#[from] capnp::Error),
    /// A field could not be read: its pointer is damaged or of the wrong kind.
    #[error("{field}: malformed: {source}")]
    Malformed {
        field: &'static str,
        source: capnp::Error,
    },
    /// A required field (an endpoint, a batch id, …) is absent.
    #[error("{field}: missing")]
    Missing { field: &'static str },
    /// An enum or union value this version does not know (a newer writer added it).
    #[error("{field}: value {value} not in this version's schema")]
    NotInSchema { field: &'static str, value: u16 },
    /// Text that is not valid UTF-8.
    #[error("{field}: text is not valid utf-8")]
    InvalidUtf8 { field: &'static str },
    /// An IP address whose length is neither 4 nor 16 bytes.
    #[error("{field}: an ip address has 4 or 16 bytes, not {len}")]
    InvalidIp { field: &'static str, len: usize },
    /// A model value that cannot be written: a list, text or byte string over Cap'n Proto's limits
    /// (2^29 elements or words).
    #[error("{field}: {len} elements are more than a cap'n proto list can hold")]
    TooLarge { field: &'static str, len: usize },
    /// A list of zero-sized structs: no Spider struct is empty, so no writer sends one, and each
    /// element would cost the reader a record while costing the sender nothing.
    #[error("{field}: a list of {len} zero-sized elements (no record is empty)")]
    ZeroSized { field: &'static str, len: u32 },
    /// A record list of a batch longer than a batch may be.
    #[error("{field}: {len} elements, more than the {max} a batch may hold")]
    TooMany {
        field: &'static str,
        len: u32,
        max: u32,
    },
    /// A name longer than a name may be.
    #[error("{field}: {len} bytes, more than the {max} a name may have")]
    TextTooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    /// A model body held as base64 text that is not valid base64 (it cannot be sent as bytes).
    #[error("{field}: body data is not valid base64")]
    InvalidBase64 { field: &'static str },
}

impl SchemaError {
    pub(crate) fn malformed(field: &'static str) -> impl FnOnce(capnp::Error) -> Self {
        move |source| Self::Malformed { field, source }
    }

    pub(crate) fn not_in_schema(field: &'static str) -> impl FnOnce(capnp::NotInSchema) -> Self {
        move |capnp::NotInSchema(value)| Self::NotInSchema { field, value }
    }
}

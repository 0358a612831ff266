//! What the node refuses to spend on one connection or one message, counted when it happens:
//! TLS handshakes that fail, messages over the size or traversal limit, and batches whose lists
//! or names are over the bounds of `spider_rpc_schema::limits` (zero-sized elements, too many
//! records, a name too long). Each refusal is also a log line and an error to the sender.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use spider_rpc_schema::SchemaError;

/// The node's refusal counters (shared by the listener and every ingest capability).
#[derive(Debug, Clone, Default)]
pub struct LimitCounters(Arc<Counts>);

#[derive(Debug, Default)]
struct Counts {
    tls_handshakes_failed: AtomicU64,
    messages_too_large: AtomicU64,
    traversal_limit_hits: AtomicU64,
    zero_sized_lists: AtomicU64,
    lists_too_long: AtomicU64,
    names_too_long: AtomicU64,
}

/// The counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Connections whose TLS handshake failed (a plaintext client, an untrusted certificate, a
    /// client that gave up or was too slow).
    pub tls_handshakes_failed: u64,
    /// Connections ended because a message was over the size limit.
    pub messages_too_large: u64,
    /// Calls refused because reading their message went over the traversal limit.
    pub traversal_limit_hits: u64,
    /// Batches refused for a list of zero-sized elements.
    pub zero_sized_lists: u64,
    /// Batches refused for a record list over `MAX_BATCH_RECORDS`.
    pub lists_too_long: u64,
    /// Batches refused for a name over `MAX_NAME_BYTES`.
    pub names_too_long: u64,
}

impl Limits {
    /// Every refusal of a message or batch (TLS handshakes aside).
    pub fn messages_refused(&self) -> u64 {
        self.messages_too_large
            + self.traversal_limit_hits
            + self.zero_sized_lists
            + self.lists_too_long
            + self.names_too_long
    }
}

fn add(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl LimitCounters {
    pub fn snapshot(&self) -> Limits {
        let c = &self.0;
        Limits {
            tls_handshakes_failed: c.tls_handshakes_failed.load(Ordering::Relaxed),
            messages_too_large: c.messages_too_large.load(Ordering::Relaxed),
            traversal_limit_hits: c.traversal_limit_hits.load(Ordering::Relaxed),
            zero_sized_lists: c.zero_sized_lists.load(Ordering::Relaxed),
            lists_too_long: c.lists_too_long.load(Ordering::Relaxed),
            names_too_long: c.names_too_long.load(Ordering::Relaxed),
        }
    }

    /// Counts a refused TLS handshake.
    pub fn tls_handshake_failed(&self) {
        add(&self.0.tls_handshakes_failed);
    }

    /// Counts a Cap'n Proto error that is one of the limits (over the size or the traversal
    /// limit); true if it was.
    pub fn count_capnp(&self, error: &capnp::Error) -> bool {
        match error.kind {
            capnp::ErrorKind::MessageTooLarge(_) => add(&self.0.messages_too_large),
            capnp::ErrorKind::ReadLimitExceeded => add(&self.0.traversal_limit_hits),
            // capnp-futures, which reads an RPC connection's messages, says it in words only.
            capnp::ErrorKind::Failed
                if error.extra.starts_with("Message has ")
                    && error.extra.contains("words, which is too large") =>
            {
                add(&self.0.messages_too_large)
            }
            _ => return false,
        }
        true
    }

    /// Counts a conversion error that is one of the limits; true if it was.
    pub fn count_schema(&self, error: &SchemaError) -> bool {
        match error {
            SchemaError::ZeroSized { .. } => add(&self.0.zero_sized_lists),
            SchemaError::TooMany { .. } => add(&self.0.lists_too_long),
            SchemaError::TextTooLong { .. } => add(&self.0.names_too_long),
            SchemaError::Message(source) | SchemaError::Malformed { source, .. } => {
                return self.count_capnp(source)
            }
            _ => return false,
        }
        true
    }
}

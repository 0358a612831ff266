//! Redaction before storage: secrets in HTTP/1.x traffic are masked before anything is stored.
//!
//! Two places hold them, and both are masked with the same rules ([`RuleSet`]: header names,
//! JSON fields, query and form parameters, whether to keep who called):
//!
//! - the **exchange records** ([`redact_exchange`]), parsed from the original bytes, so a value
//!   is known whole: the caller's identity can be kept (`Basic alice:****`,
//!   `Bearer <jwt sub=alice> ****`), compressed bodies are masked after decoding;
//! - the **raw frames** ([`FrameRedactor`]), masked in place per (session, direction) by a
//!   streaming HTTP/1.x scanner, same length (`*`), so sequence numbers and lengths stay. Frames
//!   are stored as they arrive, so each byte is decided from the bytes before it only: the
//!   frames keep a known Authorization scheme word but never the identity (its bytes would have
//!   to be written before the value is known whole), and what cannot be decided (a compressed
//!   JSON body, bytes past a hole, a session joined mid-way until its next start line) is masked
//!   whole.
//!
//! This crate owns the rules, the scanners and the masking; it does no I/O and knows nothing of
//! storage, batches or configuration files.

mod exchange;
mod frames;
mod head;
mod http;
mod json;
mod out;
mod params;
mod rules;
mod stream;

pub use exchange::{header_value, redact_exchange, MASKED};
pub use frames::{FrameRedactor, RedactStats};
pub use head::BodyType;
pub use http::{HttpRedactor, SessionLink};
pub use json::mask_json;
pub use out::{Run, MASK};
pub use params::{mask_form, mask_url};
pub use rules::{RuleError, RuleSet, Rules, DEFAULT_FIELDS, DEFAULT_HEADERS};
pub use stream::{HOLD_NS, MAX_HELD};

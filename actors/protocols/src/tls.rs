//! TLS ClientHello parsing (placeholder until the TLS parser lands).

pub fn looks_like_handshake(_: &[u8]) -> bool {
    false
}

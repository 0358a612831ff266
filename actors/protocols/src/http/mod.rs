//! HTTP/1.x.

pub fn looks_like_request(_: &[u8]) -> bool {
    false
}

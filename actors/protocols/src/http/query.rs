//! The path and query parameters of a request target.

use std::borrow::Cow;

use percent_encoding::percent_decode;

/// Splits a request target into its percent-decoded path and decoded query parameters.
///
/// An absolute-form target (`http://host/path?q`) gives the path after the authority; a fragment
/// (not sent by browsers, but seen) ends the query.
pub(super) fn split_target(target: &str) -> (String, Vec<(String, String)>) {
    let target = target.split('#').next().unwrap_or_default();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let path = strip_scheme_and_authority(path);
    let path = percent_decode(path.as_bytes())
        .decode_utf8_lossy()
        .into_owned();
    (path, decode_query(query))
}

fn strip_scheme_and_authority(path: &str) -> &str {
    let Some((scheme, rest)) = path.split_once("://") else {
        return path;
    };
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    {
        return path;
    }
    rest.find('/').and_then(|i| rest.get(i..)).unwrap_or("/")
}

/// Decodes `application/x-www-form-urlencoded` pairs: `+` is a space, keys without `=` get an
/// empty value, empty pieces are skipped.
pub(super) fn decode_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (key, value) = piece.split_once('=').unwrap_or((piece, ""));
            (decode_component(key), decode_component(value))
        })
        .collect()
}

fn decode_component(text: &str) -> String {
    let bytes: Cow<'_, [u8]> = if text.contains('+') {
        Cow::Owned(
            text.bytes()
                .map(|b| if b == b'+' { b' ' } else { b })
                .collect(),
        )
    } else {
        Cow::Borrowed(text.as_bytes())
    };
    percent_decode(&bytes).decode_utf8_lossy().into_owned()
}

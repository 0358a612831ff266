//! Request and response heads with httparse, and what can be recovered from cut or malformed ones.

use httparse::{ParserConfig, Status, EMPTY_HEADER};

use super::exchange::{
    convert_headers, lossy, version_name, RequestHead, ResponseHead, STACK_HEADERS,
};

/// Lenient where real peers are sloppy: an observer must read what the endpoints accepted.
fn config() -> ParserConfig {
    let mut config = ParserConfig::default();
    config
        .allow_spaces_after_header_name_in_responses(true)
        .allow_obsolete_multiline_headers_in_responses(true)
        .allow_multiple_spaces_in_request_line_delimiters(true)
        .allow_multiple_spaces_in_response_status_delimiters(true)
        .ignore_invalid_headers_in_requests(true)
        .ignore_invalid_headers_in_responses(true);
    config
}

/// Parses a complete request head (the bytes up to and including its empty line).
pub(super) fn parse_request(buf: &[u8]) -> Result<RequestHead, String> {
    let mut headers = [EMPTY_HEADER; STACK_HEADERS];
    match request_with(buf, &mut headers) {
        Err(httparse::Error::TooManyHeaders) => {
            let mut headers = vec![EMPTY_HEADER; buf.len() / 4 + 1];
            request_with(buf, &mut headers)
        }
        other => other,
    }
    .map_err(|err| err.to_string())
}

fn request_with<'b>(
    buf: &'b [u8],
    headers: &mut [httparse::Header<'b>],
) -> Result<RequestHead, httparse::Error> {
    let mut req = httparse::Request::new(headers);
    match config().parse_request(&mut req, buf)? {
        Status::Complete(_) => Ok(RequestHead {
            method: req.method.unwrap_or_default().to_owned(),
            uri: req.path.unwrap_or_default().to_owned(),
            version: version_name(req.version),
            headers: convert_headers(req.headers),
        }),
        Status::Partial => Err(httparse::Error::NewLine),
    }
}

/// Parses a complete response head.
pub(super) fn parse_response(buf: &[u8]) -> Result<ResponseHead, String> {
    let mut headers = [EMPTY_HEADER; STACK_HEADERS];
    match response_with(buf, &mut headers) {
        Err(httparse::Error::TooManyHeaders) => {
            let mut headers = vec![EMPTY_HEADER; buf.len() / 4 + 1];
            response_with(buf, &mut headers)
        }
        other => other,
    }
    .map_err(|err| err.to_string())
}

fn response_with<'b>(
    buf: &'b [u8],
    headers: &mut [httparse::Header<'b>],
) -> Result<ResponseHead, httparse::Error> {
    let mut resp = httparse::Response::new(headers);
    match config().parse_response(&mut resp, buf)? {
        Status::Complete(_) => Ok(ResponseHead {
            status: resp.code.unwrap_or_default(),
            reason: resp.reason.unwrap_or_default().to_owned(),
            headers: convert_headers(resp.headers),
        }),
        Status::Partial => Err(httparse::Error::NewLine),
    }
}

/// The complete lines of a cut head, closed with an empty line.
fn complete_lines(buf: &[u8]) -> Option<Vec<u8>> {
    let cut = buf.iter().rposition(|&b| b == b'\n')?;
    let lines = buf.get(..=cut)?;
    let mut closed = Vec::with_capacity(lines.len() + 2);
    closed.extend_from_slice(lines);
    closed.extend_from_slice(b"\r\n");
    Some(closed)
}

/// The first line of `buf` without its line end, when it is complete.
fn first_line(buf: &[u8]) -> Option<&[u8]> {
    let end = buf.iter().position(|&b| b == b'\n')?;
    let line = buf.get(..end)?;
    Some(line.strip_suffix(b"\r").unwrap_or(line))
}

/// What is known of a request head that was cut (capture gap, close) or is malformed: its
/// complete header lines when they parse, else its request line alone.
pub(super) fn request_prefix(buf: &[u8]) -> Option<RequestHead> {
    if let Some(head) = complete_lines(buf).and_then(|closed| parse_request(&closed).ok()) {
        return Some(head);
    }
    let line = first_line(buf)?;
    let mut words = line.split(|&b| b == b' ').filter(|w| !w.is_empty());
    let method = words.next()?;
    if !method.iter().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    let rest: Vec<&[u8]> = words.collect();
    let (version, target) = match rest.split_last() {
        Some((last, target)) if last.starts_with(b"HTTP/") && !target.is_empty() => {
            (lossy(last), target)
        }
        _ => ("HTTP/1.1".to_owned(), rest.as_slice()),
    };
    if target.is_empty() {
        return None;
    }
    Some(RequestHead {
        method: lossy(method),
        uri: lossy(&target.join(&b' ')),
        version,
        headers: Vec::new(),
    })
}

/// What is known of a response head that was cut or is malformed.
pub(super) fn response_prefix(buf: &[u8]) -> Option<ResponseHead> {
    if let Some(head) = complete_lines(buf).and_then(|closed| parse_response(&closed).ok()) {
        return Some(head);
    }
    let line = first_line(buf)?;
    let rest = line.strip_prefix(b"HTTP/")?;
    let mut words = rest.splitn(3, |&b| b == b' ');
    words.next()?;
    let code = words.next()?;
    let status = std::str::from_utf8(code).ok()?.parse::<u16>().ok()?;
    Some(ResponseHead {
        status,
        reason: lossy(words.next().unwrap_or_default()),
        headers: Vec::new(),
    })
}

/// The fields of a trailer section (the bytes after the last chunk, up to its empty line).
pub(super) fn parse_trailers(buf: &[u8]) -> Vec<spider_model::Header> {
    let mut headers = [EMPTY_HEADER; STACK_HEADERS];
    match httparse::parse_headers(buf, &mut headers) {
        Ok(Status::Complete((_, fields))) => convert_headers(fields),
        _ => Vec::new(),
    }
}

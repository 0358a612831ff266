//! The schema of an HTTP partition and how an exchange becomes a document.
//!
//! Nothing is stored in tantivy: a hit gives back its RocksDB key from fast fields (class, time,
//! whisperer hash, session id, index), and the record is read from RocksDB.

use std::net::{IpAddr, Ipv6Addr};

use spider_model::{BodyData, HttpExchange, ParseState};
use tantivy::schema::{
    Field, IndexRecordOption, IpAddrOptions, NumericOptions, Schema, TantivyDocument,
    TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{
    LowerCaser, RawTokenizer, SimpleTokenizer, TextAnalyzer, TokenizerManager,
};

use crate::config::TextIndexing;
use crate::keys::HttpKey;

/// Whole values, lowercased: keyword fields (`host`, `path`, `method`, …).
pub(crate) const KEYWORD_TOKENIZER: &str = "spider_keyword";
/// Words (alphanumeric runs), lowercased: full text.
pub(crate) const TEXT_TOKENIZER: &str = "spider_text";

/// The fields of the schema.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields {
    pub time: Field,
    pub class: Field,
    pub whisperer_hash: Field,
    pub session: Field,
    pub index: Field,
    pub whisperer: Field,
    pub method: Field,
    pub host: Field,
    pub path: Field,
    pub uri: Field,
    pub query_key: Field,
    pub query_value: Field,
    /// `name=value`, both lowercased, per query parameter.
    pub query_param: Field,
    pub status: Field,
    pub client_ip: Field,
    pub server_ip: Field,
    pub client_port: Field,
    pub server_port: Field,
    pub duration: Field,
    pub state: Field,
    pub version: Field,
    pub headers: Field,
    pub body: Field,
}

pub(crate) fn build() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let fast_indexed = NumericOptions::default().set_indexed().set_fast();
    let fast = NumericOptions::default().set_fast();
    let ip = IpAddrOptions::default().set_indexed().set_fast();
    let keyword = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(KEYWORD_TOKENIZER)
            .set_fieldnorms(false)
            .set_index_option(IndexRecordOption::Basic),
    );
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(TEXT_TOKENIZER)
            .set_fieldnorms(false)
            .set_index_option(IndexRecordOption::Basic),
    );
    let fields = Fields {
        time: builder.add_i64_field("time", fast_indexed.clone()),
        class: builder.add_u64_field("class", fast.clone()),
        whisperer_hash: builder.add_u64_field("whisperer_hash", fast.clone()),
        session: builder.add_u64_field("session", fast_indexed.clone()),
        index: builder.add_u64_field("index", fast),
        whisperer: builder.add_text_field("whisperer", keyword.clone()),
        method: builder.add_text_field("method", keyword.clone()),
        host: builder.add_text_field("host", keyword.clone()),
        path: builder.add_text_field("path", keyword.clone()),
        uri: builder.add_text_field("uri", keyword.clone()),
        query_key: builder.add_text_field("query_key", keyword.clone()),
        query_value: builder.add_text_field("query_value", keyword.clone()),
        query_param: builder.add_text_field("query_param", keyword.clone()),
        status: builder.add_u64_field("status", fast_indexed.clone()),
        client_ip: builder.add_ip_addr_field("client_ip", ip.clone()),
        server_ip: builder.add_ip_addr_field("server_ip", ip),
        client_port: builder.add_u64_field("client_port", fast_indexed.clone()),
        server_port: builder.add_u64_field("server_port", fast_indexed.clone()),
        duration: builder.add_i64_field("duration", fast_indexed),
        state: builder.add_text_field("state", keyword.clone()),
        version: builder.add_text_field("version", keyword),
        headers: builder.add_text_field("headers", text.clone()),
        body: builder.add_text_field("body", text),
    };
    (builder.build(), fields)
}

/// The analyzers the schema names; registered on every index opened.
pub(crate) fn tokenizers() -> TokenizerManager {
    let manager = TokenizerManager::default();
    manager.register(
        KEYWORD_TOKENIZER,
        TextAnalyzer::builder(RawTokenizer::default())
            .filter(LowerCaser)
            .build(),
    );
    manager.register(
        TEXT_TOKENIZER,
        TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(LowerCaser)
            .build(),
    );
    manager
}

/// The analyzer of full-text fields, for tokenizing search words the same way.
pub(crate) fn text_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(LowerCaser)
        .build()
}

pub(crate) fn ip6(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

pub(crate) fn state_name(state: ParseState) -> &'static str {
    match state {
        ParseState::Ok => "ok",
        ParseState::Warning => "warning",
        ParseState::Incomplete => "incomplete",
        ParseState::Error => "error",
    }
}

/// The `Host` header without its port, as `spider_query` reads it (`api.test:8080` →
/// `api.test`, `[::1]:80` → `[::1]`); `None` without a port.
pub(crate) fn host_without_port(host: &str) -> Option<&str> {
    let (name, port) = host.rsplit_once(':')?;
    (!port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && !name.ends_with(':'))
        .then_some(name)
}

/// The document of one exchange.
pub(crate) fn document(
    fields: &Fields,
    key: &HttpKey,
    whisperer: &str,
    exchange: &HttpExchange,
    text: TextIndexing,
) -> TantivyDocument {
    let mut doc = TantivyDocument::default();
    doc.add_i64(fields.time, key.time);
    doc.add_u64(fields.class, u64::from(key.class));
    doc.add_u64(fields.whisperer_hash, key.whisperer);
    doc.add_u64(fields.session, key.session);
    doc.add_u64(fields.index, u64::from(key.index));
    doc.add_text(fields.whisperer, whisperer);
    doc.add_text(fields.method, &exchange.method);
    if let Some(host) = &exchange.host {
        doc.add_text(fields.host, host);
        if let Some(bare) = host_without_port(host) {
            doc.add_text(fields.host, bare);
        }
    }
    doc.add_text(fields.path, &exchange.path);
    doc.add_text(fields.uri, &exchange.uri);
    for (name, value) in &exchange.query {
        doc.add_text(fields.query_key, name);
        doc.add_text(fields.query_value, value);
        doc.add_text(
            fields.query_param,
            format!("{}={value}", name.to_lowercase()),
        );
    }
    if let Some(status) = exchange.status {
        doc.add_u64(fields.status, u64::from(status));
    }
    doc.add_ip_addr(fields.client_ip, ip6(exchange.client.ip));
    doc.add_ip_addr(fields.server_ip, ip6(exchange.server.ip));
    doc.add_u64(fields.client_port, u64::from(exchange.client.port));
    doc.add_u64(fields.server_port, u64::from(exchange.server.port));
    if let Some(duration) = exchange.duration_ns() {
        doc.add_i64(fields.duration, duration);
    }
    doc.add_text(fields.state, state_name(exchange.state));
    doc.add_text(fields.version, &exchange.version);
    if let Some(short) = exchange.version.strip_prefix("HTTP/") {
        doc.add_text(fields.version, short);
    }
    if text.headers {
        let mut headers = String::new();
        for (name, value) in exchange
            .request_headers
            .iter()
            .chain(&exchange.response_headers)
        {
            headers.push_str(name);
            headers.push_str(": ");
            headers.push_str(value);
            headers.push('\n');
        }
        doc.add_text(fields.headers, &headers);
    }
    if text.bodies {
        let bodies = std::iter::once(&exchange.request_body).chain(exchange.response_body.as_ref());
        for body in bodies {
            if let Some(BodyData::Utf8(data)) = &body.data {
                doc.add_text(fields.body, prefix_on_char_boundary(data, text.body_bytes));
            }
        }
    }
    doc
}

fn prefix_on_char_boundary(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_ports_come_off() {
        assert_eq!(host_without_port("example.com:8080"), Some("example.com"));
        assert_eq!(host_without_port("example.com"), None);
        assert_eq!(host_without_port("[::1]:80"), Some("[::1]"));
        assert_eq!(host_without_port("::1"), None);
    }

    #[test]
    fn prefixes_cut_on_characters() {
        assert_eq!(prefix_on_char_boundary("héllo", 2), "h");
        assert_eq!(prefix_on_char_boundary("hello", 10), "hello");
    }
}

//! `HttpExchange` ↔ `records.capnp` `HttpExchange` (with its bodies and timing).

use base64::Engine;
use spider_model::{BodyCapture, BodyData, HttpExchange, HttpTiming, ParseState};

use crate::schema::records_capnp::{body_capture, http_exchange, http_timing, ParseState as Wire};
use crate::wire::{
    checked_data, checked_text, list_len, optional, pairs_len, read_option, read_optional_text,
    read_pairs, read_required_endpoint, read_text, read_text_list, required, write_endpoint,
    write_pairs, write_text_list,
};
use crate::SchemaError;

/// Writes `exchange` into `builder` (its `whisperer` is left null: set it for query results).
pub fn write_http(
    mut builder: http_exchange::Builder<'_>,
    exchange: &HttpExchange,
) -> Result<(), SchemaError> {
    builder.set_session_id(exchange.session_id);
    builder.set_index(exchange.index);
    write_endpoint(builder.reborrow().init_client(), &exchange.client);
    write_endpoint(builder.reborrow().init_server(), &exchange.server);
    builder.set_method(checked_text("http.method", &exchange.method)?);
    if let Some(host) = &exchange.host {
        builder.set_host(checked_text("http.host", host)?);
    }
    builder.set_uri(checked_text("http.uri", &exchange.uri)?);
    builder.set_path(checked_text("http.path", &exchange.path)?);
    let len = pairs_len("http.query", &exchange.query)?;
    write_pairs(
        "http.query",
        builder.reborrow().init_query(len),
        &exchange.query,
    )?;
    builder.set_version(checked_text("http.version", &exchange.version)?);
    if let Some(status) = exchange.status {
        builder.reborrow().init_status().set_value(status);
    }
    if let Some(reason) = &exchange.reason {
        builder.set_reason(checked_text("http.reason", reason)?);
    }
    let headers = &exchange.request_headers;
    let len = pairs_len("http.request_headers", headers)?;
    write_pairs(
        "http.request_headers",
        builder.reborrow().init_request_headers(len),
        headers,
    )?;
    let headers = &exchange.response_headers;
    let len = pairs_len("http.response_headers", headers)?;
    write_pairs(
        "http.response_headers",
        builder.reborrow().init_response_headers(len),
        headers,
    )?;
    write_body(
        "http.request_body",
        builder.reborrow().init_request_body(),
        &exchange.request_body,
    )?;
    if let Some(body) = &exchange.response_body {
        write_body(
            "http.response_body",
            builder.reborrow().init_response_body(),
            body,
        )?;
    }
    let interim = &exchange.interim_statuses;
    let len = list_len("http.interim_statuses", interim.len())?;
    let mut list = builder.reborrow().init_interim_statuses(len);
    for (index, status) in (0..len).zip(interim) {
        list.set(index, *status);
    }
    write_timing(builder.reborrow().init_timing(), &exchange.timing);
    builder.set_state(parse_state_to_wire(exchange.state));
    let len = list_len("http.warnings", exchange.warnings.len())?;
    write_text_list(
        "http.warnings",
        builder.reborrow().init_warnings(len),
        &exchange.warnings,
    )?;
    Ok(())
}

/// Reads an exchange; the `whisperer` field, when set, is read separately (`reader.get_whisperer()`).
pub fn read_http(reader: http_exchange::Reader<'_>) -> Result<HttpExchange, SchemaError> {
    let client = read_required_endpoint("http.client", reader.has_client(), reader.get_client())?;
    let server = read_required_endpoint("http.server", reader.has_server(), reader.get_server())?;
    let interim = reader
        .get_interim_statuses()
        .map_err(SchemaError::malformed("http.interim_statuses"))?;
    let response_body = optional(
        "http.response_body",
        reader.has_response_body(),
        reader.get_response_body(),
    )?;
    Ok(HttpExchange {
        session_id: reader.get_session_id(),
        index: reader.get_index(),
        client,
        server,
        method: read_text("http.method", reader.get_method())?,
        host: read_optional_text("http.host", reader.has_host(), reader.get_host())?,
        uri: read_text("http.uri", reader.get_uri())?,
        path: read_text("http.path", reader.get_path())?,
        query: read_pairs("http.query", reader.get_query())?,
        version: read_text("http.version", reader.get_version())?,
        status: read_option!("http.status", reader.get_status(), http_exchange::status),
        reason: read_optional_text("http.reason", reader.has_reason(), reader.get_reason())?,
        request_headers: read_pairs("http.request_headers", reader.get_request_headers())?,
        response_headers: read_pairs("http.response_headers", reader.get_response_headers())?,
        request_body: read_body(
            "http.request_body",
            required(
                "http.request_body",
                reader.has_request_body(),
                reader.get_request_body(),
            )?,
        )?,
        response_body: response_body
            .map(|body| read_body("http.response_body", body))
            .transpose()?,
        interim_statuses: interim.iter().collect(),
        timing: read_timing(required(
            "http.timing",
            reader.has_timing(),
            reader.get_timing(),
        )?)?,
        state: parse_state_from_wire(
            reader
                .get_state()
                .map_err(SchemaError::not_in_schema("http.state"))?,
        ),
        warnings: read_text_list("http.warnings", reader.get_warnings())?,
    })
}

fn write_body(
    field: &'static str,
    mut builder: body_capture::Builder<'_>,
    body: &BodyCapture,
) -> Result<(), SchemaError> {
    if let Some(length) = body.announced_length {
        builder.reborrow().init_announced_length().set_value(length);
    }
    builder.set_wire_length(body.wire_length);
    builder.set_decoded_length(body.decoded_length);
    if let Some(content_type) = &body.content_type {
        builder.set_content_type(checked_text(field, content_type)?);
    }
    if let Some(encoding) = &body.content_encoding {
        builder.set_content_encoding(checked_text(field, encoding)?);
    }
    match &body.data {
        None => {}
        Some(BodyData::Utf8(text)) => builder
            .reborrow()
            .init_data()
            .set_text(checked_text(field, text)?),
        Some(BodyData::Base64(text)) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|_| SchemaError::InvalidBase64 { field })?;
            builder
                .reborrow()
                .init_data()
                .set_binary(checked_data(field, &bytes)?);
        }
    }
    builder.set_truncated(body.truncated);
    Ok(())
}

fn read_body(
    field: &'static str,
    reader: body_capture::Reader<'_>,
) -> Result<BodyCapture, SchemaError> {
    use body_capture::data::Which;

    let data = match reader
        .get_data()
        .which()
        .map_err(SchemaError::not_in_schema(field))?
    {
        Which::None(()) => None,
        Which::Text(text) => Some(BodyData::Utf8(read_text(field, text)?)),
        Which::Binary(bytes) => Some(BodyData::Base64(
            base64::engine::general_purpose::STANDARD
                .encode(bytes.map_err(SchemaError::malformed(field))?),
        )),
    };
    Ok(BodyCapture {
        announced_length: read_option!(
            "http.body.announced_length",
            reader.get_announced_length(),
            body_capture::announced_length
        ),
        wire_length: reader.get_wire_length(),
        decoded_length: reader.get_decoded_length(),
        content_type: read_optional_text(
            field,
            reader.has_content_type(),
            reader.get_content_type(),
        )?,
        content_encoding: read_optional_text(
            field,
            reader.has_content_encoding(),
            reader.get_content_encoding(),
        )?,
        data,
        truncated: reader.get_truncated(),
    })
}

fn write_timing(mut builder: http_timing::Builder<'_>, timing: &HttpTiming) {
    builder.set_request_start(timing.request_start);
    if let Some(at) = timing.request_end {
        builder.reborrow().init_request_end().set_value(at);
    }
    if let Some(at) = timing.response_start {
        builder.reborrow().init_response_start().set_value(at);
    }
    if let Some(at) = timing.response_end {
        builder.reborrow().init_response_end().set_value(at);
    }
}

fn read_timing(reader: http_timing::Reader<'_>) -> Result<HttpTiming, SchemaError> {
    Ok(HttpTiming {
        request_start: reader.get_request_start(),
        request_end: read_option!(
            "http.timing.request_end",
            reader.get_request_end(),
            http_timing::request_end
        ),
        response_start: read_option!(
            "http.timing.response_start",
            reader.get_response_start(),
            http_timing::response_start
        ),
        response_end: read_option!(
            "http.timing.response_end",
            reader.get_response_end(),
            http_timing::response_end
        ),
    })
}

fn parse_state_to_wire(state: ParseState) -> Wire {
    match state {
        ParseState::Ok => Wire::Ok,
        ParseState::Warning => Wire::Warning,
        ParseState::Incomplete => Wire::Incomplete,
        ParseState::Error => Wire::Error,
    }
}

fn parse_state_from_wire(state: Wire) -> ParseState {
    match state {
        Wire::Ok => ParseState::Ok,
        Wire::Warning => ParseState::Warning,
        Wire::Incomplete => ParseState::Incomplete,
        Wire::Error => ParseState::Error,
    }
}

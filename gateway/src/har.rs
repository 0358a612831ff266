//! HTTP exchanges as an HTTP Archive (HAR 1.2).

use serde_json::{json, Value};
use spider_model::{BodyCapture, BodyData, HttpExchange};

use spider_query::format_rfc3339_millis;

fn millis(from: i64, to: Option<i64>) -> f64 {
    to.map_or(-1.0, |to| (to.saturating_sub(from)).max(0) as f64 / 1e6)
}

fn headers(pairs: &[(String, String)]) -> Vec<Value> {
    pairs
        .iter()
        .map(|(name, value)| json!({"name": name, "value": value}))
        .collect()
}

fn header<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

/// The HAR `text` (and `encoding`) of a captured body.
fn body_text(body: &BodyCapture) -> (Option<String>, Option<&'static str>) {
    match &body.data {
        Some(BodyData::Utf8(text)) => (Some(text.clone()), None),
        Some(BodyData::Base64(text)) => (Some(text.clone()), Some("base64")),
        None => (None, None),
    }
}

fn url_of(exchange: &HttpExchange) -> String {
    if exchange.uri.starts_with("http://") || exchange.uri.starts_with("https://") {
        return exchange.uri.clone();
    }
    let host = exchange
        .host
        .clone()
        .unwrap_or_else(|| exchange.server.to_string());
    format!("http://{host}{}", exchange.uri)
}

fn entry(whisperer: &str, exchange: &HttpExchange) -> Value {
    let timing = &exchange.timing;
    let send = millis(timing.request_start, timing.request_end).max(0.0);
    let wait = timing
        .request_end
        .map_or(-1.0, |end| millis(end, timing.response_start));
    let receive = timing
        .response_start
        .map_or(-1.0, |start| millis(start, timing.response_end));
    let total = [send, wait, receive]
        .iter()
        .filter(|value| **value > 0.0)
        .sum::<f64>();
    let mut request = json!({
        "method": exchange.method,
        "url": url_of(exchange),
        "httpVersion": exchange.version,
        "cookies": [],
        "headers": headers(&exchange.request_headers),
        "queryString": exchange.query.iter().map(|(name, value)| json!({"name": name, "value": value})).collect::<Vec<_>>(),
        "headersSize": -1,
        "bodySize": exchange.request_body.wire_length,
    });
    if exchange.request_body.wire_length > 0 {
        let (text, _) = body_text(&exchange.request_body);
        request["postData"] = json!({
            "mimeType": exchange.request_body.content_type.clone()
                .or_else(|| header(&exchange.request_headers, "content-type").map(str::to_owned))
                .unwrap_or_default(),
            "text": text.unwrap_or_default(),
        });
    }
    let response = match (&exchange.status, &exchange.response_body) {
        (Some(status), body) => {
            let empty = BodyCapture::default();
            let body = body.as_ref().unwrap_or(&empty);
            let (text, encoding) = body_text(body);
            let mut content = json!({
                "size": body.decoded_length,
                "mimeType": body.content_type.clone().unwrap_or_else(|| "x-unknown".into()),
            });
            if let Some(text) = text {
                content["text"] = Value::String(text);
            }
            if let Some(encoding) = encoding {
                content["encoding"] = Value::String(encoding.into());
            }
            json!({
                "status": status,
                "statusText": exchange.reason.clone().unwrap_or_default(),
                "httpVersion": exchange.version,
                "cookies": [],
                "headers": headers(&exchange.response_headers),
                "content": content,
                "redirectURL": header(&exchange.response_headers, "location").unwrap_or(""),
                "headersSize": -1,
                "bodySize": body.wire_length,
            })
        }
        (None, _) => json!({
            "status": 0,
            "statusText": "",
            "httpVersion": "",
            "cookies": [],
            "headers": [],
            "content": {"size": 0, "mimeType": "x-unknown"},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": -1,
            "comment": "no response was captured",
        }),
    };
    json!({
        "startedDateTime": format_rfc3339_millis(timing.request_start),
        "time": total,
        "request": request,
        "response": response,
        "cache": {},
        "timings": {"send": send, "wait": wait, "receive": receive},
        "serverIPAddress": exchange.server.ip.to_string(),
        "connection": exchange.session_id.to_string(),
        "comment": format!("whisperer {whisperer}, session {}", exchange.session_id),
    })
}

/// A HAR 1.2 document of `exchanges`, oldest first.
pub fn document(exchanges: &[(String, HttpExchange)]) -> Value {
    let mut entries: Vec<&(String, HttpExchange)> = exchanges.iter().collect();
    entries.sort_by_key(|(_, exchange)| exchange.timing.request_start);
    json!({
        "log": {
            "version": "1.2",
            "creator": {"name": "spider", "version": env!("CARGO_PKG_VERSION")},
            "entries": entries.iter().map(|(whisperer, exchange)| entry(whisperer, exchange)).collect::<Vec<_>>(),
        }
    })
}

//! A client of etcd's v3 API through its JSON gateway (`/v3/…` over HTTP/1.1): the few calls a
//! cluster needs — keys (put, range, delete), leases (grant, keep alive, revoke), transactions
//! (create a key only if it is absent; replace a value only if it has not changed), and watches.
//! Keys and values travel base64-encoded; 64-bit integers as decimal strings.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use tokio::sync::mpsc;

/// Why an etcd call failed.
#[derive(Debug, thiserror::Error)]
pub enum EtcdError {
    #[error("etcd at {endpoint}: {message}")]
    Unreachable { endpoint: String, message: String },
    #[error("etcd answered {status}: {body}")]
    Refused { status: u16, body: String },
    #[error("etcd sent something unexpected: {0}")]
    Protocol(String),
    #[error("the etcd call took longer than {0:?}")]
    Timeout(Duration),
}

/// A key and its value as etcd holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Vec<u8>,
    pub mod_revision: i64,
    pub lease: i64,
}

/// A change seen by a watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEvent {
    Put(KeyValue),
    Delete { key: String, mod_revision: i64 },
}

/// An etcd endpoint (`http://127.0.0.1:2379`).
#[derive(Clone, Debug)]
pub struct Etcd {
    endpoint: String,
    http: Client<HttpConnector, Full<Bytes>>,
    timeout: Duration,
}

fn b64(text: &[u8]) -> String {
    STANDARD.encode(text)
}

fn unb64(value: &Value) -> Result<Vec<u8>, EtcdError> {
    match value.as_str() {
        None => Ok(Vec::new()),
        Some(text) => STANDARD
            .decode(text)
            .map_err(|e| EtcdError::Protocol(format!("not base64: {e}"))),
    }
}

fn int(value: &Value) -> i64 {
    match value {
        Value::String(text) => text.parse().unwrap_or(0),
        Value::Number(number) => number.as_i64().unwrap_or(0),
        _ => 0,
    }
}

/// The end of the range of keys that start with `prefix`.
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

fn key_value(kv: &Value) -> Result<KeyValue, EtcdError> {
    Ok(KeyValue {
        key: String::from_utf8(unb64(&kv["key"])?)
            .map_err(|_| EtcdError::Protocol("a key that is not UTF-8".into()))?,
        value: unb64(&kv["value"])?,
        mod_revision: int(&kv["mod_revision"]),
        lease: int(&kv["lease"]),
    })
}

impl Etcd {
    pub fn new(endpoint: impl Into<String>) -> Self {
        let http = Client::builder(TokioExecutor::new()).build_http();
        Self {
            endpoint: endpoint.into().trim_end_matches('/').to_string(),
            http,
            timeout: Duration::from_secs(5),
        }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    async fn call(&self, path: &str, body: Value) -> Result<Value, EtcdError> {
        let request = hyper::Request::post(format!("{}{path}", self.endpoint))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| EtcdError::Protocol(e.to_string()))?;
        let call = async {
            let response =
                self.http
                    .request(request)
                    .await
                    .map_err(|e| EtcdError::Unreachable {
                        endpoint: self.endpoint.clone(),
                        message: e.to_string(),
                    })?;
            let status = response.status().as_u16();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|e| EtcdError::Unreachable {
                    endpoint: self.endpoint.clone(),
                    message: e.to_string(),
                })?
                .to_bytes();
            if status != 200 {
                return Err(EtcdError::Refused {
                    status,
                    body: String::from_utf8_lossy(&bytes).into_owned(),
                });
            }
            serde_json::from_slice(&bytes).map_err(|e| EtcdError::Protocol(e.to_string()))
        };
        tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| EtcdError::Timeout(self.timeout))?
    }

    /// Sets `key` (attached to `lease` when non-zero).
    pub async fn put(&self, key: &str, value: &[u8], lease: i64) -> Result<(), EtcdError> {
        let mut body = json!({"key": b64(key.as_bytes()), "value": b64(value)});
        if lease != 0 {
            body["lease"] = json!(lease.to_string());
        }
        self.call("/v3/kv/put", body).await.map(drop)
    }

    /// The value of `key`, if any.
    pub async fn get(&self, key: &str) -> Result<Option<KeyValue>, EtcdError> {
        let answer = self
            .call("/v3/kv/range", json!({"key": b64(key.as_bytes())}))
            .await?;
        answer["kvs"]
            .as_array()
            .and_then(|kvs| kvs.first())
            .map(key_value)
            .transpose()
    }

    /// Every key under `prefix`, and the store's revision at that moment.
    pub async fn get_prefix(&self, prefix: &str) -> Result<(Vec<KeyValue>, i64), EtcdError> {
        let answer = self
            .call(
                "/v3/kv/range",
                json!({"key": b64(prefix.as_bytes()), "range_end": b64(&prefix_end(prefix.as_bytes()))}),
            )
            .await?;
        let kvs = answer["kvs"]
            .as_array()
            .into_iter()
            .flatten()
            .map(key_value)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((kvs, int(&answer["header"]["revision"])))
    }

    pub async fn delete(&self, key: &str) -> Result<(), EtcdError> {
        self.call("/v3/kv/deleterange", json!({"key": b64(key.as_bytes())}))
            .await
            .map(drop)
    }

    /// A lease that expires `ttl` after its last keep-alive.
    pub async fn grant(&self, ttl: Duration) -> Result<i64, EtcdError> {
        let answer = self
            .call(
                "/v3/lease/grant",
                json!({"TTL": ttl.as_secs().max(1).to_string()}),
            )
            .await?;
        match int(&answer["ID"]) {
            0 => Err(EtcdError::Protocol(format!("no lease in {answer}"))),
            id => Ok(id),
        }
    }

    /// Renews a lease; false when it has expired (its keys are gone).
    pub async fn keep_alive(&self, lease: i64) -> Result<bool, EtcdError> {
        let answer = self
            .call("/v3/lease/keepalive", json!({"ID": lease.to_string()}))
            .await?;
        Ok(int(&answer["result"]["TTL"]) > 0)
    }

    /// Ends a lease now: its keys go.
    pub async fn revoke(&self, lease: i64) -> Result<(), EtcdError> {
        self.call("/v3/lease/revoke", json!({"ID": lease.to_string()}))
            .await
            .map(drop)
    }

    /// Creates `key` only if it does not exist; true when this call created it.
    pub async fn create(&self, key: &str, value: &[u8], lease: i64) -> Result<bool, EtcdError> {
        let mut put = json!({"key": b64(key.as_bytes()), "value": b64(value)});
        if lease != 0 {
            put["lease"] = json!(lease.to_string());
        }
        let answer = self
            .call(
                "/v3/kv/txn",
                json!({
                    "compare": [{"key": b64(key.as_bytes()), "target": "CREATE", "result": "EQUAL", "create_revision": "0"}],
                    "success": [{"request_put": put}],
                }),
            )
            .await?;
        Ok(answer["succeeded"].as_bool().unwrap_or(false))
    }

    /// Replaces `key` only if its modification revision is still `mod_revision` (0: the key must
    /// not exist); true when this call replaced it.
    pub async fn swap(
        &self,
        key: &str,
        mod_revision: i64,
        value: &[u8],
    ) -> Result<bool, EtcdError> {
        let compare = if mod_revision == 0 {
            json!({"key": b64(key.as_bytes()), "target": "CREATE", "result": "EQUAL", "create_revision": "0"})
        } else {
            json!({"key": b64(key.as_bytes()), "target": "MOD", "result": "EQUAL", "mod_revision": mod_revision.to_string()})
        };
        let answer = self
            .call(
                "/v3/kv/txn",
                json!({"compare": [compare], "success": [{"request_put": {"key": b64(key.as_bytes()), "value": b64(value)}}]}),
            )
            .await?;
        Ok(answer["succeeded"].as_bool().unwrap_or(false))
    }

    /// Watches the keys under `prefix` from `revision` on: events arrive on the channel until
    /// the connection ends (then the channel closes: watch again from the last revision seen).
    pub async fn watch_prefix(
        &self,
        prefix: &str,
        revision: i64,
    ) -> Result<mpsc::Receiver<Result<(i64, WatchEvent), EtcdError>>, EtcdError> {
        let body = json!({"create_request": {
            "key": b64(prefix.as_bytes()),
            "range_end": b64(&prefix_end(prefix.as_bytes())),
            "start_revision": revision.to_string(),
        }});
        let request = hyper::Request::post(format!("{}/v3/watch", self.endpoint))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| EtcdError::Protocol(e.to_string()))?;
        let response = tokio::time::timeout(self.timeout, self.http.request(request))
            .await
            .map_err(|_| EtcdError::Timeout(self.timeout))?
            .map_err(|e| EtcdError::Unreachable {
                endpoint: self.endpoint.clone(),
                message: e.to_string(),
            })?;
        if response.status() != 200 {
            return Err(EtcdError::Refused {
                status: response.status().as_u16(),
                body: String::new(),
            });
        }
        let (tx, rx) = mpsc::channel(64);
        let mut body = response.into_body();
        tokio::spawn(async move {
            let mut buffer: Vec<u8> = Vec::new();
            while let Some(frame) = body.frame().await {
                let Ok(frame) = frame else { break };
                let Some(data) = frame.data_ref() else {
                    continue;
                };
                buffer.extend_from_slice(data);
                // The gateway sends one JSON object per message, each ending with a newline.
                while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = buffer.drain(..=end).collect();
                    if line.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    for event in parse_watch_message(&line) {
                        if tx.send(event).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Ok(rx)
    }
}

fn parse_watch_message(line: &[u8]) -> Vec<Result<(i64, WatchEvent), EtcdError>> {
    let message: Value = match serde_json::from_slice(line) {
        Ok(message) => message,
        Err(e) => return vec![Err(EtcdError::Protocol(format!("watch: {e}")))],
    };
    if let Some(error) = message.get("error") {
        return vec![Err(EtcdError::Protocol(format!("watch: {error}")))];
    }
    let result = &message["result"];
    if result["compact_revision"]
        .as_str()
        .is_some_and(|r| r != "0")
    {
        return vec![Err(EtcdError::Protocol(format!(
            "watch: revision compacted ({})",
            result["compact_revision"]
        )))];
    }
    result["events"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|event| {
            let kv = &event["kv"];
            let revision = int(&kv["mod_revision"]);
            if event["type"].as_str() == Some("DELETE") {
                let key = String::from_utf8(unb64(&kv["key"])?)
                    .map_err(|_| EtcdError::Protocol("a key that is not UTF-8".into()))?;
                Ok((
                    revision,
                    WatchEvent::Delete {
                        key,
                        mod_revision: revision,
                    },
                ))
            } else {
                Ok((revision, WatchEvent::Put(key_value(kv)?)))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn prefix_ends_are_the_next_key() {
        assert_eq!(prefix_end(b"/spider/"), b"/spider0".to_vec());
        assert_eq!(prefix_end(&[b'a', 0xff]), vec![b'b']);
    }

    #[test]
    fn watch_messages_become_events() {
        let line = br#"{"result":{"header":{"revision":"5"},"events":[{"kv":{"key":"Zm9v","mod_revision":"5","value":"YmFy"}},{"type":"DELETE","kv":{"key":"Zm9v","mod_revision":"6"}}]}}"#;
        let events = parse_watch_message(line);
        assert_eq!(events.len(), 2);
        assert!(matches!(&events[0], Ok((5, WatchEvent::Put(kv))) if kv.value == b"bar"));
        assert!(matches!(&events[1], Ok((6, WatchEvent::Delete { key, .. })) if key == "foo"));
        assert!(parse_watch_message(b"not json").pop().unwrap().is_err());
    }
}

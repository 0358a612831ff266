//! Redaction before storage, over real TCP: a recorded capture full of secrets
//! (`testdata/redaction/`), pushed as a Whisperer would push it in small batches, comes back with
//! no secret in the exchanges, in the exported pcapng, or through full-text search, while the
//! callers' identities and everything else stay; with redaction off the same secrets are found
//! (so the checks can fail).
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use common::{batches_of, config, on_local, push, testdata, TOKEN};
use serde::Deserialize;
use spider_backend::client::{BackendClient, ExportTarget, ListRequest};
use spider_backend::BackendNode;
use spider_model::HttpExchange;
use spider_pcap::CaptureReader;

const WHISPERER: &str = "w-redact";

#[derive(Debug, Deserialize)]
struct TruthExchange {
    method: String,
    uri: String,
    status: Option<u16>,
}

#[derive(Debug, Deserialize)]
struct Truth {
    http_exchanges: Vec<TruthExchange>,
    secrets_on_the_wire: Vec<String>,
    secrets_decoded: Vec<String>,
    searchable_secrets: Vec<String>,
    identities: BTreeMap<String, String>,
    kept: Vec<String>,
}

fn truth() -> Truth {
    let text = std::fs::read_to_string(testdata("redaction/secrets.truth.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// What a node stored of the capture: the exchanges, the export of every packet, the number of
/// exchanges full-text search finds for each searchable secret, and the frames pushed.
struct Stored {
    exchanges: Vec<HttpExchange>,
    pcapng: Vec<u8>,
    hits: BTreeMap<String, usize>,
    pushed: Vec<(i64, Vec<u8>)>,
}

fn store(redaction: bool) -> Stored {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = config(dir.path());
    settings.redaction.enabled = redaction;
    let node = BackendNode::start(settings).unwrap();
    let addr = node.local_addr();
    // Eight frames per batch: heads and bodies are cut across batches.
    let batches = batches_of(&testdata("redaction/secrets.pcap"), WHISPERER, 8);
    let mut pushed: Vec<(i64, Vec<u8>)> = batches
        .iter()
        .flat_map(|batch| &batch.frames)
        .map(|frame| (frame.time, frame.frame.clone()))
        .collect();
    pushed.sort();
    on_local(async {
        let client = BackendClient::connect(addr, TOKEN).await.unwrap();
        for batch in &batches {
            push(&client, WHISPERER, batch).await;
        }
        client.flush().await.unwrap();
    });
    node.commit_indexes().unwrap();
    let searchable = truth().searchable_secrets;
    let stored = on_local(async move {
        let client = BackendClient::connect(addr, TOKEN).await.unwrap();
        let everything = ListRequest {
            from: i64::MIN,
            to: i64::MAX,
            whisperers: vec![WHISPERER.into()],
            ..ListRequest::default()
        };
        let exchanges: Vec<HttpExchange> = client
            .http_all(everything.clone())
            .await
            .unwrap()
            .into_iter()
            .map(|(_, exchange)| exchange)
            .collect();
        let export = client
            .export(&ExportTarget::Query(everything.clone()), 0)
            .await
            .unwrap();
        assert!(!export.truncated);
        let mut hits = BTreeMap::new();
        for secret in searchable {
            let request = ListRequest {
                q: Some(secret.clone()),
                ..everything.clone()
            };
            hits.insert(secret, client.http_all(request).await.unwrap().len());
        }
        Stored {
            exchanges,
            pcapng: export.pcapng,
            hits,
            pushed: Vec::new(),
        }
    });
    node.stop();
    Stored { pushed, ..stored }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

fn exported_frames(pcapng: &[u8]) -> Vec<(i64, Vec<u8>)> {
    let mut reader = CaptureReader::new(pcapng).unwrap();
    let mut frames = Vec::new();
    while let Some(record) = reader.next_record().unwrap() {
        frames.push((record.ts_nanos, record.data.to_vec()));
    }
    frames.sort();
    frames
}

/// Where the TCP payload of an Ethernet/IPv4 frame starts (the whole frame for anything else).
fn tcp_payload_start(frame: &[u8]) -> usize {
    if frame.len() < 34 || frame[12..14] != [8, 0] || frame[23] != 6 {
        return frame.len();
    }
    let tcp = 14 + usize::from(frame[14] & 0x0f) * 4;
    frame
        .get(tcp + 12)
        .map_or(frame.len(), |offset| tcp + usize::from(offset >> 4) * 4)
        .min(frame.len())
}

fn by_path<'a>(exchanges: &'a [HttpExchange], path: &str) -> &'a HttpExchange {
    exchanges
        .iter()
        .find(|exchange| exchange.path == path)
        .unwrap_or_else(|| panic!("no exchange for {path}"))
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
        .unwrap_or_default()
}

#[test]
fn secrets_are_masked_before_storage_and_callers_are_kept() {
    let truth = truth();
    let stored = store(true);
    let json = serde_json::to_string(&stored.exchanges).unwrap();

    // Every exchange is there, with what identifies it.
    assert_eq!(stored.exchanges.len(), truth.http_exchanges.len());
    for expected in &truth.http_exchanges {
        let path = expected.uri.split('?').next().unwrap_or_default();
        let exchange = by_path(&stored.exchanges, path);
        assert_eq!(exchange.method, expected.method);
        assert_eq!(exchange.status, expected.status);
        assert_eq!(exchange.uri.len(), expected.uri.len(), "masked in place");
    }

    // No secret anywhere: exchanges, exported packets, full-text search.
    for secret in truth
        .secrets_on_the_wire
        .iter()
        .chain(&truth.secrets_decoded)
    {
        assert!(!json.contains(secret.as_str()), "{secret} in the exchanges");
        assert!(!contains(&stored.pcapng, secret), "{secret} in the export");
    }
    assert!(
        !contains(&stored.pcapng, "\u{1f}\u{8b}\u{8}"),
        "gzip JSON masked whole"
    );
    for (secret, hits) in &stored.hits {
        assert_eq!(*hits, 0, "search finds {secret}");
    }

    // The callers and everything that is not secret stay.
    for (path, identity) in &truth.identities {
        let exchange = by_path(&stored.exchanges, path);
        assert_eq!(header(&exchange.request_headers, "authorization"), identity);
    }
    for kept in &truth.kept {
        let escaped = serde_json::to_string(kept).unwrap();
        assert!(json.contains(&escaped[1..escaped.len() - 1]), "{kept} kept");
    }
    let login = by_path(&stored.exchanges, "/login");
    let body = serde_json::to_string(&login.request_body).unwrap();
    assert!(body.contains(r#"\"password\": \"**********\""#), "{body}");
    let profile = by_path(&stored.exchanges, "/api/profile");
    assert_eq!(profile.uri, "/api/profile?page=2&api_key=************");
    assert!(profile.query.contains(&("page".into(), "2".into())));
    let token = by_path(&stored.exchanges, "/token");
    assert!(token.warnings.iter().any(|w| w.starts_with("redaction:")));
    assert!(contains(&stored.pcapng, "Authorization: Basic "));
    assert!(contains(&stored.pcapng, "\"token_type\": \"bearer\""));

    // Frames are masked in place: same frames, same lengths, only payload bytes become '*'.
    let exported = exported_frames(&stored.pcapng);
    assert_eq!(exported.len(), stored.pushed.len());
    let mut changed = 0;
    for ((time, got), (pushed_time, original)) in exported.iter().zip(&stored.pushed) {
        assert_eq!(time, pushed_time);
        assert_eq!(got.len(), original.len());
        let payload = tcp_payload_start(original);
        assert_eq!(got[..payload], original[..payload], "headers untouched");
        assert!(got
            .iter()
            .zip(original)
            .all(|(g, o)| g == o || *g == b'*' || *g == b' ' || *g == b'0'));
        changed += usize::from(got != original);
    }
    assert!(changed >= 8, "{changed} frames masked");
}

#[test]
fn with_redaction_off_the_secrets_are_stored() {
    let truth = truth();
    let stored = store(false);
    let json = serde_json::to_string(&stored.exchanges).unwrap();
    for secret in &truth.secrets_on_the_wire {
        assert!(contains(&stored.pcapng, secret), "{secret} in the export");
    }
    for secret in [
        "apikey789xyz",
        "hunter2pw9",
        "accesstok456qwe",
        "gzrefresh555pas",
    ] {
        assert!(json.contains(secret), "{secret} in the exchanges");
    }
    for (secret, hits) in &stored.hits {
        assert!(*hits > 0, "search does not find {secret}");
    }
    assert_eq!(exported_frames(&stored.pcapng), stored.pushed);
}

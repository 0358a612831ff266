//! The REST API with `warp::test` over a real backend node: auth, JSON errors, and results equal to
//! what the backend's query service returns.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Env, TOKEN};
use serde_json::Value;
use spider_backend::client::ListRequest;
use spider_model::Record;

fn error_code(body: &Value) -> &str {
    body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_open_and_everything_else_needs_the_token() {
    let env = Env::start();
    let filter = env.filter();
    let health = warp::test::request()
        .path("/api/v1/health")
        .reply(&filter)
        .await;
    assert_eq!(health.status(), 200);
    for path in [
        "/api/v1/http",
        "/api/v1/sessions",
        "/metrics",
        "/api/v1/query/fields",
        "/api/v1/nothing",
    ] {
        let response = warp::test::request().path(path).reply(&filter).await;
        assert_eq!(response.status(), 401, "{path} without a token");
        let body: Value = serde_json::from_slice(response.body()).unwrap();
        assert_eq!(error_code(&body), "unauthorized");
        let wrong = warp::test::request()
            .path(path)
            .header("authorization", "Bearer not-the-token")
            .reply(&filter)
            .await;
        assert_eq!(wrong.status(), 401, "{path} with a wrong token");
    }
    let (status, body) = env.get_json("/api/v1/nothing").await;
    assert_eq!((status, error_code(&body)), (404, "not_found"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clear_json_error() {
    let env = Env::start();
    let cases = [
        ("/api/v1/http?from=yesterday", 400, "bad_request"),
        ("/api/v1/http?from=2000&to=1000", 400, "bad_request"),
        ("/api/v1/http?limit=0", 400, "bad_request"),
        ("/api/v1/http?limit=abc", 400, "bad_request"),
        ("/api/v1/http?cursor=%25%25%25", 400, "bad_request"),
        ("/api/v1/http?q=status%3A", 400, "invalid_query"),
        ("/api/v1/sessions?q=method%3AGET", 400, "invalid_query"),
        ("/api/v1/timeline?buckets=100000", 400, "bad_request"),
        ("/api/v1/sessions/w/notanumber/pcapng", 400, "bad_request"),
        ("/api/v1/sessions/w/12345/pcapng", 404, "not_found"),
        ("/api/v1/query/complete?kind=packets", 400, "bad_request"),
        ("/api/v1/schema/nothing", 404, "not_found"),
        ("/api/v1/usage?group=bogus", 400, "bad_request"),
        ("/api/v1/usage?bucket=5", 400, "bad_request"),
    ];
    for (path, status, code) in cases {
        let (got, body) = env.get_json(path).await;
        assert_eq!((got, error_code(&body)), (status, code), "{path}: {body}");
        assert!(!body["error"]["message"].as_str().unwrap().is_empty());
    }
    let (_, body) = env.get_json("/api/v1/http?q=status%3A").await;
    assert_eq!(
        body["error"]["column"], 8,
        "the column of the problem: {body}"
    );

    let filter = env.filter();
    let garbage = warp::test::request()
        .method("POST")
        .path("/api/v1/import?name=junk")
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-length", "9")
        .body("not pcap!")
        .reply(&filter)
        .await;
    assert_eq!(
        garbage.status(),
        400,
        "{}",
        String::from_utf8_lossy(garbage.body())
    );
    let large = vec![0_u8; 5 * 1024 * 1024];
    let too_large = warp::test::request()
        .method("POST")
        .path("/api/v1/import?name=big")
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-length", large.len().to_string())
        .body(large)
        .reply(&filter)
        .await;
    assert_eq!(too_large.status(), 413);
}

/// Every page of `path` (which has no cursor yet), following `next`.
async fn all_pages(env: &Env, path: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let url = match &next {
            Some(cursor) => format!("{path}&cursor={cursor}"),
            None => path.to_owned(),
        };
        let (status, body) = env.get_json(&url).await;
        assert_eq!(status, 200, "{url}: {body}");
        items.extend(body["items"].as_array().unwrap().iter().cloned());
        match body["next"].as_str() {
            Some(cursor) => next = Some(cursor.to_owned()),
            None => return items,
        }
    }
}

async fn backend_http(env: &Env, q: Option<&str>) -> Vec<Value> {
    let request = ListRequest {
        from: 0,
        to: i64::MAX,
        q: q.map(str::to_owned),
        limit: 1000,
        ..ListRequest::default()
    };
    let items = env
        .state
        .bridge
        .call(move |client| async move { client.http_all(request).await })
        .await
        .unwrap();
    items
        .into_iter()
        .map(|(whisperer, exchange)| {
            let mut value = serde_json::to_value(Record::Http(Box::new(exchange))).unwrap();
            value["whisperer"] = Value::String(whisperer);
            value
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_results_equal_the_backends() {
    let env = Env::start();
    let imported = env.import("http-basic.pcap").await;
    assert_eq!(imported["whisperer"], "upload-http-basic");
    env.import("mixed.pcap").await;

    let rest = all_pages(&env, "/api/v1/http?limit=7").await;
    let backend = backend_http(&env, None).await;
    assert!(backend.len() > 7, "more than one page");
    assert_eq!(
        rest, backend,
        "every page of the REST API is the backend's listing"
    );
    assert!(rest.iter().all(|item| item["kind"] == "http"));

    let rest = all_pages(
        &env,
        "/api/v1/http?limit=3&q=method%3AGET%20AND%20status%3A2xx",
    )
    .await;
    let backend = backend_http(&env, Some("method:GET AND status:2xx")).await;
    assert!(!backend.is_empty());
    assert_eq!(rest, backend);

    let only = all_pages(&env, "/api/v1/http?limit=1000&whisperer=upload-http-basic").await;
    assert!(
        !only.is_empty()
            && only
                .iter()
                .all(|item| item["whisperer"] == "upload-http-basic")
    );

    // Sessions: the backend's listing, paged.
    let sessions = all_pages(&env, "/api/v1/sessions?limit=5").await;
    let request = ListRequest {
        from: 0,
        to: i64::MAX,
        limit: 1000,
        ..ListRequest::default()
    };
    let backend_sessions = env
        .state
        .bridge
        .call(move |client| async move { client.sessions_all(request).await })
        .await
        .unwrap();
    assert_eq!(sessions.len(), backend_sessions.len());
    for (rest, (whisperer, session)) in sessions.iter().zip(&backend_sessions) {
        assert_eq!(rest["whisperer"], whisperer.as_str());
        assert_eq!(rest["id"], session.id);
    }

    // The timeline over the data's extent counts every exchange once, by class.
    let (status, timeline) = env.get_json("/api/v1/timeline?buckets=50").await;
    assert_eq!(status, 200, "{timeline}");
    let buckets = timeline["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 50);
    let total: u64 = buckets.iter().map(|b| b["count"].as_u64().unwrap()).sum();
    assert_eq!(total as usize, backend_http(&env, None).await.len());
    let by_class: u64 = buckets
        .iter()
        .flat_map(|b| b["by_class"].as_object().unwrap().values())
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(by_class, total);
    let (_, extent) = env.get_json("/api/v1/extent").await;
    let first_time = rest_first_time(&backend_http(&env, None).await);
    assert!(extent["from"].as_i64().unwrap() <= first_time.0);
    assert!(extent["to"].as_i64().unwrap() > first_time.1);

    // Packets: every stored frame, paged.
    let packets = all_pages(
        &env,
        "/api/v1/packets?limit=500&whisperer=upload-http-basic",
    )
    .await;
    let frames = spider_pcap::CaptureReader::open(common::testdata("http-basic.pcap"))
        .unwrap()
        .into_records()
        .count();
    assert_eq!(packets.len(), frames, "every frame of the capture");
    assert!(packets
        .iter()
        .all(|p| p["frame"].as_str().is_some_and(|f| !f.is_empty())));
    let (status, body) = env.get_json("/api/v1/packets?q=method%3AGET").await;
    assert_eq!((status, error_code(&body)), (400, "bad_request"));

    // Hosts.
    let (status, hosts) = env.get_json("/api/v1/hosts").await;
    assert_eq!(status, 200);
    assert!(hosts["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|h| h["kind"] == "host"));
}

/// The oldest and newest request start of some exchanges.
fn rest_first_time(items: &[Value]) -> (i64, i64) {
    let times: Vec<i64> = items
        .iter()
        .map(|i| i["timing"]["request_start"].as_i64().unwrap())
        .collect();
    (*times.iter().min().unwrap(), *times.iter().max().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_a_session_as_pcapng_and_exchanges_as_har() {
    let env = Env::start();
    env.import("http-basic.pcap").await;
    let (_, page) = env.get_json("/api/v1/http?limit=1").await;
    let exchange = &page["items"][0];
    let path = format!(
        "/api/v1/sessions/{}/{}/pcapng",
        exchange["whisperer"].as_str().unwrap(),
        exchange["session_id"]
    );
    let response = env.get(&path).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-pcapng");
    assert_eq!(
        &response.body()[..4],
        &[0x0a, 0x0d, 0x0d, 0x0a],
        "a pcapng section header"
    );
    assert!(
        response.headers()["x-spider-packets"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 0
    );

    let response = env.get("/api/v1/http/har?limit=1000").await;
    assert_eq!(response.status(), 200);
    let har: Value = serde_json::from_slice(response.body()).unwrap();
    assert_eq!(har["log"]["version"], "1.2");
    let entries = har["log"]["entries"].as_array().unwrap();
    let (_, all) = env.get_json("/api/v1/http?limit=1000").await;
    assert_eq!(entries.len(), all["items"].as_array().unwrap().len());
    for entry in entries {
        assert!(entry["startedDateTime"].as_str().unwrap().ends_with('Z'));
        assert!(entry["request"]["url"]
            .as_str()
            .unwrap()
            .starts_with("http://"));
        for key in ["send", "wait", "receive"] {
            assert!(entry["timings"][key].is_number());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_search_box_uses_the_query_grammar() {
    let env = Env::start();
    let (status, body) = env.get_json("/api/v1/query/complete?q=sta").await;
    assert_eq!(status, 200);
    let texts: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["text"].as_str().unwrap())
        .collect();
    assert!(texts.contains(&"status:"), "{texts:?}");
    assert_eq!(body["items"][0]["replace"], serde_json::json!([0, 3]));
    let (_, body) = env
        .get_json("/api/v1/query/complete?q=method%3AP&kind=http")
        .await;
    let texts: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["text"].as_str().unwrap())
        .collect();
    assert!(
        texts.contains(&"POST") && texts.contains(&"PUT"),
        "{texts:?}"
    );
    let (_, body) = env
        .get_json("/api/v1/query/validate?q=status%3A5xx%20path%3A%2Fa")
        .await;
    assert_eq!(body["valid"], true, "{body}");
    let (_, body) = env
        .get_json("/api/v1/query/validate?q=status%3A%20OR")
        .await;
    assert_eq!(body["valid"], false);
    assert!(body["error"]["column"].as_u64().unwrap() > 0);
    let (_, body) = env.get_json("/api/v1/query/fields?kind=tcp_session").await;
    assert!(body["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["name"] == "rtt"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_and_metrics() {
    let env = Env::start();
    let filter = env.filter();
    let response = warp::test::request()
        .path("/api/v1/openapi.json")
        .reply(&filter)
        .await;
    assert_eq!(response.status(), 200);
    let doc: Value = serde_json::from_slice(response.body()).unwrap();
    assert_eq!(doc["openapi"], "3.0.3");
    for path in [
        "/api/v1/http",
        "/api/v1/usage",
        "/api/v1/whisperers",
        "/api/v1/timeline",
        "/metrics",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} documented");
    }
    env.get("/api/v1/health").await;
    // A limit met is counted by its error code.
    assert_eq!(env.get("/api/v1/http?limit=1001").await.status(), 400);
    let response = env.get("/metrics").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = String::from_utf8(response.body().to_vec()).unwrap();
    assert!(text.contains("# TYPE spider_gateway_requests_total counter"));
    assert!(
        text.contains("spider_gateway_requests_total{route=\"health\",status=\"200\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE spider_process_resident_memory_bytes gauge"),
        "{text}"
    );
    assert!(
        text.contains("spider_gateway_errors_total{code=\"bad_request\"}"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_socket_pushes_new_exchanges() {
    let env = Env::start();
    let filter = env.filter();
    let refused = warp::test::ws()
        .path("/api/v1/live")
        .handshake(filter.clone())
        .await;
    assert!(refused.is_err(), "no token, no socket");
    let mut socket = warp::test::ws()
        .path(&format!("/api/v1/live?access_token={TOKEN}"))
        .handshake(filter)
        .await
        .unwrap();
    let hello: Value =
        serde_json::from_str(socket.recv().await.unwrap().to_str().unwrap()).unwrap();
    assert_eq!(hello["type"], "hello");
    env.import("http-basic.pcap").await;
    let expected = backend_http(&env, None).await.len();
    let mut seen = 0;
    while seen < expected {
        let message: Value =
            serde_json::from_str(socket.recv().await.unwrap().to_str().unwrap()).unwrap();
        assert_eq!(message["type"], "http", "{message}");
        seen += message["items"].as_array().unwrap().len();
    }
    assert_eq!(seen, expected);
}

#[test]
fn a_started_gateway_serves_over_tcp_and_stops() {
    use std::io::{Read, Write};
    let env = Env::start();
    let config = spider_gateway::GatewayConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        env.node.local_addr(),
        TOKEN,
    );
    let gateway = spider_gateway::Gateway::start(config).unwrap();
    let mut stream = std::net::TcpStream::connect(gateway.local_addr()).unwrap();
    stream
        .write_all(b"GET /api/v1/health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    gateway.stop();
}

#[test]
fn stopping_closes_open_live_sockets() {
    use std::io::{BufRead, BufReader, Read, Write};
    let env = Env::start();
    let config = spider_gateway::GatewayConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        env.node.local_addr(),
        TOKEN,
    );
    let gateway = spider_gateway::Gateway::start(config).unwrap();
    let mut stream = std::net::TcpStream::connect(gateway.local_addr()).unwrap();
    let request = format!(
        "GET /api/v1/live?access_token={TOKEN} HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: websocket\r\n\
         sec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    assert!(status.starts_with("HTTP/1.1 101"), "{status}");
    let mut header = String::new();
    while reader.read_line(&mut header).unwrap() > 0 && header != "\r\n" {
        header.clear();
    }
    // The socket is open once its first frame (the hello text) arrives.
    let mut first = [0u8; 2];
    reader.read_exact(&mut first).unwrap();
    assert_eq!(first[0], 0x81, "a text frame");
    let mut hello = vec![0u8; usize::from(first[1] & 0x7f)];
    reader.read_exact(&mut hello).unwrap();
    assert!(String::from_utf8_lossy(&hello).contains("hello"));
    gateway.stop();
    // The socket ends (a close frame, then the end of the stream) instead of keeping the stop waiting.
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).unwrap();
    assert!(
        rest.windows(2).any(|w| w == [0x88, 0x19] || w[0] == 0x88),
        "a close frame: {:?}",
        String::from_utf8_lossy(&rest)
    );
}

//! Usage counters add up; the timeline and the network map count known data exactly.

mod common;

use std::net::IpAddr;

use common::TestEnv;
use spider_model::{
    BodyCapture, Endpoint, HostRecord, HostSource, HttpExchange, HttpTiming, ParseState,
    UsageRecord, WorkloadRef,
};
use spider_query::{parse, RecordKind};
use spider_storage::{
    IngestBatch, MapRequest, TimeRange, TimelineRequest, UsageLevel, UsageRequest,
};

const MINUTE: i64 = 60_000_000_000;
const T0: i64 = 1_700_000_000_000_000_000;

fn usage(minute: i64, src: &str, dst: &str, bytes: u64, src_pod: &str) -> UsageRecord {
    UsageRecord {
        minute,
        src: src.parse().expect("ip"),
        dst: dst.parse().expect("ip"),
        proto: "tcp".into(),
        port: 443,
        bytes,
        messages: 1,
        wire_bytes: bytes + 40,
        packets: 2,
        reporter: "controller-1".into(),
        receive_side: false,
        src_workload: Some(WorkloadRef {
            namespace: Some("shop".into()),
            kind: Some("Deployment".into()),
            workload: Some("web".into()),
            pod: Some(src_pod.into()),
            node: Some("node-1".into()),
        }),
        dst_workload: Some(WorkloadRef {
            kind: Some("external".into()),
            ..WorkloadRef::default()
        }),
        pid: None,
        command: None,
        container: None,
    }
}

#[test]
fn usage_counters_add_up() {
    let env = TestEnv::new();
    let mut shard = env.open();
    let mut batch = IngestBatch::new("controller-1", 1, "");
    batch.usage = vec![
        usage(T0, "10.0.0.1", "1.1.1.1", 100, "web-a"),
        usage(T0, "10.0.0.2", "1.1.1.1", 10, "web-b"),
        usage(T0 + MINUTE, "10.0.0.1", "1.1.1.1", 7, "web-a"),
    ];
    shard.ingest(batch.clone()).expect("ingest");
    // The same counters reported again in another batch add up.
    batch.seq = 2;
    shard.ingest(batch.clone()).expect("ingest");
    // A retry of batch 2 does not.
    shard.ingest(batch).expect("retry");

    let rows = shard
        .usage(&UsageRequest {
            range: TimeRange::new(T0, T0 + 2 * MINUTE),
            level: UsageLevel::IpPair,
            agents: vec![],
        })
        .expect("usage");
    assert_eq!(rows.len(), 3);
    assert_eq!(
        (rows[0].minute, rows[0].src.as_str(), rows[0].bytes),
        (T0, "10.0.0.1", 200)
    );
    assert_eq!(rows[0].wire_bytes, 280);
    assert_eq!(rows[0].messages, 2);
    assert_eq!(rows[0].port, Some(443));
    assert_eq!((rows[1].src.as_str(), rows[1].bytes), ("10.0.0.2", 20));
    assert_eq!((rows[2].minute, rows[2].bytes), (T0 + MINUTE, 14));

    let rows = shard
        .usage(&UsageRequest {
            range: TimeRange::new(T0, T0 + 2 * MINUTE),
            level: UsageLevel::Workload,
            agents: vec![],
        })
        .expect("usage");
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (rows[0].src.as_str(), rows[0].dst.as_str(), rows[0].bytes),
        ("shop/web", "external", 220)
    );
    assert_eq!(rows[0].proto, None);
    let rows = shard
        .usage(&UsageRequest {
            range: TimeRange::new(T0, T0 + MINUTE),
            level: UsageLevel::Pod,
            agents: vec![],
        })
        .expect("usage");
    let pods: Vec<_> = rows.iter().map(|r| (r.src.as_str(), r.bytes)).collect();
    assert_eq!(pods, [("shop/web-a", 200), ("shop/web-b", 20)]);
    let rows = shard
        .usage(&UsageRequest {
            range: TimeRange::new(T0, T0 + MINUTE),
            level: UsageLevel::Node,
            agents: vec![],
        })
        .expect("usage");
    assert_eq!((rows[0].src.as_str(), rows[0].bytes), ("node-1", 220));
}

fn exchange(
    session: u64,
    time: i64,
    client: &str,
    server: &str,
    status: Option<u16>,
    latency: i64,
) -> HttpExchange {
    HttpExchange {
        session_id: session,
        index: 0,
        client: Endpoint::new(client.parse().expect("ip"), 40_000),
        server: Endpoint::new(server.parse().expect("ip"), 80),
        method: "GET".into(),
        host: Some("api.test".into()),
        uri: "/x".into(),
        path: "/x".into(),
        query: vec![],
        version: "HTTP/1.1".into(),
        status,
        reason: None,
        request_headers: vec![],
        response_headers: vec![],
        request_body: BodyCapture::default(),
        response_body: None,
        interim_statuses: vec![],
        timing: HttpTiming {
            request_start: time,
            request_end: Some(time),
            response_start: status.map(|_| time + latency),
            response_end: status.map(|_| time + latency),
        },
        state: ParseState::Ok,
        warnings: vec![],
    }
}

#[test]
fn timeline_and_map_count_known_data() {
    let env = TestEnv::new();
    let mut shard = env.open();
    let mut batch = IngestBatch::new("w", 1, "w");
    let mut session = 0;
    let mut add =
        |minute: i64, client: &str, server: &str, status: Option<u16>, latency: i64, n: usize| {
            for i in 0..n {
                session += 1;
                let time = T0 + minute * MINUTE + i as i64 * 1_000_000;
                batch
                    .http
                    .push(exchange(session, time, client, server, status, latency));
            }
        };
    add(0, "10.0.0.1", "10.0.0.9", Some(200), 2_000_000, 5);
    add(0, "10.0.0.1", "10.0.0.9", Some(503), 4_000_000, 2);
    add(1, "10.0.0.2", "10.0.0.9", Some(404), 1_000_000, 3);
    add(1, "10.0.0.2", "10.0.0.8", None, 0, 1);
    add(2, "10.0.0.1", "10.0.0.8", Some(301), 6_000_000, 4);
    // Outside the range asked below.
    add(10, "10.0.0.3", "10.0.0.9", Some(200), 1, 9);
    batch.hosts = vec![HostRecord {
        ip: "10.0.0.9".parse().expect("ip"),
        name: "api.test".into(),
        source: HostSource::Http,
        first_seen: T0,
        last_seen: T0,
    }];
    shard.ingest(batch).expect("ingest");
    shard.commit_index().expect("commit");

    let range = TimeRange::new(T0, T0 + 3 * MINUTE);
    let timeline = shard
        .timeline(&TimelineRequest {
            range,
            bucket_ns: MINUTE,
            whisperers: vec![],
            query: None,
        })
        .expect("timeline");
    let counts: Vec<_> = timeline
        .buckets
        .iter()
        .map(|b| {
            (
                b.counts.success,
                b.counts.server_error,
                b.counts.client_error,
                b.counts.none,
                b.counts.redirection,
            )
        })
        .collect();
    assert_eq!(counts, [(5, 2, 0, 0, 0), (0, 0, 3, 1, 0), (0, 0, 0, 0, 4)]);
    assert_eq!(timeline.buckets[1].start, T0 + MINUTE);

    // A query the index answers exactly, and one it cannot (post-filtered), agree.
    for text in ["client:10.0.0.1", "request_size:<1kb client:10.0.0.1"] {
        let timeline = shard
            .timeline(&TimelineRequest {
                range,
                bucket_ns: MINUTE,
                whisperers: vec![],
                query: Some(parse(text, RecordKind::Http).expect("parses")),
            })
            .expect("timeline");
        let totals: Vec<u64> = timeline.buckets.iter().map(|b| b.counts.total()).collect();
        assert_eq!(totals, [7, 0, 4], "{text}");
    }

    let map = shard
        .network_map(&MapRequest {
            range,
            whisperers: vec![],
            query: None,
        })
        .expect("map");
    let ip = |s: &str| -> IpAddr { s.parse().expect("ip") };
    let edge = |client: &str, server: &str| {
        map.edges
            .iter()
            .find(|e| e.client == ip(client) && e.server == ip(server))
            .cloned()
            .expect("edge")
    };
    assert_eq!(map.edges.len(), 4);
    let e = edge("10.0.0.1", "10.0.0.9");
    assert_eq!(
        (e.requests, e.server_errors, e.client_errors, e.no_response),
        (7, 2, 0, 0)
    );
    assert_eq!(e.avg_latency_ns, Some((5 * 2_000_000 + 2 * 4_000_000) / 7));
    let e = edge("10.0.0.2", "10.0.0.9");
    assert_eq!(
        (e.requests, e.client_errors, e.avg_latency_ns),
        (3, 3, Some(1_000_000))
    );
    let e = edge("10.0.0.2", "10.0.0.8");
    assert_eq!((e.requests, e.no_response, e.avg_latency_ns), (1, 1, None));
    let server = map
        .nodes
        .iter()
        .find(|n| n.ip == ip("10.0.0.9"))
        .expect("node");
    assert_eq!(server.names, ["api.test"]);
    assert_eq!((server.requests_in, server.requests_out), (10, 0));
    assert_eq!(map.nodes.len(), 4);

    let filtered = shard
        .network_map(&MapRequest {
            range,
            whisperers: vec![],
            query: Some(parse("status:5xx", RecordKind::Http).expect("parses")),
        })
        .expect("map");
    assert_eq!(filtered.edges.len(), 1);
    assert_eq!(filtered.edges[0].requests, 2);
}

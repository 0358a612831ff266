//! Ingest real captures, query them back: listings, cursors, queries against the `matches`
//! oracle, sessions, hosts, DNS, packets; idempotent re-ingest.

mod common;

use common::{load, newest_first, TestEnv};
use spider_model::HttpExchange;
use spider_query::{parse, Origin, RecordKind};
use spider_storage::{DnsQuery, HostQuery, HttpQuery, PacketQuery, SessionQuery, Shard, TimeRange};

const W: &str = "whisperer-a";

fn all_http(shard: &Shard, query: Option<&str>, limit: usize) -> Vec<HttpExchange> {
    let mut request = HttpQuery::new(TimeRange::ALL, limit);
    request.query = query.map(|q| parse(q, RecordKind::Http).expect("query parses"));
    let mut out = Vec::new();
    loop {
        let page = shard.query_http(&request).expect("query");
        out.extend(page.items.into_iter().map(|stored| {
            assert_eq!(stored.whisperer, W);
            stored.record
        }));
        match page.next {
            Some(cursor) => request.cursor = Some(cursor),
            None => return out,
        }
    }
}

#[test]
fn ingest_then_query_back_equal() {
    let env = TestEnv::new();
    let mut shard = env.open();
    let capture = load("http-load.pcap", W);
    assert!(capture.http.len() > 50, "a capture with traffic");
    let outcome = shard
        .ingest(capture.batch("agent-1", 1, W))
        .expect("ingest");
    assert!(!outcome.duplicate);
    assert_eq!(outcome.counts.http, capture.http.len() as u64);
    assert_eq!(outcome.counts.packets, capture.packets.len() as u64);
    shard.commit_index().expect("commit");
    assert_eq!(*shard.searchable().borrow(), outcome.shard_seq);

    let mut expected = capture.http.clone();
    newest_first(&mut expected);
    assert_eq!(all_http(&shard, None, 10_000), expected);
    // Pages of 7 with cursors give the same list.
    assert_eq!(all_http(&shard, None, 7), expected);

    let sessions = shard
        .query_sessions(&SessionQuery {
            range: TimeRange::ALL,
            whisperers: vec![W.into()],
            query: None,
            limit: 10_000,
            cursor: None,
        })
        .expect("sessions");
    assert_eq!(sessions.items.len(), capture.sessions.len());
    for session in &capture.sessions {
        let stored = shard
            .session(W, session.id)
            .expect("lookup")
            .expect("found");
        assert_eq!(&stored.record, session);
    }

    let hosts = shard
        .query_hosts(&HostQuery {
            range: TimeRange::ALL,
            query: None,
            limit: 10_000,
            whisperers: vec![],
        })
        .expect("hosts");
    let mut expected_hosts = capture.hosts.clone();
    expected_hosts.sort_by(|a, b| (a.ip, &a.name).cmp(&(b.ip, &b.name)));
    let mut got_hosts = hosts;
    got_hosts.sort_by(|a, b| (a.ip, &a.name).cmp(&(b.ip, &b.name)));
    assert_eq!(got_hosts, expected_hosts);

    // Packets of each session, in capture order.
    for session in capture.sessions.iter().take(20) {
        let page = shard
            .query_packets(&PacketQuery::Session {
                whisperer: W.into(),
                session_id: session.id,
                limit: 10_000,
            })
            .expect("packets");
        let expected: Vec<_> = capture
            .packets
            .iter()
            .filter(|p| p.session_id == session.id)
            .cloned()
            .collect();
        assert_eq!(page.items, expected, "packets of session {}", session.id);
    }
    // Every packet of the range, newest block first, through cursors.
    let mut seen = 0;
    let mut cursor = None;
    loop {
        let page = shard
            .query_packets(&PacketQuery::Range {
                range: TimeRange::ALL,
                whisperers: vec![],
                limit: 100,
                cursor,
            })
            .expect("packets");
        seen += page.items.len();
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, capture.packets.len());
}

#[test]
fn dns_is_stored_and_listed() {
    let env = TestEnv::new();
    let mut shard = env.open();
    let capture = load("dns-cname.pcap", W);
    assert!(!capture.dns.is_empty());
    shard
        .ingest(capture.batch("agent-1", 1, W))
        .expect("ingest");
    let page = shard
        .query_dns(&DnsQuery {
            range: TimeRange::ALL,
            whisperers: vec![],
            name: None,
            limit: 100,
            cursor: None,
        })
        .expect("dns");
    let mut expected = capture.dns.clone();
    expected.sort_by_key(|d| std::cmp::Reverse(d.time));
    let got: Vec<_> = page.items.into_iter().map(|s| s.record).collect();
    assert_eq!(got.len(), expected.len());
    for record in &expected {
        assert!(got.contains(record));
    }
    let name = expected[0].name.to_uppercase();
    let page = shard
        .query_dns(&DnsQuery {
            range: TimeRange::ALL,
            whisperers: vec![],
            name: Some(name.clone()),
            limit: 100,
            cursor: None,
        })
        .expect("dns by name");
    assert!(!page.items.is_empty());
    assert!(page
        .items
        .iter()
        .all(|s| s.record.name.eq_ignore_ascii_case(&name)));
}

#[test]
fn queries_agree_with_the_matches_oracle() {
    let env = TestEnv::new();
    let mut shard = env.open();
    let mut all = Vec::new();
    for (seq, name) in [
        "http-load.pcap",
        "mixed.pcap",
        "http-compressed.pcap",
        "http-head-1xx-204-304.pcap",
    ]
    .into_iter()
    .enumerate()
    {
        let capture = load(name, W).shifted(0, (seq as u64) << 32);
        all.extend(capture.http.clone());
        shard
            .ingest(capture.batch("agent-1", seq as u64 + 1, W))
            .expect("ingest");
    }
    shard.commit_index().expect("commit");
    newest_first(&mut all);
    let some_path = all[all.len() / 2].path.clone();
    let some_host = all.iter().find_map(|e| e.host.clone()).expect("a host");
    let queries = [
        "status:200".to_owned(),
        "status:4xx".into(),
        "status:>=300".into(),
        "NOT status:2xx".into(),
        "NOT status:*".into(),
        "method:GET".into(),
        "method:post".into(),
        format!("path:\"{some_path}\""),
        "path:*.css".into(),
        format!("host:{some_host}"),
        "host:*".into(),
        "whisperer:whisperer-a".into(),
        "whisperer:other".into(),
        "html".into(),
        "\"text/html\"".into(),
        "body:shop".into(),
        "resp.body:\"<html\"".into(),
        "NOT html".into(),
        "ite*json".into(),
        "req.header.user-agent:curl".into(),
        "query:*".into(),
        "duration:>1ms".into(),
        "port:80 OR port:8080".into(),
        format!("server:{}/24", all[0].server.ip),
        format!("client:{}", all[0].client),
        "status:200 (method:GET OR method:HEAD) NOT path:/".into(),
        "version:1.1".into(),
        "state:ok".into(),
        "response_size:>1kb".into(),
    ];
    for text in &queries {
        let query = parse(text, RecordKind::Http).expect("parses");
        let expected: Vec<HttpExchange> = all
            .iter()
            .filter(|e| spider_query::matches_in(&query, *e, Origin { whisperer: Some(W) }))
            .cloned()
            .collect();
        let got = all_http(&shard, Some(text), 50);
        assert_eq!(got.len(), expected.len(), "query {text}");
        assert_eq!(got, expected, "query {text}");
    }
}

#[test]
fn reingesting_a_batch_writes_nothing_twice() {
    let env = TestEnv::new();
    let mut shard = env.open();
    let capture = load("http-basic.pcap", W);
    let first = shard
        .ingest(capture.batch("agent-1", 7, W))
        .expect("ingest");
    let again = shard
        .ingest(capture.batch("agent-1", 7, W))
        .expect("ingest again");
    assert!(again.duplicate);
    assert_eq!(again.shard_seq, first.shard_seq);
    assert_eq!(again.counts, first.counts);
    assert_eq!(shard.last_seq(), first.shard_seq);
    shard.commit_index().expect("commit");
    assert_eq!(all_http(&shard, None, 1000).len(), capture.http.len());
    assert_eq!(
        all_http(&shard, Some("method:*"), 1000).len(),
        capture.http.len()
    );
    // Another agent's batch with the same seq is another batch.
    let other = shard
        .ingest(capture.batch("agent-2", 7, W))
        .expect("other agent");
    assert!(!other.duplicate);
}

#[test]
fn session_updates_keep_the_newest() {
    let env = TestEnv::new();
    let mut shard = env.open();
    let capture = load("http-basic.pcap", W);
    let session = capture.sessions[0].clone();
    let mut older = session.clone();
    older.last_packet = session.first_packet + 1;
    older.client_to_server.packets = 1;
    older.close_reason = None;
    let mut batch = capture.batch("agent", 1, W);
    batch.sessions = vec![session.clone()];
    batch.http.clear();
    shard.ingest(batch.clone()).expect("newest first");
    // An older update arriving later does not win.
    batch.seq = 2;
    batch.sessions = vec![older.clone()];
    batch.packets.clear();
    shard.ingest(batch.clone()).expect("older later");
    assert_eq!(
        shard
            .session(W, session.id)
            .expect("get")
            .expect("found")
            .record,
        session
    );
    // A newer one does.
    let mut newer = session.clone();
    newer.last_packet += 1_000;
    batch.seq = 3;
    batch.sessions = vec![newer.clone()];
    shard.ingest(batch).expect("newer");
    assert_eq!(
        shard
            .session(W, session.id)
            .expect("get")
            .expect("found")
            .record,
        newer
    );
    let listed = shard
        .query_sessions(&SessionQuery {
            range: TimeRange::ALL,
            whisperers: vec![],
            query: Some(
                parse("session:*", RecordKind::TcpSession).unwrap_or_else(|_| {
                    parse(&format!("session:{}", session.id), RecordKind::TcpSession)
                        .expect("parses")
                }),
            ),
            limit: 100,
            cursor: None,
        })
        .expect("list");
    assert_eq!(
        listed
            .items
            .iter()
            .filter(|s| s.record.id == session.id)
            .count(),
        1
    );
}

#[test]
fn a_batch_after_a_gap_is_refused_and_the_resent_ones_are_taken() {
    let env = TestEnv::new();
    let mut shard = env.open();
    let capture = load("http-basic.pcap", W);
    shard
        .ingest(capture.batch("agent-gap", 1, W))
        .expect("first batch");
    let refused = shard.ingest(capture.batch("agent-gap", 3, W));
    assert!(
        refused.is_err_and(|error| error.to_string().contains("follows a gap")),
        "batch 3 without batch 2 is refused"
    );
    shard
        .ingest(capture.batch("agent-gap", 2, W))
        .expect("the missing batch, resent");
    let third = shard
        .ingest(capture.batch("agent-gap", 3, W))
        .expect("then the next one");
    assert!(!third.duplicate);
}

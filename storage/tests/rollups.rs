//! The rollups behind unfiltered timelines and maps give the counts of the records themselves,
//! for ranges that do and do not fall on whole seconds or minutes, and a shard written before
//! rollups existed (or whose rebuild was cut short) gets them rebuilt when it opens.

mod common;

use std::collections::BTreeMap;
use std::net::IpAddr;

use common::{load, Capture, TestEnv};
use spider_model::HttpExchange;
use spider_storage::{MapRequest, Shard, TimeRange, TimelineRequest};

const SECOND: i64 = 1_000_000_000;

fn class(exchange: &HttpExchange) -> usize {
    match exchange.status {
        None => 5,
        Some(status) => usize::from((status / 100).clamp(1, 5) - 1),
    }
}

/// Several copies of the load capture, spread over a few minutes, as two whisperers.
fn loaded(env: &TestEnv) -> (Shard, Vec<HttpExchange>) {
    let mut shard = env.open();
    let capture = load("http-load.pcap", "w");
    let mut all = Vec::new();
    for copy in 0..6u64 {
        let whisperer = if copy % 2 == 0 { "even" } else { "odd" };
        let shifted: Capture = capture.shifted(copy as i64 * 37 * SECOND + 123_456, copy << 40);
        shard
            .ingest(shifted.batch(&format!("agent-{copy}"), 1, whisperer))
            .expect("ingest");
        all.extend(shifted.http);
    }
    shard.commit_index().expect("commit");
    (shard, all)
}

fn expected_timeline(all: &[HttpExchange], from: i64, width: i64, buckets: usize) -> Vec<[u64; 6]> {
    let mut counts = vec![[0u64; 6]; buckets];
    for exchange in all {
        let offset = exchange.timing.request_start - from;
        if offset >= 0 && (offset / width) < buckets as i64 {
            counts[(offset / width) as usize][class(exchange)] += 1;
        }
    }
    counts
}

fn timeline(
    shard: &Shard,
    from: i64,
    width: i64,
    buckets: usize,
    whisperers: &[&str],
) -> Vec<[u64; 6]> {
    shard
        .timeline(&TimelineRequest {
            range: TimeRange::new(from, from + width * buckets as i64),
            bucket_ns: width,
            whisperers: whisperers.iter().map(|w| (*w).to_owned()).collect(),
            query: None,
        })
        .expect("timeline")
        .buckets
        .iter()
        .map(|b| {
            let c = b.counts;
            [
                c.informational,
                c.success,
                c.redirection,
                c.client_error,
                c.server_error,
                c.none,
            ]
        })
        .collect()
}

type Edges = BTreeMap<(IpAddr, IpAddr), (u64, u64, u64, u64, u64)>;

fn expected_map(all: &[HttpExchange], range: TimeRange) -> Edges {
    let mut edges = Edges::new();
    for exchange in all {
        let time = exchange.timing.request_start;
        if time < range.from || time >= range.to {
            continue;
        }
        let edge = edges
            .entry((exchange.client.ip, exchange.server.ip))
            .or_default();
        edge.0 += 1;
        match class(exchange) {
            3 => edge.1 += 1,
            4 => edge.2 += 1,
            5 => edge.3 += 1,
            _ => {}
        }
        edge.4 += u64::from(exchange.duration_ns().is_some());
    }
    edges
}

fn map(shard: &Shard, range: TimeRange) -> Edges {
    shard
        .network_map(&MapRequest {
            range,
            whisperers: vec![],
            query: None,
        })
        .expect("map")
        .edges
        .iter()
        .map(|e| {
            (
                (e.client, e.server),
                (
                    e.requests,
                    e.client_errors,
                    e.server_errors,
                    e.no_response,
                    e.latency_count,
                ),
            )
        })
        .collect()
}

fn check(shard: &Shard, all: &[HttpExchange]) {
    let first = all
        .iter()
        .map(|e| e.timing.request_start)
        .min()
        .expect("data");
    let last = all
        .iter()
        .map(|e| e.timing.request_start)
        .max()
        .expect("data");
    let aligned = first / SECOND * SECOND;
    // Whole seconds (rollup) and not (index): both equal the records' own counts.
    for (from, width) in [
        (aligned, SECOND),
        (aligned - 7 * SECOND, 5 * SECOND),
        (first - 1, SECOND / 3),
    ] {
        let buckets = ((last - from) / width + 2) as usize;
        let got = timeline(shard, from, width, buckets, &[]);
        let want = expected_timeline(all, from, width, buckets);
        let differ: Vec<_> = (0..buckets)
            .filter(|i| got[*i] != want[*i])
            .map(|i| (i, got[i], want[i]))
            .collect();
        assert!(differ.is_empty(), "from {from} width {width}: {differ:?}");
    }
    let odd: Vec<HttpExchange> = all
        .iter()
        .filter(|e| e.session_id >> 40 & 1 == 1)
        .cloned()
        .collect();
    let buckets = ((last - aligned) / SECOND + 2) as usize;
    assert_eq!(
        timeline(shard, aligned, SECOND, buckets, &["odd"]),
        expected_timeline(&odd, aligned, SECOND, buckets),
        "one whisperer"
    );
    // Ranges with partial minutes at both ends, within one minute, and everything.
    for range in [
        TimeRange::new(first + 17 * SECOND + 3, last - 5 * SECOND),
        TimeRange::new(first + 36 * SECOND, first + 39 * SECOND),
        TimeRange::new(i64::MIN, i64::MAX),
    ] {
        let want = expected_map(all, range);
        assert!(!want.is_empty());
        assert_eq!(map(shard, range), want, "{range:?}");
    }
}

#[test]
fn rollups_give_the_counts_of_the_records() {
    let env = TestEnv::new();
    let (shard, all) = loaded(&env);
    let stored = shard
        .query_http(&spider_storage::HttpQuery::new(TimeRange::ALL, 10_000))
        .expect("query")
        .items
        .len();
    assert_eq!(stored, all.len(), "every exchange stored");
    check(&shard, &all);
}

#[test]
fn a_shard_without_rollups_gets_them_rebuilt() {
    let env = TestEnv::new();
    let (mut shard, all) = loaded(&env);
    // Everything in table files: the raw database below (opened without the shard's merge
    // operators) then has no log to replay.
    shard.flush().expect("flush");
    drop(shard);
    {
        // As a shard written before rollups existed: no marker, no rollup rows.
        let names = rocksdb::DB::list_cf(&rocksdb::Options::default(), env.path().join("db"))
            .expect("column families");
        let db = rocksdb::DB::open_cf(&rocksdb::Options::default(), env.path().join("db"), &names)
            .expect("db");
        let meta = db.cf_handle("meta").expect("meta");
        db.delete_cf(meta, b"rollups_built:1").expect("delete");
        for name in ["timeline_rollup", "map_rollup"] {
            let family = db.cf_handle(name).expect("family");
            db.delete_range_cf(family, [0u8].as_slice(), [0xffu8; 64].as_slice())
                .expect("delete");
        }
        db.flush().expect("flush");
    }
    let shard = env.open();
    check(&shard, &all);
    drop(shard);
    // Opening again does not count them twice.
    let shard = env.open();
    check(&shard, &all);
}

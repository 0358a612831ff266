//! The shard actor: requests through messages, waiting on events (never sleeping).

mod common;

use std::time::Duration;

use common::{load, TestEnv};
use spider_query::{parse, RecordKind};
use spider_storage::{
    now_ns, HttpQuery, Shard, ShardActor, ShardEvent, ShardRequest, ShardResponse, TimeRange,
};

#[actix_rt::test]
async fn ingest_becomes_searchable_and_purges_report() {
    let env = TestEnv::new();
    let mut config = env.config();
    config.index.commit_interval = Duration::from_millis(50);
    config
        .whisperer_ttl
        .insert("w".into(), Duration::from_secs(60));
    let shard = Shard::open(config).expect("open");
    let (addr, arbiter) = ShardActor::spawn(shard);
    let Ok(Ok(ShardResponse::Listeners {
        mut events,
        mut searchable,
    })) = addr.send(ShardRequest::Subscribe).await
    else {
        panic!("listeners");
    };
    let capture = load("http-basic.pcap", "w");
    let batch = capture.batch("agent", 1, "w");
    let Ok(Ok(ShardResponse::Ingested(outcome))) =
        addr.send(ShardRequest::Ingest(Box::new(batch))).await
    else {
        panic!("ingested");
    };
    // The timer commits within the interval: wait for the event, not for a duration.
    searchable
        .wait_for(|seq| *seq >= outcome.shard_seq)
        .await
        .expect("searchable");
    let mut query = HttpQuery::new(TimeRange::ALL, 1000);
    query.query = Some(parse("method:GET", RecordKind::Http).expect("parses"));
    let Ok(Ok(ShardResponse::Http(page))) = addr.send(ShardRequest::QueryHttp(query)).await else {
        panic!("http");
    };
    let gets = capture.http.iter().filter(|e| e.method == "GET").count();
    assert_eq!(page.items.len(), gets);

    // Purge far in the future: everything of "w" (TTL 60 s) goes, and the event says so.
    let later = now_ns().max(capture.packets.last().map_or(0, |p| p.time)) + 3_600_000_000_000 * 48;
    let Ok(Ok(ShardResponse::Purged(report))) = addr.send(ShardRequest::Purge { now: later }).await
    else {
        panic!("purged");
    };
    loop {
        match events.recv().await.expect("event") {
            ShardEvent::PurgeComplete(event) => {
                assert_eq!(event, report);
                break;
            }
            ShardEvent::Searchable { .. } => {}
        }
    }
    let Ok(Ok(ShardResponse::Http(page))) = addr
        .send(ShardRequest::QueryHttp(HttpQuery::new(
            TimeRange::ALL,
            1000,
        )))
        .await
    else {
        panic!("http");
    };
    assert!(page.items.is_empty());
    arbiter.stop();
    arbiter.join().expect("the shard thread ends");
}

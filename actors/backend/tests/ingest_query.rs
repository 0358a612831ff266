//! A backend node over real TCP: captures pushed as a Whisperer would push them come back from the
//! query API as the same HTTP exchanges as `spider analyze` finds.
#![allow(clippy::unwrap_used)]

mod common;

use common::{batches_of, on_local, push, start_node, testdata, TOKEN};
use spider_backend::client::{BackendClient, ListRequest};
use spider_model::Record;
use spider_pipeline::{analyze_file, PipelineConfig};

fn analyzed(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let path = testdata(&format!("{name}.pcap"));
    analyze_file(&path, PipelineConfig::default(), &mut |record| {
        if let Record::Http(exchange) = record {
            out.push(serde_json::to_string(&exchange).unwrap());
        }
    })
    .unwrap();
    out.sort();
    out
}

#[test]
fn pushed_captures_come_back_as_the_exchanges_of_analyze() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node(dir.path());
    let addr = node.local_addr();
    let captures = ["http-basic", "http-reordered", "http-pipelining", "mixed"];
    on_local(async move {
        assert!(
            BackendClient::connect(addr, "wrong-token").await.is_err(),
            "a wrong token is refused"
        );
        let client = BackendClient::connect(addr, TOKEN).await.unwrap();
        let mut pushed = 0;
        for name in captures {
            for batch in batches_of(&testdata(&format!("{name}.pcap")), name, 64) {
                push(&client, name, &batch).await;
                pushed += 1;
            }
        }
        let acked = client.flush().await.unwrap();
        assert!(
            acked.len() > captures.len(),
            "every pushed shard is acknowledged"
        );
        assert!(acked.len() <= pushed);

        for name in captures {
            let request = ListRequest {
                from: 0,
                to: i64::MAX,
                whisperers: vec![name.into()],
                limit: 7,
                ..ListRequest::default()
            };
            let page = client.http(&request).await.unwrap();
            assert!(page.missing_shards.is_empty());
            let mut got: Vec<String> = client
                .http_all(request)
                .await
                .unwrap()
                .into_iter()
                .map(|(whisperer, exchange)| {
                    assert_eq!(whisperer, name);
                    serde_json::to_string(&exchange).unwrap()
                })
                .collect();
            got.sort();
            let expected = analyzed(name);
            assert!(!expected.is_empty());
            assert_eq!(got, expected, "{name}");

            let sessions = client
                .sessions_all(ListRequest {
                    from: 0,
                    to: i64::MAX,
                    whisperers: vec![name.into()],
                    limit: 5,
                    ..ListRequest::default()
                })
                .await
                .unwrap();
            let mut ids: Vec<u64> = sessions.iter().map(|(_, s)| s.id).collect();
            ids.sort_unstable();
            let mut pushed: Vec<u64> = batches_of(&testdata(&format!("{name}.pcap")), name, 64)
                .into_iter()
                .flat_map(|batch| batch.sessions)
                .map(|session| session.id)
                .collect();
            pushed.sort_unstable();
            pushed.dedup();
            assert_eq!(
                ids, pushed,
                "{name}: every session, once, through the pages"
            );
        }
    });
    node.stop();
}

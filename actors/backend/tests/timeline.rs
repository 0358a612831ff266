//! The timeline and the hosts over the query API, merged across shards.
#![allow(clippy::unwrap_used)]

mod common;

use common::{batches_of, on_local, push, start_node, testdata, TOKEN};
use spider_backend::client::{BackendClient, ListRequest};

#[test]
fn timeline_counts_every_exchange_by_status_class() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node(dir.path());
    let addr = node.local_addr();
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(testdata("http-basic.truth.json")).unwrap())
            .unwrap();
    let mut by_class = [0u64; 6];
    for exchange in truth["http_exchanges"].as_array().unwrap() {
        let class = exchange["status"]
            .as_u64()
            .map_or(0, |status| (status / 100) as usize);
        by_class[class] += 1;
    }
    on_local(async {
        let client = BackendClient::connect(addr, TOKEN).await.unwrap();
        for batch in batches_of(&testdata("http-basic.pcap"), "w-time", 32) {
            push(&client, "w-time", &batch).await;
        }
        client.flush().await.unwrap();
    });
    node.commit_indexes().unwrap();
    let buckets = on_local(async {
        let client = BackendClient::connect(addr, TOKEN).await.unwrap();
        let all = ListRequest {
            from: 0,
            to: i64::MAX,
            whisperers: vec!["w-time".into()],
            ..ListRequest::default()
        };
        let whole = client.http_timeline(&all, 1).await.unwrap();
        assert_eq!(whole.len(), 1);
        assert_eq!(whole[0].by_class, by_class);
        assert_eq!(whole[0].count, by_class.iter().sum::<u64>());
        let hosts = client.hosts(&all).await.unwrap();
        let mut got: Vec<(std::net::IpAddr, String, spider_model::HostSource)> = hosts
            .into_iter()
            .map(|h| (h.ip, h.name, h.source))
            .collect();
        got.sort();
        let mut expected = Vec::new();
        spider_pipeline::analyze_file(
            &testdata("http-basic.pcap"),
            spider_pipeline::PipelineConfig::default(),
            &mut |record| {
                if let spider_model::Record::Host(h) = record {
                    expected.push((h.ip, h.name, h.source));
                }
            },
        )
        .unwrap();
        expected.sort();
        assert_eq!(got, expected, "host names learnt from DNS and HTTP");
        client.http_timeline(&all, 4000).await.unwrap()
    });
    assert_eq!(buckets.len(), 4000);
    assert_eq!(
        buckets.iter().map(|b| b.count).sum::<u64>(),
        by_class.iter().sum::<u64>()
    );
    assert!(buckets.windows(2).all(|pair| pair[0].start < pair[1].start));
    node.stop();
}

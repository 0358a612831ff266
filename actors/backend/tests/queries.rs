//! Packets, DNS answers, the network map and exports by query, over real TCP: what comes back is
//! what was pushed (packets), what `spider analyze` finds (DNS, exchanges per client and server),
//! and tshark reads the exported file with every frame.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::net::IpAddr;

use common::{batches_of, on_local, push, start_node, testdata, TOKEN};
use spider_backend::client::{BackendClient, ExportTarget, ListRequest};
use spider_model::Record;
use spider_pipeline::{analyze_file, PipelineConfig};

fn everything() -> ListRequest {
    ListRequest {
        from: i64::MIN,
        to: i64::MAX,
        ..ListRequest::default()
    }
}

fn analyzed(name: &str) -> Vec<Record> {
    let mut records = Vec::new();
    analyze_file(&testdata(name), PipelineConfig::default(), &mut |record| {
        records.push(record)
    })
    .unwrap();
    records
}

fn tshark_frame_count(file: &std::path::Path) -> usize {
    let output = std::process::Command::new("tshark")
        .arg("-r")
        .arg(file)
        .args(["-T", "fields", "-e", "frame.number"])
        .output()
        .expect("tshark is installed by scripts/install-deps.sh test");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().lines().count()
}

#[test]
fn packets_page_newest_first_and_dns_and_the_map_match_analyze() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node(dir.path());
    let addr = node.local_addr();
    let http_batches = batches_of(&testdata("http-load.pcap"), "w-http", 40);
    let dns_batches = batches_of(&testdata("dns-cname.pcap"), "w-dns", 16);
    let mut pushed: Vec<(i64, Vec<u8>)> = http_batches
        .iter()
        .flat_map(|batch| &batch.frames)
        .map(|frame| (frame.time, frame.frame.clone()))
        .collect();
    pushed.sort();

    on_local(async {
        let client = BackendClient::connect(addr, TOKEN).await.unwrap();
        for batch in &http_batches {
            push(&client, "w-http", batch).await;
        }
        for batch in &dns_batches {
            push(&client, "w-dns", batch).await;
        }
        client.flush().await.unwrap();
    });
    node.commit_indexes().unwrap();
    let (packets, dns, map) = on_local(async move {
        let client = BackendClient::connect(addr, TOKEN).await.unwrap();
        let mut request = ListRequest {
            whisperers: vec!["w-http".into()],
            limit: 7,
            ..everything()
        };
        let mut packets = Vec::new();
        loop {
            let page = client.packets(&request).await.unwrap();
            assert!(page.items.len() <= 7);
            packets.extend(page.items);
            match page.next {
                Some(next) => request.cursor = Some(next),
                None => break,
            }
        }
        let dns_request = ListRequest {
            whisperers: vec!["w-dns".into()],
            ..everything()
        };
        let dns = client.dns(&dns_request).await.unwrap().items;
        let map_request = ListRequest {
            whisperers: vec!["w-http".into()],
            ..everything()
        };
        let map = client.network_map(&map_request).await.unwrap();
        (packets, dns, map)
    });

    assert!(
        packets.windows(2).all(|pair| pair[0].time >= pair[1].time),
        "newest first"
    );
    assert!(packets.iter().all(|packet| packet.whisperer == "w-http"));
    let mut got: Vec<(i64, Vec<u8>)> = packets
        .into_iter()
        .map(|packet| (packet.time, packet.frame))
        .collect();
    got.sort();
    assert_eq!(got.len(), pushed.len(), "every packet once");
    let missing: Vec<i64> = pushed
        .iter()
        .filter(|p| !got.contains(p))
        .map(|p| p.0)
        .collect();
    let mut dup = got.clone();
    dup.dedup();
    assert!(
        got == pushed,
        "the same packets; missing times {missing:?}; duplicates {}",
        got.len() - dup.len()
    );

    let mut want_dns: Vec<(String, Vec<String>)> = analyzed("dns-cname.pcap")
        .into_iter()
        .filter_map(|record| match record {
            Record::Dns(dns) => Some((
                dns.name,
                dns.answers.into_iter().map(|answer| answer.data).collect(),
            )),
            _ => None,
        })
        .collect();
    let mut got_dns: Vec<(String, Vec<String>)> = dns
        .into_iter()
        .map(|(whisperer, dns)| {
            assert_eq!(whisperer, "w-dns");
            (
                dns.name,
                dns.answers.into_iter().map(|answer| answer.data).collect(),
            )
        })
        .collect();
    want_dns.sort();
    got_dns.sort();
    assert!(!want_dns.is_empty());
    assert_eq!(got_dns, want_dns);

    let mut want_edges: BTreeMap<(IpAddr, IpAddr), (u64, u64)> = BTreeMap::new();
    for record in analyzed("http-load.pcap") {
        if let Record::Http(exchange) = record {
            let edge = want_edges
                .entry((exchange.client.ip, exchange.server.ip))
                .or_default();
            edge.0 += 1;
            edge.1 += u64::from(exchange.status.is_some_and(|status| status >= 400));
        }
    }
    let got_edges: BTreeMap<(IpAddr, IpAddr), (u64, u64)> = map
        .edges
        .iter()
        .map(|edge| {
            (
                (edge.client, edge.server),
                (edge.requests, edge.client_errors + edge.server_errors),
            )
        })
        .collect();
    assert!(!want_edges.is_empty());
    assert_eq!(got_edges, want_edges);
    for edge in &map.edges {
        assert!(edge.latency_samples > 0 && edge.latency_sum_ns > 0);
        assert!(map.nodes.iter().any(|node| node.ip == edge.client));
        assert!(map.nodes.iter().any(|node| node.ip == edge.server));
    }
    node.stop();
}

#[test]
fn an_export_by_query_merges_every_shard_in_time_order_and_tshark_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node(dir.path());
    let addr = node.local_addr();
    let batches = batches_of(&testdata("http-basic.pcap"), "w-x", 8);
    let frames: Vec<_> = batches
        .iter()
        .flat_map(|batch| batch.frames.clone())
        .collect();
    let shards: std::collections::BTreeSet<u16> = batches.iter().map(|b| b.shard).collect();
    assert!(shards.len() > 1, "the capture spreads over several shards");

    on_local(async {
        let client = BackendClient::connect(addr, TOKEN).await.unwrap();
        for batch in &batches {
            push(&client, "w-x", batch).await;
        }
        client.flush().await.unwrap();
    });
    node.commit_indexes().unwrap();
    let (all, not_found, by_status) = on_local(async move {
        let client = BackendClient::connect(addr, TOKEN).await.unwrap();
        let all = ExportTarget::Query(ListRequest {
            whisperers: vec!["w-x".into()],
            ..everything()
        });
        let not_found = ExportTarget::Query(ListRequest {
            q: Some("status:404".into()),
            ..everything()
        });
        let exchanges = client.http_all(everything()).await.unwrap();
        (
            client.export(&all, 0).await.unwrap(),
            client.export(&not_found, 0).await.unwrap(),
            exchanges,
        )
    });
    assert_eq!(all.packets as usize, frames.len());
    assert!(!all.truncated);
    let mut reader = spider_pcap::CaptureReader::new(all.pcapng.as_slice()).unwrap();
    let mut times = Vec::new();
    while let Some(record) = reader.next_record().unwrap() {
        times.push(record.ts_nanos);
    }
    assert!(
        times.windows(2).all(|pair| pair[0] <= pair[1]),
        "time order"
    );
    assert_eq!(times.len(), frames.len());
    let file = dir.path().join("all.pcapng");
    std::fs::write(&file, &all.pcapng).unwrap();
    assert_eq!(tshark_frame_count(&file), frames.len());

    let sessions_404: std::collections::BTreeSet<u64> = by_status
        .iter()
        .filter(|(_, exchange)| exchange.status == Some(404))
        .map(|(_, exchange)| exchange.session_id)
        .collect();
    let want_404 = frames
        .iter()
        .filter(|frame| sessions_404.contains(&frame.session_id))
        .count();
    assert!(want_404 > 0, "the capture has a 404");
    assert_eq!(not_found.packets as usize, want_404);
    node.stop();
}

//! What one agent message may cost a node, over real TCP: the fuzzing reproducer of issue 9 (a
//! 2 kB `CaptureBatch` of zero-sized frames, each to get a copy of a 2 KiB `whisperer`) and its
//! variants are refused at once with a clear error, counted, and nothing of them is stored; a
//! message over the size limit ends its connection, counted; the node's memory stays bounded.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use capnp::message::ReaderOptions;
use common::{batches_of, config, on_local, push, testdata, TOKEN};
use spider_backend::client::BackendClient;
use spider_backend::BackendNode;
use spider_rpc_schema::ingest_capnp::capture_batch;

/// The reproducer of `fuzz/README.md` (finding 5), serialized words without the segment table:
/// a root with a `whisperer` text and an inline composite list of `frames` zero-sized structs.
fn amplifying_batch(whisperer_len: usize, frames: u64) -> Vec<u8> {
    let mut text = vec![b'w'; whisperer_len];
    text.push(0);
    let words: [u64; 9] = [
        7 << 48,
        0,
        1 | 6 << 2 | 2 << 32 | (text.len() as u64) << 35,
        1 | 4 << 2 | 7 << 32,
        0,
        0,
        0,
        0,
        frames << 2,
    ];
    let mut body: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    text.resize(text.len().div_ceil(8) * 8, 0);
    body.extend_from_slice(&text);
    body
}

/// Sends `body` (one segment) as a batch, copied as it is into the request.
async fn push_raw(client: &BackendClient, body: &[u8]) -> Result<(), capnp::Error> {
    let words = capnp::Word::allocate_zeroed_vec(body.len() / 8);
    let mut words = words;
    capnp::Word::words_to_bytes_mut(&mut words).copy_from_slice(body);
    let segments = [capnp::Word::words_to_bytes(&words)];
    let mut options = ReaderOptions::new();
    options.traversal_limit_in_words(None);
    let message =
        capnp::message::Reader::new(capnp::message::SegmentArray::new(&segments), options);
    let batch = message.get_root::<capture_batch::Reader<'_>>()?;
    let mut request = client.ingest_capability().push_capture_request();
    request.get().set_batch(batch)?;
    request.send().await
}

/// Sends `body` on a new connection; `pushCapture` streams, so its error comes back at the
/// latest with the next call on the capability (`flush`). The error the sender sees.
async fn refusal(addr: std::net::SocketAddr, body: &[u8]) -> String {
    let client = BackendClient::connect(addr, TOKEN).await.unwrap();
    if let Err(error) = push_raw(&client, body).await {
        return error.to_string();
    }
    client.flush().await.unwrap_err().to_string()
}

/// The process's peak resident memory (VmHWM), in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

#[test]
fn amplifying_and_oversized_messages_are_refused_counted_and_not_stored() {
    let dir = tempfile::tempdir().unwrap();
    let node = BackendNode::start(config(dir.path())).unwrap();
    let addr = node.local_addr();
    let good = batches_of(&testdata("http-basic.pcap"), "honest", 16);
    let before = peak_rss();
    on_local(async {
        let cases: [(&str, Vec<u8>, &str); 4] = [
            (
                "the reproducer (2 KiB whisperer)",
                amplifying_batch(2048, 200_000),
                "more than the 256 a name may have",
            ),
            (
                "zero-sized frames",
                amplifying_batch(8, 60_000),
                "60000 zero-sized elements",
            ),
            (
                "too many frames",
                amplifying_batch(8, 200_000),
                "more than the 65536 a batch may hold",
            ),
            (
                "8 million frames (the default traversal limit's worth)",
                amplifying_batch(8, 8 << 20),
                "Read limit exceeded",
            ),
        ];
        for (case, body, expected) in &cases {
            let started = Instant::now();
            let error = refusal(addr, body).await;
            assert!(error.contains(expected), "{case}: {error}");
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "{case}: {:?}",
                started.elapsed()
            );
        }
        // The node goes on: an honest Whisperer's batches are stored after them.
        let client = BackendClient::connect(addr, TOKEN).await.unwrap();
        for batch in &good {
            push(&client, "honest", batch).await;
        }
        client.flush().await.unwrap();
        // A message over the size limit (40 MiB) ends the connection.
        let frames = [spider_model::PacketRecord {
            whisperer: String::new(),
            session_id: 1,
            time: 1,
            interface: 0,
            link_type: 1,
            wire_len: 40 << 20,
            from_client: true,
            frame: vec![0; 40 << 20],
        }];
        let huge = client.push_capture(spider_backend::client::CapturePush {
            agent: "huge",
            whisperer: "huge",
            incarnation: 1,
            sequence: 1,
            frames: &frames,
            ..Default::default()
        });
        let error = match huge.await {
            Ok(()) => client.flush().await.unwrap_err().to_string(),
            Err(error) => error.to_string(),
        };
        eprintln!("a 40 MiB message: {error}");
        // Only the honest Whisperer's data is there.
        let client = BackendClient::connect(addr, TOKEN).await.unwrap();
        let stored = client.http_all(common::everything()).await.unwrap();
        assert!(!stored.is_empty());
        assert!(stored.iter().all(|(whisperer, _)| whisperer == "honest"));
        let agents: Vec<String> = client
            .flush()
            .await
            .unwrap()
            .into_iter()
            .map(|ack| ack.agent)
            .collect();
        assert!(!agents.iter().any(|agent| agent != "honest"), "{agents:?}");
    });
    // Each refusal is counted by its kind; the connection the large message ended, once the
    // node has seen it end.
    let deadline = Instant::now() + Duration::from_secs(10);
    while node.limits().messages_too_large < 1 {
        assert!(Instant::now() < deadline, "{:?}", node.limits());
        std::thread::sleep(Duration::from_millis(10));
    }
    let limits = node.limits();
    assert_eq!(limits.names_too_long, 1, "{limits:?}");
    assert_eq!(limits.zero_sized_lists, 1, "{limits:?}");
    assert_eq!(limits.lists_too_long, 1, "{limits:?}");
    assert_eq!(limits.traversal_limit_hits, 1, "{limits:?}");
    assert_eq!(limits.messages_too_large, 1, "{limits:?}");
    // Bounded memory: the 40 MiB message and its copy on this side (the client) account for
    // most of the growth; before the fix the 2 kB reproducer alone made the node keep 420 MB.
    let grown = peak_rss().saturating_sub(before);
    assert!(grown < 200 << 20, "peak memory grew by {} MiB", grown >> 20);
}

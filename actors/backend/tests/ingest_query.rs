//! A backend node over real TCP: captures pushed as a Whisperer would push them come back from the
//! query API as the same HTTP exchanges as `spider analyze` finds.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use capnp_rpc::rpc_twoparty_capnp::Side;
use capnp_rpc::{twoparty, RpcSystem};
use futures::AsyncReadExt;
use spider_backend::{BackendConfig, BackendNode};
use spider_model::{PacketRecord, Record, TcpSessionRecord};
use spider_pcap::CaptureReader;
use spider_pipeline::{analyze_file, FrameTagger, PipelineConfig};
use spider_rpc_schema::auth_capnp::auth;
use spider_rpc_schema::ingest_capnp::ingest;
use spider_rpc_schema::query_capnp::query_service;
use spider_rpc_schema::{read_http, shard_of, write_frame, write_tcp_session};
use tokio_util::compat::TokioAsyncReadCompatExt;

const TOKEN: &str = "test-admin-token-0123456789";
const BATCH_FRAMES: usize = 64;

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

fn start_node(dir: &Path) -> BackendNode {
    BackendNode::start(BackendConfig {
        data_dir: dir.to_owned(),
        listen: "127.0.0.1:0".parse().unwrap(),
        local_shards: 2,
        admin_token: TOKEN.into(),
        sync_wal: false,
    })
    .unwrap()
}

/// Frames and session updates waiting to be sent, per virtual shard.
#[derive(Default)]
struct Pending {
    frames: Vec<PacketRecord>,
    sessions: Vec<TcpSessionRecord>,
    sequence: u64,
}

async fn push(
    ingest: &ingest::Client,
    whisperer: &str,
    shard: u16,
    pending: &mut Pending,
) -> Result<(), capnp::Error> {
    pending.sequence += 1;
    let mut request = ingest.push_capture_request();
    let mut batch = request.get().init_batch();
    let mut id = batch.reborrow().init_id();
    id.set_agent(whisperer);
    id.set_incarnation(1);
    id.set_sequence(pending.sequence);
    batch.set_shard(shard);
    batch.set_whisperer(whisperer);
    let mut frames = batch.reborrow().init_frames(pending.frames.len() as u32);
    for (i, frame) in pending.frames.drain(..).enumerate() {
        write_frame(frames.reborrow().get(i as u32), &frame).unwrap();
    }
    let mut sessions = batch.init_sessions(pending.sessions.len() as u32);
    for (i, session) in pending.sessions.drain(..).enumerate() {
        write_tcp_session(sessions.reborrow().get(i as u32), &session).unwrap();
    }
    request.send().await
}

/// Pushes a capture as a Whisperer named `whisperer` would: frames tagged with session ids, in
/// batches per virtual shard, closed sessions with them.
async fn push_capture(ingest: &ingest::Client, whisperer: &str, path: &Path) {
    let mut tagger = FrameTagger::new(whisperer, PipelineConfig::default());
    let mut pending: BTreeMap<u16, Pending> = BTreeMap::new();
    let mut reader = CaptureReader::open(path).unwrap();
    while let Some(record) = reader.next_record().unwrap() {
        let tagged = tagger.tag_record(&record);
        for closed in tagged.closed {
            pending
                .entry(shard_of(whisperer, closed.id))
                .or_default()
                .sessions
                .push(closed);
        }
        let shard = shard_of(whisperer, tagged.packet.session_id);
        let entry = pending.entry(shard).or_default();
        entry.frames.push(tagged.packet);
        if entry.frames.len() >= BATCH_FRAMES {
            push(ingest, whisperer, shard, entry).await.unwrap();
        }
    }
    for closed in tagger.finish() {
        pending
            .entry(shard_of(whisperer, closed.id))
            .or_default()
            .sessions
            .push(closed);
    }
    for (shard, entry) in &mut pending {
        if !entry.frames.is_empty() || !entry.sessions.is_empty() {
            push(ingest, whisperer, *shard, entry).await.unwrap();
        }
    }
}

async fn query_http(query: &query_service::Client, whisperer: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor: Option<Vec<u8>> = None;
    loop {
        let mut request = query.http_request();
        let mut q = request.get().init_query();
        let mut range = q.reborrow().init_range();
        range.set_from(0);
        range.set_to(i64::MAX);
        q.reborrow().init_whisperers(1).set(0, whisperer);
        q.set_limit(7);
        if let Some(cursor) = &cursor {
            q.set_cursor(cursor);
        }
        let reply = request.send().promise.await.unwrap();
        let page = reply.get().unwrap().get_page().unwrap();
        assert_eq!(page.get_missing_shards().unwrap().len(), 0);
        for item in page.get_items().unwrap() {
            assert_eq!(item.get_whisperer().unwrap().to_str().unwrap(), whisperer);
            out.push(serde_json::to_string(&read_http(item).unwrap()).unwrap());
        }
        if !page.has_next() {
            break;
        }
        cursor = Some(page.get_next().unwrap().to_vec());
    }
    out.sort();
    out
}

fn analyzed(path: &Path) -> Vec<String> {
    let mut out = Vec::new();
    analyze_file(path, PipelineConfig::default(), &mut |record| {
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
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (reader, writer) = stream.compat().split();
        let network = Box::new(twoparty::VatNetwork::new(
            futures::io::BufReader::new(reader),
            futures::io::BufWriter::new(writer),
            Side::Client,
            Default::default(),
        ));
        let mut system = RpcSystem::new(network, None);
        let auth: auth::Client = system.bootstrap(Side::Server);
        tokio::task::spawn_local(system);

        let mut refused = auth.login_request();
        refused.get().init_credential().set_admin_token("wrong");
        assert!(
            refused.send().promise.await.is_err(),
            "a wrong token is refused"
        );

        let mut login = auth.login_request();
        login.get().init_credential().set_admin_token(TOKEN);
        let session = login
            .send()
            .promise
            .await
            .unwrap()
            .get()
            .unwrap()
            .get_session()
            .unwrap();
        let ingest = session.ingest_request().send().promise.await.unwrap();
        let ingest = ingest.get().unwrap().get_ingest().unwrap();
        for name in captures {
            push_capture(&ingest, name, &testdata().join(format!("{name}.pcap"))).await;
        }
        let flushed = ingest.flush_request().send().promise.await.unwrap();
        let acked = flushed.get().unwrap().get_acked().unwrap();
        assert!(
            acked.len() as usize > captures.len(),
            "every pushed shard is acknowledged"
        );

        let query = session.query_request().send().promise.await.unwrap();
        let query = query.get().unwrap().get_query().unwrap();
        for name in captures {
            let expected = analyzed(&testdata().join(format!("{name}.pcap")));
            assert!(!expected.is_empty());
            assert_eq!(query_http(&query, name).await, expected, "{name}");
        }
    });
    node.stop();
}

//! The Controller over TLS: its uplink to a TLS backend node (pinned), its agents' listener with
//! a certificate of its own; usage pushed through the listener by a client that pins the
//! Controller's certificate is enriched and stored, clients with another pin or in plaintext
//! are refused (and counted), and nothing of theirs reaches the backend.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;

use common::linked::{NAME, TOKEN};
use common::{minute, usage_record, within, Cluster};
use spider_backend::client::{
    BackendClient, ClientTls, ClientTransport, UsageGrouping, UsagePush, UsageRequest,
};
use spider_backend::{BackendConfig, BackendNode, ListenerSettings, ServerTls, ServerTransport};
use spider_controller::process;
use spider_controller::rpc::UplinkConfig;
use spider_controller::ControllerConfig;
use spider_rpc_schema::usage_shard;
use spider_tls::SelfSigned;

fn pinned(cert: &SelfSigned) -> ClientTransport {
    ClientTransport::Tls(ClientTls::with_pins(vec![cert.fingerprint]).unwrap())
}

/// Runs `work` with a client of `addr` over `transport`, on a thread of its own.
async fn with<T: Send + 'static, Fut: std::future::Future<Output = T>>(
    addr: SocketAddr,
    transport: ClientTransport,
    work: impl FnOnce(Result<BackendClient, String>) -> Fut + Send + 'static,
) -> T {
    tokio::task::spawn_blocking(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        tokio::task::LocalSet::new().block_on(&runtime, async move {
            let client = BackendClient::connect_over(addr, &transport, TOKEN)
                .await
                .map_err(|e| e.to_string());
            work(client).await
        })
    })
    .await
    .unwrap()
}

/// A UsageBatch whose `records` is `n` zero-sized structs (the fuzzing finding's shape): written
/// with one record to find the list's pointer, which is then replaced.
fn zero_sized_usage_batch(n: u64) -> Vec<u8> {
    let mut builder = capnp::message::Builder::new_default();
    let mut batch =
        builder.init_root::<spider_rpc_schema::ingest_capnp::usage_batch::Builder<'_>>();
    batch.set_shard(1);
    batch.init_records(1);
    let mut words = capnp::serialize::write_message_to_words(&builder);
    let word = |words: &[u8], index: usize| {
        u64::from_le_bytes(words[8 + index * 8..16 + index * 8].try_into().unwrap())
    };
    let root = word(&words, 0);
    let (data, pointers) = (((root >> 32) & 0xffff) as usize, (root >> 48) as usize);
    let slot = (0..pointers)
        .map(|p| 1 + data + p)
        .find(|&at| word(&words, at) != 0)
        .unwrap();
    let segment = u32::from_le_bytes(words[4..8].try_into().unwrap()) as usize;
    let list: u64 = 1 | ((segment - slot - 1) as u64) << 2 | 7 << 32;
    words[8 + slot * 8..16 + slot * 8].copy_from_slice(&list.to_le_bytes());
    words.extend_from_slice(&(n << 2).to_le_bytes());
    words[4..8].copy_from_slice(&((segment + 1) as u32).to_le_bytes());
    words
}

/// Sends `bytes` (a serialized UsageBatch) through `client`; the error it gets (the push
/// streams: the error comes back at the latest with the flush).
async fn push_raw_usage(client: &BackendClient, bytes: &[u8]) -> String {
    let mut options = capnp::message::ReaderOptions::new();
    options.traversal_limit_in_words(None);
    let message = capnp::serialize::read_message_from_flat_slice(&mut &bytes[..], options).unwrap();
    let batch = message
        .get_root::<spider_rpc_schema::ingest_capnp::usage_batch::Reader<'_>>()
        .unwrap();
    let mut request = client.ingest_capability().push_usage_request();
    request.get().set_batch(batch).unwrap();
    if let Err(error) = request.send().await {
        return error.to_string();
    }
    client.flush().await.unwrap_err().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_reach_the_backend_through_a_tls_controller_and_untrusted_ones_do_not() {
    let cluster = Cluster::start(&["cluster"]).await;
    let dir = tempfile::tempdir().unwrap();
    let names = vec!["127.0.0.1".to_owned()];
    let backend_cert = SelfSigned::generate(&names, 30).unwrap();
    let controller_cert = SelfSigned::generate(&names, 30).unwrap();
    std::fs::write(dir.path().join("b.crt"), &backend_cert.cert_pem).unwrap();
    std::fs::write(dir.path().join("b.key"), &backend_cert.key_pem).unwrap();
    let node = BackendNode::start(BackendConfig {
        data_dir: dir.path().join("data"),
        listen: "127.0.0.1:0".parse().unwrap(),
        local_shards: 2,
        admin_token: TOKEN.into(),
        tls: spider_backend::TlsSettings {
            cert: Some(dir.path().join("b.crt")),
            key: Some(dir.path().join("b.key")),
            ..Default::default()
        },
        ..BackendConfig::default()
    })
    .unwrap();
    let backend = node.local_addr();
    let mut uplink = UplinkConfig::plain(NAME, "test-cluster", backend, TOKEN);
    uplink.backend_tls = pinned(&backend_cert);
    let listener_counters = spider_backend::LimitCounters::default();
    uplink.listener = ListenerSettings {
        transport: ServerTransport::Tls(
            ServerTls::from_pem(
                controller_cert.cert_pem.as_bytes(),
                controller_cert.key_pem.as_bytes(),
            )
            .unwrap(),
        ),
        counters: listener_counters.clone(),
    };
    let config = ControllerConfig {
        name: NAME.into(),
        cluster: "test-cluster".into(),
        ..cluster.config.clone()
    };
    let running = process::spawn(config, Some((uplink, "127.0.0.1:0".parse().unwrap()))).unwrap();
    let controller = running.listen.unwrap();

    // The Controller registers with the backend over TLS.
    within("the Controller to register over tls", async {
        loop {
            let registered = with(backend, pinned(&backend_cert), |client| async move {
                let agents = client.unwrap().agents().await.unwrap();
                agents.iter().any(|a| a.info.name == NAME && a.connected)
            })
            .await;
            if registered {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
    .await;

    // Untrusted clients of the Controller's listener: refused before any RPC.
    let records = vec![usage_record(
        minute(15),
        "10.244.0.10",
        "10.244.1.20",
        5432,
        1000,
    )];
    for (case, transport, expected) in [
        ("the backend's pin", pinned(&backend_cert), "not the pinned"),
        ("plaintext", ClientTransport::Plain, "does it expect TLS"),
    ] {
        let records = records.clone();
        let error = with(controller, transport, move |client| async move {
            match client {
                Ok(client) => {
                    let push = UsagePush {
                        agent: "intruder",
                        incarnation: 1,
                        sequence: 1,
                        shard: usage_shard("intruder", &records[0]),
                        records: &records,
                    };
                    panic!("logged in; push: {:?}", client.push_usage(push).await)
                }
                Err(error) => error,
            }
        })
        .await;
        assert!(error.contains(expected), "{case}: {error}");
    }

    // A Gocipher pinning the Controller's certificate: its usage is stored, enriched.
    let shard = usage_shard("gocipher-node-a", &records[0]);
    let acks = with(
        controller,
        pinned(&controller_cert),
        move |client| async move {
            let client = client.unwrap();
            client
                .push_usage(UsagePush {
                    agent: "gocipher-node-a",
                    incarnation: 7,
                    sequence: 1,
                    shard,
                    records: &records,
                })
                .await
                .unwrap();
            client.flush().await.unwrap()
        },
    )
    .await;
    assert!(
        acks.iter()
            .any(|a| a.agent == "gocipher-node-a" && a.sequence == 1),
        "{acks:?}"
    );
    let rows = with(backend, pinned(&backend_cert), |client| async move {
        client
            .unwrap()
            .usage(&UsageRequest {
                from: minute(15),
                to: minute(16),
                grouping: UsageGrouping::Connection,
                bucket: 0,
                limit: 0,
                cursor: None,
            })
            .await
            .unwrap()
            .0
    })
    .await;
    assert_eq!(rows.len(), 1, "only the trusted agent's usage: {rows:#?}");
    assert_eq!(rows[0].bytes, 1000);
    assert!(rows[0].src_workload.is_some(), "enriched by the Controller");
    // A usage batch of zero-sized records is refused by the Controller itself, counted.
    let error = with(controller, pinned(&controller_cert), |client| async move {
        push_raw_usage(&client.unwrap(), &zero_sized_usage_batch(50_000)).await
    })
    .await;
    assert!(error.contains("50000 zero-sized elements"), "{error}");
    assert_eq!(listener_counters.snapshot().zero_sized_lists, 1);
    within("the refusals to be counted", async {
        while listener_counters.snapshot().tls_handshakes_failed < 2 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await;
    drop(running);
    node.stop();
}

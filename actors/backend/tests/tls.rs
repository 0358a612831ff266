//! TLS on a node's Cap'n Proto listener, over real TCP: clients that trust the node's
//! certificate (its CA, or its pin) log in, push a capture and query it back; every other client
//! (wrong pin, unknown CA, expired certificate, plaintext to TLS, TLS to plaintext) is refused
//! with a clear error, nothing it sent is stored, and the refusals are counted.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::{Duration, SystemTime};

use common::{batches_of, config, exchanges_of, on_local, push, testdata, TOKEN};
use spider_backend::client::{BackendClient, ClientTls, ClientTransport, ListRequest};
use spider_backend::{BackendConfig, BackendNode, NodeError, TlsSettings};
use spider_tls::SelfSigned;

fn names() -> Vec<String> {
    vec!["127.0.0.1".into(), "localhost".into()]
}

/// Writes a certificate and key into `dir` and returns the `[tls]` that serves them.
fn tls_settings(dir: &Path, cert: &SelfSigned) -> TlsSettings {
    let (cert_path, key_path) = (dir.join("tls.crt"), dir.join("tls.key"));
    std::fs::write(&cert_path, &cert.cert_pem).unwrap();
    std::fs::write(&key_path, &cert.key_pem).unwrap();
    TlsSettings {
        cert: Some(cert_path),
        key: Some(key_path),
        ..TlsSettings::default()
    }
}

fn tls_node(dir: &Path, cert: &SelfSigned) -> BackendNode {
    let data = dir.join("data");
    BackendNode::start(BackendConfig {
        tls: tls_settings(dir, cert),
        ..config(&data)
    })
    .unwrap()
}

fn everything() -> ListRequest {
    ListRequest {
        from: 0,
        to: i64::MAX,
        limit: 1000,
        ..ListRequest::default()
    }
}

#[test]
fn clients_trusting_the_certificate_log_in_push_and_query() {
    let dir = tempfile::tempdir().unwrap();
    let cert = SelfSigned::generate(&names(), 30).unwrap();
    let node = tls_node(dir.path(), &cert);
    let addr = node.local_addr();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &cert.cert_pem).unwrap();
    let by_pin = ClientTransport::Tls(ClientTls::with_pins(vec![cert.fingerprint]).unwrap());
    let by_ca = ClientTransport::Tls(ClientTls::with_ca_file(&ca_file).unwrap());
    let by_ca_and_name = ClientTransport::Tls(
        ClientTls::with_ca_file(&ca_file)
            .unwrap()
            .server_name_from_target(&format!("localhost:{}", addr.port()))
            .unwrap(),
    );
    let batches = batches_of(&testdata("http-basic.pcap"), "tls-whisperer", 16);
    let mut expected: Vec<String> = exchanges_of(&batches)
        .iter()
        .map(|exchange| serde_json::to_string(exchange).unwrap())
        .collect();
    expected.sort();
    assert!(!expected.is_empty());
    on_local(async move {
        let pinned = BackendClient::connect_over(addr, &by_pin, TOKEN)
            .await
            .unwrap();
        for batch in &batches {
            push(&pinned, "tls-whisperer", batch).await;
        }
        assert!(!pinned.flush().await.unwrap().is_empty());
        for transport in [&by_pin, &by_ca, &by_ca_and_name] {
            let client = BackendClient::connect_over(addr, transport, TOKEN)
                .await
                .unwrap();
            let mut got: Vec<String> = client
                .http_all(everything())
                .await
                .unwrap()
                .into_iter()
                .map(|(whisperer, exchange)| {
                    assert_eq!(whisperer, "tls-whisperer");
                    serde_json::to_string(&exchange).unwrap()
                })
                .collect();
            got.sort();
            assert_eq!(got, expected, "{transport:?}");
        }
        // The right certificate with a wrong token: TLS passes, the login is refused.
        let error = BackendClient::connect_over(addr, &by_pin, "wrong-token")
            .await
            .unwrap_err();
        assert!(error.to_string().contains("invalid credential"), "{error}");
    });
    assert_eq!(node.limits().tls_handshakes_failed, 0);
}

/// Tries to log in and push one batch; the error (there must be one).
async fn refused(
    addr: std::net::SocketAddr,
    transport: &ClientTransport,
    batch: &common::Batch,
) -> String {
    match BackendClient::connect_over(addr, transport, TOKEN).await {
        Ok(client) => {
            let pushed = common::try_push(&client, "intruder", batch).await;
            panic!("{transport:?} logged in (push: {pushed:?})")
        }
        Err(error) => error.to_string(),
    }
}

#[test]
fn untrusted_certificates_and_mismatched_transports_are_refused_and_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cert = SelfSigned::generate(&names(), 30).unwrap();
    let other = SelfSigned::generate(&names(), 30).unwrap();
    let past = SystemTime::now() - Duration::from_secs(60 * 86_400);
    let expired =
        SelfSigned::generate_valid(&names(), past, past + Duration::from_secs(86_400)).unwrap();
    let node = tls_node(&dir.path().join("current"), &{
        std::fs::create_dir_all(dir.path().join("current")).unwrap();
        cert.clone()
    });
    std::fs::create_dir_all(dir.path().join("expired")).unwrap();
    let expired_node = tls_node(&dir.path().join("expired"), &expired);
    let plain_node = BackendNode::start(config(&dir.path().join("plain"))).unwrap();
    let batch = batches_of(&testdata("http-basic.pcap"), "intruder", 16).remove(0);
    let pin = |fingerprint| ClientTransport::Tls(ClientTls::with_pins(vec![fingerprint]).unwrap());
    let ca = |pem: &str| ClientTransport::Tls(ClientTls::with_ca_pem(pem.as_bytes()).unwrap());
    let cases = [
        (
            "wrong pin",
            node.local_addr(),
            pin(other.fingerprint),
            "not the pinned",
        ),
        (
            "unknown self-signed certificate",
            node.local_addr(),
            ca(&other.cert_pem),
            "invalid peer certificate",
        ),
        (
            "expired certificate",
            expired_node.local_addr(),
            ca(&expired.cert_pem),
            "expired",
        ),
        (
            "plaintext client to a TLS node",
            node.local_addr(),
            ClientTransport::Plain,
            "does it expect TLS",
        ),
        (
            "TLS client to a plaintext node",
            plain_node.local_addr(),
            pin(cert.fingerprint),
            "tls handshake",
        ),
    ];
    on_local(async {
        for (case, addr, transport, expected) in &cases {
            let error = refused(*addr, transport, &batch).await;
            eprintln!("{case}: {error}");
            assert!(error.contains(expected), "{case}: {error}");
        }
        // Nothing of the intruder on any node, and the nodes still serve trusted clients.
        for (addr, transport) in [
            (node.local_addr(), pin(cert.fingerprint)),
            (expired_node.local_addr(), pin(expired.fingerprint)),
            (plain_node.local_addr(), ClientTransport::Plain),
        ] {
            let client = BackendClient::connect_over(addr, &transport, TOKEN)
                .await
                .unwrap();
            assert!(client.http_all(everything()).await.unwrap().is_empty());
            assert!(client.flush().await.unwrap().is_empty());
        }
    });
    // Three refusals by the TLS node (wrong pin, unknown CA, plaintext), one by the expired
    // one; a client's handshake failing is counted once the node has seen it end.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while node.limits().tls_handshakes_failed < 3 || expired_node.limits().tls_handshakes_failed < 1
    {
        assert!(std::time::Instant::now() < deadline, "{:?}", node.limits());
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn nodes_sharing_a_certificate_reach_each_other_by_its_pin() {
    let dir = tempfile::tempdir().unwrap();
    let cert = SelfSigned::generate(&names(), 30).unwrap();
    let node = tls_node(dir.path(), &cert);
    // What a node of the same cluster dials its followers with: by default its own pin.
    let settings = tls_settings(dir.path(), &cert);
    let peers = settings.peers(&settings.server().unwrap()).unwrap();
    match &peers {
        ClientTransport::Tls(tls) => assert!(
            tls.trust().contains(&cert.fingerprint.to_string()),
            "{}",
            tls.trust()
        ),
        ClientTransport::Plain => panic!("a TLS node dials its peers in plaintext"),
    }
    let addr = node.local_addr();
    let target = format!("localhost:{}", addr.port());
    on_local(async move {
        let transport = peers.for_target(&target).unwrap();
        let client = BackendClient::connect_over(addr, &transport, TOKEN)
            .await
            .unwrap();
        assert!(client.flush().await.unwrap().is_empty());
    });
    // A plaintext node dials its peers in plaintext.
    let plain = TlsSettings::default();
    assert!(!plain.peers(&plain.server().unwrap()).unwrap().is_tls());
}

#[test]
fn a_plaintext_listener_off_loopback_needs_to_be_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let everywhere = BackendConfig {
        listen: "0.0.0.0:0".parse().unwrap(),
        ..config(dir.path())
    };
    let error = BackendNode::start(everywhere.clone()).unwrap_err();
    assert!(matches!(error, NodeError::Tls(_)), "{error}");
    assert!(error.to_string().contains("plaintext"), "{error}");
    let allowed = BackendConfig {
        tls: TlsSettings {
            insecure_plaintext: true,
            ..TlsSettings::default()
        },
        ..everywhere.clone()
    };
    BackendNode::start(allowed).unwrap().stop();
    // With TLS, any address.
    let cert = SelfSigned::generate(&names(), 1).unwrap();
    let tls = BackendConfig {
        tls: tls_settings(dir.path(), &cert),
        ..everywhere
    };
    BackendNode::start(tls).unwrap().stop();
    // A certificate without its key is refused by name.
    let half = BackendConfig {
        tls: TlsSettings {
            key: None,
            ..tls_settings(dir.path(), &cert)
        },
        ..config(dir.path())
    };
    let error = BackendNode::start(half).unwrap_err();
    assert!(error.to_string().contains("private key"), "{error}");
}

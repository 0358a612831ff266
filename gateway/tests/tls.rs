//! The gateway's bridge over TLS: with the node's pin, a capture imported through the REST API
//! comes back from it; with another pin every call is a 502 that says why, and nothing is stored.
#![allow(clippy::unwrap_used)]

mod common;

use common::Env;
use spider_backend::client::{ClientTls, ClientTransport};
use spider_backend::TlsSettings;
use spider_tls::SelfSigned;

fn tls_env(dir: &std::path::Path, cert: &SelfSigned, trusted: &SelfSigned) -> Env {
    std::fs::write(dir.join("tls.crt"), &cert.cert_pem).unwrap();
    std::fs::write(dir.join("tls.key"), &cert.key_pem).unwrap();
    Env::start_over(
        TlsSettings {
            cert: Some(dir.join("tls.crt")),
            key: Some(dir.join("tls.key")),
            ..TlsSettings::default()
        },
        ClientTransport::Tls(ClientTls::with_pins(vec![trusted.fingerprint]).unwrap()),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bridge_reaches_a_tls_node_with_its_pin_and_not_with_another() {
    let names = vec!["127.0.0.1".to_owned()];
    let cert = SelfSigned::generate(&names, 30).unwrap();
    let other = SelfSigned::generate(&names, 30).unwrap();
    let dir = tempfile::tempdir().unwrap();

    let env = tls_env(dir.path(), &cert, &cert);
    env.import("http-basic.pcap").await;
    let (status, body) = env.get_json("/api/v1/http?limit=100").await;
    assert_eq!(status, 200, "{body}");
    assert!(!body["items"].as_array().unwrap().is_empty(), "{body}");

    let wrong = tls_env(dir.path(), &cert, &other);
    let (status, body) = wrong.get_json("/api/v1/http?limit=100").await;
    assert_eq!(status, 502, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("not the pinned"), "{body}");
    // The node saw the refused handshake too (counted once the client's alert arrived).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while wrong.node.limits().tls_handshakes_failed == 0 {
        assert!(std::time::Instant::now() < deadline, "not counted");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

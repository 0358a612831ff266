//! The Gocipher over TLS (root, BTF): with the pin of a TLS node's certificate it registers and
//! reports; with another pin it never reaches the node, which counts the refused handshakes. The
//! Gocipher counts an empty cgroup of its own (no network namespace: no traffic is needed).
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{kernel_ready, on_local, TOKEN};
use spider_backend::client::{BackendClient, ClientTls, ClientTransport};
use spider_backend::{BackendConfig, BackendNode, TlsSettings};
use spider_gocipher::{Gocipher, GocipherConfig, Upstream};
use spider_tls::SelfSigned;

/// An empty cgroup `wttls-gocipher-…`, removed on drop.
struct Cgroup(std::path::PathBuf);

impl Drop for Cgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

fn pinned(cert: &SelfSigned) -> ClientTransport {
    ClientTransport::Tls(ClientTls::with_pins(vec![cert.fingerprint]).unwrap())
}

fn registered(node: &BackendNode, trust: &ClientTransport, name: &str) -> bool {
    let (addr, trust, name) = (node.local_addr(), trust.clone(), name.to_owned());
    on_local(async move {
        let client = BackendClient::connect_over(addr, &trust, TOKEN)
            .await
            .unwrap();
        let agents = client.agents().await.unwrap();
        agents.iter().any(|a| a.info.name == name && a.connected)
    })
}

#[test]
fn a_gocipher_registers_with_a_tls_node_by_its_pin_and_not_with_another() {
    if !kernel_ready("a_gocipher_registers_with_a_tls_node_by_its_pin_and_not_with_another") {
        return;
    }
    let cgroup = Cgroup(
        spider_gocipher::cgroup2_mount()
            .unwrap()
            .join(format!("wttls-gocipher-{}", std::process::id())),
    );
    std::fs::create_dir_all(&cgroup.0).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cert = SelfSigned::generate(&["127.0.0.1".to_owned()], 30).unwrap();
    let other = SelfSigned::generate(&["127.0.0.1".to_owned()], 30).unwrap();
    std::fs::write(dir.path().join("tls.crt"), &cert.cert_pem).unwrap();
    std::fs::write(dir.path().join("tls.key"), &cert.key_pem).unwrap();
    let node = BackendNode::start(BackendConfig {
        data_dir: dir.path().join("data"),
        listen: "127.0.0.1:0".parse().unwrap(),
        local_shards: 2,
        admin_token: TOKEN.into(),
        tls: TlsSettings {
            cert: Some(dir.path().join("tls.crt")),
            key: Some(dir.path().join("tls.key")),
            ..TlsSettings::default()
        },
        ..BackendConfig::default()
    })
    .unwrap();
    let start = |name: &str, trust: ClientTransport| {
        let mut config = GocipherConfig::new(name, Upstream::Backend(node.local_addr()), TOKEN);
        config.cgroup = Some(cgroup.0.clone());
        config.status_interval = Duration::from_millis(200);
        config.tls = trust;
        Gocipher::start(config).unwrap()
    };

    let trusted = start("wttls-gocipher-pinned", pinned(&cert));
    let deadline = Instant::now() + Duration::from_secs(20);
    while !registered(&node, &pinned(&cert), "wttls-gocipher-pinned") {
        assert!(
            Instant::now() < deadline,
            "the pinned Gocipher did not register"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    trusted.flush().unwrap();
    assert_eq!(node.limits().tls_handshakes_failed, 0);

    let untrusted = start("wttls-gocipher-wrong-pin", pinned(&other));
    let deadline = Instant::now() + Duration::from_secs(20);
    while node.limits().tls_handshakes_failed == 0 {
        assert!(Instant::now() < deadline, "no refused handshake");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!registered(
        &node,
        &pinned(&cert),
        "wttls-gocipher-wrong-pin"
    ));
    drop(untrusted);
    drop(trusted);
    node.stop();
}

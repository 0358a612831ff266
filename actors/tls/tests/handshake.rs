//! Real TLS handshakes over loopback TCP: which settings connect and which are refused.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use spider_tls::{
    check_plaintext_listener, ClientTls, ClientTransport, Fingerprint, SelfSigned, ServerTls,
    ServerTransport, TlsError,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn names() -> Vec<String> {
    vec!["127.0.0.1".into(), "backend.spider.test".into()]
}

fn server(cert: &SelfSigned) -> ServerTransport {
    ServerTransport::Tls(
        ServerTls::from_pem(cert.cert_pem.as_bytes(), cert.key_pem.as_bytes()).expect("server"),
    )
}

/// Serves one connection: echoes what it reads; answers the accept's outcome.
async fn echo_once(
    transport: ServerTransport,
) -> (SocketAddr, tokio::task::JoinHandle<std::io::Result<()>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await?;
        let mut stream = transport.accept(tcp).await?;
        let mut buffer = [0; 5];
        stream.read_exact(&mut buffer).await?;
        stream.write_all(&buffer).await?;
        stream.flush().await
    });
    (addr, task)
}

async fn round_trip(client: &ClientTransport, addr: SocketAddr) -> Result<Vec<u8>, String> {
    let mut stream = client.connect(addr).await.map_err(|e| e.to_string())?;
    stream
        .write_all(b"hello")
        .await
        .map_err(|e| e.to_string())?;
    let mut buffer = vec![0; 5];
    stream
        .read_exact(&mut buffer)
        .await
        .map_err(|e| e.to_string())?;
    Ok(buffer)
}

#[tokio::test]
async fn pinned_and_ca_verified_clients_connect() {
    let cert = SelfSigned::generate(&names(), 30).expect("cert");
    for client in [
        ClientTls::with_pins(vec![cert.fingerprint]).expect("pin"),
        ClientTls::with_ca_pem(cert.cert_pem.as_bytes()).expect("ca"),
        ClientTls::with_ca_pem(cert.cert_pem.as_bytes())
            .and_then(|tls| tls.server_name("backend.spider.test"))
            .expect("ca with a name"),
    ] {
        let (addr, server_task) = echo_once(server(&cert)).await;
        let answer = round_trip(&ClientTransport::Tls(client.clone()), addr).await;
        assert_eq!(answer.as_deref(), Ok(&b"hello"[..]), "{client:?}");
        server_task.await.expect("join").expect("server side");
    }
}

#[tokio::test]
async fn wrong_trust_is_refused_on_both_sides() {
    let cert = SelfSigned::generate(&names(), 30).expect("cert");
    let other = SelfSigned::generate(&names(), 30).expect("other cert");
    let past = SystemTime::now() - Duration::from_secs(30 * 86_400);
    let expired =
        SelfSigned::generate_valid(&names(), past, past + Duration::from_secs(86_400)).expect("x");
    let cases: Vec<(&str, SelfSigned, ClientTls, &str)> = vec![
        (
            "wrong pin",
            cert.clone(),
            ClientTls::with_pins(vec![other.fingerprint]).expect("pin"),
            "not the pinned",
        ),
        (
            "unknown self-signed certificate",
            cert.clone(),
            ClientTls::with_ca_pem(other.cert_pem.as_bytes()).expect("ca"),
            "UnknownIssuer",
        ),
        (
            "expired certificate",
            expired.clone(),
            ClientTls::with_ca_pem(expired.cert_pem.as_bytes()).expect("ca"),
            "expired",
        ),
        (
            "name not in the certificate",
            cert.clone(),
            ClientTls::with_ca_pem(cert.cert_pem.as_bytes())
                .and_then(|tls| tls.server_name("elsewhere.test"))
                .expect("ca"),
            "not valid for name",
        ),
    ];
    for (case, served, client, expected) in cases {
        let (addr, server_task) = echo_once(server(&served)).await;
        let error = round_trip(&ClientTransport::Tls(client), addr)
            .await
            .expect_err(case);
        assert!(
            error.contains("tls handshake") && error.contains(expected),
            "{case}: {error}"
        );
        assert!(server_task.await.expect("join").is_err(), "{case}: served");
    }
}

#[tokio::test]
async fn plaintext_and_tls_do_not_mix() {
    let cert = SelfSigned::generate(&names(), 30).expect("cert");
    // A plaintext client to a TLS server: the server's handshake fails, nothing is echoed.
    let (addr, server_task) = echo_once(server(&cert)).await;
    let answer = round_trip(&ClientTransport::Plain, addr).await;
    assert_ne!(answer.as_deref(), Ok(&b"hello"[..]), "plaintext was served");
    server_task.await.expect("join").expect_err("accepted");
    // A TLS client to a plaintext server: the handshake fails on the client.
    let (addr, _server_task) = echo_once(ServerTransport::Plain).await;
    let client = ClientTransport::Tls(ClientTls::with_pins(vec![cert.fingerprint]).expect("pin"));
    let error = round_trip(&client, addr).await.expect_err("handshake");
    assert!(error.contains("tls handshake"), "{error}");
}

#[tokio::test]
async fn a_port_check_is_a_silent_close_not_a_refused_handshake() {
    let cert = SelfSigned::generate(&names(), 30).expect("cert");
    let (addr, server_task) = echo_once(server(&cert)).await;
    drop(tokio::net::TcpStream::connect(addr).await.expect("connect"));
    let error = server_task.await.expect("join").expect_err("accepted");
    assert!(spider_tls::is_silent_close(&error), "{error}");
    // A plaintext client that sends something is a refused handshake.
    let (addr, server_task) = echo_once(server(&cert)).await;
    let _ = round_trip(&ClientTransport::Plain, addr).await;
    let error = server_task.await.expect("join").expect_err("accepted");
    assert!(!spider_tls::is_silent_close(&error), "{error}");
}

#[test]
fn plaintext_listeners_stay_on_loopback_unless_allowed() {
    let everywhere: SocketAddr = "0.0.0.0:7070".parse().expect("addr");
    let loopback: SocketAddr = "127.0.0.1:7070".parse().expect("addr");
    let plain = ServerTransport::Plain;
    assert!(matches!(
        check_plaintext_listener(&plain, everywhere, false),
        Err(TlsError::PlaintextNotLoopback { .. })
    ));
    assert!(check_plaintext_listener(&plain, everywhere, true).is_ok());
    assert!(check_plaintext_listener(&plain, loopback, false).is_ok());
    let cert = SelfSigned::generate(&names(), 1).expect("cert");
    assert!(check_plaintext_listener(&server(&cert), everywhere, false).is_ok());
}

#[test]
fn pem_files_load_and_pins_match_openssl_style_digests() {
    let cert = SelfSigned::generate(&names(), 1).expect("cert");
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert_path, key_path) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    std::fs::write(&cert_path, &cert.cert_pem).expect("write");
    std::fs::write(&key_path, &cert.key_pem).expect("write");
    let loaded = ServerTls::from_pem_files(&cert_path, &key_path).expect("load");
    assert_eq!(loaded.fingerprint(), cert.fingerprint);
    assert_eq!(
        Fingerprint::parse(&cert.fingerprint.to_string()).ok(),
        Some(cert.fingerprint)
    );
    // A key file given as the certificate (and the reverse) is refused by name.
    assert!(matches!(
        ServerTls::from_pem_files(&key_path, &key_path),
        Err(TlsError::NoCertificate { .. })
    ));
    assert!(matches!(
        ServerTls::from_pem_files(&cert_path, &cert_path),
        Err(TlsError::NoKey { .. })
    ));
}

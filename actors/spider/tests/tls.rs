//! TLS from the command line: `spider cert` makes a certificate and prints its pin, `spider
//! backend --tls-cert/--tls-key` serves it, a `spider whisperer --tls-pin` with that pin delivers
//! a capture, one with another pin delivers nothing; plaintext listeners off loopback are
//! refused unless allowed.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use spider_backend::client::{BackendClient, ClientTls, ClientTransport, ListRequest};
use spider_tls::Fingerprint;

const TOKEN: &str = "tls-cli-token-0123456789";

fn spider() -> Command {
    Command::new(env!("CARGO_BIN_EXE_spider"))
}

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(name)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `spider backend` process, killed on drop.
struct Backend(std::process::Child);

impl Drop for Backend {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn whisperer(backend: &str, name: &str, pin: &str) -> std::process::Output {
    spider()
        .args([
            "whisperer",
            "--token",
            TOKEN,
            "--backend",
            backend,
            "--name",
            name,
        ])
        .args(["--tls-pin", pin, "--exit-after", "1"])
        .arg("--pcap")
        .arg(testdata("http-basic.pcap"))
        .output()
        .unwrap()
}

#[test]
fn a_certificate_from_spider_cert_serves_tls_and_only_its_pin_delivers() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    let made = spider()
        .args([
            "cert",
            "--name",
            "127.0.0.1",
            "--name",
            "localhost",
            "--cert",
        ])
        .arg(&cert)
        .arg("--key")
        .arg(&key)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let pin = String::from_utf8(made.stdout).unwrap().trim().to_owned();
    let pin_value = Fingerprint::parse(&pin).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // A second run does not overwrite them.
    let again = spider()
        .args(["cert", "--cert"])
        .arg(&cert)
        .arg("--key")
        .arg(&key)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));

    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    let config = dir.path().join("backend.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\nlisten = \"{address}\"\nadmin_token = \"{TOKEN}\"\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let mut child = spider()
        .args(["backend", "--config"])
        .arg(&config)
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let backend = Backend(child);
    let mut said = String::new();
    while !said.contains("listening on") {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "backend ended: {said}"
        );
        said.push_str(&line);
    }
    assert!(said.contains(&format!("certificate pin {pin}")), "{said}");

    let delivered = whisperer(&address, "tls-right-pin", &pin);
    assert!(delivered.status.success(), "{delivered:?}");
    let wrong = Fingerprint::of_der(b"another certificate").to_string();
    let refused = whisperer(&address, "tls-wrong-pin", &wrong);
    assert!(!refused.status.success(), "{refused:?}");
    let refused_err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        refused_err.contains("not everything reached the backend"),
        "{refused_err}"
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let addr = address.parse().unwrap();
    let stored = tokio::task::LocalSet::new().block_on(&runtime, async move {
        let transport = ClientTransport::Tls(ClientTls::with_pins(vec![pin_value]).unwrap());
        let client = BackendClient::connect_over(addr, &transport, TOKEN)
            .await
            .unwrap();
        client
            .http_all(ListRequest {
                from: 0,
                to: i64::MAX,
                limit: 1000,
                ..ListRequest::default()
            })
            .await
            .unwrap()
    });
    assert!(!stored.is_empty());
    assert!(stored
        .iter()
        .all(|(whisperer, _)| whisperer == "tls-right-pin"));
    drop(backend);
}

#[test]
fn plaintext_listeners_off_loopback_are_refused_unless_allowed() {
    let controller = spider()
        .args(["controller", "--backend", "127.0.0.1:9", "--token", TOKEN])
        .args(["--listen", "0.0.0.0:0"])
        .env_remove("SPIDER_INSECURE_PLAINTEXT")
        .output()
        .unwrap();
    assert_eq!(controller.status.code(), Some(1));
    let said = String::from_utf8_lossy(&controller.stderr);
    assert!(said.contains("refusing a plaintext listener"), "{said}");
    assert!(said.contains("--insecure-plaintext"), "{said}");

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("backend.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\nlisten = \"0.0.0.0:0\"\nadmin_token = \"{TOKEN}\"\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let backend = spider()
        .args(["backend", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(backend.status.code(), Some(1));
    let said = String::from_utf8_lossy(&backend.stderr);
    assert!(said.contains("refusing a plaintext listener"), "{said}");
}

//! What several roles' command lines share: addresses, TLS settings, the host's name, waiting
//! for Ctrl-C.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

use anyhow::Context;
use spider_tls::{ClientTls, ClientTransport, Fingerprint, ServerTls, ServerTransport};

/// `HOST:PORT` given as `--FLAG`, resolved to its first address.
pub fn resolve(flag: &str, addr: &str) -> anyhow::Result<SocketAddr> {
    addr.to_socket_addrs()
        .with_context(|| format!("--{flag} {addr}: not a HOST:PORT address"))?
        .next()
        .with_context(|| format!("--{flag} {addr}: the name resolves to no address"))
}

/// This host's name, or `fallback` when it has none.
pub fn host_name(fallback: &str) -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| fallback.to_owned())
}

/// Blocks until the process is asked to stop (SIGINT: Ctrl-C; SIGTERM: `kill`, systemd,
/// Kubernetes).
pub fn wait_for_interrupt() -> anyhow::Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start a runtime")?
        .block_on(stop_signal())
        .context("cannot wait for a signal")
}

/// Resolves when the process gets SIGINT or SIGTERM (an error: the signals cannot be watched).
pub async fn stop_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::select! {
        interrupted = tokio::signal::ctrl_c() => interrupted,
        _ = terminate.recv() => Ok(()),
    }
}

/// Starts the role's telemetry listener (`GET /metrics` with `token`, `GET /healthz`) when
/// `--metrics ADDR` was given; it serves until the returned value is dropped.
pub fn serve_metrics(
    role: &str,
    addr: Option<&str>,
    token: &str,
    source: std::sync::Arc<dyn spider_telemetry::Source>,
) -> anyhow::Result<Option<spider_telemetry::TelemetryServer>> {
    let Some(addr) = addr else {
        return Ok(None);
    };
    let addr = resolve("metrics", addr)?;
    let access = spider_telemetry::Access::tokens([token.to_owned()]);
    let server = spider_telemetry::serve(addr, access, source)
        .with_context(|| format!("the {role}'s metrics listener did not start"))?;
    eprintln!(
        "spider {role}: metrics on http://{}/metrics, health on /healthz",
        server.local_addr()
    );
    Ok(Some(server))
}

/// The token to log in with: given on the command line (or in `SPIDER_TOKEN`), or read from a
/// file (e.g. `DIR/admin.token` of `spider up`).
pub fn token(token: Option<&str>, file: Option<&std::path::Path>) -> anyhow::Result<String> {
    use anyhow::Context;
    match (token, file) {
        (Some(token), _) => Ok(token.to_owned()),
        (None, Some(path)) => Ok(std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the token file {}", path.display()))?
            .trim()
            .to_owned()),
        (None, None) => anyhow::bail!("a token is needed: --token, --token-file or SPIDER_TOKEN"),
    }
}

/// How a role verifies the backend or Controller it connects to (TLS); none of them: plain TCP.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ClientTlsArgs {
    /// Connect with TLS, trusting the certificates this CA file (PEM) signed; the server's
    /// certificate must name the host given in the address (or --tls-server-name).
    #[arg(
        long,
        env = "SPIDER_TLS_CA",
        value_name = "FILE",
        conflicts_with = "tls_pin"
    )]
    pub tls_ca: Option<PathBuf>,
    /// Connect with TLS, trusting exactly the certificate with this SHA-256 fingerprint
    /// (`sha256:HEX`, as `spider cert` prints it; repeat or separate with commas for several).
    #[arg(
        long,
        env = "SPIDER_TLS_PIN",
        value_name = "sha256:HEX",
        value_delimiter = ','
    )]
    pub tls_pin: Vec<String>,
    /// The name the server's certificate must have, when the address is not that name (an IP
    /// address is checked against the certificate's IP entries otherwise).
    #[arg(long, env = "SPIDER_TLS_SERVER_NAME", value_name = "NAME")]
    pub tls_server_name: Option<String>,
}

impl ClientTlsArgs {
    /// The transport towards `target` (`HOST:PORT` as given on the command line).
    pub fn transport(&self, target: &str) -> anyhow::Result<ClientTransport> {
        let tls = match (&self.tls_ca, self.tls_pin.as_slice()) {
            (Some(ca), _) => ClientTls::with_ca_file(ca)?,
            (None, []) => {
                anyhow::ensure!(
                    self.tls_server_name.is_none(),
                    "--tls-server-name needs --tls-ca (or --tls-pin)"
                );
                return Ok(ClientTransport::Plain);
            }
            (None, pins) => ClientTls::with_pins(
                pins.iter()
                    .map(|pin| Fingerprint::parse(pin))
                    .collect::<Result<_, _>>()?,
            )?,
        };
        let tls = match &self.tls_server_name {
            Some(name) => tls.server_name(name)?,
            None => tls.server_name_from_target(target)?,
        };
        Ok(ClientTransport::Tls(tls))
    }
}

/// A listener's TLS: a certificate and key, or plaintext (loopback unless allowed).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServerTlsArgs {
    /// The listener's certificate chain (PEM); with --tls-key, it speaks only TLS.
    #[arg(
        long,
        env = "SPIDER_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(
        long,
        env = "SPIDER_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
    /// Allow a plaintext listener on an address other than loopback (anyone on the network can
    /// then read and forge what crosses it).
    #[arg(long, env = "SPIDER_INSECURE_PLAINTEXT")]
    pub insecure_plaintext: bool,
}

impl ServerTlsArgs {
    /// The listener's transport, checked against the address it listens on.
    pub fn transport(&self, listen: SocketAddr) -> anyhow::Result<ServerTransport> {
        let transport = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => ServerTransport::Tls(ServerTls::from_pem_files(cert, key)?),
            _ => ServerTransport::Plain,
        };
        spider_tls::check_plaintext_listener(&transport, listen, self.insecure_plaintext).map_err(
            |error| anyhow::anyhow!("{error} (--tls-cert/--tls-key or --insecure-plaintext)"),
        )?;
        Ok(transport)
    }
}

//! What several roles' command lines share: addresses, the host's name, waiting for Ctrl-C.

use std::net::{SocketAddr, ToSocketAddrs};

use anyhow::Context;

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

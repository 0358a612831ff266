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

/// Blocks until the process is interrupted (Ctrl-C, SIGINT).
pub fn wait_for_interrupt() -> anyhow::Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start a runtime")?
        .block_on(tokio::signal::ctrl_c())
        .context("cannot wait for a signal")
}

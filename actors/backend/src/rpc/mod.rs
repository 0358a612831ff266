//! The node's Cap'n Proto RPC: a listener whose bootstrap capability is `Auth`.
//!
//! RPC objects are not `Send`: they live on this thread's `LocalSet` and forward work to the
//! actors through their addresses.

mod access;
mod agents;
mod auth;
mod copy;
mod counted;
mod identities;
mod ingest;
mod paging;
mod peers;
mod query;
mod refused;
mod shard_map;

pub use refused::STORAGE_FULL;

use capnp_rpc::rpc_twoparty_capnp::Side;
use capnp_rpc::{twoparty, RpcSystem};
use futures::AsyncReadExt;
use spider_rpc_schema::auth_capnp::auth as auth_schema;
use spider_tls::ServerTransport;
use tokio::net::TcpListener;
use tokio_util::compat::TokioAsyncReadCompatExt;

use crate::client::ClientTransport;
use crate::limits::LimitCounters;
use crate::registry::Registry;
use crate::router::Router;

/// Accepts connections until the listener fails; each gets its own RPC system.
pub(crate) async fn serve(
    listener: TcpListener,
    settings: ListenerSettings,
    router: Router,
    registry: Registry,
    admin_token: String,
    peer_transport: ClientTransport,
    identities: spider_identity::IdentityStore,
) {
    let peers = peers::Peers::new(admin_token.clone(), peer_transport);
    if router.placement.is_some() {
        tokio::task::spawn_local(copy::follow_moves(router.clone(), peers.clone()));
    }
    let bootstrap: auth_schema::Client =
        capnp_rpc::new_client(auth::Auth::new(router, registry, identities, peers));
    serve_connections(listener, settings, bootstrap.client).await;
}

/// How a Cap'n Proto listener takes its connections: plain TCP or TLS, messages read with
/// `spider_rpc_schema::limits::reader_options` (size and traversal limits), refusals counted.
#[derive(Debug, Clone, Default)]
pub struct ListenerSettings {
    pub transport: ServerTransport,
    pub counters: LimitCounters,
}

/// Accepts Cap'n Proto connections on `listener` (on this thread's `LocalSet`), each with its
/// own RPC system whose bootstrap capability is `bootstrap` (an `Auth`, by convention). A TLS
/// handshake runs in the connection's own task, so a slow client holds up no other.
pub async fn serve_connections(
    listener: TcpListener,
    settings: ListenerSettings,
    bootstrap: capnp::capability::Client,
) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "accepting an rpc connection failed");
                continue;
            }
        };
        let settings = settings.clone();
        let bootstrap = bootstrap.clone();
        crate::stats::RPC_CONNECTIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tokio::task::spawn_local(async move {
            let stream = match settings.transport.accept(stream).await {
                Ok(stream) => stream,
                Err(error) if spider_tls::is_silent_close(&error) => {
                    tracing::debug!(%peer, "closed before the tls handshake (a port check)");
                    return;
                }
                Err(error) => {
                    settings.counters.tls_handshake_failed();
                    tracing::warn!(%peer, %error, "tls handshake failed: connection refused");
                    return;
                }
            };
            let (reader, writer) = stream.compat().split();
            let network = twoparty::VatNetwork::new(
                futures::io::BufReader::new(reader),
                futures::io::BufWriter::new(writer),
                Side::Server,
                spider_rpc_schema::limits::reader_options(),
            );
            let network = counted::Counted {
                inner: network,
                counters: settings.counters,
                peer,
            };
            let system = RpcSystem::new(Box::new(network), Some(bootstrap));
            if let Err(error) = system.await {
                crate::stats::RPC_CONNECTION_ERRORS
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::debug!(%peer, %error, "rpc connection ended");
            }
        });
    }
}

/// A capnp error from any displayable error.
pub(crate) fn failed(error: impl std::fmt::Display) -> capnp::Error {
    capnp::Error::failed(error.to_string())
}

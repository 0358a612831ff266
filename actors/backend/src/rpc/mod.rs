//! The node's Cap'n Proto RPC: a listener whose bootstrap capability is `Auth`.
//!
//! RPC objects are not `Send`: they live on this thread's `LocalSet` and forward work to the
//! actors through their addresses.

mod access;
mod agents;
mod auth;
mod identities;
mod ingest;
mod paging;
mod peers;
mod query;
mod shard_map;

use capnp_rpc::rpc_twoparty_capnp::Side;
use capnp_rpc::{twoparty, RpcSystem};
use futures::AsyncReadExt;
use spider_rpc_schema::auth_capnp::auth as auth_schema;
use tokio::net::TcpListener;
use tokio_util::compat::TokioAsyncReadCompatExt;

use crate::registry::Registry;
use crate::router::Router;

/// Accepts connections until the listener fails; each gets its own RPC system.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    registry: Registry,
    admin_token: String,
    identities: spider_identity::IdentityStore,
) {
    let peers = peers::Peers::new(admin_token);
    let bootstrap: auth_schema::Client =
        capnp_rpc::new_client(auth::Auth::new(router, registry, identities, peers));
    serve_connections(listener, bootstrap.client).await;
}

/// Accepts Cap'n Proto connections on `listener` (on this thread's `LocalSet`), each with its
/// own RPC system whose bootstrap capability is `bootstrap` (an `Auth`, by convention).
pub async fn serve_connections(listener: TcpListener, bootstrap: capnp::capability::Client) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "accepting an rpc connection failed");
                continue;
            }
        };
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "cannot set nodelay");
        }
        let (reader, writer) = stream.compat().split();
        let network = twoparty::VatNetwork::new(
            futures::io::BufReader::new(reader),
            futures::io::BufWriter::new(writer),
            Side::Server,
            Default::default(),
        );
        let system = RpcSystem::new(Box::new(network), Some(bootstrap.clone()));
        tokio::task::spawn_local(async move {
            if let Err(error) = system.await {
                tracing::debug!(%peer, %error, "rpc connection ended");
            }
        });
    }
}

/// A capnp error from any displayable error.
pub(crate) fn failed(error: impl std::fmt::Display) -> capnp::Error {
    capnp::Error::failed(error.to_string())
}

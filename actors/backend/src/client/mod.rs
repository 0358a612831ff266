//! A client of a backend node's Cap'n Proto API, for agents, tools and tests.
//!
//! Cap'n Proto clients are not `Send`: use it on a `tokio::task::LocalSet`. Methods are grouped
//! by capability: `ingest` (pushes and acknowledgements), `query` (the query service), `agents`
//! (registration, status, settings).

mod agents;
mod cluster;
mod controller;
mod identities;
mod ingest_push;
mod query;

pub use agents::{AgentControl, Registration};
pub use cluster::{ClusterAnswer, ClusterClient, ShardMapView};
pub use controller::{
    CommandServer, ControllerCommands, ControllerHandle, Inventories, InventoryPush,
};
pub use identities::{refresh, sign_in, sign_out, IdentityAdmin, UserTokens, WhoAmI};
pub use ingest_push::{Ack, CapturePush, DropCounters, UsagePush};
pub use query::{
    Export, ExportTarget, HttpPage, MapEdge, MapNode, NetworkMap, Page, TimelineBucket,
    UsageGrouping, UsageRequest, UsageRow,
};

use std::net::SocketAddr;

pub use spider_tls::{ClientTls, ClientTransport, Fingerprint};

use capnp_rpc::rpc_twoparty_capnp::Side;
use capnp_rpc::{twoparty, RpcSystem};
use futures::AsyncReadExt;
use spider_rpc_schema::agent_capnp::agent_registry;
use spider_rpc_schema::auth_capnp::{auth, session};
use spider_rpc_schema::ingest_capnp::ingest;
use spider_rpc_schema::query_capnp::{query_service, record_query};
use spider_rpc_schema::SchemaError;
use tokio_util::compat::TokioAsyncReadCompatExt;

/// Why a call to the backend failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Tls(spider_tls::TlsError),
    #[error(
        "{addr} closed the connection before login ({source}): does it expect TLS \
         (--tls-ca or --tls-pin), or plaintext?"
    )]
    Closed {
        addr: SocketAddr,
        source: capnp::Error,
    },
    #[error("rpc: {0}")]
    Rpc(#[from] capnp::Error),
    #[error("schema: {0}")]
    Schema(#[from] SchemaError),
    #[error("a batch holds more items than a message can")]
    TooLarge,
    #[error("the backend sent text that is not UTF-8")]
    Utf8(#[from] std::str::Utf8Error),
}

/// The parameters of a listing query (HTTP exchanges, TCP sessions).
#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    pub from: i64,
    pub to: i64,
    pub whisperers: Vec<String>,
    pub q: Option<String>,
    pub limit: u32,
    pub cursor: Option<Vec<u8>>,
}

/// A logged-in connection.
pub struct BackendClient {
    auth: auth::Client,
    session: session::Client,
    ingest: ingest::Client,
    query: query_service::Client,
    registry: agent_registry::Client,
}

impl std::fmt::Debug for BackendClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BackendClient")
    }
}

fn fill(mut query: record_query::Builder<'_>, request: &ListRequest) -> Result<(), ClientError> {
    let mut range = query.reborrow().init_range();
    range.set_from(request.from);
    range.set_to(request.to);
    let mut whisperers = query
        .reborrow()
        .init_whisperers(len_u32(request.whisperers.len())?);
    for (index, whisperer) in (0..).zip(&request.whisperers) {
        whisperers.set(index, whisperer);
    }
    if let Some(q) = &request.q {
        query.set_q(q);
    }
    query.set_limit(request.limit);
    if let Some(cursor) = &request.cursor {
        query.set_cursor(cursor);
    }
    Ok(())
}

pub(crate) fn len_u32(len: usize) -> Result<u32, ClientError> {
    u32::try_from(len).map_err(|_| ClientError::TooLarge)
}

impl BackendClient {
    /// Connects over plain TCP and logs in with `token`.
    pub async fn connect(addr: SocketAddr, token: &str) -> Result<Self, ClientError> {
        Self::connect_over(addr, &ClientTransport::Plain, token).await
    }

    /// Connects over `transport` (plain TCP, or TLS verifying the server) and logs in.
    pub async fn connect_over(
        addr: SocketAddr,
        transport: &ClientTransport,
        token: &str,
    ) -> Result<Self, ClientError> {
        let stream = transport.connect(addr).await.map_err(|error| match error {
            spider_tls::TlsError::Connect { addr, source } => ClientError::Connect { addr, source },
            other => ClientError::Tls(other),
        })?;
        let (reader, writer) = stream.compat().split();
        let network = Box::new(twoparty::VatNetwork::new(
            futures::io::BufReader::new(reader),
            futures::io::BufWriter::new(writer),
            Side::Client,
            Default::default(),
        ));
        let mut system = RpcSystem::new(network, None);
        let auth: auth::Client = system.bootstrap(Side::Server);
        tokio::task::spawn_local(system);
        Self::login_at(auth, token, Some(addr)).await
    }

    /// Logs in with `token` on a connection already open (its bootstrap `auth`): a gateway
    /// opens one session per caller on its one connection. The token may be the admin token, an
    /// agent's or API token, or a user's access token. Fails when the login is refused; a
    /// capability the identity may not use fails at its first call ("permission denied").
    pub async fn login(auth: auth::Client, token: &str) -> Result<Self, ClientError> {
        Self::login_at(auth, token, None).await
    }

    /// [`BackendClient::login`] on a connection just made to `addr`.
    async fn login_at(
        auth: auth::Client,
        token: &str,
        addr: Option<SocketAddr>,
    ) -> Result<Self, ClientError> {
        let mut login = auth.login_request();
        login.get().init_credential().set_admin_token(token);
        let session = match login.send().promise.await {
            Ok(reply) => reply.get()?.get_session()?,
            // Refused logins are `Failed` with the server's reason; anything else before a
            // session is a transport that does not match (TLS against plaintext).
            Err(source) => {
                return Err(match addr {
                    Some(addr) if source.kind != capnp::ErrorKind::Failed => {
                        ClientError::Closed { addr, source }
                    }
                    _ => ClientError::Rpc(source),
                })
            }
        };
        let ingest = session.ingest_request().send().pipeline.get_ingest();
        let query = session.query_request().send().pipeline.get_query();
        let registry = session.agents_request().send().pipeline.get_registry();
        Ok(Self {
            auth,
            session,
            ingest,
            query,
            registry,
        })
    }
}

impl BackendClient {
    /// The backend's bootstrap `Auth` on this connection (for a Controller that checks its
    /// agents' credentials with the backend).
    pub fn auth(&self) -> auth::Client {
        self.auth.clone()
    }

    /// The ingest capability itself (a node passing batches on to a follower; tools and tests
    /// that send messages the typed methods cannot build).
    pub fn ingest_capability(&self) -> ingest::Client {
        self.ingest.clone()
    }
}

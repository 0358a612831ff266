//! A client of a backend node's Cap'n Proto API, for agents, tools and tests.
//!
//! Cap'n Proto clients are not `Send`: use it on a `tokio::task::LocalSet`.

use std::net::SocketAddr;

use capnp_rpc::rpc_twoparty_capnp::Side;
use capnp_rpc::{twoparty, RpcSystem};
use futures::AsyncReadExt;
use spider_model::{HostRecord, HttpExchange, PacketRecord, TcpSessionRecord};
use spider_rpc_schema::auth_capnp::auth;
use spider_rpc_schema::ingest_capnp::ingest;
use spider_rpc_schema::query_capnp::record_query;
use spider_rpc_schema::query_capnp::{byte_sink, query_service};
use spider_rpc_schema::{
    read_host, read_http, read_tcp_session, write_frame, write_tcp_session, SchemaError,
};
use tokio_util::compat::TokioAsyncReadCompatExt;

/// Why a call to the backend failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        source: std::io::Error,
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

/// One capture batch to push: frames and session updates of one virtual shard.
#[derive(Debug, Clone, Copy)]
pub struct CapturePush<'a> {
    pub agent: &'a str,
    pub incarnation: u64,
    pub sequence: u64,
    pub shard: u16,
    pub whisperer: &'a str,
    pub frames: &'a [PacketRecord],
    pub sessions: &'a [TcpSessionRecord],
}

/// What one shard holds durably from one sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    pub agent: String,
    pub incarnation: u64,
    pub shard: u16,
    pub sequence: u64,
}

/// A page of HTTP exchanges, each with its Whisperer.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpPage {
    pub items: Vec<(String, HttpExchange)>,
    pub next: Option<Vec<u8>>,
    pub missing_shards: Vec<u16>,
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

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    pub pcapng: Vec<u8>,
    pub packets: u64,
    pub truncated: bool,
}

/// Collects the chunks of an export.
struct Collect(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

impl byte_sink::Server for Collect {
    async fn write(
        self: std::rc::Rc<Self>,
        params: byte_sink::WriteParams,
    ) -> Result<(), capnp::Error> {
        self.0
            .borrow_mut()
            .extend_from_slice(params.get()?.get_chunk()?);
        Ok(())
    }
}

/// One timeline bucket: its start, and HTTP exchanges by status class (none, 1xx … 5xx).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimelineBucket {
    pub start: i64,
    pub count: u64,
    pub by_class: [u64; 6],
}

/// A logged-in connection.
pub struct BackendClient {
    ingest: ingest::Client,
    query: query_service::Client,
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

fn len_u32(len: usize) -> Result<u32, ClientError> {
    u32::try_from(len).map_err(|_| ClientError::TooLarge)
}

impl BackendClient {
    /// Connects and logs in with `token`.
    pub async fn connect(addr: SocketAddr, token: &str) -> Result<Self, ClientError> {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|source| ClientError::Connect { addr, source })?;
        let _nodelay = stream.set_nodelay(true);
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
        let mut login = auth.login_request();
        login.get().init_credential().set_admin_token(token);
        let session = login.send().promise.await?.get()?.get_session()?;
        let ingest = session
            .ingest_request()
            .send()
            .promise
            .await?
            .get()?
            .get_ingest()?;
        let query = session
            .query_request()
            .send()
            .promise
            .await?
            .get()?
            .get_query()?;
        Ok(Self { ingest, query })
    }

    /// Pushes one batch; it returns once the batch is durably stored.
    pub async fn push_capture(&self, push: CapturePush<'_>) -> Result<(), ClientError> {
        let mut request = self.ingest.push_capture_request();
        let mut batch = request.get().init_batch();
        let mut id = batch.reborrow().init_id();
        id.set_agent(push.agent);
        id.set_incarnation(push.incarnation);
        id.set_sequence(push.sequence);
        batch.set_shard(push.shard);
        batch.set_whisperer(push.whisperer);
        let mut frames = batch.reborrow().init_frames(len_u32(push.frames.len())?);
        for (index, frame) in (0..).zip(push.frames) {
            write_frame(frames.reborrow().get(index), frame)?;
        }
        let mut sessions = batch.init_sessions(len_u32(push.sessions.len())?);
        for (index, session) in (0..).zip(push.sessions) {
            write_tcp_session(sessions.reborrow().get(index), session)?;
        }
        request.send().await?;
        Ok(())
    }

    /// Waits for every push before it and returns what is durably stored.
    pub async fn flush(&self) -> Result<Vec<Ack>, ClientError> {
        let reply = self.ingest.flush_request().send().promise.await?;
        let mut acks = Vec::new();
        for ack in reply.get()?.get_acked()? {
            acks.push(Ack {
                agent: ack.get_agent()?.to_str()?.to_owned(),
                incarnation: ack.get_incarnation(),
                shard: ack.get_shard(),
                sequence: ack.get_sequence(),
            });
        }
        Ok(acks)
    }

    /// One page of HTTP exchanges, newest first.
    pub async fn http(&self, request: &ListRequest) -> Result<HttpPage, ClientError> {
        let mut call = self.query.http_request();
        fill(call.get().init_query(), request)?;
        let reply = call.send().promise.await?;
        let page = reply.get()?.get_page()?;
        let mut items = Vec::new();
        for item in page.get_items()? {
            let whisperer = item.get_whisperer()?.to_str()?.to_owned();
            items.push((whisperer, read_http(item)?));
        }
        Ok(HttpPage {
            items,
            next: page
                .has_next()
                .then(|| page.get_next().map(<[u8]>::to_vec))
                .transpose()?,
            missing_shards: page.get_missing_shards()?.iter().collect(),
        })
    }

    /// Every TCP session of a query, newest first, each with its Whisperer.
    pub async fn sessions_all(
        &self,
        mut request: ListRequest,
    ) -> Result<Vec<(String, TcpSessionRecord)>, ClientError> {
        let mut items = Vec::new();
        loop {
            let mut call = self.query.sessions_request();
            fill(call.get().init_query(), &request)?;
            let reply = call.send().promise.await?;
            let page = reply.get()?.get_page()?;
            for item in page.get_items()? {
                let whisperer = item.get_whisperer()?.to_str()?.to_owned();
                items.push((whisperer, read_tcp_session(item)?));
            }
            if !page.has_next() {
                return Ok(items);
            }
            request.cursor = Some(page.get_next()?.to_vec());
        }
    }

    /// Every page of an HTTP query.
    pub async fn http_all(
        &self,
        mut request: ListRequest,
    ) -> Result<Vec<(String, HttpExchange)>, ClientError> {
        let mut items = Vec::new();
        loop {
            let page = self.http(&request).await?;
            items.extend(page.items);
            match page.next {
                Some(next) => request.cursor = Some(next),
                None => return Ok(items),
            }
        }
    }

    /// The packets of one session as a pcapng file.
    pub async fn export_session(
        &self,
        whisperer: &str,
        session_id: u64,
    ) -> Result<Export, ClientError> {
        let bytes = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let mut call = self.query.export_pcapng_request();
        let mut session = call.get().init_request().init_session();
        session.set_whisperer(whisperer);
        session.set_session_id(session_id);
        call.get()
            .set_sink(capnp_rpc::new_client(Collect(bytes.clone())));
        let reply = call.send().promise.await?;
        let summary = reply.get()?.get_summary()?;
        let pcapng = bytes.borrow().clone();
        Ok(Export {
            pcapng,
            packets: summary.get_packets(),
            truncated: summary.get_truncated(),
        })
    }

    /// HTTP exchanges over `request`'s range in `buckets` equal buckets, by status class.
    pub async fn http_timeline(
        &self,
        request: &ListRequest,
        buckets: u32,
    ) -> Result<Vec<TimelineBucket>, ClientError> {
        let mut call = self.query.timeline_request();
        fill(call.get().init_query(), request)?;
        call.get()
            .set_kind(spider_rpc_schema::query_capnp::RecordKind::Http);
        call.get().set_buckets(buckets);
        let reply = call.send().promise.await?;
        let mut out = Vec::new();
        for bucket in reply.get()?.get_timeline()?.get_buckets()? {
            let status = bucket.get_by_status()?;
            out.push(TimelineBucket {
                start: bucket.get_start(),
                count: bucket.get_count(),
                by_class: [
                    status.get_no_response(),
                    status.get_informational(),
                    status.get_success(),
                    status.get_redirection(),
                    status.get_client_error(),
                    status.get_server_error(),
                ],
            });
        }
        Ok(out)
    }

    /// Host names known in `request`'s range (its whisperers and cursor are not used).
    pub async fn hosts(&self, request: &ListRequest) -> Result<Vec<HostRecord>, ClientError> {
        let mut call = self.query.hosts_request();
        fill(call.get().init_query(), request)?;
        let reply = call.send().promise.await?;
        let mut out = Vec::new();
        for host in reply.get()?.get_page()?.get_items()? {
            out.push(read_host(host)?);
        }
        Ok(out)
    }
}

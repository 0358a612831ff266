//! The query service: listings (one page, or every page), the timeline, the network map, usage,
//! and pcapng exports.

use std::cell::RefCell;
use std::net::IpAddr;
use std::rc::Rc;

use spider_model::{
    DnsRecord, HostRecord, HttpExchange, PacketRecord, TcpSessionRecord, WorkloadRef,
};
use spider_rpc_schema::query_capnp::{byte_sink, usage_group, UsageGrouping as WireGrouping};
use spider_rpc_schema::{
    read_dns, read_host, read_http, read_ip, read_packet, read_tcp_session, read_workload_ref,
};

use super::{fill, BackendClient, ClientError, ListRequest};

/// One page of a listing: its items, the cursor of the next page (`None`: the last), and the
/// virtual shards that did not answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Vec<u8>>,
    pub missing_shards: Vec<u16>,
}

/// A page of HTTP exchanges, each with its Whisperer.
pub type HttpPage = Page<(String, HttpExchange)>;

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    pub pcapng: Vec<u8>,
    pub packets: u64,
    pub truncated: bool,
}

/// What to export.
#[derive(Debug, Clone)]
pub enum ExportTarget {
    /// Every packet of one session.
    Session { whisperer: String, session_id: u64 },
    /// Without `q`: every packet of the range; with `q` (HTTP): the packets of the sessions of
    /// the exchanges it finds.
    Query(ListRequest),
}

/// Collects the chunks of an export.
struct Collect(Rc<RefCell<Vec<u8>>>);

impl byte_sink::Server for Collect {
    async fn write(self: Rc<Self>, params: byte_sink::WriteParams) -> Result<(), capnp::Error> {
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

/// A host of the network map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapNode {
    pub ip: IpAddr,
    pub names: Vec<String>,
    pub requests_out: u64,
    pub requests_in: u64,
}

/// Who calls whom over HTTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapEdge {
    pub client: IpAddr,
    pub server: IpAddr,
    pub requests: u64,
    pub client_errors: u64,
    pub server_errors: u64,
    pub no_response: u64,
    /// Sum and count of request-start-to-response-end durations (mean = sum / count).
    pub latency_sum_ns: u64,
    pub latency_samples: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkMap {
    pub nodes: Vec<MapNode>,
    pub edges: Vec<MapEdge>,
    pub missing_shards: Vec<u16>,
}

/// How usage rows are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageGrouping {
    /// One row per direction of each (bucket, src IP, dst IP, protocol, port).
    Connection,
    /// By src and dst IP, over ports and protocols.
    Ip,
    Workload,
    Namespace,
    Pod,
    Node,
}

#[derive(Debug, Clone)]
pub struct UsageRequest {
    pub from: i64,
    pub to: i64,
    pub grouping: UsageGrouping,
    /// Bucket width in ns, whole minutes; 0: a minute.
    pub bucket: i64,
    pub limit: u32,
    pub cursor: Option<Vec<u8>>,
}

/// One row of grouped usage: labels are addresses, Kubernetes names or address classes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    pub bucket: i64,
    pub src: String,
    pub dst: String,
    pub src_workload: Option<WorkloadRef>,
    pub dst_workload: Option<WorkloadRef>,
    pub proto: Option<String>,
    pub port: Option<u16>,
    pub bytes: u64,
    pub messages: u64,
    pub wire_bytes: u64,
    pub packets: u64,
}

fn read_group(
    group: usage_group::Reader<'_>,
) -> Result<(String, Option<WorkloadRef>), ClientError> {
    let label = group.get_label()?.to_str()?.to_owned();
    let workload = if group.has_workload() {
        Some(read_workload_ref(group.get_workload()?)?)
    } else {
        None
    };
    Ok((label, workload))
}

macro_rules! read_page {
    ($page:expr, |$item:ident| $read:expr) => {{
        let page = $page;
        let mut items = Vec::new();
        for $item in page.get_items()? {
            items.push($read);
        }
        Page {
            items,
            next: page
                .has_next()
                .then(|| page.get_next().map(<[u8]>::to_vec))
                .transpose()?,
            missing_shards: page.get_missing_shards()?.iter().collect(),
        }
    }};
}

impl BackendClient {
    /// One page of HTTP exchanges, newest first.
    pub async fn http(&self, request: &ListRequest) -> Result<HttpPage, ClientError> {
        let mut call = self.query.http_request();
        fill(call.get().init_query(), request)?;
        let reply = call.send().promise.await?;
        Ok(read_page!(reply.get()?.get_page()?, |item| (
            item.get_whisperer()?.to_str()?.to_owned(),
            read_http(item)?
        )))
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

    /// One page of TCP sessions, newest first, each with its Whisperer.
    pub async fn sessions(
        &self,
        request: &ListRequest,
    ) -> Result<Page<(String, TcpSessionRecord)>, ClientError> {
        let mut call = self.query.sessions_request();
        fill(call.get().init_query(), request)?;
        let reply = call.send().promise.await?;
        Ok(read_page!(reply.get()?.get_page()?, |item| (
            item.get_whisperer()?.to_str()?.to_owned(),
            read_tcp_session(item)?
        )))
    }

    /// Every TCP session of a query, newest first, each with its Whisperer.
    pub async fn sessions_all(
        &self,
        mut request: ListRequest,
    ) -> Result<Vec<(String, TcpSessionRecord)>, ClientError> {
        let mut items = Vec::new();
        loop {
            let page = self.sessions(&request).await?;
            items.extend(page.items);
            match page.next {
                Some(next) => request.cursor = Some(next),
                None => return Ok(items),
            }
        }
    }

    /// One page of packets of a range, newest first (`q` must be empty).
    pub async fn packets(&self, request: &ListRequest) -> Result<Page<PacketRecord>, ClientError> {
        let mut call = self.query.packets_request();
        fill(call.get().init_query(), request)?;
        let reply = call.send().promise.await?;
        Ok(read_page!(reply.get()?.get_page()?, |item| read_packet(
            item
        )?))
    }

    /// One page of DNS answers, newest first; `q` may name one DNS name.
    pub async fn dns(
        &self,
        request: &ListRequest,
    ) -> Result<Page<(String, DnsRecord)>, ClientError> {
        let mut call = self.query.dns_request();
        fill(call.get().init_query(), request)?;
        let reply = call.send().promise.await?;
        Ok(read_page!(reply.get()?.get_page()?, |item| (
            item.get_whisperer()?.to_str()?.to_owned(),
            read_dns(item)?
        )))
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

    /// The HTTP network map of a query.
    pub async fn network_map(&self, request: &ListRequest) -> Result<NetworkMap, ClientError> {
        let mut call = self.query.network_map_request();
        fill(call.get().init_query(), request)?;
        let reply = call.send().promise.await?;
        let map = reply.get()?.get_map()?;
        let mut out = NetworkMap {
            missing_shards: map.get_missing_shards()?.iter().collect(),
            ..NetworkMap::default()
        };
        for node in map.get_nodes()? {
            let mut names = Vec::new();
            for name in node.get_names()? {
                names.push(name?.to_str()?.to_owned());
            }
            out.nodes.push(MapNode {
                ip: read_ip("map.node.ip", node.get_ip()?)?,
                names,
                requests_out: node.get_requests_out(),
                requests_in: node.get_requests_in(),
            });
        }
        for edge in map.get_edges()? {
            let latency = edge.get_latency()?;
            out.edges.push(MapEdge {
                client: read_ip("map.edge.client", edge.get_client()?)?,
                server: read_ip("map.edge.server", edge.get_server()?)?,
                requests: edge.get_requests(),
                client_errors: edge.get_client_errors(),
                server_errors: edge.get_server_errors(),
                no_response: edge.get_no_response(),
                latency_sum_ns: latency.get_sum_ns(),
                latency_samples: latency.get_samples(),
            });
        }
        Ok(out)
    }

    /// One page of grouped usage rows, and the cursor of the next.
    pub async fn usage(
        &self,
        request: &UsageRequest,
    ) -> Result<(Vec<UsageRow>, Option<Vec<u8>>), ClientError> {
        let mut call = self.query.usage_request();
        let mut query = call.get().init_query();
        let mut range = query.reborrow().init_range();
        range.set_from(request.from);
        range.set_to(request.to);
        query.set_group_by(match request.grouping {
            UsageGrouping::Connection => WireGrouping::None,
            UsageGrouping::Ip => WireGrouping::Ip,
            UsageGrouping::Workload => WireGrouping::Workload,
            UsageGrouping::Namespace => WireGrouping::Namespace,
            UsageGrouping::Pod => WireGrouping::Pod,
            UsageGrouping::Node => WireGrouping::Node,
        });
        query.set_bucket(request.bucket);
        query.set_limit(request.limit);
        if let Some(cursor) = &request.cursor {
            query.set_cursor(cursor);
        }
        let reply = call.send().promise.await?;
        let table = reply.get()?.get_table()?;
        let mut rows = Vec::new();
        for row in table.get_rows()? {
            let (src, src_workload) = read_group(row.get_src()?)?;
            let (dst, dst_workload) = read_group(row.get_dst()?)?;
            rows.push(UsageRow {
                bucket: row.get_bucket(),
                src,
                dst,
                src_workload,
                dst_workload,
                proto: row
                    .has_proto()
                    .then(|| row.get_proto().map(|p| p.to_str().map(str::to_owned)))
                    .transpose()?
                    .transpose()?,
                port: (row.get_port() != 0).then(|| row.get_port()),
                bytes: row.get_bytes(),
                messages: row.get_messages(),
                wire_bytes: row.get_wire_bytes(),
                packets: row.get_packets(),
            });
        }
        let next = table
            .has_next()
            .then(|| table.get_next().map(<[u8]>::to_vec))
            .transpose()?;
        Ok((rows, next))
    }

    /// The packets of a session or a query as a pcapng file (`max_bytes` 0: the server's limit).
    pub async fn export(
        &self,
        target: &ExportTarget,
        max_bytes: u64,
    ) -> Result<Export, ClientError> {
        let bytes = Rc::new(RefCell::new(Vec::new()));
        let mut call = self.query.export_pcapng_request();
        let mut request = call.get().init_request();
        request.set_max_bytes(max_bytes);
        match target {
            ExportTarget::Session {
                whisperer,
                session_id,
            } => {
                let mut session = request.init_session();
                session.set_whisperer(whisperer);
                session.set_session_id(*session_id);
            }
            ExportTarget::Query(list) => fill(request.init_query(), list)?,
        }
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

    /// The packets of one session as a pcapng file.
    pub async fn export_session(
        &self,
        whisperer: &str,
        session_id: u64,
    ) -> Result<Export, ClientError> {
        let target = ExportTarget::Session {
            whisperer: whisperer.to_owned(),
            session_id,
        };
        self.export(&target, 0).await
    }
}

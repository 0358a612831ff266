# The query API: one interface for every reader of Spider's data.
#
# Each backend node serves QueryService for the shards it owns; the gateway serves the same interface
# for the whole cluster: it fans a query out to every node, merges the answers by time, and lists in
# `missingShards` the shards whose node did not answer in time (the answer is then partial, not an
# error). The REST API and integrations in other languages use the gateway's.
#
# Paging: results come newest first by default, `limit` items at a time. A page's `next` is an opaque
# cursor (null: no more); pass it back, with the same query otherwise, for the following page. Cursors
# are only meaningful to the server that issued them (the gateway's encodes one position per shard).

@0xbc658690a28a8afe;

using Records = import "records.capnp";
using Agent = import "agent.capnp";
using Inventory = import "inventory.capnp";

struct TimeRange {
  from @0 :Int64;
  # Inclusive, epoch ns.

  to @1 :Int64;
  # Exclusive, epoch ns.
}

struct RecordQuery {
  # Which records a query is about; shared by every record kind.

  range @0 :TimeRange;
  # Required. Records whose time (HTTP: timing.requestStart; sessions: any overlap of
  # [firstPacket, lastPacket]; packets and DNS: time; hosts: any overlap of [firstSeen, lastSeen])
  # falls in it.

  whisperers @1 :List(Text);
  # Only these Whisperers; empty: all.

  q @2 :Text;
  # A filter in Spider's query language, parsed by the server (the REST `q` parameter); null or empty:
  # everything. A syntax error fails the call.

  limit @3 :UInt32;
  # Items per page at most; 0: the server's default. Servers cap it.

  cursor @4 :Data;
  # Null for the first page; else the `next` of the previous page.

  newestFirst @5 :Bool = true;
  # Order by time, newest first (true) or oldest first (false).

  shards @6 :List(UInt16);
  # Only these virtual shards; empty: every shard the server serves. The gateway uses it to address
  # nodes; a session's shard is known from its (whisperer, id).
}

struct HttpPage {
  items @0 :List(Records.HttpExchange);
  # `whisperer` set on each.

  next @1 :Data;
  # Cursor of the next page; null when there are no more.

  missingShards @2 :List(UInt16);
  # Shards that did not answer: the page may lack their records.
}

struct TcpSessionPage {
  items @0 :List(Records.TcpSessionRecord);
  next @1 :Data;
  missingShards @2 :List(UInt16);
}

struct PacketPage {
  items @0 :List(Records.PacketRecord);
  next @1 :Data;
  missingShards @2 :List(UInt16);
}

struct HostPage {
  items @0 :List(Records.HostRecord);
  # One per (whisperer, ip, name, source), [firstSeen, lastSeen] widened over every shard.

  next @1 :Data;
  missingShards @2 :List(UInt16);
}

struct DnsPage {
  items @0 :List(Records.DnsRecord);
  next @1 :Data;
  missingShards @2 :List(UInt16);
}

enum RecordKind {
  http @0;
  tcpSession @1;
  packet @2;
  dns @3;
}

struct StatusCounts {
  # HTTP exchanges by status class.

  noResponse @0 :UInt64;
  informational @1 :UInt64;
  # 1xx final status (rare: 101 Switching Protocols).
  success @2 :UInt64;
  # 2xx
  redirection @3 :UInt64;
  # 3xx
  clientError @4 :UInt64;
  # 4xx
  serverError @5 :UInt64;
  # 5xx
}

struct TimelineBucket {
  start @0 :Int64;
  # Bucket i covers [range.from + i·w, range.from + (i+1)·w), w = ceil((to − from) / buckets), cut
  # at `to` (a bucket starting at or after `to` is empty): every server computes the same bounds, so
  # buckets merge by index.

  count @1 :UInt64;
  # Matching records in the bucket.

  byStatus @2 :StatusCounts;
  # For kind http: `count` split by status class; null for other kinds.

  bytes @3 :UInt64;
  # packet: captured wire bytes; tcpSession: payload bytes of sessions starting in the bucket; http:
  # request and response body wire bytes; dns: 0.
}

struct Timeline {
  buckets @0 :List(TimelineBucket);
  # In time order, `buckets` entries.

  missingShards @1 :List(UInt16);
}

struct LatencyHistogram {
  # Durations (HTTP: request start to response end), mergeable across shards by adding.

  counts @0 :List(UInt64);
  # counts[i]: durations d (ns) with floor(log2(max(d, 1))) == i; trailing zero buckets may be left
  # out, so the list has at most 64 entries.

  sumNs @1 :UInt64;
  maxNs @2 :UInt64;

  samples @3 :UInt64;
  # How many durations sumNs adds up (the mean is sumNs / samples). A server that keeps only sums
  # leaves counts empty and maxNs 0.
}

struct MapNode {
  ip @0 :Data;

  names @1 :List(Text);
  # Host names known for it (HostRecord), best first.

  workload @2 :Records.WorkloadRef;
  # Kubernetes names, when the inventory knows the IP; null otherwise.

  requestsOut @3 :UInt64;
  # Requests it sent, as a client.

  requestsIn @4 :UInt64;
  # Requests it received, as a server.
}

struct MapEdge {
  # Who calls whom: one (client IP, server IP, server port, protocol).

  client @0 :Data;
  server @1 :Data;
  serverPort @2 :UInt16;

  protocol @3 :Text;
  # `http` when exchanges were parsed, else `tcp`.

  sessions @4 :UInt64;
  # TCP sessions started in the range.

  requests @5 :UInt64;
  # HTTP exchanges.

  clientErrors @6 :UInt64;
  # Exchanges with a 4xx status.

  serverErrors @7 :UInt64;
  # Exchanges with a 5xx status.

  noResponse @8 :UInt64;
  # Exchanges without a response.

  bytes @9 :UInt64;
  # TCP payload bytes, both directions.

  latency @10 :LatencyHistogram;
  # Of the exchanges with a response.
}

struct NetworkMap {
  nodes @0 :List(MapNode);
  # One per IP appearing in `edges`.

  edges @1 :List(MapEdge);
  missingShards @2 :List(UInt16);
}

enum UsageGrouping {
  none @0;
  # Raw records: one per direction of each (minute, src, dst, proto, port).

  ip @1;
  # By src and dst IP (sums over ports and protocols).

  workload @2;
  # By namespace and parent workload (NLS view).

  namespace @3;
  # By namespace.

  pod @4;
  # By node, namespace and pod (NPS view).

  node @5;
  # By node.
}

struct UsageQuery {
  range @0 :TimeRange;
  # Required: usage buckets whose start falls in it.

  groupBy @1 :UsageGrouping;

  q @2 :Text;
  # Filter in the query language; null or empty: everything.

  bucket @3 :Int64;
  # Time bucket of the rows in ns, a multiple of a minute; 0: one minute. Ignored for `none`.

  reporters @4 :List(Text);
  # Only these Controllers or hosts; empty: all.

  limit @5 :UInt32;
  cursor @6 :Data;
  shards @7 :List(UInt16);
}

struct UsageGroup {
  # One end of a grouped usage row: the fields of the grouping are set, the others null.

  ip @0 :Data;
  workload @1 :Records.WorkloadRef;

  label @2 :Text;
  # The group's name at the grouping: an address (ip), `namespace`, `namespace/workload`,
  # `namespace/pod`, a node, or the class of addresses without one (`external`, `node`,
  # `internal_unidentified`).
}

struct UsageRow {
  bucket @0 :Int64;
  # Start of the time bucket.

  src @1 :UsageGroup;
  dst @2 :UsageGroup;
  bytes @3 :UInt64;
  messages @4 :UInt64;
  wireBytes @5 :UInt64;
  packets @6 :UInt64;

  proto @7 :Text;
  # `tcp` or `udp`, with grouping ip; null otherwise.

  port @8 :UInt16;
  # The server port, with grouping ip; 0 otherwise.
}

struct UsageTable {
  records @0 :List(Records.UsageRecord);
  # With groupBy none: the records, counters of equal keys added up.

  rows @1 :List(UsageRow);
  # With any other grouping.

  next @2 :Data;
  missingShards @3 :List(UInt16);
}

interface ByteSink {
  # Served by the caller of a streaming export.

  write @0 (chunk :Data) -> stream;
  # The next bytes of the output, in order.
}

struct SessionRef {
  whisperer @0 :Text;
  sessionId @1 :UInt64;
}

struct ExportRequest {
  union {
    query @0 :RecordQuery;
    # Without `q`: every packet of the range (and whisperers). With `q` (an HTTP query): every
    # packet of the sessions of the exchanges it finds (at most `limit` exchanges per shard;
    # 0: 10000).

    session @1 :SessionRef;
    # Every packet of one session or flow (one shard: shard_of(whisperer, sessionId)).
  }

  maxBytes @2 :UInt64;
  # Stop after this many bytes of output; 0: the server's limit.
}

struct ExportSummary {
  packets @0 :UInt64;
  bytes @1 :UInt64;
  # Bytes written to the sink.

  truncated @2 :Bool;
  # The output stopped at a limit before the last matching packet.

  missingShards @3 :List(UInt16);
}

struct AgentList {
  agents @0 :List(Agent.AgentSummary);
  missingShards @1 :List(UInt16);
  # Empty: agents are known by the registry, not by shards (kept for uniformity).
}

struct InventoryList {
  clusters @0 :List(Inventory.InventoryUpdate);
  # The current inventory of each Controller, each as a snapshot.

  missingShards @1 :List(UInt16);
}

interface QueryService {
  # Obtained from Session.query (roles `admin`, `reader`).

  http @0 (query :RecordQuery) -> (page :HttpPage);
  sessions @1 (query :RecordQuery) -> (page :TcpSessionPage);
  packets @2 (query :RecordQuery) -> (page :PacketPage);
  hosts @3 (query :RecordQuery) -> (page :HostPage);

  timeline @4 (query :RecordQuery, kind :RecordKind, buckets :UInt32) -> (timeline :Timeline);
  # Counts over time, `buckets` equal buckets over query.range (limit and cursor ignored).

  networkMap @5 (query :RecordQuery) -> (map :NetworkMap);
  # Who calls whom in query.range (limit bounds the edges, busiest first; cursor ignored).

  usage @6 (query :UsageQuery) -> (table :UsageTable);

  exportPcapng @7 (request :ExportRequest, sink :ByteSink) -> (summary :ExportSummary);
  # Writes a pcapng file (one interface block per (whisperer, interface)) to `sink`, in time order,
  # and returns when it is all written.

  agents @8 () -> (list :AgentList);
  # The agents and their status.

  dns @9 (query :RecordQuery) -> (page :DnsPage);

  inventory @10 () -> (list :InventoryList);
  # The Kubernetes inventories the Controllers sent.
}

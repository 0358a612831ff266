# Spider's records on the wire: the Cap'n Proto form of the `spider-model` types.
#
# Every record kind of the model has one struct here, with the same name and the same fields, so that
# ingest batches, query results and integrations all carry the one shape. The Rust conversions
# (`spider_rpc_schema::write_*` / `read_*`) map them to the model and back, losslessly.
#
# Conventions of every Spider schema file:
# - Times are epoch nanoseconds in an Int64; durations are nanoseconds in an Int64.
# - An IP address is a Data of 4 octets (IPv4) or 16 octets (IPv6), in network byte order. Any other
#   length is invalid and rejected by readers.
# - An optional Text, Data, struct or list is absent when its pointer is null. An empty Text is present
#   (the HTTP `Host: ` header with no value is "" and differs from no `Host` header, which is null).
#   Required Text fields read as "" when null (Cap'n Proto's default).
# - An optional number or enum is a named union `{ none :Void; value :T }`; `none` is the default.
# - Names are lowerCamelCase versions of the model's snake_case field names.
# - Schemas evolve by adding fields (and union members) only: never renumber, retype, remove or change
#   the meaning of a field. Readers ignore fields they do not know; a reader meets a field it knows
#   but an older writer did not set as its default value.
# - A `whisperer` field on a record is null inside an ingest batch (the batch names the Whisperer once)
#   and set in query results, where records of several Whisperers mix.

@0xd55cb0afe0911380;

struct Endpoint {
  # One end of a conversation.

  ip @0 :Data;
  # 4 or 16 octets (see the conventions above).

  port @1 :UInt16;
  # The transport port; 0 for protocols without ports.
}

struct NameValue {
  # A name and a value, kept in their order of appearance: HTTP headers (exactly as on the wire,
  # names not case-folded) and decoded query parameters.

  name @0 :Text;
  value @1 :Text;
}

# ---------------------------------------------------------------------------------------------------
# HTTP

enum ParseState {
  # How complete the parse of an exchange is.

  ok @0;
  # Request and final response parsed whole.

  warning @1;
  # Parsed, with something odd noted in `warnings` (a body cut by the bound, an undecodable encoding).

  incomplete @2;
  # Some of the exchange was lost (capture gap, connection closed early, no response).

  error @3;
  # The bytes could not be parsed as HTTP past some point.
}

struct HttpTiming {
  # Request and response timestamps of one exchange (epoch ns).

  requestStart @0 :Int64;
  # The first byte of the request.

  requestEnd :union {
    # The last byte of the request, when it was seen.
    none @1 :Void;
    value @2 :Int64;
  }

  responseStart :union {
    # The first byte of the final response, when one was seen.
    none @3 :Void;
    value @4 :Int64;
  }

  responseEnd :union {
    # The last byte of the final response, when it was seen.
    none @5 :Void;
    value @6 :Int64;
  }
}

struct BodyCapture {
  # What was seen of one HTTP message body.

  announcedLength :union {
    # The `Content-Length` the message announced, if any.
    none @0 :Void;
    value @1 :UInt64;
  }

  wireLength @2 :UInt64;
  # Body bytes seen on the wire (after de-chunking, before content decoding).

  decodedLength @3 :UInt64;
  # Body bytes after content decoding (gzip, deflate, br); equal to `wireLength` without encoding.

  contentType @4 :Text;
  # The `Content-Type` header value; null when absent.

  contentEncoding @5 :Text;
  # The `Content-Encoding` header value; null when absent.

  data :union {
    # The decoded body, up to the configured bound.

    none @6 :Void;
    # No body, or none was kept.

    text @7 :Text;
    # The kept bytes, valid UTF-8 (the model's `BodyData::Utf8`).

    binary @8 :Data;
    # The kept bytes, raw (the model's `BodyData::Base64`: the model shows them as base64 text, the
    # wire carries the bytes themselves).
  }

  truncated @9 :Bool;
  # True when `data` holds less than `decodedLength`, because of the bound or of capture loss.
}

struct HttpExchange {
  # One HTTP/1.x request with its final response, if one was seen.

  sessionId @0 :UInt64;
  # The TCP session it travelled on (the Whisperer's session id; see TcpSessionRecord.id).

  index @1 :UInt32;
  # Position of the exchange in its session, from 0. (whisperer, sessionId, index) is its identity.

  client @2 :Endpoint;
  # Required.

  server @3 :Endpoint;
  # Required.

  method @4 :Text;
  # The request method as sent (`GET`, `POST`, …).

  host @5 :Text;
  # The `Host` header verbatim, port included; null when the request had no `Host` header.

  uri @6 :Text;
  # The request-line target as sent (not decoded).

  path @7 :Text;
  # The path part of `uri`, percent-decoded.

  query @8 :List(NameValue);
  # Decoded query parameters, in order.

  version @9 :Text;
  # `HTTP/1.0` or `HTTP/1.1`.

  status :union {
    # The final status (not a 1xx interim one); none when no response was seen.
    none @10 :Void;
    value @11 :UInt16;
  }

  reason @12 :Text;
  # The reason phrase of the final response; null when no response was seen.

  requestHeaders @13 :List(NameValue);
  responseHeaders @14 :List(NameValue);

  requestBody @15 :BodyCapture;
  # Required (a request without a body has one with zero lengths).

  responseBody @16 :BodyCapture;
  # Null when no response was seen.

  interimStatuses @17 :List(UInt16);
  # Status codes of interim 1xx responses before the final one.

  timing @18 :HttpTiming;
  # Required.

  state @19 :ParseState;
  warnings @20 :List(Text);
  # Human-readable notes about the parse (lowercase).

  whisperer @21 :Text;
  # The Whisperer that captured it: null in ingest, set in query results.
}

# ---------------------------------------------------------------------------------------------------
# TCP sessions

enum TcpState {
  # The state of a TCP session as seen from the capture point.

  synSent @0;
  # A SYN was seen, no SYN-ACK yet.

  synReceived @1;
  # SYN-ACK seen, the handshake's last ACK not yet.

  established @2;

  finWait @3;
  # One side has sent FIN.

  closed @4;
  # Both sides have sent FIN (the last ACK may or may not have been seen).

  reset @5;
  # A RST ended it.
}

enum CloseReason {
  # Why the Whisperer's tracker closed a session.

  fin @0;
  rst @1;
  idleTimeout @2;

  portReuse @3;
  # A new SYN on the same 4-tuple started another session.

  captureEnd @4;
  # The capture ended (or the tracker was flushed) while the session was open.

  evicted @5;
  # The tracker's session limit evicted it.
}

struct DirectionStats {
  # Counters for one direction of a session.

  packets @0 :UInt64;

  bytes @1 :UInt64;
  # TCP payload bytes, retransmissions included.

  retransmissions @2 :UInt64;
  # Segments whose payload had been seen already (whole or in part).

  outOfOrder @3 :UInt64;
  # Segments that arrived before a gap in front of them was filled.

  lostBytes @4 :UInt64;
  # Payload bytes never seen (capture or network loss).
}

struct TcpSessionRecord {
  # One TCP session as the Whisperer identifies it. Whisperers send it again whenever it changes; the
  # latest update (highest `lastPacket`, then the later batch) replaces the earlier ones.

  id @0 :UInt64;
  # The session id, unique per Whisperer: (whisperer, id) identifies the session system-wide.

  client @1 :Endpoint;
  # Required: the side that sent the SYN (or, without one, the side judged to be the client).

  server @2 :Endpoint;
  # Required.

  state @3 :TcpState;

  closeReason :union {
    # Why it was closed; none while it is open.
    none @4 :Void;
    value @5 :CloseReason;
  }

  missedSyn @6 :Bool;
  # True when the capture did not see this session's SYN (it began before the capture).

  firstPacket @7 :Int64;
  lastPacket @8 :Int64;

  connectedAt :union {
    # When the handshake completed, if it was seen.
    none @9 :Void;
    value @10 :Int64;
  }

  handshakeRtt :union {
    # SYN to SYN-ACK in ns, as seen at the capture point.
    none @11 :Void;
    value @12 :Int64;
  }

  clientToServer @13 :DirectionStats;
  serverToClient @14 :DirectionStats;

  whisperer @15 :Text;
  # Null in ingest, set in query results.
}

# ---------------------------------------------------------------------------------------------------
# Hosts and DNS

enum HostSource {
  # Where a host name was learnt.

  dns @0;
  # A DNS response's A/AAAA answer (after following CNAMEs: `name` is the name asked for).

  sni @1;
  # The server name of a TLS ClientHello sent to `ip`.

  http @2;
  # The `Host` header of an HTTP request sent to `ip` (port removed).

  kubernetes @3;
  # A name the Controller gave for `ip` from the Kubernetes inventory (asked by a Whisperer).
}

struct HostRecord {
  # An IP address and a name it is known by. (whisperer, ip, name, source) is its identity: a later
  # record for it widens [firstSeen, lastSeen].

  ip @0 :Data;
  name @1 :Text;
  source @2 :HostSource;
  firstSeen @3 :Int64;
  lastSeen @4 :Int64;

  whisperer @5 :Text;
  # Null in ingest, set in query results.
}

struct DnsAnswer {
  # One resource record of a DNS answer section.

  name @0 :Text;

  recordType @1 :Text;
  # `A`, `AAAA`, `CNAME`, … or `TYPE<n>` (the model's `type`).

  ttl @2 :UInt32;

  data @3 :Text;
  # The data in presentation form: an address, a name, or hex for other types.
}

struct DnsRecord {
  # One DNS response, with the question it answers.

  time @0 :Int64;
  # When the response was captured.

  client @1 :Endpoint;
  # Required.

  server @2 :Endpoint;
  # Required.

  id @3 :UInt16;
  # The transaction id.

  name @4 :Text;
  # The name asked for.

  queryType @5 :Text;
  # The question type (`A`, `AAAA`, `CNAME`, … or `TYPE<n>`; the model's `type`).

  answers @6 :List(DnsAnswer);

  rcode @7 :Text;
  # The response code (`NOERROR`, `NXDOMAIN`, `SERVFAIL`, … or `RCODE<n>`).

  latency :union {
    # Request-to-response latency in ns, when the request was seen.
    none @8 :Void;
    value @9 :Int64;
  }

  whisperer @10 :Text;
  # Null in ingest, set in query results.
}

# ---------------------------------------------------------------------------------------------------
# Packets

struct PacketRecord {
  # One captured frame, as a Whisperer sends it and a shard stores it.

  time @0 :Int64;
  # Capture time.

  interface @1 :UInt32;
  # The capture interface's index at the Whisperer (see agent.capnp CaptureInterface.index).

  linkType @2 :UInt16;
  # The LINKTYPE_* of `frame` (1 Ethernet, 113 Linux SLL, 276 SLL2, 101 raw IP, …).

  wireLen @3 :UInt32;
  # Length on the wire (`frame` may be shorter: snap length).

  fromClient @4 :Bool;
  # True when sent by the session's client (false: by its server; for flows, by the second side).

  sessionId @5 :UInt64;
  # The TCP session id, or the flow id for other protocols (the Whisperer's tracker decides). All
  # frames of one session go to the same shard: see ingest.capnp.

  frame @6 :Data;
  # The captured bytes, starting at the link-layer header.

  whisperer @7 :Text;
  # The Whisperer that captured it. Null inside a CaptureBatch (which names it once), set in query
  # results.
}

# ---------------------------------------------------------------------------------------------------
# Network usage

struct WorkloadRef {
  # Kubernetes names of one end of a usage record, when a Controller enriched it. Each field is null
  # when unknown.

  namespace @0 :Text;

  kind @1 :Text;
  # `Deployment`, `DaemonSet`, `StatefulSet`, `CronJob`, `Job`, `Pod`, or a class for IPs that are
  # not pods: `node`, `external`, `internal_unidentified`.

  workload @2 :Text;
  # The parent workload's name.

  pod @3 :Text;
  node @4 :Text;
}

struct UsageRecord {
  # One direction (src → dst) of one (minute, src, dst, proto, server port): payload bytes and send
  # calls counted at the sender's socket, wire bytes and packets from cgroup_skb. Counters of records
  # with the same key add up (storage merges them; so does the gateway across shards).

  minute @0 :Int64;
  # Start of the bucket (a minute by default).

  src @1 :Data;
  # The sender's IP address.

  dst @2 :Data;
  # The receiver's IP address.

  proto @3 :Text;
  # `tcp` or `udp`.

  port @4 :UInt16;
  # The server's port.

  bytes @5 :UInt64;
  # Payload bytes, counted at the sender's socket.

  messages @6 :UInt64;
  # Send calls, counted at the sender's socket.

  wireBytes @7 :UInt64;
  packets @8 :UInt64;

  reporter @9 :Text;
  # The Controller or host that reported it.

  receiveSide @10 :Bool;
  # True when counted at the receiver because the sender is not monitored.

  srcWorkload @11 :WorkloadRef;
  # Null without enrichment.

  dstWorkload @12 :WorkloadRef;
  # Null without enrichment.

  pid :union {
    # Process of the sender, when the sender is local (host mode).
    none @13 :Void;
    value @14 :UInt32;
  }

  command @15 :Text;
  # The sender process's command name (host mode); null when unknown.

  container @16 :Text;
  # The sender's container (host mode); null when unknown.
}

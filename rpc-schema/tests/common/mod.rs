//! Message encoding helpers and proptest strategies for the model records.

#![allow(dead_code)]

use std::net::IpAddr;

use capnp::message::{Builder, ReaderOptions};
use capnp::traits::Owned;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use spider_model::{
    BodyCapture, BodyData, CloseReason, DirectionStats, DnsAnswer, DnsRecord, Endpoint, HostRecord,
    HostSource, HttpExchange, HttpTiming, PacketRecord, ParseState, TcpSessionRecord, TcpState,
    UsageRecord, WorkloadRef,
};
use spider_rpc_schema::SchemaError;

/// A message whose root is an `O`, filled by `write`, as bytes (`write_message_to_words`).
pub fn encode<O: Owned>(
    write: impl for<'a> FnOnce(O::Builder<'a>) -> Result<(), SchemaError>,
) -> Vec<u8> {
    let mut message = Builder::new_default();
    write(message.init_root::<O::Builder<'_>>()).expect("the record fits the schema");
    capnp::serialize::write_message_to_words(&message)
}

/// Reads the root `O` of a message in `bytes` with `read`.
pub fn decode<O: Owned, T>(
    bytes: &[u8],
    read: impl for<'a> FnOnce(O::Reader<'a>) -> Result<T, SchemaError>,
) -> Result<T, SchemaError> {
    let message =
        capnp::serialize::read_message_from_flat_slice(&mut &bytes[..], ReaderOptions::new())?;
    let root = message.get_root::<O::Reader<'_>>()?;
    read(root)
}

fn text() -> impl Strategy<Value = String> {
    any::<String>()
}

fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(IpAddr::from),
        any::<[u8; 16]>().prop_map(IpAddr::from),
    ]
}

fn endpoint() -> impl Strategy<Value = Endpoint> {
    (ip(), any::<u16>()).prop_map(|(ip, port)| Endpoint::new(ip, port))
}

fn pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    vec((text(), text()), 0..4)
}

fn body_data() -> impl Strategy<Value = BodyData> {
    prop_oneof![
        text().prop_map(BodyData::Utf8),
        // 0xff never occurs in UTF-8: always binary.
        vec(any::<u8>(), 0..40).prop_map(|mut bytes| {
            bytes.insert(0, 0xff);
            BodyData::from_bytes(&bytes)
        }),
    ]
}

fn body() -> impl Strategy<Value = BodyCapture> {
    (
        option::of(any::<u64>()),
        any::<u64>(),
        any::<u64>(),
        option::of(text()),
        option::of(text()),
        option::of(body_data()),
        any::<bool>(),
    )
        .prop_map(
            |(
                announced_length,
                wire_length,
                decoded_length,
                content_type,
                content_encoding,
                data,
                truncated,
            )| {
                BodyCapture {
                    announced_length,
                    wire_length,
                    decoded_length,
                    content_type,
                    content_encoding,
                    data,
                    truncated,
                }
            },
        )
}

fn timing() -> impl Strategy<Value = HttpTiming> {
    (
        any::<i64>(),
        option::of(any::<i64>()),
        option::of(any::<i64>()),
        option::of(any::<i64>()),
    )
        .prop_map(
            |(request_start, request_end, response_start, response_end)| HttpTiming {
                request_start,
                request_end,
                response_start,
                response_end,
            },
        )
}

fn parse_state() -> impl Strategy<Value = ParseState> {
    prop_oneof![
        Just(ParseState::Ok),
        Just(ParseState::Warning),
        Just(ParseState::Incomplete),
        Just(ParseState::Error),
    ]
}

pub fn http() -> impl Strategy<Value = HttpExchange> {
    let request = (
        any::<u64>(),
        any::<u32>(),
        endpoint(),
        endpoint(),
        text(),
        option::of(text()),
        text(),
        text(),
        pairs(),
        text(),
    );
    let response = (
        option::of(any::<u16>()),
        option::of(text()),
        pairs(),
        pairs(),
        body(),
        option::of(body()),
        vec(any::<u16>(), 0..3),
        timing(),
        parse_state(),
        vec(text(), 0..3),
    );
    (request, response).prop_map(
        |(
            (session_id, index, client, server, method, host, uri, path, query, version),
            (
                status,
                reason,
                request_headers,
                response_headers,
                request_body,
                response_body,
                interim_statuses,
                timing,
                state,
                warnings,
            ),
        )| HttpExchange {
            session_id,
            index,
            client,
            server,
            method,
            host,
            uri,
            path,
            query,
            version,
            status,
            reason,
            request_headers,
            response_headers,
            request_body,
            response_body,
            interim_statuses,
            timing,
            state,
            warnings,
        },
    )
}

fn direction_stats() -> impl Strategy<Value = DirectionStats> {
    any::<[u64; 5]>().prop_map(
        |[packets, bytes, retransmissions, out_of_order, lost_bytes]| DirectionStats {
            packets,
            bytes,
            retransmissions,
            out_of_order,
            lost_bytes,
        },
    )
}

pub fn tcp_session() -> impl Strategy<Value = TcpSessionRecord> {
    let state = prop_oneof![
        Just(TcpState::SynSent),
        Just(TcpState::SynReceived),
        Just(TcpState::Established),
        Just(TcpState::FinWait),
        Just(TcpState::Closed),
        Just(TcpState::Reset),
    ];
    let reason = prop_oneof![
        Just(CloseReason::Fin),
        Just(CloseReason::Rst),
        Just(CloseReason::IdleTimeout),
        Just(CloseReason::PortReuse),
        Just(CloseReason::CaptureEnd),
        Just(CloseReason::Evicted),
    ];
    (
        (
            any::<u64>(),
            endpoint(),
            endpoint(),
            state,
            option::of(reason),
        ),
        (any::<bool>(), any::<i64>(), any::<i64>()),
        (option::of(any::<i64>()), option::of(any::<i64>())),
        (direction_stats(), direction_stats()),
    )
        .prop_map(
            |(
                (id, client, server, state, close_reason),
                (missed_syn, first_packet, last_packet),
                (connected_at, handshake_rtt_ns),
                (client_to_server, server_to_client),
            )| TcpSessionRecord {
                id,
                client,
                server,
                state,
                close_reason,
                missed_syn,
                first_packet,
                last_packet,
                connected_at,
                handshake_rtt_ns,
                client_to_server,
                server_to_client,
            },
        )
}

pub fn host() -> impl Strategy<Value = HostRecord> {
    let source = prop_oneof![
        Just(HostSource::Dns),
        Just(HostSource::Sni),
        Just(HostSource::Http),
        Just(HostSource::Kubernetes)
    ];
    (ip(), text(), source, any::<i64>(), any::<i64>()).prop_map(
        |(ip, name, source, first_seen, last_seen)| HostRecord {
            ip,
            name,
            source,
            first_seen,
            last_seen,
        },
    )
}

pub fn dns() -> impl Strategy<Value = DnsRecord> {
    let answer =
        (text(), text(), any::<u32>(), text()).prop_map(|(name, record_type, ttl, data)| {
            DnsAnswer {
                name,
                record_type,
                ttl,
                data,
            }
        });
    (
        (any::<i64>(), endpoint(), endpoint(), any::<u16>()),
        (
            text(),
            text(),
            vec(answer, 0..4),
            text(),
            option::of(any::<i64>()),
        ),
    )
        .prop_map(
            |((time, client, server, id), (name, query_type, answers, rcode, latency_ns))| {
                DnsRecord {
                    time,
                    client,
                    server,
                    id,
                    name,
                    query_type,
                    answers,
                    rcode,
                    latency_ns,
                }
            },
        )
}

pub fn packet() -> impl Strategy<Value = PacketRecord> {
    (
        text(),
        any::<u64>(),
        any::<i64>(),
        any::<u32>(),
        any::<u16>(),
        any::<u32>(),
        any::<bool>(),
        vec(any::<u8>(), 0..128),
    )
        .prop_map(
            |(whisperer, session_id, time, interface, link_type, wire_len, from_client, frame)| {
                PacketRecord {
                    whisperer,
                    session_id,
                    time,
                    interface,
                    link_type,
                    wire_len,
                    from_client,
                    frame,
                }
            },
        )
}

fn workload_ref() -> impl Strategy<Value = WorkloadRef> {
    (
        option::of(text()),
        option::of(text()),
        option::of(text()),
        option::of(text()),
        option::of(text()),
    )
        .prop_map(|(namespace, kind, workload, pod, node)| WorkloadRef {
            namespace,
            kind,
            workload,
            pod,
            node,
        })
}

pub fn usage() -> impl Strategy<Value = UsageRecord> {
    (
        (any::<i64>(), ip(), ip(), text(), any::<u16>()),
        any::<[u64; 4]>(),
        (text(), any::<bool>()),
        (option::of(workload_ref()), option::of(workload_ref())),
        (
            option::of(any::<u32>()),
            option::of(text()),
            option::of(text()),
        ),
    )
        .prop_map(
            |(
                (minute, src, dst, proto, port),
                [bytes, messages, wire_bytes, packets],
                (reporter, receive_side),
                (src_workload, dst_workload),
                (pid, command, container),
            )| UsageRecord {
                minute,
                src,
                dst,
                proto,
                port,
                bytes,
                messages,
                wire_bytes,
                packets,
                reporter,
                receive_side,
                src_workload,
                dst_workload,
                pid,
                command,
                container,
            },
        )
}

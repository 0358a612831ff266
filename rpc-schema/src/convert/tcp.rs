//! `TcpSessionRecord` ↔ `records.capnp` `TcpSessionRecord`.

use spider_model::{CloseReason, DirectionStats, TcpSessionRecord, TcpState};

use crate::schema::records_capnp::{
    direction_stats, tcp_session_record, CloseReason as WireReason, TcpState as WireState,
};
use crate::wire::{optional, read_option, read_required_endpoint, write_endpoint};
use crate::SchemaError;

/// Writes `session` into `builder` (its `whisperer` is left null: set it for query results).
pub fn write_tcp_session(
    mut builder: tcp_session_record::Builder<'_>,
    session: &TcpSessionRecord,
) -> Result<(), SchemaError> {
    builder.set_id(session.id);
    write_endpoint(builder.reborrow().init_client(), &session.client);
    write_endpoint(builder.reborrow().init_server(), &session.server);
    builder.set_state(state_to_wire(session.state));
    if let Some(reason) = session.close_reason {
        builder
            .reborrow()
            .init_close_reason()
            .set_value(reason_to_wire(reason));
    }
    builder.set_missed_syn(session.missed_syn);
    builder.set_first_packet(session.first_packet);
    builder.set_last_packet(session.last_packet);
    if let Some(at) = session.connected_at {
        builder.reborrow().init_connected_at().set_value(at);
    }
    if let Some(rtt) = session.handshake_rtt_ns {
        builder.reborrow().init_handshake_rtt().set_value(rtt);
    }
    write_stats(
        builder.reborrow().init_client_to_server(),
        &session.client_to_server,
    );
    write_stats(
        builder.reborrow().init_server_to_client(),
        &session.server_to_client,
    );
    Ok(())
}

/// Reads a session; the `whisperer` field, when set, is read separately (`reader.get_whisperer()`).
pub fn read_tcp_session(
    reader: tcp_session_record::Reader<'_>,
) -> Result<TcpSessionRecord, SchemaError> {
    let close_reason = read_option!(
        "tcp_session.close_reason",
        reader.get_close_reason(),
        tcp_session_record::close_reason
    )
    .map(|reason| reason.map_err(SchemaError::not_in_schema("tcp_session.close_reason")))
    .transpose()?
    .map(reason_from_wire);
    Ok(TcpSessionRecord {
        id: reader.get_id(),
        client: read_required_endpoint(
            "tcp_session.client",
            reader.has_client(),
            reader.get_client(),
        )?,
        server: read_required_endpoint(
            "tcp_session.server",
            reader.has_server(),
            reader.get_server(),
        )?,
        state: state_from_wire(
            reader
                .get_state()
                .map_err(SchemaError::not_in_schema("tcp_session.state"))?,
        ),
        close_reason,
        missed_syn: reader.get_missed_syn(),
        first_packet: reader.get_first_packet(),
        last_packet: reader.get_last_packet(),
        connected_at: read_option!(
            "tcp_session.connected_at",
            reader.get_connected_at(),
            tcp_session_record::connected_at
        ),
        handshake_rtt_ns: read_option!(
            "tcp_session.handshake_rtt_ns",
            reader.get_handshake_rtt(),
            tcp_session_record::handshake_rtt
        ),
        client_to_server: read_stats(
            "tcp_session.client_to_server",
            reader.has_client_to_server(),
            reader.get_client_to_server(),
        )?,
        server_to_client: read_stats(
            "tcp_session.server_to_client",
            reader.has_server_to_client(),
            reader.get_server_to_client(),
        )?,
    })
}

fn write_stats(mut builder: direction_stats::Builder<'_>, stats: &DirectionStats) {
    builder.set_packets(stats.packets);
    builder.set_bytes(stats.bytes);
    builder.set_retransmissions(stats.retransmissions);
    builder.set_out_of_order(stats.out_of_order);
    builder.set_lost_bytes(stats.lost_bytes);
}

/// Null stats read as zeros (Cap'n Proto's default for an absent struct).
fn read_stats(
    field: &'static str,
    present: bool,
    reader: capnp::Result<direction_stats::Reader<'_>>,
) -> Result<DirectionStats, SchemaError> {
    Ok(optional(field, present, reader)?
        .map(|stats| DirectionStats {
            packets: stats.get_packets(),
            bytes: stats.get_bytes(),
            retransmissions: stats.get_retransmissions(),
            out_of_order: stats.get_out_of_order(),
            lost_bytes: stats.get_lost_bytes(),
        })
        .unwrap_or_default())
}

fn state_to_wire(state: TcpState) -> WireState {
    match state {
        TcpState::SynSent => WireState::SynSent,
        TcpState::SynReceived => WireState::SynReceived,
        TcpState::Established => WireState::Established,
        TcpState::FinWait => WireState::FinWait,
        TcpState::Closed => WireState::Closed,
        TcpState::Reset => WireState::Reset,
    }
}

fn state_from_wire(state: WireState) -> TcpState {
    match state {
        WireState::SynSent => TcpState::SynSent,
        WireState::SynReceived => TcpState::SynReceived,
        WireState::Established => TcpState::Established,
        WireState::FinWait => TcpState::FinWait,
        WireState::Closed => TcpState::Closed,
        WireState::Reset => TcpState::Reset,
    }
}

fn reason_to_wire(reason: CloseReason) -> WireReason {
    match reason {
        CloseReason::Fin => WireReason::Fin,
        CloseReason::Rst => WireReason::Rst,
        CloseReason::IdleTimeout => WireReason::IdleTimeout,
        CloseReason::PortReuse => WireReason::PortReuse,
        CloseReason::CaptureEnd => WireReason::CaptureEnd,
        CloseReason::Evicted => WireReason::Evicted,
    }
}

fn reason_from_wire(reason: WireReason) -> CloseReason {
    match reason {
        WireReason::Fin => CloseReason::Fin,
        WireReason::Rst => CloseReason::Rst,
        WireReason::IdleTimeout => CloseReason::IdleTimeout,
        WireReason::PortReuse => CloseReason::PortReuse,
        WireReason::CaptureEnd => CloseReason::CaptureEnd,
        WireReason::Evicted => CloseReason::Evicted,
    }
}

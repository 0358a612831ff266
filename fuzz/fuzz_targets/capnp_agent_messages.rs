//! Cap'n Proto messages from agents and Controllers through the backend's conversions
//! (`spider_rpc_schema::read_*`): every record kind of a capture or usage batch (also as whole
//! batches, read as the ingest service reads them), inventory updates and snapshots, agent info,
//! status, config, acks and summaries, attachment requests and statuses, agent pods, IP names.
//!
//! Input: a selector byte (which struct the root is read as; see `KINDS`), then a serialized
//! message with its segment table (`capnp::serialize`), read as a Spider listener reads
//! (`spider_rpc_schema::limits::reader_options`: nesting limit 64, 32 MiB size and traversal
//! limit). Capture and usage batches are read as the ingest service reads them: names bounded
//! (`read_name`) before the record lists (`read_records`: bounded, no zero-sized elements).
//!
//! Checks besides "no panic" (`read_*` promise never to panic on wire bytes): what reads also
//! writes (`write_*` fails only for values over Cap'n Proto's limits, which a read value cannot
//! be), and reads back the same.
#![no_main]

use capnp::message::Builder;
use capnp::traits::{FromPointerBuilder, FromPointerReader, Owned};
use libfuzzer_sys::fuzz_target;
use spider_rpc_schema::limits::{
    read_name, read_records, reader_options, MAX_BATCH_RECORDS, MAX_NAME_BYTES,
};
use spider_rpc_schema::schema::{agent_capnp, controller_capnp, ingest_capnp, inventory_capnp};
use spider_rpc_schema::{
    read_agent_config, read_agent_info, read_agent_pod, read_agent_status, read_agent_summary,
    read_attach_request, read_attachment_status, read_config_ack, read_dns, read_frame, read_host,
    read_http, read_inventory_objects, read_inventory_update, read_ip_names, read_packet,
    read_tcp_session, read_usage, read_workload_ref, write_agent_config, write_agent_info,
    write_agent_pod, write_agent_status, write_agent_summary, write_attach_request,
    write_attachment_status, write_config_ack, write_dns, write_frame, write_host, write_http,
    write_inventory_objects, write_inventory_update, write_ip_names, write_packet,
    write_tcp_session, write_usage, write_workload_ref,
};
use spider_rpc_schema::{records_capnp, SchemaError};

/// The root struct types, by selector byte (modulo their number).
const KINDS: [&str; 21] = [
    "CaptureBatch",
    "UsageBatch",
    "PacketRecord (frame)",
    "PacketRecord",
    "TcpSessionRecord",
    "HostRecord",
    "DnsRecord",
    "UsageRecord",
    "WorkloadRef",
    "HttpExchange",
    "InventoryUpdate",
    "InventoryObjects",
    "AgentInfo",
    "AgentStatus",
    "AgentConfig",
    "ConfigAck",
    "AgentSummary",
    "AttachRequest",
    "AttachmentStatus",
    "AgentPod",
    "IpNames",
];

/// Reads the root as `O`, converts it with `read`; when that succeeds, writes the value with
/// `write` and reads the written message back, which must give the same value.
fn round_trip<O, T, R, W>(
    message: &capnp::message::Reader<impl capnp::message::ReaderSegments>,
    read: R,
    write: W,
) where
    O: Owned,
    for<'a> O::Reader<'a>: FromPointerReader<'a>,
    for<'a> O::Builder<'a>: FromPointerBuilder<'a>,
    T: std::fmt::Debug + PartialEq,
    R: for<'a> Fn(O::Reader<'a>) -> Result<T, SchemaError>,
    W: for<'a> Fn(O::Builder<'a>, &T) -> Result<(), SchemaError>,
{
    let Ok(root) = message.get_root::<O::Reader<'_>>() else {
        return;
    };
    let Ok(value) = read(root) else {
        return;
    };
    let mut builder = Builder::new_default();
    write(builder.init_root::<O::Builder<'_>>(), &value)
        .unwrap_or_else(|e| panic!("{value:?} was read but does not write: {e}"));
    let again = builder
        .get_root_as_reader::<O::Reader<'_>>()
        .map_err(SchemaError::from)
        .and_then(read)
        .unwrap_or_else(|e| panic!("{value:?} was written but does not read back: {e}"));
    // Debug text when `==` fails: a float read as NaN is unequal to itself.
    if again != value {
        assert_eq!(format!("{again:?}"), format!("{value:?}"));
    }
}

/// A capture batch as the ingest service reads it: its names within their bound, then every
/// list (within the batch bound, no zero-sized elements), each record converted.
fn capture_batch(batch: ingest_capnp::capture_batch::Reader<'_>) -> Result<(), SchemaError> {
    read_name("batch.id.agent", batch.get_id()?.get_agent())?;
    let whisperer = read_name("batch.whisperer", batch.get_whisperer())?;
    let frames = read_records("batch.frames", batch.get_frames(), |frame| {
        read_frame(frame, &whisperer)
    })?;
    let sessions = read_records("batch.sessions", batch.get_sessions(), read_tcp_session)?;
    let hosts = read_records("batch.hosts", batch.get_hosts(), read_host)?;
    let dns = read_records("batch.dns", batch.get_dns(), read_dns)?;
    // What a batch may cost stays within the bounds: no list over the batch limit, and every
    // frame's copy of the name is within the name limit.
    for len in [frames.len(), sessions.len(), hosts.len(), dns.len()] {
        assert!(len <= MAX_BATCH_RECORDS as usize);
    }
    assert!(whisperer.len() <= MAX_NAME_BYTES);
    Ok(())
}

fn usage_batch(batch: ingest_capnp::usage_batch::Reader<'_>) -> Result<(), SchemaError> {
    read_name("batch.id.agent", batch.get_id()?.get_agent())?;
    let records = read_records("batch.records", batch.get_records(), read_usage)?;
    assert!(records.len() <= MAX_BATCH_RECORDS as usize);
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    // The message must be 8-byte aligned: copy it into words.
    let mut words = capnp::Word::allocate_zeroed_vec(bytes.len().div_ceil(8));
    capnp::Word::words_to_bytes_mut(&mut words)[..bytes.len()].copy_from_slice(bytes);
    let mut slice = &capnp::Word::words_to_bytes(&words)[..bytes.len()];
    // The listeners' options (finding 5 of the README is fixed: zero-sized list elements are
    // refused by every `read_*`, batches' lists and names are bounded before they are read).
    let Ok(message) = capnp::serialize::read_message_from_flat_slice(&mut slice, reader_options())
    else {
        return;
    };
    use agent_capnp as a;
    use controller_capnp as c;
    use records_capnp as r;
    match usize::from(selector) % KINDS.len() {
        0 => {
            if let Ok(batch) = message.get_root::<ingest_capnp::capture_batch::Reader<'_>>() {
                let _ = capture_batch(batch);
            }
        }
        1 => {
            if let Ok(batch) = message.get_root::<ingest_capnp::usage_batch::Reader<'_>>() {
                let _ = usage_batch(batch);
            }
        }
        2 => round_trip::<r::packet_record::Owned, _, _, _>(
            &message,
            |reader| read_frame(reader, "fuzz"),
            write_frame,
        ),
        3 => round_trip::<r::packet_record::Owned, _, _, _>(&message, read_packet, write_packet),
        4 => round_trip::<r::tcp_session_record::Owned, _, _, _>(
            &message,
            read_tcp_session,
            write_tcp_session,
        ),
        5 => round_trip::<r::host_record::Owned, _, _, _>(&message, read_host, write_host),
        6 => round_trip::<r::dns_record::Owned, _, _, _>(&message, read_dns, write_dns),
        7 => round_trip::<r::usage_record::Owned, _, _, _>(&message, read_usage, write_usage),
        8 => round_trip::<r::workload_ref::Owned, _, _, _>(
            &message,
            read_workload_ref,
            write_workload_ref,
        ),
        9 => round_trip::<r::http_exchange::Owned, _, _, _>(&message, read_http, write_http),
        10 => round_trip::<inventory_capnp::inventory_update::Owned, _, _, _>(
            &message,
            read_inventory_update,
            write_inventory_update,
        ),
        11 => round_trip::<inventory_capnp::inventory_objects::Owned, _, _, _>(
            &message,
            read_inventory_objects,
            write_inventory_objects,
        ),
        12 => {
            round_trip::<a::agent_info::Owned, _, _, _>(&message, read_agent_info, write_agent_info)
        }
        13 => round_trip::<a::agent_status::Owned, _, _, _>(
            &message,
            read_agent_status,
            write_agent_status,
        ),
        14 => round_trip::<a::agent_config::Owned, _, _, _>(
            &message,
            read_agent_config,
            write_agent_config,
        ),
        15 => {
            round_trip::<a::config_ack::Owned, _, _, _>(&message, read_config_ack, write_config_ack)
        }
        16 => round_trip::<a::agent_summary::Owned, _, _, _>(
            &message,
            read_agent_summary,
            write_agent_summary,
        ),
        17 => round_trip::<c::attach_request::Owned, _, _, _>(
            &message,
            read_attach_request,
            write_attach_request,
        ),
        18 => round_trip::<c::attachment_status::Owned, _, _, _>(
            &message,
            read_attachment_status,
            write_attachment_status,
        ),
        19 => round_trip::<c::agent_pod::Owned, _, _, _>(&message, read_agent_pod, write_agent_pod),
        _ => round_trip::<c::ip_names::Owned, _, _, _>(&message, read_ip_names, write_ip_names),
    }
});

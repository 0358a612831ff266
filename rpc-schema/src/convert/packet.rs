//! `PacketRecord` ↔ `records.capnp` `PacketRecord`, in its two uses: a frame inside a CaptureBatch
//! (the batch names the Whisperer once) and a packet in query results (each names its Whisperer).

use spider_model::PacketRecord;

use crate::schema::records_capnp::packet_record;
use crate::wire::{checked_data, checked_text, read_text};
use crate::SchemaError;

/// Writes `packet` as a frame of a CaptureBatch: everything but `whisperer`, which stays null.
pub fn write_frame(
    mut builder: packet_record::Builder<'_>,
    packet: &PacketRecord,
) -> Result<(), SchemaError> {
    builder.set_time(packet.time);
    builder.set_interface(packet.interface);
    builder.set_link_type(packet.link_type);
    builder.set_wire_len(packet.wire_len);
    builder.set_from_client(packet.from_client);
    builder.set_session_id(packet.session_id);
    builder.set_frame(checked_data("packet.frame", &packet.frame)?);
    Ok(())
}

/// Reads a frame of a CaptureBatch, whose Whisperer the batch names.
pub fn read_frame(
    reader: packet_record::Reader<'_>,
    whisperer: &str,
) -> Result<PacketRecord, SchemaError> {
    Ok(PacketRecord {
        whisperer: whisperer.to_owned(),
        session_id: reader.get_session_id(),
        time: reader.get_time(),
        interface: reader.get_interface(),
        link_type: reader.get_link_type(),
        wire_len: reader.get_wire_len(),
        from_client: reader.get_from_client(),
        frame: reader
            .get_frame()
            .map_err(SchemaError::malformed("packet.frame"))?
            .to_vec(),
    })
}

/// Writes `packet` whole, `whisperer` included (query results).
pub fn write_packet(
    mut builder: packet_record::Builder<'_>,
    packet: &PacketRecord,
) -> Result<(), SchemaError> {
    write_frame(builder.reborrow(), packet)?;
    builder.set_whisperer(checked_text("packet.whisperer", &packet.whisperer)?);
    Ok(())
}

/// Reads a packet whole (query results); a null `whisperer` reads as empty.
pub fn read_packet(reader: packet_record::Reader<'_>) -> Result<PacketRecord, SchemaError> {
    let whisperer = read_text("packet.whisperer", reader.get_whisperer())?;
    read_frame(reader, &whisperer)
}

//! `UsageRecord` (and `WorkloadRef`) ↔ `records.capnp` `UsageRecord`.

use spider_model::{UsageRecord, WorkloadRef};

use crate::schema::records_capnp::{usage_record, workload_ref};
use crate::wire::{
    checked_text, ip_octets, optional, read_ip_field, read_option, read_optional_text, read_text,
};
use crate::SchemaError;

/// Writes `usage` into `builder`.
pub fn write_usage(
    mut builder: usage_record::Builder<'_>,
    usage: &UsageRecord,
) -> Result<(), SchemaError> {
    builder.set_minute(usage.minute);
    builder.set_src(ip_octets(usage.src).as_slice());
    builder.set_dst(ip_octets(usage.dst).as_slice());
    builder.set_proto(checked_text("usage.proto", &usage.proto)?);
    builder.set_port(usage.port);
    builder.set_bytes(usage.bytes);
    builder.set_messages(usage.messages);
    builder.set_wire_bytes(usage.wire_bytes);
    builder.set_packets(usage.packets);
    builder.set_reporter(checked_text("usage.reporter", &usage.reporter)?);
    builder.set_receive_side(usage.receive_side);
    if let Some(workload) = &usage.src_workload {
        write_workload_ref(builder.reborrow().init_src_workload(), workload)?;
    }
    if let Some(workload) = &usage.dst_workload {
        write_workload_ref(builder.reborrow().init_dst_workload(), workload)?;
    }
    if let Some(pid) = usage.pid {
        builder.reborrow().init_pid().set_value(pid);
    }
    if let Some(command) = &usage.command {
        builder.set_command(checked_text("usage.command", command)?);
    }
    if let Some(container) = &usage.container {
        builder.set_container(checked_text("usage.container", container)?);
    }
    Ok(())
}

/// Reads a usage record.
pub fn read_usage(reader: usage_record::Reader<'_>) -> Result<UsageRecord, SchemaError> {
    let src_workload = optional(
        "usage.src_workload",
        reader.has_src_workload(),
        reader.get_src_workload(),
    )?;
    let dst_workload = optional(
        "usage.dst_workload",
        reader.has_dst_workload(),
        reader.get_dst_workload(),
    )?;
    Ok(UsageRecord {
        minute: reader.get_minute(),
        src: read_ip_field("usage.src", reader.get_src())?,
        dst: read_ip_field("usage.dst", reader.get_dst())?,
        proto: read_text("usage.proto", reader.get_proto())?,
        port: reader.get_port(),
        bytes: reader.get_bytes(),
        messages: reader.get_messages(),
        wire_bytes: reader.get_wire_bytes(),
        packets: reader.get_packets(),
        reporter: read_text("usage.reporter", reader.get_reporter())?,
        receive_side: reader.get_receive_side(),
        src_workload: src_workload.map(read_workload_ref).transpose()?,
        dst_workload: dst_workload.map(read_workload_ref).transpose()?,
        pid: read_option!("usage.pid", reader.get_pid(), usage_record::pid),
        command: read_optional_text("usage.command", reader.has_command(), reader.get_command())?,
        container: read_optional_text(
            "usage.container",
            reader.has_container(),
            reader.get_container(),
        )?,
    })
}

/// Writes Kubernetes names (also used by query results and the inventory's consumers).
pub fn write_workload_ref(
    mut builder: workload_ref::Builder<'_>,
    workload: &WorkloadRef,
) -> Result<(), SchemaError> {
    if let Some(namespace) = &workload.namespace {
        builder.set_namespace(checked_text("workload.namespace", namespace)?);
    }
    if let Some(kind) = &workload.kind {
        builder.set_kind(checked_text("workload.kind", kind)?);
    }
    if let Some(name) = &workload.workload {
        builder.set_workload(checked_text("workload.workload", name)?);
    }
    if let Some(pod) = &workload.pod {
        builder.set_pod(checked_text("workload.pod", pod)?);
    }
    if let Some(node) = &workload.node {
        builder.set_node(checked_text("workload.node", node)?);
    }
    Ok(())
}

/// Reads Kubernetes names; each null field is `None`.
pub fn read_workload_ref(reader: workload_ref::Reader<'_>) -> Result<WorkloadRef, SchemaError> {
    Ok(WorkloadRef {
        namespace: read_optional_text(
            "workload.namespace",
            reader.has_namespace(),
            reader.get_namespace(),
        )?,
        kind: read_optional_text("workload.kind", reader.has_kind(), reader.get_kind())?,
        workload: read_optional_text(
            "workload.workload",
            reader.has_workload(),
            reader.get_workload(),
        )?,
        pod: read_optional_text("workload.pod", reader.has_pod(), reader.get_pod())?,
        node: read_optional_text("workload.node", reader.has_node(), reader.get_node())?,
    })
}

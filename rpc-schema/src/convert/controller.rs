//! `spider_model::controller` ↔ `controller.capnp`: attachments, agent pods, names of IPs.

use spider_model::controller::{
    AgentPod, AgentRole, AttachRequest, AttachmentStatus, IpNames, PodAttachment,
    PodAttachmentState, Target,
};

use super::inventory::{read_ips, write_ips};
use crate::schema::controller_capnp::{
    agent_pod, attach_request, attachment_status, ip_names, pod_attachment,
    PodAttachmentState as WireState,
};
use crate::wire::{
    checked_text, ip_octets, list_len, read_ip, read_optional_text, read_struct_list, read_text,
    read_text_list, required, struct_list_len, write_text_list,
};
use crate::SchemaError;

fn write_strings<'a>(
    field: &'static str,
    init: impl FnOnce(u32) -> capnp::text_list::Builder<'a>,
    strings: &[String],
) -> Result<(), SchemaError> {
    write_text_list(field, init(list_len(field, strings.len())?), strings)
}

/// Writes an attachment request.
pub fn write_attach_request(
    mut builder: attach_request::Builder<'_>,
    request: &AttachRequest,
) -> Result<(), SchemaError> {
    builder.set_id(checked_text("attach.id", &request.id)?);
    let mut target = builder.reborrow().init_target();
    match &request.target {
        Target::Pod { namespace, name } => {
            let mut pod = target.reborrow().init_pod();
            pod.set_namespace(checked_text("attach.namespace", namespace)?);
            pod.set_name(checked_text("attach.name", name)?);
        }
        Target::Workload {
            namespace,
            kind,
            name,
        } => {
            let mut workload = target.init_workload();
            workload.set_namespace(checked_text("attach.namespace", namespace)?);
            workload.set_kind(checked_text("attach.kind", kind)?);
            workload.set_name(checked_text("attach.name", name)?);
        }
    }
    builder.set_image(checked_text("attach.image", &request.image)?);
    write_strings(
        "attach.command",
        |len| builder.reborrow().init_command(len),
        &request.command,
    )?;
    write_strings(
        "attach.args",
        |len| builder.reborrow().init_args(len),
        &request.args,
    )?;
    builder.set_ttl_seconds(request.ttl_seconds.unwrap_or(0));
    Ok(())
}

/// Reads an attachment request.
pub fn read_attach_request(
    reader: attach_request::Reader<'_>,
) -> Result<AttachRequest, SchemaError> {
    use crate::schema::controller_capnp::attach_target::Which;
    let target = required("attach.target", reader.has_target(), reader.get_target())?;
    let target = match target
        .which()
        .map_err(SchemaError::not_in_schema("attach.target"))?
    {
        Which::Pod(pod) => Target::Pod {
            namespace: read_text("attach.namespace", pod.get_namespace())?,
            name: read_text("attach.name", pod.get_name())?,
        },
        Which::Workload(workload) => Target::Workload {
            namespace: read_text("attach.namespace", workload.get_namespace())?,
            kind: read_text("attach.kind", workload.get_kind())?,
            name: read_text("attach.name", workload.get_name())?,
        },
    };
    Ok(AttachRequest {
        id: read_text("attach.id", reader.get_id())?,
        target,
        image: read_text("attach.image", reader.get_image())?,
        command: read_text_list("attach.command", reader.get_command())?,
        args: read_text_list("attach.args", reader.get_args())?,
        ttl_seconds: Some(reader.get_ttl_seconds()).filter(|ttl| *ttl > 0),
    })
}

fn state_to_wire(state: PodAttachmentState) -> WireState {
    match state {
        PodAttachmentState::Starting => WireState::Starting,
        PodAttachmentState::Running => WireState::Running,
        PodAttachmentState::CrashLoop => WireState::CrashLoop,
        PodAttachmentState::Done => WireState::Done,
    }
}

fn state_from_wire(state: WireState) -> PodAttachmentState {
    match state {
        WireState::Starting => PodAttachmentState::Starting,
        WireState::Running => PodAttachmentState::Running,
        WireState::CrashLoop => PodAttachmentState::CrashLoop,
        WireState::Done => PodAttachmentState::Done,
    }
}

/// Writes an attachment's status.
pub fn write_attachment_status(
    mut builder: attachment_status::Builder<'_>,
    status: &AttachmentStatus,
) -> Result<(), SchemaError> {
    write_attach_request(builder.reborrow().init_request(), &status.request)?;
    builder.set_created(status.created);
    builder.set_expires(status.expires.unwrap_or(0));
    builder.set_expired(status.expired);
    builder.set_detached(status.detached.unwrap_or(0));
    let len = struct_list_len::<pod_attachment::Owned>("attachment.pods", status.pods.len())?;
    let mut pods = builder.init_pods(len);
    for (index, pod) in (0..).zip(&status.pods) {
        let mut item = pods.reborrow().get(index);
        item.set_namespace(checked_text("attachment.namespace", &pod.namespace)?);
        item.set_pod(checked_text("attachment.pod", &pod.pod)?);
        if let Some(node) = &pod.node {
            item.set_node(checked_text("attachment.node", node)?);
        }
        write_strings(
            "attachment.containers",
            |len| item.reborrow().init_containers(len),
            &pod.containers,
        )?;
        item.set_state(state_to_wire(pod.state));
        item.set_failures(u32::try_from(pod.failures).unwrap_or(u32::MAX));
    }
    Ok(())
}

/// Reads an attachment's status.
pub fn read_attachment_status(
    reader: attachment_status::Reader<'_>,
) -> Result<AttachmentStatus, SchemaError> {
    let nonzero = |value: i64| Some(value).filter(|v| *v != 0);
    Ok(AttachmentStatus {
        request: read_attach_request(required(
            "attachment.request",
            reader.has_request(),
            reader.get_request(),
        )?)?,
        created: reader.get_created(),
        expires: nonzero(reader.get_expires()),
        expired: reader.get_expired(),
        detached: nonzero(reader.get_detached()),
        pods: read_struct_list("attachment.pods", reader.get_pods(), |pod| {
            Ok(PodAttachment {
                namespace: read_text("attachment.namespace", pod.get_namespace())?,
                pod: read_text("attachment.pod", pod.get_pod())?,
                node: read_optional_text("attachment.node", pod.has_node(), pod.get_node())?,
                containers: read_text_list("attachment.containers", pod.get_containers())?,
                state: state_from_wire(
                    pod.get_state()
                        .map_err(SchemaError::not_in_schema("attachment.state"))?,
                ),
                failures: pod.get_failures() as usize,
            })
        })?,
    })
}

/// Writes an agent pod.
pub fn write_agent_pod(
    mut builder: agent_pod::Builder<'_>,
    agent: &AgentPod,
) -> Result<(), SchemaError> {
    builder.set_role(agent.role.as_str());
    builder.set_namespace(checked_text("agent_pod.namespace", &agent.namespace)?);
    builder.set_pod(checked_text("agent_pod.pod", &agent.pod)?);
    builder.set_container(checked_text("agent_pod.container", &agent.container)?);
    builder.set_sidecar(agent.sidecar);
    if let Some(node) = &agent.node {
        builder.set_node(checked_text("agent_pod.node", node)?);
    }
    let len = list_len("agent_pod.ips", agent.ips.len())?;
    write_ips(
        "agent_pod.ips",
        builder.reborrow().init_ips(len),
        &agent.ips,
    )?;
    builder.set_phase(checked_text("agent_pod.phase", &agent.phase)?);
    builder.set_running(agent.running);
    builder.set_workload_kind(checked_text(
        "agent_pod.workload_kind",
        &agent.workload_kind,
    )?);
    builder.set_workload(checked_text("agent_pod.workload", &agent.workload)?);
    builder.set_recognised_by(checked_text(
        "agent_pod.recognised_by",
        &agent.recognised_by,
    )?);
    Ok(())
}

/// Reads an agent pod.
pub fn read_agent_pod(reader: agent_pod::Reader<'_>) -> Result<AgentPod, SchemaError> {
    let role = read_text("agent_pod.role", reader.get_role())?;
    Ok(AgentPod {
        role: AgentRole::parse(&role).ok_or(SchemaError::NotInSchema {
            field: "agent_pod.role",
            value: 0,
        })?,
        namespace: read_text("agent_pod.namespace", reader.get_namespace())?,
        pod: read_text("agent_pod.pod", reader.get_pod())?,
        container: read_text("agent_pod.container", reader.get_container())?,
        sidecar: reader.get_sidecar(),
        node: read_optional_text("agent_pod.node", reader.has_node(), reader.get_node())?,
        ips: read_ips("agent_pod.ips", reader.get_ips())?,
        phase: read_text("agent_pod.phase", reader.get_phase())?,
        running: reader.get_running(),
        workload_kind: read_text("agent_pod.workload_kind", reader.get_workload_kind())?,
        workload: read_text("agent_pod.workload", reader.get_workload())?,
        recognised_by: read_text("agent_pod.recognised_by", reader.get_recognised_by())?,
    })
}

/// Writes the names of one IP.
pub fn write_ip_names(
    mut builder: ip_names::Builder<'_>,
    names: &IpNames,
) -> Result<(), SchemaError> {
    builder.set_ip(ip_octets(names.ip).as_slice());
    write_strings(
        "ip_names.names",
        |len| builder.reborrow().init_names(len),
        &names.names,
    )
}

/// Reads the names of one IP.
pub fn read_ip_names(reader: ip_names::Reader<'_>) -> Result<IpNames, SchemaError> {
    Ok(IpNames {
        ip: read_ip(
            "ip_names.ip",
            reader
                .get_ip()
                .map_err(SchemaError::malformed("ip_names.ip"))?,
        )?,
        names: read_text_list("ip_names.names", reader.get_names())?,
    })
}

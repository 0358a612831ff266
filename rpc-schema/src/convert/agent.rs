//! `spider_model::agent` ↔ `agent.capnp`: agent info, status, configuration, acks, summaries.

use spider_model::agent::{
    AgentConfig, AgentInfo, AgentKind, AgentSettings, AgentState, AgentStatus, AgentSummary,
    CaptureInterface, ConfigAck, ControllerSettings, GocipherSettings, WhispererSettings,
};

use crate::schema::agent_capnp::{
    agent_config, agent_info, agent_status, agent_summary, capture_interface, config_ack,
    controller_config, gocipher_config, whisperer_config, AgentKind as WireKind,
    AgentState as WireState,
};
use crate::wire::{
    checked_text, ip_octets, list_len, read_ip, read_optional_text, read_struct_list, read_text,
    read_text_list, required, struct_list_len, write_text_list,
};
use crate::SchemaError;

fn kind_to_wire(kind: AgentKind) -> WireKind {
    match kind {
        AgentKind::Whisperer => WireKind::Whisperer,
        AgentKind::Gocipher => WireKind::Gocipher,
        AgentKind::Controller => WireKind::Controller,
    }
}

fn kind_from_wire(kind: WireKind) -> AgentKind {
    match kind {
        WireKind::Whisperer => AgentKind::Whisperer,
        WireKind::Gocipher => AgentKind::Gocipher,
        WireKind::Controller => AgentKind::Controller,
    }
}

fn state_to_wire(state: AgentState) -> WireState {
    match state {
        AgentState::Starting => WireState::Starting,
        AgentState::Recording => WireState::Recording,
        AgentState::Stopped => WireState::Stopped,
        AgentState::ServerDown => WireState::ServerDown,
        AgentState::InvalidConfig => WireState::InvalidConfig,
        AgentState::InternalError => WireState::InternalError,
    }
}

fn state_from_wire(state: WireState) -> AgentState {
    match state {
        WireState::Starting => AgentState::Starting,
        WireState::Recording => AgentState::Recording,
        WireState::Stopped => AgentState::Stopped,
        WireState::ServerDown => AgentState::ServerDown,
        WireState::InvalidConfig => AgentState::InvalidConfig,
        WireState::InternalError => AgentState::InternalError,
    }
}

fn set_optional_text(
    field: &'static str,
    value: &Option<String>,
    set: impl FnOnce(&str),
) -> Result<(), SchemaError> {
    if let Some(value) = value {
        set(checked_text(field, value)?);
    }
    Ok(())
}

/// Writes what an agent says of itself.
pub fn write_agent_info(
    mut builder: agent_info::Builder<'_>,
    info: &AgentInfo,
) -> Result<(), SchemaError> {
    builder.set_kind(kind_to_wire(info.kind));
    builder.set_name(checked_text("agent.name", &info.name)?);
    builder.set_host(checked_text("agent.host", &info.host)?);
    builder.set_version(checked_text("agent.version", &info.version)?);
    builder.set_incarnation(info.incarnation);
    builder.set_started_at(info.started_at);
    set_optional_text("agent.namespace", &info.namespace, |v| {
        builder.set_namespace(v)
    })?;
    set_optional_text("agent.pod", &info.pod, |v| builder.set_pod(v))?;
    set_optional_text("agent.node", &info.node, |v| builder.set_node(v))?;
    set_optional_text("agent.cluster", &info.cluster, |v| builder.set_cluster(v))?;
    let len =
        struct_list_len::<capture_interface::Owned>("agent.interfaces", info.interfaces.len())?;
    let mut list = builder.init_interfaces(len);
    for (index, interface) in (0..len).zip(&info.interfaces) {
        let mut item = list.reborrow().get(index);
        item.set_index(interface.index);
        item.set_name(checked_text("agent.interfaces.name", &interface.name)?);
        item.set_link_type(interface.link_type);
        let count = list_len("agent.interfaces.addresses", interface.addresses.len())?;
        let mut addresses = item.init_addresses(count);
        for (slot, address) in (0..count).zip(&interface.addresses) {
            addresses.set(slot, ip_octets(*address).as_slice());
        }
    }
    Ok(())
}

/// Reads what an agent says of itself.
pub fn read_agent_info(reader: agent_info::Reader<'_>) -> Result<AgentInfo, SchemaError> {
    let interfaces = read_struct_list("agent.interfaces", reader.get_interfaces(), |item| {
        let mut addresses = Vec::new();
        for address in item
            .get_addresses()
            .map_err(SchemaError::malformed("agent.interfaces.addresses"))?
        {
            let address = address.map_err(SchemaError::malformed("agent.interfaces.addresses"))?;
            addresses.push(read_ip("agent.interfaces.addresses", address)?);
        }
        Ok(CaptureInterface {
            index: item.get_index(),
            name: read_text("agent.interfaces.name", item.get_name())?,
            link_type: item.get_link_type(),
            addresses,
        })
    })?;
    Ok(AgentInfo {
        kind: kind_from_wire(
            reader
                .get_kind()
                .map_err(SchemaError::not_in_schema("agent.kind"))?,
        ),
        name: read_text("agent.name", reader.get_name())?,
        host: read_text("agent.host", reader.get_host())?,
        version: read_text("agent.version", reader.get_version())?,
        interfaces,
        incarnation: reader.get_incarnation(),
        started_at: reader.get_started_at(),
        namespace: read_optional_text(
            "agent.namespace",
            reader.has_namespace(),
            reader.get_namespace(),
        )?,
        pod: read_optional_text("agent.pod", reader.has_pod(), reader.get_pod())?,
        node: read_optional_text("agent.node", reader.has_node(), reader.get_node())?,
        cluster: read_optional_text("agent.cluster", reader.has_cluster(), reader.get_cluster())?,
    })
}

/// Writes a status report (absent times are 0 on the wire).
pub fn write_agent_status(
    mut builder: agent_status::Builder<'_>,
    status: &AgentStatus,
) -> Result<(), SchemaError> {
    builder.set_state(state_to_wire(status.state));
    set_optional_text("status.message", &status.message, |v| {
        builder.set_message(v)
    })?;
    builder.set_time(status.time);
    builder.set_state_since(status.state_since);
    builder.set_packets_seen(status.packets_seen);
    builder.set_bytes_seen(status.bytes_seen);
    builder.set_kernel_drops(status.kernel_drops);
    builder.set_own_drops(status.own_drops);
    builder.set_limit_drops(status.limit_drops);
    builder.set_skipped_empty_acks(status.skipped_empty_acks);
    builder.set_queue_depth(status.queue_depth);
    builder.set_cpu_percent(status.cpu_percent);
    builder.set_rss_bytes(status.rss_bytes);
    builder.set_last_sent_at(status.last_sent_at.unwrap_or(0));
    builder.set_last_ack_at(status.last_ack_at.unwrap_or(0));
    builder.set_batches_sent(status.batches_sent);
    builder.set_batches_acked(status.batches_acked);
    builder.set_config_generation(status.config_generation);
    Ok(())
}

/// Reads a status report.
pub fn read_agent_status(reader: agent_status::Reader<'_>) -> Result<AgentStatus, SchemaError> {
    let nonzero = |time: i64| (time != 0).then_some(time);
    Ok(AgentStatus {
        state: state_from_wire(
            reader
                .get_state()
                .map_err(SchemaError::not_in_schema("status.state"))?,
        ),
        message: read_optional_text("status.message", reader.has_message(), reader.get_message())?,
        time: reader.get_time(),
        state_since: reader.get_state_since(),
        packets_seen: reader.get_packets_seen(),
        bytes_seen: reader.get_bytes_seen(),
        kernel_drops: reader.get_kernel_drops(),
        own_drops: reader.get_own_drops(),
        limit_drops: reader.get_limit_drops(),
        skipped_empty_acks: reader.get_skipped_empty_acks(),
        queue_depth: reader.get_queue_depth(),
        cpu_percent: reader.get_cpu_percent(),
        rss_bytes: reader.get_rss_bytes(),
        last_sent_at: nonzero(reader.get_last_sent_at()),
        last_ack_at: nonzero(reader.get_last_ack_at()),
        batches_sent: reader.get_batches_sent(),
        batches_acked: reader.get_batches_acked(),
        config_generation: reader.get_config_generation(),
    })
}

fn write_whisperer(
    mut builder: whisperer_config::Builder<'_>,
    settings: &WhispererSettings,
) -> Result<(), SchemaError> {
    builder.set_capture(settings.capture);
    set_optional_text("whisperer.filter", &settings.filter, |v| {
        builder.set_filter(v)
    })?;
    builder.set_snaplen(settings.snaplen);
    builder.set_promiscuous(settings.promiscuous);
    builder.set_throughput_limit(settings.throughput_limit);
    builder.set_cpu_budget(settings.cpu_budget);
    builder.set_skip_empty_acks(settings.skip_empty_acks);
    builder.set_retention_ttl(settings.retention_ttl);
    let len = list_len("whisperer.interfaces", settings.interfaces.len())?;
    write_text_list(
        "whisperer.interfaces",
        builder.init_interfaces(len),
        &settings.interfaces,
    )
}

fn read_whisperer(reader: whisperer_config::Reader<'_>) -> Result<WhispererSettings, SchemaError> {
    let filter = read_optional_text("whisperer.filter", reader.has_filter(), reader.get_filter())?
        .filter(|filter| !filter.trim().is_empty());
    Ok(WhispererSettings {
        capture: reader.get_capture(),
        filter,
        snaplen: reader.get_snaplen(),
        promiscuous: reader.get_promiscuous(),
        throughput_limit: reader.get_throughput_limit(),
        cpu_budget: reader.get_cpu_budget(),
        skip_empty_acks: reader.get_skip_empty_acks(),
        retention_ttl: reader.get_retention_ttl(),
        interfaces: read_text_list("whisperer.interfaces", reader.get_interfaces())?,
    })
}

fn write_gocipher(mut builder: gocipher_config::Builder<'_>, settings: &GocipherSettings) {
    builder.set_counting(settings.counting);
    builder.set_bucket_seconds(settings.bucket_seconds);
}

fn write_controller(mut builder: controller_config::Builder<'_>, settings: &ControllerSettings) {
    builder.set_enrich(settings.enrich);
    builder.set_inventory(settings.inventory);
}

/// Writes settings pushed to an agent.
pub fn write_agent_config(
    mut builder: agent_config::Builder<'_>,
    config: &AgentConfig,
) -> Result<(), SchemaError> {
    builder.set_generation(config.generation);
    match &config.settings {
        AgentSettings::Whisperer(settings) => write_whisperer(builder.init_whisperer(), settings),
        AgentSettings::Gocipher(settings) => {
            write_gocipher(builder.init_gocipher(), settings);
            Ok(())
        }
        AgentSettings::Controller(settings) => {
            write_controller(builder.init_controller(), settings);
            Ok(())
        }
    }
}

/// Reads settings pushed to an agent.
pub fn read_agent_config(reader: agent_config::Reader<'_>) -> Result<AgentConfig, SchemaError> {
    let field = "config.settings";
    let settings = match reader.which().map_err(SchemaError::not_in_schema(field))? {
        agent_config::Whisperer(settings) => AgentSettings::Whisperer(read_whisperer(
            settings.map_err(SchemaError::malformed(field))?,
        )?),
        agent_config::Gocipher(settings) => {
            let settings = settings.map_err(SchemaError::malformed(field))?;
            AgentSettings::Gocipher(GocipherSettings {
                counting: settings.get_counting(),
                bucket_seconds: settings.get_bucket_seconds(),
            })
        }
        agent_config::Controller(settings) => {
            let settings = settings.map_err(SchemaError::malformed(field))?;
            AgentSettings::Controller(ControllerSettings {
                enrich: settings.get_enrich(),
                inventory: settings.get_inventory(),
            })
        }
    };
    Ok(AgentConfig {
        generation: reader.get_generation(),
        settings,
    })
}

/// Writes an agent's answer to settings.
pub fn write_config_ack(
    mut builder: config_ack::Builder<'_>,
    ack: &ConfigAck,
) -> Result<(), SchemaError> {
    builder.set_generation(ack.generation);
    builder.set_accepted(ack.accepted);
    set_optional_text("ack.error", &ack.error, |v| builder.set_error(v))
}

/// Reads an agent's answer to settings.
pub fn read_config_ack(reader: config_ack::Reader<'_>) -> Result<ConfigAck, SchemaError> {
    Ok(ConfigAck {
        generation: reader.get_generation(),
        accepted: reader.get_accepted(),
        error: read_optional_text("ack.error", reader.has_error(), reader.get_error())?,
    })
}

/// Writes what the backend knows of an agent.
pub fn write_agent_summary(
    mut builder: agent_summary::Builder<'_>,
    summary: &AgentSummary,
) -> Result<(), SchemaError> {
    write_agent_info(builder.reborrow().init_info(), &summary.info)?;
    write_agent_status(builder.reborrow().init_status(), &summary.status)?;
    builder.set_connected(summary.connected);
    builder.set_last_seen(summary.last_seen);
    write_agent_config(builder.init_config(), &summary.config)
}

/// Reads what the backend knows of an agent.
pub fn read_agent_summary(reader: agent_summary::Reader<'_>) -> Result<AgentSummary, SchemaError> {
    let info = read_agent_info(required(
        "summary.info",
        reader.has_info(),
        reader.get_info(),
    )?)?;
    let status = if reader.has_status() {
        read_agent_status(
            reader
                .get_status()
                .map_err(SchemaError::malformed("summary.status"))?,
        )?
    } else {
        AgentStatus::default()
    };
    let config = if reader.has_config() {
        read_agent_config(
            reader
                .get_config()
                .map_err(SchemaError::malformed("summary.config"))?,
        )?
    } else {
        AgentConfig {
            generation: 0,
            settings: AgentSettings::default_for(info.kind),
        }
    };
    Ok(AgentSummary {
        info,
        status,
        connected: reader.get_connected(),
        last_seen: reader.get_last_seen(),
        config,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn info() -> AgentInfo {
        AgentInfo {
            kind: AgentKind::Whisperer,
            name: "w1".into(),
            host: "host-a".into(),
            version: "0.1.0".into(),
            interfaces: vec![CaptureInterface {
                index: 3,
                name: "eth0".into(),
                link_type: 1,
                addresses: vec!["10.0.0.1".parse().unwrap(), "fe80::1".parse().unwrap()],
            }],
            incarnation: 42,
            started_at: 1_700_000_000_000_000_000,
            namespace: Some("default".into()),
            pod: None,
            node: Some("node-1".into()),
            cluster: None,
        }
    }

    #[test]
    fn a_summary_round_trips() {
        let summary = AgentSummary {
            info: info(),
            status: AgentStatus {
                state: AgentState::InvalidConfig,
                message: Some("filter: syntax error".into()),
                own_drops: 7,
                limit_drops: 3,
                cpu_percent: 12.5,
                last_sent_at: Some(5),
                ..AgentStatus::default()
            },
            connected: true,
            last_seen: 99,
            config: AgentConfig {
                generation: 4,
                settings: AgentSettings::Whisperer(WhispererSettings {
                    filter: Some("tcp port 80".into()),
                    throughput_limit: 1 << 20,
                    interfaces: vec!["eth0".into()],
                    ..WhispererSettings::default()
                }),
            },
        };
        let mut message = capnp::message::Builder::new_default();
        write_agent_summary(message.init_root(), &summary).unwrap();
        let reader = message.get_root_as_reader().unwrap();
        assert_eq!(read_agent_summary(reader).unwrap(), summary);
    }

    #[test]
    fn gocipher_and_controller_settings_round_trip() {
        for settings in [
            AgentSettings::Gocipher(GocipherSettings {
                counting: false,
                bucket_seconds: 10,
            }),
            AgentSettings::Controller(ControllerSettings::default()),
        ] {
            let config = AgentConfig {
                generation: 1,
                settings,
            };
            let mut message = capnp::message::Builder::new_default();
            write_agent_config(message.init_root(), &config).unwrap();
            let reader = message.get_root_as_reader().unwrap();
            assert_eq!(read_agent_config(reader).unwrap(), config);
        }
    }

    #[test]
    fn an_ack_round_trips() {
        let ack = ConfigAck {
            generation: 2,
            accepted: false,
            error: Some("no such interface".into()),
        };
        let mut message = capnp::message::Builder::new_default();
        write_config_ack(message.init_root(), &ack).unwrap();
        let reader = message.get_root_as_reader().unwrap();
        assert_eq!(read_config_ack(reader).unwrap(), ack);
    }
}

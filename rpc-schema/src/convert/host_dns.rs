//! `HostRecord` and `DnsRecord` ↔ their `records.capnp` structs.

use spider_model::{DnsAnswer, DnsRecord, HostRecord, HostSource};

use crate::schema::records_capnp::{dns_answer, dns_record, host_record, HostSource as Wire};
use crate::wire::{
    checked_text, ip_octets, read_ip_field, read_option, read_required_endpoint, read_struct_list,
    read_text, struct_list_len, write_endpoint,
};
use crate::SchemaError;

/// Writes `host` into `builder` (its `whisperer` is left null: set it for query results).
pub fn write_host(
    mut builder: host_record::Builder<'_>,
    host: &HostRecord,
) -> Result<(), SchemaError> {
    builder.set_ip(ip_octets(host.ip).as_slice());
    builder.set_name(checked_text("host.name", &host.name)?);
    builder.set_source(match host.source {
        HostSource::Dns => Wire::Dns,
        HostSource::Sni => Wire::Sni,
        HostSource::Http => Wire::Http,
        HostSource::Kubernetes => Wire::Kubernetes,
    });
    builder.set_first_seen(host.first_seen);
    builder.set_last_seen(host.last_seen);
    Ok(())
}

/// Reads a host record; the `whisperer` field, when set, is read separately.
pub fn read_host(reader: host_record::Reader<'_>) -> Result<HostRecord, SchemaError> {
    let source = reader
        .get_source()
        .map_err(SchemaError::not_in_schema("host.source"))?;
    Ok(HostRecord {
        ip: read_ip_field("host.ip", reader.get_ip())?,
        name: read_text("host.name", reader.get_name())?,
        source: match source {
            Wire::Dns => HostSource::Dns,
            Wire::Sni => HostSource::Sni,
            Wire::Http => HostSource::Http,
            Wire::Kubernetes => HostSource::Kubernetes,
        },
        first_seen: reader.get_first_seen(),
        last_seen: reader.get_last_seen(),
    })
}

/// Writes `dns` into `builder` (its `whisperer` is left null: set it for query results).
pub fn write_dns(mut builder: dns_record::Builder<'_>, dns: &DnsRecord) -> Result<(), SchemaError> {
    builder.set_time(dns.time);
    write_endpoint(builder.reborrow().init_client(), &dns.client);
    write_endpoint(builder.reborrow().init_server(), &dns.server);
    builder.set_id(dns.id);
    builder.set_name(checked_text("dns.name", &dns.name)?);
    builder.set_query_type(checked_text("dns.type", &dns.query_type)?);
    let len = struct_list_len::<dns_answer::Owned>("dns.answers", dns.answers.len())?;
    let mut answers = builder.reborrow().init_answers(len);
    for (index, answer) in (0..len).zip(&dns.answers) {
        let mut wire = answers.reborrow().get(index);
        wire.set_name(checked_text("dns.answers.name", &answer.name)?);
        wire.set_record_type(checked_text("dns.answers.type", &answer.record_type)?);
        wire.set_ttl(answer.ttl);
        wire.set_data(checked_text("dns.answers.data", &answer.data)?);
    }
    builder.set_rcode(checked_text("dns.rcode", &dns.rcode)?);
    if let Some(latency) = dns.latency_ns {
        builder.reborrow().init_latency().set_value(latency);
    }
    Ok(())
}

/// Reads a DNS record; the `whisperer` field, when set, is read separately.
pub fn read_dns(reader: dns_record::Reader<'_>) -> Result<DnsRecord, SchemaError> {
    Ok(DnsRecord {
        time: reader.get_time(),
        client: read_required_endpoint("dns.client", reader.has_client(), reader.get_client())?,
        server: read_required_endpoint("dns.server", reader.has_server(), reader.get_server())?,
        id: reader.get_id(),
        name: read_text("dns.name", reader.get_name())?,
        query_type: read_text("dns.type", reader.get_query_type())?,
        answers: read_struct_list("dns.answers", reader.get_answers(), |answer| {
            Ok(DnsAnswer {
                name: read_text("dns.answers.name", answer.get_name())?,
                record_type: read_text("dns.answers.type", answer.get_record_type())?,
                ttl: answer.get_ttl(),
                data: read_text("dns.answers.data", answer.get_data())?,
            })
        })?,
        rcode: read_text("dns.rcode", reader.get_rcode())?,
        latency_ns: read_option!("dns.latency_ns", reader.get_latency(), dns_record::latency),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn every_host_source_round_trips_and_kubernetes_is_enumerant_3() {
        let sources = [
            (HostSource::Dns, 0),
            (HostSource::Sni, 1),
            (HostSource::Http, 2),
            (HostSource::Kubernetes, 3),
        ];
        for (source, wire) in sources {
            let host = HostRecord {
                ip: "10.244.0.10".parse().unwrap(),
                name: "web-6b7f9c7d5-k2x8p.shop".into(),
                source,
                first_seen: 1,
                last_seen: 2,
            };
            let mut message = capnp::message::Builder::new_default();
            write_host(message.init_root(), &host).unwrap();
            let reader = message
                .get_root_as_reader::<host_record::Reader<'_>>()
                .unwrap();
            assert_eq!(reader.get_source().unwrap() as u16, wire, "{source:?}");
            assert_eq!(read_host(reader).unwrap(), host);
        }
    }
}

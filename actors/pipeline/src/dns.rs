use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use spider_model::{DnsAnswer, DnsRecord, Endpoint, EpochNanos};
use spider_protocols::dns::{parse_message, rcode_name, resolve_addresses, type_name, RData};

use crate::config::AnalyzerStats;

pub(crate) const DNS_PORTS: [u16; 2] = [53, 5353];

/// Pairs DNS queries with their responses and turns responses into records.
#[derive(Debug)]
pub(crate) struct DnsCorrelator {
    max_pending: usize,
    /// (client, server, id) → query time.
    pending: HashMap<(Endpoint, Endpoint, u16), EpochNanos>,
    order: VecDeque<(Endpoint, Endpoint, u16)>,
}

/// A DNS record and the (name, address) pairs its answers resolve.
pub(crate) type DnsResult = (DnsRecord, Vec<(String, IpAddr)>);

impl DnsCorrelator {
    pub fn new(max_pending: usize) -> Self {
        Self {
            max_pending,
            pending: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// One DNS message (from a datagram, or from a TCP stream without its length prefix).
    pub fn message(
        &mut self,
        time: EpochNanos,
        src: Endpoint,
        dst: Endpoint,
        payload: &[u8],
        stats: &mut AnalyzerStats,
    ) -> Option<DnsResult> {
        let message = match parse_message(payload) {
            Ok(message) => message,
            Err(_) => {
                stats.dns_malformed += 1;
                return None;
            }
        };
        if !message.is_response {
            self.remember(src, dst, message.id, time);
            return None;
        }
        stats.dns_responses += 1;
        let latency_ns = self
            .pending
            .remove(&(dst, src, message.id))
            .map(|asked| time.saturating_sub(asked));
        let question = message.questions.first();
        let record = DnsRecord {
            time,
            client: dst,
            server: src,
            id: message.id,
            name: question
                .map(|q| q.name.trim_end_matches('.').to_owned())
                .unwrap_or_default(),
            query_type: question.map(|q| type_name(q.qtype)).unwrap_or_default(),
            answers: message
                .answers
                .iter()
                .map(|answer| DnsAnswer {
                    name: answer.name.trim_end_matches('.').to_owned(),
                    record_type: type_name(answer.rtype),
                    ttl: answer.ttl,
                    data: rdata_text(&answer.data),
                })
                .collect(),
            rcode: rcode_name(message.rcode),
            latency_ns,
        };
        Some((record, resolve_addresses(&message)))
    }

    fn remember(&mut self, client: Endpoint, server: Endpoint, id: u16, time: EpochNanos) {
        if self.pending.len() >= self.max_pending {
            while let Some(oldest) = self.order.pop_front() {
                if self.pending.remove(&oldest).is_some() {
                    break;
                }
            }
        }
        self.pending.insert((client, server, id), time);
        self.order.push_back((client, server, id));
        if self.order.len() > self.max_pending * 2 {
            let pending = &self.pending;
            self.order.retain(|key| pending.contains_key(key));
        }
    }
}

fn rdata_text(data: &RData) -> String {
    match data {
        RData::A(ip) => ip.to_string(),
        RData::Aaaa(ip) => ip.to_string(),
        RData::Cname(name) => name.trim_end_matches('.').to_owned(),
        other => other.to_string(),
    }
}

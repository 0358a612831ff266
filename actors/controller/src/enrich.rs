//! Enrichment: each usage record gets the Kubernetes names of both ends (namespace, workload
//! kind and name, pod, node, or a class: `node`, `external`, `internal_unidentified`) as they were
//! during the record's minute.

use std::collections::HashMap;
use std::net::IpAddr;

use spider_model::{UsageRecord, WorkloadRef};

use crate::inventory::ips::MINUTE_NS;
use crate::inventory::Inventory;

/// Fills `src_workload` and `dst_workload` of every record.
pub fn enrich(inventory: &Inventory, records: &mut [UsageRecord]) {
    let state = inventory.read();
    let mut memo: HashMap<(IpAddr, i64), WorkloadRef> = HashMap::new();
    let mut names = |ip: IpAddr, minute: i64| {
        memo.entry((ip, minute))
            .or_insert_with(|| state.resolve(ip, minute))
            .clone()
    };
    for record in records {
        let minute = record.minute - record.minute.rem_euclid(MINUTE_NS);
        record.src_workload = Some(names(record.src, minute));
        record.dst_workload = Some(names(record.dst, minute));
    }
}

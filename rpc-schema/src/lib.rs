//! Spider's Cap'n Proto schemas, their generated Rust, and the conversions at this boundary.
//!
//! The `.capnp` files in `schema/` are the contract between every pair of Spider components (agents
//! → backend, gateway → backend nodes, integrations → gateway): `auth` (the bootstrap capability),
//! `agent` (registration, status, control), `ingest` (batches to virtual shards, acknowledgements),
//! `inventory` (a Controller's Kubernetes view), `query` (the one `QueryService`), and `records`
//! (the record types). `build.rs` compiles them into [`schema`]; every field is documented in the
//! schema files, and `README.md` describes the protocols (idempotency, flow control, sharding, auth).
//!
//! This crate also owns the two things every side must agree on besides the schemas: the conversions
//! between the generated types and the `spider-model` records (`write_*` / `read_*`, which never
//! panic on bytes from the wire) and the shard hash ([`shard_of`], [`usage_shard`],
//! [`inventory_shard`]). It must not hold logic of any component: no I/O, no RPC servers.

mod convert;
mod error;
pub mod limits;
pub mod schema;
mod shard;
mod wire;

pub use convert::{
    read_agent_config, read_agent_info, read_agent_status, read_agent_summary, read_config_ack,
    read_dns, read_frame, read_host, read_http, read_packet, read_tcp_session, read_usage,
    read_workload_ref, write_agent_config, write_agent_info, write_agent_status,
    write_agent_summary, write_config_ack, write_dns, write_frame, write_host, write_http,
    write_packet, write_tcp_session, write_usage, write_workload_ref,
};
pub use convert::{
    read_agent_pod, read_attach_request, read_attachment_status, read_inventory_objects,
    read_inventory_update, read_ip_names, write_agent_pod, write_attach_request,
    write_attachment_status, write_inventory_objects, write_inventory_update, write_ip_names,
};
pub use error::SchemaError;
pub use schema::{
    agent_capnp, auth_capnp, controller_capnp, ingest_capnp, inventory_capnp, query_capnp,
    records_capnp,
};
pub use shard::{fnv1a64, inventory_shard, shard_of, shard_of_hash, usage_shard, VIRTUAL_SHARDS};
pub use wire::{ip_octets, read_endpoint, read_ip, write_endpoint, IpOctets};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_shards_match_the_schema_constant() {
        assert_eq!(ingest_capnp::VIRTUAL_SHARDS, VIRTUAL_SHARDS);
    }
}

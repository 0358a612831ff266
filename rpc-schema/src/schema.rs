//! The code `capnpc` generates from `schema/*.capnp`, one module per file.
//!
//! Each module mirrors its schema file: a struct `Foo` becomes module `foo` with `Reader`, `Builder`
//! and `Owned`; an interface `Bar` becomes module `bar` with `Client` and a `Server` trait. The
//! documentation of every field is in the `.capnp` files.

#![allow(
    clippy::all,
    clippy::pedantic,
    clippy::unwrap_used,
    missing_debug_implementations,
    unused_qualifications,
    unsafe_op_in_unsafe_fn,
    unreachable_pub,
    dead_code
)]

/// `records.capnp`: the record types (HTTP exchanges, TCP sessions, hosts, DNS, packets, usage).
pub mod records_capnp {
    include!(concat!(env!("OUT_DIR"), "/records_capnp.rs"));
}

/// `agent.capnp`: agent registration, status, configuration and control.
pub mod agent_capnp {
    include!(concat!(env!("OUT_DIR"), "/agent_capnp.rs"));
}

/// `controller.capnp`: a Controller's commands (attachments, agents' logs) and its name service.
pub mod controller_capnp {
    include!(concat!(env!("OUT_DIR"), "/controller_capnp.rs"));
}

/// `inventory.capnp`: a Controller's Kubernetes inventory, as snapshots and deltas.
pub mod inventory_capnp {
    include!(concat!(env!("OUT_DIR"), "/inventory_capnp.rs"));
}

/// `ingest.capnp`: batches pushed to shards, shard map, acknowledgements.
pub mod ingest_capnp {
    include!(concat!(env!("OUT_DIR"), "/ingest_capnp.rs"));
}

/// `query.capnp`: the one `QueryService` of backend nodes and the gateway.
pub mod query_capnp {
    include!(concat!(env!("OUT_DIR"), "/query_capnp.rs"));
}

/// `auth.capnp`: the bootstrap `Auth` interface and the role-scoped `Session`.
pub mod auth_capnp {
    include!(concat!(env!("OUT_DIR"), "/auth_capnp.rs"));
}

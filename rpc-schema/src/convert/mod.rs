//! Conversions between the generated types and the `spider-model` types, one file per record kind.
//!
//! Each kind has a `write_<kind>(builder, &record) -> Result<(), SchemaError>` that fills a builder
//! the caller initialised (in a list, a batch, a result) and a `read_<kind>(reader) -> Result<record,
//! SchemaError>` that never panics on what came from the wire. `write_*` fails only for values
//! Cap'n Proto cannot hold (over 2^29 elements) or a model body whose base64 is malformed.

mod agent;
mod controller;
mod host_dns;
mod http;
mod inventory;
mod packet;
mod tcp;
mod usage;

pub use agent::{
    read_agent_config, read_agent_info, read_agent_status, read_agent_summary, read_config_ack,
    write_agent_config, write_agent_info, write_agent_status, write_agent_summary,
    write_config_ack,
};
pub use controller::{
    read_agent_pod, read_attach_request, read_attachment_status, read_ip_names, write_agent_pod,
    write_attach_request, write_attachment_status, write_ip_names,
};
pub use host_dns::{read_dns, read_host, write_dns, write_host};
pub use http::{read_http, write_http};
pub use inventory::{
    read_inventory_objects, read_inventory_update, write_inventory_objects, write_inventory_update,
};
pub use packet::{read_frame, read_packet, write_frame, write_packet};
pub use tcp::{read_tcp_session, write_tcp_session};
pub use usage::{read_usage, read_workload_ref, write_usage, write_workload_ref};

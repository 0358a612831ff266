//! The gateway's JSON request bodies, into the model types it accepts, and on to the Cap'n Proto
//! message the gateway sends the backend with what it accepted:
//!
//! - `PUT /api/v1/agents/{name}/config`: `AgentSettings`, alone or as `{"settings": …}`; what
//!   passes the gateway's checks (filter at most 4096 bytes, CPU budget 0–100 %) is written as an
//!   `AgentConfig` (`write_agent_config`) and read back (`read_agent_config`) as the agent would.
//! - `POST /api/v1/controllers/{name}/attachments`: the gateway's body type is private
//!   (`AttachBody` in `gateway/src/routes/controllers.rs`); its mirror here (same fields, same serde
//!   attributes) carries the public `spider_model::controller::Target`; what passes the gateway's
//!   checks (`is_attachment_id`, namespace and name, time to live) becomes an `AttachRequest`,
//!   written (`write_attach_request`) and read back (`read_attach_request`) as the Controller would.
//! - `AttachRequest` and `Target` directly (the JSON form the Controller link and the UI share).
//!
//! Input: the body. Each type is read both as warp does it (`serde_json::Value` first, then
//! `from_value`) and with `serde_json::from_slice`.
//!
//! Checks besides "no panic": what deserializes serializes back to JSON that deserializes to the
//! same value; what the gateway accepts also crosses Cap'n Proto unchanged.
//!
//! Not covered: the gateway's query-parameter parsers (`spider_gateway::params` is private, and the
//! gateway crate pulls the whole backend in); the query language in them is the `query_language`
//! target.
#![no_main]

use capnp::message::Builder;
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use spider_model::agent::{AgentConfig, AgentSettings};
use spider_model::controller::{is_attachment_id, AttachRequest, Target};
use spider_rpc_schema::schema::{agent_capnp, controller_capnp};
use spider_rpc_schema::{
    read_agent_config, read_attach_request, write_agent_config, write_attach_request,
};

/// The gateway's `AttachBody`, field for field.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct AttachBody {
    id: Option<String>,
    target: Target,
    ttl_seconds: Option<u64>,
    image: Option<String>,
    command: Option<Vec<String>>,
    args: Option<Vec<String>>,
}

/// Both ways of reading a body; a value read serializes and reads back the same, unless `finite`
/// says it holds a float JSON cannot carry (serde_json writes infinity as `null`).
fn both<T: DeserializeOwned + Serialize + std::fmt::Debug>(
    value: Option<&Value>,
    data: &[u8],
    finite: fn(&T) -> bool,
) -> Option<T> {
    let direct = serde_json::from_slice::<T>(data).ok();
    let via_value = value.and_then(|v| serde_json::from_value::<T>(v.clone()).ok());
    for parsed in direct.iter().chain(via_value.iter()) {
        if !finite(parsed) {
            continue;
        }
        let text = serde_json::to_string(parsed).expect("a deserialized value serializes");
        let again = serde_json::from_str::<T>(&text)
            .unwrap_or_else(|e| panic!("{parsed:?} serialized as {text} does not read back: {e}"));
        assert_eq!(format!("{again:?}"), format!("{parsed:?}"), "{text}");
    }
    via_value.or(direct)
}

fn settings(value: Option<&Value>, data: &[u8]) {
    // As the gateway: `{"settings": …}` or the settings alone.
    let inner = value.map(|v| v.get("settings").cloned().unwrap_or_else(|| v.clone()));
    let Some(settings) = both::<AgentSettings>(inner.as_ref(), data, |settings| match settings {
        AgentSettings::Whisperer(w) => w.cpu_budget.is_finite(),
        _ => true,
    }) else {
        return;
    };
    if let AgentSettings::Whisperer(whisperer) = &settings {
        let filter_ok = whisperer.filter.as_ref().is_none_or(|f| f.len() <= 4096);
        if !filter_ok || !(0.0..=100.0).contains(&whisperer.cpu_budget) {
            return;
        }
    }
    let config = AgentConfig {
        generation: 1,
        settings,
    };
    let mut message = Builder::new_default();
    write_agent_config(
        message.init_root::<agent_capnp::agent_config::Builder<'_>>(),
        &config,
    )
    .unwrap_or_else(|e| panic!("{config:?} accepted but not written: {e}"));
    let reader = message
        .get_root_as_reader::<agent_capnp::agent_config::Reader<'_>>()
        .expect("a written message reads");
    let again = read_agent_config(reader).expect("a written config reads back");
    assert_eq!(again, config);
}

fn attachment(value: Option<&Value>) {
    let Some(body) = value.and_then(|v| serde_json::from_value::<AttachBody>(v.clone()).ok())
    else {
        return;
    };
    // The gateway's checks, then its request (with its default container).
    let id = body.id.unwrap_or_else(|| "a1b2c3d4".to_owned());
    if !is_attachment_id(&id) {
        return;
    }
    assert!(!id.is_empty() && id.len() <= 40);
    let (Target::Pod { namespace, name }
    | Target::Workload {
        namespace, name, ..
    }) = &body.target;
    if namespace.is_empty() || name.is_empty() {
        return;
    }
    if matches!(body.ttl_seconds, Some(ttl) if ttl == 0 || ttl > 7 * 24 * 3600) {
        return;
    }
    let request = AttachRequest {
        id,
        target: body.target,
        image: body
            .image
            .unwrap_or_else(|| "spider/whisperer:latest".to_owned()),
        command: body.command.unwrap_or_default(),
        args: body.args.unwrap_or_default(),
        ttl_seconds: body.ttl_seconds,
    };
    let mut message = Builder::new_default();
    write_attach_request(
        message.init_root::<controller_capnp::attach_request::Builder<'_>>(),
        &request,
    )
    .unwrap_or_else(|e| panic!("{request:?} accepted but not written: {e}"));
    let reader = message
        .get_root_as_reader::<controller_capnp::attach_request::Reader<'_>>()
        .expect("a written message reads");
    let again = read_attach_request(reader).expect("a written request reads back");
    assert_eq!(again, request);
}

fuzz_target!(|data: &[u8]| {
    let value = serde_json::from_slice::<Value>(data).ok();
    settings(value.as_ref(), data);
    attachment(value.as_ref());
    let _ = both::<AttachRequest>(value.as_ref(), data, |_| true);
    let _ = both::<Target>(value.as_ref(), data, |_| true);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = is_attachment_id(text);
    }
});

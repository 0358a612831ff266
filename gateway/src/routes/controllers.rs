//! Controllers: the clusters' inventories, and each connected Controller's commands — attach a
//! Whisperer to a pod or a workload with a time to live, list and detach attachments, list the
//! agents found in the cluster, read an agent's log.

use serde::Deserialize;
use serde_json::json;
use spider_backend::client::{BackendClient, ClientError, ControllerHandle};
use spider_model::agent::AgentKind;
use spider_model::controller::{AttachRequest, Target};
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::export::percent_decode;
use super::{json_reply, reject, with_state, State};
use crate::error::ApiError;

const MAX_BODY_BYTES: u64 = 64 * 1024;
/// The longest time to live an attachment may ask for (a week).
const MAX_TTL_SECONDS: u64 = 7 * 24 * 3600;
/// The most log lines returned at once.
const MAX_TAIL_LINES: u32 = 10_000;

/// An attachment as the UI asks for it: what to attach to and for how long; the container
/// (image, command, arguments) defaults to the gateway's settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AttachBody {
    id: Option<String>,
    target: Target,
    ttl_seconds: Option<u64>,
    image: Option<String>,
    command: Option<Vec<String>>,
    args: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
struct LogParams {
    namespace: String,
    pod: String,
    container: String,
    tail: Option<u32>,
}

pub fn routes(state: &State) -> BoxedFilter<(Response,)> {
    let inventory = warp::path!("inventory")
        .and(warp::get())
        .and(with_state(state))
        .and_then(inventory);
    let list = warp::path!("controllers" / String / "attachments")
        .and(warp::get())
        .and(with_state(state))
        .and_then(attachments);
    let attach = warp::path!("controllers" / String / "attachments")
        .and(warp::post())
        .and(warp::body::content_length_limit(MAX_BODY_BYTES))
        .and(with_state(state))
        .and(warp::body::json::<serde_json::Value>())
        .and_then(attach);
    let detach = warp::path!("controllers" / String / "attachments" / String)
        .and(warp::delete())
        .and(with_state(state))
        .and_then(detach);
    let agents = warp::path!("controllers" / String / "agents")
        .and(warp::get())
        .and(with_state(state))
        .and_then(agent_pods);
    let logs = warp::path!("controllers" / String / "logs")
        .and(warp::get())
        .and(with_state(state))
        .and(warp::query::<LogParams>())
        .and_then(logs);
    inventory
        .or(list)
        .unify()
        .or(attach)
        .unify()
        .or(detach)
        .unify()
        .or(agents)
        .unify()
        .or(logs)
        .unify()
        .boxed()
}

async fn inventory(state: State) -> Result<Response, Rejection> {
    let inventories = state
        .bridge
        .call(|client| async move { client.inventories().await })
        .await
        .map_err(reject)?;
    Ok(json_reply(&json!({
        "items": inventories.clusters,
        "missing_shards": inventories.missing_shards,
    })))
}

/// What a Controller call found.
enum Found<T> {
    Value(T),
    NoController,
    NotConnected,
    Refused(String),
}

/// Runs `call` on the connected Controller `name` (404 when no Controller has that name, 409
/// when it is not connected, 400 with the Controller's reason when it refuses).
async fn on_controller<T, F, Fut>(state: &State, name: String, call: F) -> Result<T, Rejection>
where
    T: Send + 'static,
    F: FnOnce(ControllerHandle) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<T, ClientError>> + 'static,
{
    let name = percent_decode(&name);
    let wanted = name.clone();
    let found = state
        .bridge
        .call(move |client: std::rc::Rc<BackendClient>| async move {
            let agents = client.agents().await?;
            let Some(agent) = agents
                .iter()
                .find(|a| a.info.name == name && a.info.kind == AgentKind::Controller)
            else {
                return Ok(Found::NoController);
            };
            if !agent.connected {
                return Ok(Found::NotConnected);
            }
            let handle = client.controller(&name).await?;
            Ok(match call(handle).await {
                Ok(value) => Found::Value(value),
                Err(ClientError::Rpc(error)) if error.kind == capnp::ErrorKind::Failed => {
                    Found::Refused(remote_message(&error))
                }
                Err(error) => return Err(error),
            })
        })
        .await
        .map_err(reject)?;
    match found {
        Found::Value(value) => Ok(value),
        Found::NoController => Err(reject(ApiError::not_found(format!(
            "no Controller is named {wanted:?}"
        )))),
        Found::NotConnected => Err(reject(ApiError::new(
            warp::http::StatusCode::CONFLICT,
            "not_connected",
            format!("Controller {wanted:?} is not connected"),
        ))),
        Found::Refused(message) => Err(reject(ApiError::bad_request(message))),
    }
}

/// The message of a remote failure, without the RPC layer's prefixes.
fn remote_message(error: &capnp::Error) -> String {
    let text = error.extra.as_str();
    text.rsplit("remote exception: ")
        .next()
        .unwrap_or(text)
        .trim()
        .to_string()
}

async fn attachments(name: String, state: State) -> Result<Response, Rejection> {
    let list = on_controller(
        &state,
        name,
        |handle| async move { handle.attachments().await },
    )
    .await?;
    Ok(json_reply(&json!({ "items": list })))
}

/// A DNS label from the clock, for attachments the UI does not name.
fn new_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("a{:x}", (nanos / 1_000_000) & 0xff_ffff_ffff)
}

fn attach_request(state: &State, body: serde_json::Value) -> Result<AttachRequest, ApiError> {
    let body: AttachBody = serde_json::from_value(body)
        .map_err(|error| ApiError::bad_request(format!("invalid attachment: {error}")))?;
    let id = body.id.unwrap_or_else(new_id);
    if !spider_model::controller::is_attachment_id(&id) {
        return Err(ApiError::bad_request(
            "id: lowercase letters, digits and '-', at most 40, not starting or ending with '-'",
        ));
    }
    let (namespace, name) = match &body.target {
        Target::Pod { namespace, name }
        | Target::Workload {
            namespace, name, ..
        } => (namespace, name),
    };
    if namespace.is_empty() || name.is_empty() {
        return Err(ApiError::bad_request(
            "target: namespace and name are required",
        ));
    }
    match body.ttl_seconds {
        Some(0) => return Err(ApiError::bad_request("ttl_seconds: at least 1")),
        Some(ttl) if ttl > MAX_TTL_SECONDS => {
            return Err(ApiError::bad_request(format!(
                "ttl_seconds: at most {MAX_TTL_SECONDS} (a week)"
            )))
        }
        _ => {}
    }
    let defaults = &state.config.attach;
    Ok(AttachRequest {
        id,
        target: body.target,
        image: body.image.unwrap_or_else(|| defaults.image.clone()),
        command: body.command.unwrap_or_else(|| defaults.command.clone()),
        args: body.args.unwrap_or_else(|| defaults.args.clone()),
        ttl_seconds: body.ttl_seconds,
    })
}

async fn attach(
    name: String,
    state: State,
    body: serde_json::Value,
) -> Result<Response, Rejection> {
    let request = attach_request(&state, body).map_err(reject)?;
    let answer = request.clone();
    on_controller(&state, name, move |handle| async move {
        handle.attach(&request).await
    })
    .await?;
    Ok(super::status_json(warp::http::StatusCode::CREATED, &answer))
}

async fn detach(name: String, id: String, state: State) -> Result<Response, Rejection> {
    let id = percent_decode(&id);
    let wanted = id.clone();
    let found = on_controller(&state, name, move |handle| async move {
        handle.detach(&id).await
    })
    .await?;
    if !found {
        return Err(reject(ApiError::not_found(format!(
            "no attachment is named {wanted:?}"
        ))));
    }
    Ok(json_reply(&json!({ "detached": wanted })))
}

async fn agent_pods(name: String, state: State) -> Result<Response, Rejection> {
    let list = on_controller(&state, name, |handle| async move { handle.agents().await }).await?;
    Ok(json_reply(&json!({ "items": list })))
}

async fn logs(name: String, state: State, params: LogParams) -> Result<Response, Rejection> {
    let tail = params.tail.unwrap_or(1000).min(MAX_TAIL_LINES);
    let log = on_controller(&state, name, move |handle| async move {
        handle
            .logs(&params.namespace, &params.pod, &params.container, tail)
            .await
    })
    .await?;
    Ok(json_reply(&json!({ "log": log })))
}

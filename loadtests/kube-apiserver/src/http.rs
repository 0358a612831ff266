//! Routing and the HTTP side: discovery, get, list (with `limit`/`continue`), watch (from a
//! resource version, with bookmarks, `410 Gone` as a watch `ERROR` event, `timeoutSeconds`),
//! the ephemeral containers subresource and container logs.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc};

use crate::ephemeral;
use crate::resources::{self, by_plural, RESOURCES};
use crate::select::Selector;
use crate::store::{ApiError, Change, EventType, Signal};
use crate::table;
use crate::Shared;

pub type Body = BoxBody<Bytes, Infallible>;

fn json_response(status: u16, value: &Value) -> Response<Body> {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut response = Response::new(Full::new(Bytes::from(body)).boxed());
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    response.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

fn error_response(error: &ApiError) -> Response<Body> {
    json_response(error.code, &error.status())
}

fn percent_decode(input: &str) -> String {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query_params(query: Option<&str>) -> HashMap<String, String> {
    query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// What a list or watch asks for.
struct Request2 {
    resource: usize,
    namespace: Option<String>,
    labels: Selector,
    fields: Selector,
    params: HashMap<String, String>,
    table: bool,
}

impl Request2 {
    fn matches(&self, object: &Value) -> bool {
        let in_namespace = self.namespace.as_deref().is_none_or(|ns| {
            object
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                == Some(ns)
        });
        in_namespace && self.labels.matches(object) && self.fields.matches(object)
    }

    fn flag(&self, name: &str) -> bool {
        self.params
            .get(name)
            .is_some_and(|v| v == "true" || v == "1")
    }
}

/// Handles one request.
pub async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let params = query_params(request.uri().query());
    let accept = request
        .headers()
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let content_type = request
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = match request.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(e) => {
            return Ok(error_response(&ApiError::bad_request(format!(
                "reading the body: {e}"
            ))))
        }
    };
    tracing::debug!(%method, %path, ?params, "request");
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let response = match segments.as_slice() {
        ["version"] => Ok(json_response(200, &resources::version())),
        ["api"] => Ok(json_response(
            200,
            &resources::core_versions(&shared.address),
        )),
        ["apis"] => Ok(json_response(200, &resources::group_list())),
        ["apis", group] => resources::group(group)
            .map(|g| json_response(200, &g))
            .ok_or_else(|| {
                ApiError::new(
                    404,
                    "NotFound",
                    "the server could not find the requested resource",
                )
            }),
        ["api", "v1", rest @ ..] => {
            resource_request(
                &shared,
                &method,
                "",
                "v1",
                rest,
                params,
                &accept,
                &content_type,
                &body,
            )
            .await
        }
        ["apis", group, version, rest @ ..] => {
            resource_request(
                &shared,
                &method,
                group,
                version,
                rest,
                params,
                &accept,
                &content_type,
                &body,
            )
            .await
        }
        _ => Err(ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )),
    };
    Ok(response.unwrap_or_else(|e| error_response(&e)))
}

#[allow(clippy::too_many_arguments)]
async fn resource_request(
    shared: &Arc<Shared>,
    method: &Method,
    group: &str,
    version: &str,
    rest: &[&str],
    params: HashMap<String, String>,
    accept: &str,
    content_type: &str,
    body: &Bytes,
) -> Result<Response<Body>, ApiError> {
    let not_found = || {
        ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    };
    let resource = |plural: &str| by_plural(group, version, plural).ok_or_else(not_found);
    let (resource, namespace, name, sub) = match rest {
        [] => {
            return resources::resource_list(group, version)
                .map(|v| json_response(200, &v))
                .ok_or_else(not_found)
        }
        [plural] => (resource(plural)?, None, None, None),
        ["namespaces", ns, plural] => (resource(plural)?, Some(*ns), None, None),
        ["namespaces", ns, plural, name] => (resource(plural)?, Some(*ns), Some(*name), None),
        ["namespaces", ns, plural, name, sub] => {
            (resource(plural)?, Some(*ns), Some(*name), Some(*sub))
        }
        [plural, name] => (resource(plural)?, None, Some(*name), None),
        _ => return Err(not_found()),
    };
    let def = RESOURCES[resource];
    if namespace.is_some() && !def.namespaced {
        return Err(not_found());
    }
    if shared.forbidden.iter().any(|f| f == def.plural) {
        return Err(ApiError::new(
            403,
            "Forbidden",
            format!(
                "{} is forbidden: User \"system:serviceaccount:spider:spider-controller\" cannot list resource \"{}\" in API group \"{}\" at the cluster scope",
                def.plural, def.plural, def.group
            ),
        ));
    }
    let table = accept.contains("as=Table");
    match (name, sub, method) {
        (None, None, &Method::GET) => {
            let request = Request2 {
                resource,
                namespace: namespace.map(str::to_string),
                labels: Selector::labels(
                    params
                        .get("labelSelector")
                        .map(String::as_str)
                        .unwrap_or_default(),
                )?,
                fields: Selector::fields(
                    params
                        .get("fieldSelector")
                        .map(String::as_str)
                        .unwrap_or_default(),
                )?,
                params,
                table,
            };
            if request.flag("watch") {
                watch(shared, request)
            } else {
                list(shared, &request)
            }
        }
        (Some(name), None, &Method::GET) => {
            let object = shared.store.get(resource, namespace, name)?;
            if table {
                Ok(json_response(
                    200,
                    &table::table(
                        resource,
                        &[Arc::new(object)],
                        shared.store.resource_version(),
                        None,
                    ),
                ))
            } else {
                Ok(json_response(200, &object))
            }
        }
        (Some(name), Some("ephemeralcontainers"), m) if def.kind == "Pod" => {
            let ns = namespace.unwrap_or_default();
            match *m {
                Method::GET => Ok(json_response(
                    200,
                    &shared.store.get(resource, namespace, name)?,
                )),
                Method::PATCH | Method::PUT => {
                    let kubelet = shared.kubelet;
                    let mut started = Vec::new();
                    let updated = shared.store.update_with(resource, ns, name, |current| {
                        let wanted = if *m == Method::PUT {
                            serde_json::from_slice(body).map_err(|e| {
                                ApiError::bad_request(format!("the body is not a Pod: {e}"))
                            })?
                        } else {
                            ephemeral::patch(current, content_type, body)?
                        };
                        let admitted = ephemeral::admit(current, &wanted, kubelet)?;
                        started = crate::runner::added(current, &admitted);
                        Ok(admitted)
                    })?;
                    if shared.run_ephemeral {
                        for container in started {
                            crate::runner::start(
                                Arc::clone(shared),
                                ns.to_string(),
                                name.to_string(),
                                container,
                            );
                        }
                    }
                    Ok(json_response(200, &updated))
                }
                _ => Err(ApiError::new(
                    405,
                    "MethodNotAllowed",
                    format!("{m} is not allowed on ephemeralcontainers"),
                )),
            }
        }
        (Some(name), Some("log"), &Method::GET) if def.kind == "Pod" => {
            let ns = namespace.unwrap_or_default();
            let pod = shared.store.get(resource, namespace, name)?;
            let container = match params.get("container") {
                Some(c) => c.clone(),
                None => pod
                    .pointer("/spec/containers/0/name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            };
            let log = shared.store.log(ns, name, &container).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "container \"{container}\" in pod \"{name}\" has no logs"
                ))
            })?;
            let mut response = Response::new(Full::new(Bytes::from(log)).boxed());
            response.headers_mut().insert(
                "content-type",
                hyper::header::HeaderValue::from_static("text/plain"),
            );
            Ok(response)
        }
        (_, _, m) => Err(ApiError::new(
            405,
            "MethodNotAllowed",
            format!("the server does not allow this method on the requested resource ({m})"),
        )),
    }
}

fn strip_type(object: &Value) -> Value {
    let mut object = object.clone();
    if let Value::Object(map) = &mut object {
        map.remove("kind");
        map.remove("apiVersion");
    }
    object
}

fn list(shared: &Arc<Shared>, request: &Request2) -> Result<Response<Body>, ApiError> {
    let def = RESOURCES[request.resource];
    let (current_rv, objects) = shared
        .store
        .list(request.resource, request.namespace.as_deref());
    let mut rv = current_rv;
    let mut after: Option<(String, String)> = None;
    if let Some(token) = request.params.get("continue").filter(|t| !t.is_empty()) {
        let mut parts = token.splitn(3, ':');
        let token_rv = parts.next().and_then(|p| p.parse::<u64>().ok());
        let (Some(token_rv), Some(ns), Some(name)) = (token_rv, parts.next(), parts.next()) else {
            return Err(ApiError::bad_request("invalid continue token"));
        };
        if token_rv < shared.store.lock().floor {
            return Err(ApiError::expired(
                "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
            ));
        }
        rv = token_rv;
        after = Some((ns.to_string(), name.to_string()));
    }
    let key = |o: &Value| {
        (
            o.pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            o.pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        )
    };
    let limit = request
        .params
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0)
        .unwrap_or(usize::MAX);
    let mut matching = objects
        .iter()
        .filter(|o| after.as_ref().is_none_or(|a| key(o) > *a))
        .filter(|o| request.matches(o));
    let page: Vec<Arc<Value>> = matching.by_ref().take(limit).cloned().collect();
    let remaining = matching.count();
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if remaining > 0 {
        if let Some(last) = page.last() {
            let (ns, name) = key(last);
            meta["continue"] = json!(format!("{rv}:{ns}:{name}"));
            meta["remainingItemCount"] = json!(remaining);
        }
    }
    if request.table {
        let token = meta
            .get("continue")
            .and_then(Value::as_str)
            .map(str::to_string);
        return Ok(json_response(
            200,
            &table::table(request.resource, &page, rv, token),
        ));
    }
    let items: Vec<Value> = page.iter().map(|o| strip_type(o)).collect();
    Ok(json_response(
        200,
        &json!({"kind": format!("{}List", def.kind), "apiVersion": def.api_version(),
                "metadata": meta, "items": items}),
    ))
}

fn event_line(kind: &str, object: &Value) -> Bytes {
    let mut line = serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
    line.push(b'\n');
    Bytes::from(line)
}

/// The event a watcher of `request` sees for `change`, if any.
fn view(request: &Request2, change: &Change) -> Option<(&'static str, Value)> {
    if change.resource != request.resource {
        return None;
    }
    let now = request.matches(&change.object);
    let before = change
        .previous
        .as_deref()
        .is_some_and(|p| request.matches(p))
        && change.kind != EventType::Added;
    let kind = match (change.kind, before, now) {
        (EventType::Deleted, true, _) => EventType::Deleted,
        (EventType::Deleted, false, _) => return None,
        (_, false, true) => EventType::Added,
        (_, true, true) => EventType::Modified,
        (_, true, false) => EventType::Deleted,
        (_, false, false) => return None,
    };
    let object = if request.table {
        table::table(
            request.resource,
            &[Arc::clone(&change.object)],
            change.rv,
            None,
        )
    } else {
        (*change.object).clone()
    };
    Some((kind.as_str(), object))
}

fn watch(shared: &Arc<Shared>, request: Request2) -> Result<Response<Body>, ApiError> {
    let def = RESOURCES[request.resource];
    let rv_param = request
        .params
        .get("resourceVersion")
        .cloned()
        .unwrap_or_default();
    let timeout = request
        .params
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(shared.watch_timeout);
    let bookmarks = request.flag("allowWatchBookmarks");
    let initial_events = request.flag("sendInitialEvents");
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    // Replay: from a resource version (or "0"/"": the current objects as ADDED first).
    let (first, mut signals, start_rv) = if rv_param.is_empty() || rv_param == "0" || initial_events
    {
        let (rv, objects, signals) = shared.store.snapshot_and_subscribe(request.resource);
        let first: Vec<Bytes> = objects
            .iter()
            .filter(|o| request.matches(o))
            .map(|o| {
                let object = if request.table {
                    table::table(request.resource, &[Arc::clone(o)], rv, None)
                } else {
                    (**o).clone()
                };
                event_line("ADDED", &object)
            })
            .collect();
        (first, signals, rv)
    } else {
        let rv = rv_param
            .parse::<u64>()
            .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion: {rv_param}")))?;
        match shared.store.subscribe(rv) {
            Ok((changes, signals)) => {
                let first = changes
                    .iter()
                    .filter_map(|c| view(&request, c))
                    .map(|(kind, object)| event_line(kind, &object))
                    .collect();
                let last = changes.last().map_or(rv, |c| c.rv);
                (first, signals, last)
            }
            Err(expired) => {
                // The watch cache's answer: a 200 with one ERROR event carrying the 410 Status.
                let line = event_line("ERROR", &expired.status());
                let stream =
                    futures::stream::once(async move { Ok::<_, Infallible>(Frame::data(line)) });
                let mut response = Response::new(StreamBody::new(stream).boxed());
                response.headers_mut().insert(
                    "content-type",
                    hyper::header::HeaderValue::from_static("application/json"),
                );
                return Ok(response);
            }
        }
    };
    let bookmark_kind = json!({"kind": def.kind, "apiVersion": def.api_version()});
    tokio::spawn(async move {
        let mut last_rv = start_rv;
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        for line in first {
            if tx.send(line).await.is_err() {
                return;
            }
        }
        if initial_events && bookmarks {
            let mut mark = bookmark_kind.clone();
            mark["metadata"] = json!({"resourceVersion": start_rv.to_string(),
                "annotations": {"k8s.io/initial-events-end": "true"}});
            if tx.send(event_line("BOOKMARK", &mark)).await.is_err() {
                return;
            }
        }
        loop {
            let signal = tokio::select! {
                _ = &mut deadline => return,
                signal = signals.recv() => signal,
            };
            let line = match signal {
                Ok(Signal::Change(change)) if change.rv > last_rv => {
                    last_rv = change.rv;
                    match view(&request, &change) {
                        Some((kind, object)) => event_line(kind, &object),
                        None => continue,
                    }
                }
                Ok(Signal::Change(_)) => continue,
                Ok(Signal::Bookmark(rv)) if bookmarks && rv >= last_rv => {
                    last_rv = rv;
                    let mut mark = bookmark_kind.clone();
                    mark["metadata"] = json!({"resourceVersion": rv.to_string()});
                    event_line("BOOKMARK", &mark)
                }
                Ok(Signal::Bookmark(_)) => continue,
                // Closed, or this watch fell behind: end it; the client watches again.
                Ok(Signal::Close)
                | Err(
                    broadcast::error::RecvError::Closed | broadcast::error::RecvError::Lagged(_),
                ) => return,
            };
            if tx.send(line).await.is_err() {
                return;
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|line| (Ok::<_, Infallible>(Frame::data(line)), rx))
    });
    let mut response = Response::new(StreamBody::new(stream).boxed());
    response.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

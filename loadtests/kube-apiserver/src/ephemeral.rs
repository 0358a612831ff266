//! The `pods/NAME/ephemeralcontainers` subresource: PATCH (strategic merge, JSON merge, JSON
//! patch) and PUT may add ephemeral containers and change nothing else, as the real server
//! enforces. With the kubelet simulation on, a new ephemeral container is also reported running
//! in `status.ephemeralContainerStatuses`.

use serde_json::{json, Map, Value};

use crate::store::ApiError;
use crate::time::now_rfc3339;

fn containers(pod: &Value) -> Vec<Value> {
    pod.pointer("/spec/ephemeralContainers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn name(container: &Value) -> Option<&str> {
    container.get("name").and_then(Value::as_str)
}

/// JSON merge patch (RFC 7386).
fn merge(target: &mut Value, patch: &Value) {
    if let Value::Object(patch) = patch {
        if !target.is_object() {
            *target = Value::Object(Map::new());
        }
        if let Value::Object(target) = target {
            for (key, value) in patch {
                if value.is_null() {
                    target.remove(key);
                } else {
                    merge(target.entry(key.clone()).or_insert(Value::Null), value);
                }
            }
        }
    } else {
        *target = patch.clone();
    }
}

/// Strategic merge of the ephemeral containers: merged by name, others as a merge patch.
fn strategic(pod: &Value, patch: &Value) -> Result<Value, ApiError> {
    let mut list = containers(pod);
    if let Some(items) = patch.pointer("/spec/ephemeralContainers") {
        let items = items
            .as_array()
            .ok_or_else(|| ApiError::bad_request("spec.ephemeralContainers is not a list"))?;
        for item in items {
            if item.get("$patch").is_some() {
                return Err(ApiError::invalid(
                    "ephemeral containers may not be removed or replaced",
                ));
            }
            let item_name = name(item).ok_or_else(|| {
                ApiError::invalid("spec.ephemeralContainers[].name: Required value")
            })?;
            match list.iter_mut().find(|c| name(c) == Some(item_name)) {
                Some(existing) => merge(existing, item),
                None => list.push(item.clone()),
            }
        }
    }
    let mut result = pod.clone();
    result["spec"]["ephemeralContainers"] = Value::Array(list);
    Ok(result)
}

fn pointer_parts(path: &str) -> Result<Vec<String>, ApiError> {
    let rest = path
        .strip_prefix('/')
        .ok_or_else(|| ApiError::bad_request(format!("bad JSON pointer: {path}")))?;
    Ok(rest
        .split('/')
        .map(|p| p.replace("~1", "/").replace("~0", "~"))
        .collect())
}

/// JSON patch (RFC 6902): add, replace, remove, test.
fn json_patch(pod: &Value, ops: &Value) -> Result<Value, ApiError> {
    let ops = ops
        .as_array()
        .ok_or_else(|| ApiError::bad_request("a JSON patch is a list of operations"))?;
    let mut doc = pod.clone();
    for op in ops {
        let kind = op.get("op").and_then(Value::as_str).unwrap_or_default();
        let path = op
            .get("path")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::bad_request("JSON patch operation without path"))?;
        let mut parts = pointer_parts(path)?;
        let last = parts
            .pop()
            .ok_or_else(|| ApiError::bad_request("JSON patch on the root"))?;
        let parent_path: String = parts.iter().map(|p| format!("/{p}")).collect();
        if kind == "test" {
            if doc.pointer(path) != op.get("value") {
                return Err(ApiError::invalid(format!("test failed at {path}")));
            }
            continue;
        }
        let parent = doc
            .pointer_mut(&parent_path)
            .ok_or_else(|| ApiError::invalid(format!("no such path: {parent_path}")))?;
        let value = op.get("value").cloned();
        match (kind, parent) {
            ("add" | "replace", Value::Object(map)) => {
                let value =
                    value.ok_or_else(|| ApiError::bad_request("operation without value"))?;
                map.insert(last, value);
            }
            ("remove", Value::Object(map)) => {
                map.remove(&last);
            }
            (op_kind @ ("add" | "replace" | "remove"), Value::Array(list)) => {
                let index = if last == "-" {
                    list.len()
                } else {
                    last.parse::<usize>()
                        .map_err(|_| ApiError::bad_request(format!("bad index in {path}")))?
                };
                match op_kind {
                    "add" if index <= list.len() => list.insert(
                        index,
                        value.ok_or_else(|| ApiError::bad_request("operation without value"))?,
                    ),
                    "replace" if index < list.len() => {
                        list[index] = value
                            .ok_or_else(|| ApiError::bad_request("operation without value"))?;
                    }
                    "remove" if index < list.len() => {
                        list.remove(index);
                    }
                    _ => return Err(ApiError::invalid(format!("index out of range: {path}"))),
                }
            }
            (other, _) => {
                return Err(ApiError::bad_request(format!(
                    "unsupported JSON patch operation {other} at {path}"
                )))
            }
        }
    }
    Ok(doc)
}

fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// Defaults the server fills in a new ephemeral container.
fn defaulted(mut container: Value) -> Value {
    let image = container
        .get("image")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if let Value::Object(map) = &mut container {
        map.entry("terminationMessagePath")
            .or_insert(json!("/dev/termination-log"));
        map.entry("terminationMessagePolicy")
            .or_insert(json!("File"));
        let tag = image
            .rsplit('/')
            .next()
            .and_then(|last| last.split_once(':'));
        let pull = match tag {
            Some((_, "latest")) | None => "Always",
            Some(_) => "IfNotPresent",
        };
        map.entry("imagePullPolicy").or_insert(json!(pull));
        map.entry("resources").or_insert(json!({}));
    }
    container
}

/// Checks that `updated` only adds valid ephemeral containers to `current`; returns the pod to
/// store (the current pod with the new list, defaulted, and the kubelet's statuses).
pub fn admit(current: &Value, updated: &Value, kubelet: bool) -> Result<Value, ApiError> {
    let pod_name = current
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let old = containers(current);
    let new = containers(updated);
    for existing in &old {
        let found = new.iter().find(|c| name(c) == name(existing));
        match found {
            None => {
                return Err(ApiError::invalid(format!(
                    "Pod \"{pod_name}\" is invalid: spec.ephemeralContainers: Forbidden: existing ephemeral containers \"{}\" may not be removed",
                    name(existing).unwrap_or_default()
                )))
            }
            Some(c) if defaulted(c.clone()) != *existing => {
                return Err(ApiError::invalid(format!(
                    "Pod \"{pod_name}\" is invalid: spec.ephemeralContainers: Forbidden: existing ephemeral containers \"{}\" may not be changed",
                    name(existing).unwrap_or_default()
                )))
            }
            Some(_) => {}
        }
    }
    let mut taken: Vec<String> = ["containers", "initContainers"]
        .iter()
        .flat_map(|list| {
            current
                .pointer(&format!("/spec/{list}"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|c| name(c).map(str::to_string))
        })
        .collect();
    taken.extend(old.iter().filter_map(|c| name(c).map(str::to_string)));
    let mut list = old.clone();
    let mut started = Vec::new();
    for container in new.into_iter().skip(old.len()) {
        let container_name = name(&container).unwrap_or_default().to_string();
        if !is_dns_label(&container_name) {
            return Err(ApiError::invalid(format!(
                "Pod \"{pod_name}\" is invalid: spec.ephemeralContainers[{}].name: Invalid value: \"{container_name}\"",
                list.len()
            )));
        }
        if taken.contains(&container_name) {
            return Err(ApiError::invalid(format!(
                "Pod \"{pod_name}\" is invalid: spec.ephemeralContainers[{}].name: Duplicate value: \"{container_name}\"",
                list.len()
            )));
        }
        if container
            .get("image")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .is_empty()
        {
            return Err(ApiError::invalid(format!(
                "Pod \"{pod_name}\" is invalid: spec.ephemeralContainers[{}].image: Required value",
                list.len()
            )));
        }
        for forbidden in [
            "ports",
            "livenessProbe",
            "readinessProbe",
            "startupProbe",
            "lifecycle",
        ] {
            if container.get(forbidden).is_some() {
                return Err(ApiError::invalid(format!(
                    "Pod \"{pod_name}\" is invalid: spec.ephemeralContainers[{}].{forbidden}: Forbidden: cannot be set for an Ephemeral Container",
                    list.len()
                )));
            }
        }
        taken.push(container_name.clone());
        started.push(container_name);
        list.push(defaulted(container));
    }
    let mut result = current.clone();
    result["spec"]["ephemeralContainers"] = Value::Array(list);
    if kubelet {
        let running = current.pointer("/status/phase").and_then(Value::as_str) == Some("Running");
        if running {
            for container_name in started {
                set_status(
                    &mut result,
                    &container_name,
                    json!({"running": {"startedAt": now_rfc3339()}}),
                );
            }
        }
    }
    Ok(result)
}

/// Sets the state of ephemeral container `container` in the pod's status.
pub fn set_status(pod: &mut Value, container: &str, state: Value) {
    let image = pod
        .pointer("/spec/ephemeralContainers")
        .and_then(Value::as_array)
        .and_then(|list| list.iter().find(|c| name(c) == Some(container)))
        .and_then(|c| c.get("image"))
        .cloned()
        .unwrap_or(Value::Null);
    let running = state.get("running").is_some();
    let status = json!({
        "name": container, "state": state, "lastState": {}, "ready": false,
        "restartCount": 0, "image": image, "imageID": "", "started": running,
    });
    if !pod.get("status").is_some_and(Value::is_object) {
        pod["status"] = json!({});
    }
    let statuses = &mut pod["status"]["ephemeralContainerStatuses"];
    if !statuses.is_array() {
        *statuses = json!([]);
    }
    if let Value::Array(list) = statuses {
        match list.iter_mut().find(|s| name(s) == Some(container)) {
            Some(existing) => *existing = status,
            None => list.push(status),
        }
    }
}

/// Applies a PATCH body of `content_type` to `pod`.
pub fn patch(pod: &Value, content_type: &str, body: &[u8]) -> Result<Value, ApiError> {
    let patch: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the patch is not JSON: {e}")))?;
    let media = content_type.split(';').next().unwrap_or_default().trim();
    match media {
        "application/strategic-merge-patch+json" => strategic(pod, &patch),
        "application/merge-patch+json" => {
            let mut result = pod.clone();
            merge(&mut result, &patch);
            Ok(result)
        }
        "application/json-patch+json" => json_patch(pod, &patch),
        other => Err(ApiError::new(
            415,
            "UnsupportedMediaType",
            format!("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got {other})"),
        )),
    }
}

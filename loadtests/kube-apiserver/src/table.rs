//! `meta.k8s.io/v1` Tables, what `kubectl get` asks for to print its columns.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::resources::RESOURCES;

fn text<'a>(object: &'a Value, pointer: &str) -> &'a str {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn pod_cells(pod: &Value) -> Vec<Value> {
    let statuses = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let total = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let ready = statuses
        .iter()
        .filter(|s| s.get("ready").and_then(Value::as_bool) == Some(true))
        .count();
    let restarts: u64 = statuses
        .iter()
        .filter_map(|s| s.get("restartCount").and_then(Value::as_u64))
        .sum();
    let status = if pod.pointer("/metadata/deletionTimestamp").is_some() {
        "Terminating"
    } else {
        text(pod, "/status/phase")
    };
    vec![
        json!(format!("{ready}/{total}")),
        json!(status),
        json!(restarts),
    ]
}

/// A Table of `objects` of resource `resource`.
pub fn table(
    resource: usize,
    objects: &[Arc<Value>],
    rv: u64,
    continue_token: Option<String>,
) -> Value {
    let def = RESOURCES[resource];
    let pods = def.kind == "Pod";
    let mut columns = vec![json!({"name": "Name", "type": "string", "format": "name",
        "description": "Name must be unique within a namespace.", "priority": 0})];
    if pods {
        for (name, kind) in [
            ("Ready", "string"),
            ("Status", "string"),
            ("Restarts", "integer"),
        ] {
            columns.push(json!({"name": name, "type": kind, "format": "", "description": name, "priority": 0}));
        }
    }
    columns.push(json!({"name": "Age", "type": "string", "format": "",
        "description": "CreationTimestamp of the object.", "priority": 0}));
    let rows: Vec<Value> = objects
        .iter()
        .map(|object| {
            let mut cells = vec![json!(text(object, "/metadata/name"))];
            if pods {
                cells.extend(pod_cells(object));
            }
            cells.push(json!("<unknown>"));
            json!({
                "cells": cells,
                "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                           "metadata": object.get("metadata").cloned().unwrap_or(Value::Null)}
            })
        })
        .collect();
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if let Some(token) = continue_token {
        meta["continue"] = json!(token);
    }
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
           "columnDefinitions": columns, "rows": rows})
}

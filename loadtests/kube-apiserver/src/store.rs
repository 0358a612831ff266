//! The objects, their resource versions and the event history that watches replay.
//!
//! One counter gives every change its resource version, as etcd's revision does. The history
//! keeps the last `max_history` events; a watch from a resource version older than the oldest
//! kept event is answered `410 Gone` (`Expired`), as a real server answers once its watch cache
//! has moved on.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{json, Map, Value};
use tokio::sync::broadcast;

use crate::resources::{by_kind, RESOURCES};
use crate::time::now_rfc3339;

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One change, as watches deliver it.
#[derive(Debug)]
pub struct Change {
    pub rv: u64,
    pub resource: usize,
    pub kind: EventType,
    pub object: Arc<Value>,
    /// The object before the change (for selectors: an object that stops matching is deleted
    /// from the watcher's point of view).
    pub previous: Option<Arc<Value>>,
}

/// What watches receive.
#[derive(Debug, Clone)]
pub enum Signal {
    Change(Arc<Change>),
    /// Every change up to this resource version has been sent.
    Bookmark(u64),
    /// End every open watch (their clients watch again from their last resource version).
    Close,
}

/// An error as the Kubernetes API reports it (a `Status`).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub fn not_found(resource: &str, name: &str) -> Self {
        Self::new(404, "NotFound", format!("{resource} \"{name}\" not found"))
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(422, "Invalid", message)
    }

    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    /// The `Status` object.
    pub fn status(&self) -> Value {
        json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": self.message, "reason": self.reason, "code": self.code
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ObjKey {
    pub resource: usize,
    pub namespace: String,
    pub name: String,
}

/// A change to make (see [`Store::expire`]).
#[derive(Debug, Clone)]
pub enum Mutation {
    Apply(Value),
    Delete {
        api_version: String,
        kind: String,
        namespace: Option<String>,
        name: String,
    },
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub rv: u64,
    /// The oldest resource version a watch can start from.
    pub floor: u64,
    pub objects: BTreeMap<ObjKey, Arc<Value>>,
    history: VecDeque<Arc<Change>>,
    max_history: usize,
    uids: u64,
    logs: HashMap<(String, String, String), String>,
}

/// The server's state; cheap to share.
#[derive(Debug)]
pub struct Store {
    inner: Mutex<Inner>,
    signals: broadcast::Sender<Signal>,
}

fn text<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut value = value;
    for key in path {
        value = value.get(key)?;
    }
    value.as_str()
}

/// The resource index, namespace and name of `object`.
fn identify(object: &Value) -> Result<ObjKey, ApiError> {
    let api_version = text(object, &["apiVersion"])
        .ok_or_else(|| ApiError::bad_request("object has no apiVersion"))?;
    let kind =
        text(object, &["kind"]).ok_or_else(|| ApiError::bad_request("object has no kind"))?;
    let resource = by_kind(api_version, kind)
        .ok_or_else(|| ApiError::bad_request(format!("no resource for {api_version} {kind}")))?;
    let name = text(object, &["metadata", "name"])
        .ok_or_else(|| ApiError::bad_request("object has no metadata.name"))?;
    let namespace = text(object, &["metadata", "namespace"]).unwrap_or_default();
    if RESOURCES[resource].namespaced == namespace.is_empty() {
        return Err(ApiError::bad_request(format!(
            "{kind} {name}: namespace {}",
            if namespace.is_empty() {
                "missing"
            } else {
                "not allowed"
            }
        )));
    }
    Ok(ObjKey {
        resource,
        namespace: namespace.to_string(),
        name: name.to_string(),
    })
}

fn metadata(object: &mut Value) -> &mut Map<String, Value> {
    if !object.get("metadata").is_some_and(Value::is_object) {
        object["metadata"] = json!({});
    }
    match object.get_mut("metadata") {
        Some(Value::Object(map)) => map,
        _ => unreachable!("metadata was just made an object"),
    }
}

impl Inner {
    fn next_rv(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    fn record(&mut self, change: Change, signals: &broadcast::Sender<Signal>) {
        let change = Arc::new(change);
        self.history.push_back(Arc::clone(&change));
        while self.history.len() > self.max_history {
            if let Some(old) = self.history.pop_front() {
                self.floor = self.floor.max(old.rv);
            }
        }
        // No receiver is not an error: nobody is watching.
        let _ = signals.send(Signal::Change(change));
    }

    /// Creates or replaces `object`; returns the change (not yet recorded).
    fn apply(&mut self, mut object: Value) -> Result<Change, ApiError> {
        let key = identify(&object)?;
        let previous = self.objects.get(&key).cloned();
        let rv = self.next_rv();
        let uid = match previous
            .as_deref()
            .and_then(|p| text(p, &["metadata", "uid"]))
        {
            Some(uid) => uid.to_string(),
            None => {
                self.uids += 1;
                format!("5f0c3a1e-0000-4000-8000-{:012x}", self.uids)
            }
        };
        let created = previous
            .as_deref()
            .and_then(|p| text(p, &["metadata", "creationTimestamp"]))
            .map(str::to_string);
        let meta = metadata(&mut object);
        meta.insert("resourceVersion".into(), Value::String(rv.to_string()));
        meta.entry("uid").or_insert(Value::String(uid));
        meta.entry("creationTimestamp")
            .or_insert_with(|| Value::String(created.unwrap_or_else(now_rfc3339)));
        let object = Arc::new(object);
        self.objects.insert(key.clone(), Arc::clone(&object));
        Ok(Change {
            rv,
            resource: key.resource,
            kind: if previous.is_some() {
                EventType::Modified
            } else {
                EventType::Added
            },
            object,
            previous,
        })
    }

    fn delete(&mut self, key: &ObjKey) -> Result<Change, ApiError> {
        let Some(previous) = self.objects.remove(key) else {
            return Err(ApiError::not_found(
                RESOURCES[key.resource].plural,
                &key.name,
            ));
        };
        let rv = self.next_rv();
        let mut object = (*previous).clone();
        metadata(&mut object).insert("resourceVersion".into(), Value::String(rv.to_string()));
        Ok(Change {
            rv,
            resource: key.resource,
            kind: EventType::Deleted,
            object: Arc::new(object),
            previous: Some(previous),
        })
    }

    /// The changes after `rv`, or `Expired` when some of them are no longer kept.
    pub fn since(&self, rv: u64) -> Result<Vec<Arc<Change>>, ApiError> {
        if rv < self.floor {
            return Err(ApiError::expired(format!(
                "too old resource version: {rv} ({})",
                self.floor
            )));
        }
        let start = self.history.partition_point(|c| c.rv <= rv);
        Ok(self.history.range(start..).cloned().collect())
    }
}

impl Store {
    /// An empty store keeping the last `max_history` changes.
    pub fn new(max_history: usize) -> Self {
        let (signals, _) = broadcast::channel(4096);
        Self {
            inner: Mutex::new(Inner {
                rv: 1000,
                floor: 0,
                objects: BTreeMap::new(),
                history: VecDeque::new(),
                max_history: max_history.max(1),
                uids: 0,
                logs: HashMap::new(),
            }),
            signals,
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent data (every change is one insert).
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The changes after `rv` and a receiver of the ones to come, taken together (no change is
    /// missed or seen twice).
    pub(crate) fn subscribe(
        &self,
        rv: u64,
    ) -> Result<(Vec<Arc<Change>>, broadcast::Receiver<Signal>), ApiError> {
        let inner = self.lock();
        let changes = inner.since(rv)?;
        Ok((changes, self.signals.subscribe()))
    }

    /// The current objects and a receiver of the changes after them.
    pub(crate) fn snapshot_and_subscribe(
        &self,
        resource: usize,
    ) -> (u64, Vec<Arc<Value>>, broadcast::Receiver<Signal>) {
        let inner = self.lock();
        let objects = inner
            .objects
            .iter()
            .filter(|(k, _)| k.resource == resource)
            .map(|(_, v)| Arc::clone(v))
            .collect();
        (inner.rv, objects, self.signals.subscribe())
    }

    /// The current resource version.
    pub fn resource_version(&self) -> u64 {
        self.lock().rv
    }

    /// Creates or replaces an object (ADDED or MODIFIED); returns it as stored.
    pub fn apply(&self, object: Value) -> Result<Value, ApiError> {
        let mut inner = self.lock();
        let change = inner.apply(object)?;
        let stored = (*change.object).clone();
        inner.record(change, &self.signals);
        Ok(stored)
    }

    /// Deletes an object (DELETED).
    pub fn delete(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, ApiError> {
        let resource = by_kind(api_version, kind).ok_or_else(|| {
            ApiError::bad_request(format!("no resource for {api_version} {kind}"))
        })?;
        let key = ObjKey {
            resource,
            namespace: namespace.unwrap_or_default().to_string(),
            name: name.to_string(),
        };
        let mut inner = self.lock();
        let change = inner.delete(&key)?;
        let stored = (*change.object).clone();
        inner.record(change, &self.signals);
        Ok(stored)
    }

    /// One object.
    pub fn get(
        &self,
        resource: usize,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, ApiError> {
        let key = ObjKey {
            resource,
            namespace: namespace.unwrap_or_default().to_string(),
            name: name.to_string(),
        };
        self.lock()
            .objects
            .get(&key)
            .map(|v| (**v).clone())
            .ok_or_else(|| ApiError::not_found(RESOURCES[resource].plural, name))
    }

    /// Every object of `resource` (in `namespace` if given), by (namespace, name).
    pub fn list(&self, resource: usize, namespace: Option<&str>) -> (u64, Vec<Arc<Value>>) {
        let inner = self.lock();
        let objects = inner
            .objects
            .iter()
            .filter(|(k, _)| k.resource == resource && namespace.is_none_or(|ns| ns == k.namespace))
            .map(|(_, v)| Arc::clone(v))
            .collect();
        (inner.rv, objects)
    }

    /// Sends a bookmark at the current resource version to every watch that asked for them.
    pub fn bookmark(&self) {
        let inner = self.lock();
        let _ = self.signals.send(Signal::Bookmark(inner.rv));
    }

    /// Ends every open watch; clients watch again from the last resource version they saw.
    pub fn close_watches(&self) {
        let _inner = self.lock();
        let _ = self.signals.send(Signal::Close);
    }

    /// Watch expiry: ends every open watch, makes `mutations` without any watch seeing them,
    /// and forgets the history, so that a client must list again (its next watch gets 410
    /// Gone) to learn what changed.
    pub fn expire(&self, mutations: Vec<Mutation>) -> Result<(), ApiError> {
        let mut inner = self.lock();
        let _ = self.signals.send(Signal::Close);
        for mutation in mutations {
            match mutation {
                Mutation::Apply(object) => {
                    inner.apply(object)?;
                }
                Mutation::Delete {
                    api_version,
                    kind,
                    namespace,
                    name,
                } => {
                    let resource = by_kind(&api_version, &kind).ok_or_else(|| {
                        ApiError::bad_request(format!("no resource for {api_version} {kind}"))
                    })?;
                    inner.delete(&ObjKey {
                        resource,
                        namespace: namespace.unwrap_or_default(),
                        name,
                    })?;
                }
            }
        }
        // Some write elsewhere (a lease) moves the revision on; history is compacted up to it.
        let rv = inner.next_rv();
        inner.floor = rv;
        inner.history.clear();
        Ok(())
    }

    /// Replaces an object in place through a function (the ephemeral containers subresource).
    pub(crate) fn update_with(
        &self,
        resource: usize,
        namespace: &str,
        name: &str,
        update: impl FnOnce(&Value) -> Result<Value, ApiError>,
    ) -> Result<Value, ApiError> {
        let key = ObjKey {
            resource,
            namespace: namespace.to_string(),
            name: name.to_string(),
        };
        let mut inner = self.lock();
        let current = inner
            .objects
            .get(&key)
            .cloned()
            .ok_or_else(|| ApiError::not_found(RESOURCES[resource].plural, name))?;
        let updated = update(&current)?;
        if updated == *current {
            return Ok(updated);
        }
        let change = inner.apply(updated)?;
        let stored = (*change.object).clone();
        inner.record(change, &self.signals);
        Ok(stored)
    }

    /// Sets the log of a container (served by `pods/NAME/log?container=C`).
    pub fn set_log(&self, namespace: &str, pod: &str, container: &str, log: &str) {
        self.lock().logs.insert(
            (namespace.into(), pod.into(), container.into()),
            log.to_string(),
        );
    }

    pub(crate) fn log(&self, namespace: &str, pod: &str, container: &str) -> Option<String> {
        self.lock()
            .logs
            .get(&(namespace.into(), pod.into(), container.into()))
            .cloned()
    }
}

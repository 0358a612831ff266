//! Attachment of Whisperers as ephemeral containers (the pods' `ephemeralcontainers`
//! subresource), to one pod or to every pod of a workload, following scale-ups and rollouts
//! (each new running replica gets one), until a time to live runs out.
//!
//! Ephemeral containers cannot be removed: detaching is the Whisperer exiting at its deadline
//! (it gets `SPIDER_WHISPERER_TTL_SECONDS`) and the Controller not adding another. [`Attacher::run`]
//! keeps a timer on the nearest deadline: an attachment is detached when its time to live runs
//! out (`detached` in [`Attacher::list`], a change on [`Attacher::changes`]), not at the next
//! inventory change. A Whisperer
//! that ended in failure is started again in a new container (`NAME-2`, …), unless it failed
//! twice in 5 minutes on that pod: then that pod's attachment is marked `crash_loop` and left
//! alone.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{LogParams, Patch, PatchParams};
use kube::{Api, Client};
use serde_json::json;
use tokio::sync::watch;

use crate::error::ControllerError;
use crate::inventory::objects::{ContainerState, PodInfo};
use crate::inventory::Inventory;
use crate::now_ns;
pub use spider_model::controller::{
    AttachRequest, AttachmentStatus, PodAttachment, PodAttachmentState, Target,
};

/// Failures within this window that stop restarts.
pub const CRASH_WINDOW_NS: i64 = 5 * 60 * 1_000_000_000;
/// Failures in the window that stop restarts.
pub const CRASH_LIMIT: usize = 2;

#[derive(Debug)]
struct Attachment {
    request: AttachRequest,
    created: i64,
    expires: Option<i64>,
    detached: Option<i64>,
    /// Containers patched in, by pod uid (before the pod's next event shows them).
    added: BTreeMap<String, Vec<String>>,
}

/// The attachments of a Controller.
#[derive(Clone)]
pub struct Attacher {
    client: Client,
    inventory: Inventory,
    attachments: Arc<Mutex<BTreeMap<String, Attachment>>>,
    /// Bumped at every change of the attachments (added, detached, containers added).
    changes: Arc<watch::Sender<u64>>,
    /// Where attached Whisperers reach this Controller for names of IPs (`SPIDER_CONTROLLER`).
    names_address: Arc<Mutex<Option<String>>>,
    /// More environment of attached Whisperers (`SPIDER_TLS_PIN`).
    whisperer_env: Arc<Mutex<Vec<(String, String)>>>,
}

impl Attachment {
    fn prefix(&self) -> String {
        format!("spider-whisperer-{}", self.request.id)
    }

    fn targets<'a>(&self, state: &'a crate::inventory::State) -> Vec<&'a PodInfo> {
        match &self.request.target {
            Target::Pod { namespace, name } => state
                .pods
                .values()
                .filter(|p| &*p.namespace == namespace && &*p.name == name)
                .collect(),
            Target::Workload {
                namespace,
                kind,
                name,
            } => state.pods_of(namespace, kind, name),
        }
    }

    /// This attachment's containers on `pod`, with what the pod says of them.
    fn on_pod(&self, pod: &PodInfo, now: i64) -> PodAttachment {
        let prefix = self.prefix();
        let mine = |name: &str| {
            name == prefix
                || name
                    .strip_prefix(&format!("{prefix}-"))
                    .is_some_and(|n| n.parse::<u32>().is_ok())
        };
        let mut containers: Vec<String> = pod
            .ephemeral
            .iter()
            .filter(|c| mine(&c.name))
            .map(|c| c.name.clone())
            .collect();
        for added in self.added.get(&*pod.uid).into_iter().flatten() {
            if !containers.contains(added) {
                containers.push(added.clone());
            }
        }
        let states: Vec<Option<&ContainerState>> = containers
            .iter()
            .map(|name| {
                pod.ephemeral
                    .iter()
                    .find(|c| &c.name == name)
                    .map(|c| &c.state)
            })
            .collect();
        let failures = states
            .iter()
            .filter(|s| matches!(s, Some(ContainerState::Terminated { exit_code, finished, .. }) if *exit_code != 0 && now - finished <= CRASH_WINDOW_NS))
            .count();
        let state = match states.last() {
            None => PodAttachmentState::Starting,
            Some(None | Some(ContainerState::Pending | ContainerState::Waiting { .. })) => {
                PodAttachmentState::Starting
            }
            Some(Some(ContainerState::Running { .. })) => PodAttachmentState::Running,
            Some(Some(ContainerState::Terminated { exit_code: 0, .. })) => PodAttachmentState::Done,
            Some(Some(ContainerState::Terminated { .. })) if failures >= CRASH_LIMIT => {
                PodAttachmentState::CrashLoop
            }
            // Failed, but not twice in the window: the next container is due.
            Some(Some(ContainerState::Terminated { .. })) => PodAttachmentState::Starting,
        };
        PodAttachment {
            namespace: pod.namespace.to_string(),
            pod: pod.name.to_string(),
            node: pod.node.as_ref().map(|n| n.to_string()),
            containers,
            state,
            failures,
        }
    }

    /// The container to add to `pod` now, if any.
    fn due(&self, pod: &PodInfo, now: i64) -> Option<String> {
        if !pod.attachable() || self.detached.is_some() || self.expires.is_some_and(|e| now >= e) {
            return None;
        }
        let status = self.on_pod(pod, now);
        let last_failed = status.containers.last().and_then(|name| {
            pod.ephemeral.iter().find(|c| &c.name == name).map(|c| matches!(c.state, ContainerState::Terminated { exit_code, .. } if exit_code != 0))
        });
        match (status.containers.len(), last_failed) {
            (0, _) => Some(self.prefix()),
            (n, Some(true)) if status.state != PodAttachmentState::CrashLoop => {
                Some(format!("{}-{}", self.prefix(), n + 1))
            }
            _ => None,
        }
    }

    fn container(
        &self,
        name: &str,
        pod: &str,
        now: i64,
        names: Option<&str>,
        more_env: &[(String, String)],
    ) -> serde_json::Value {
        let ttl = self
            .expires
            .map(|e| ((e - now).max(0) / 1_000_000_000).to_string());
        let mut env = vec![
            json!({"name": "SPIDER_ATTACHMENT", "value": self.request.id}),
            json!({"name": "SPIDER_WHISPERER_NAME", "value": pod}),
        ];
        if let Some(address) = names {
            env.push(json!({"name": "SPIDER_CONTROLLER", "value": address}));
        }
        if let Some(ttl) = ttl {
            env.push(json!({"name": "SPIDER_WHISPERER_TTL_SECONDS", "value": ttl}));
        }
        for (variable, value) in more_env {
            env.push(json!({"name": variable, "value": value}));
        }
        json!({
            "name": name,
            "image": self.request.image,
            "command": self.request.command,
            "args": self.request.args,
            "env": env,
            "securityContext": {"capabilities": {"drop": ["ALL"], "add": ["NET_RAW"]}},
        })
    }
}

impl std::fmt::Debug for Attacher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attacher")
            .field("attachments", &self.lock().len())
            .finish()
    }
}

impl Attacher {
    pub fn new(client: Client, inventory: Inventory) -> Self {
        let (changes, _) = watch::channel(0);
        Self {
            client,
            inventory,
            attachments: Arc::new(Mutex::new(BTreeMap::new())),
            changes: Arc::new(changes),
            names_address: Arc::new(Mutex::new(None)),
            whisperer_env: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Attached Whisperers verify the backend and this Controller with these pins
    /// (`SPIDER_TLS_PIN`); none: plaintext.
    pub fn set_whisperer_tls_pins(&self, pins: &[String]) {
        if let Ok(mut env) = self.whisperer_env.lock() {
            env.retain(|(variable, _)| variable != "SPIDER_TLS_PIN");
            if !pins.is_empty() {
                env.push(("SPIDER_TLS_PIN".into(), pins.join(",")));
            }
        }
    }

    /// Attached Whisperers get `SPIDER_CONTROLLER=address`, and ask this Controller for the
    /// names of the IPs they see.
    pub fn set_names_address(&self, address: Option<String>) {
        if let Ok(mut current) = self.names_address.lock() {
            *current = address;
        }
    }

    /// A receiver that changes with every change of the attachments.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn changed(&self) {
        self.changes.send_modify(|g| *g += 1);
    }

    /// Waits until `ready` holds of the attachments.
    pub async fn wait_for(&self, mut ready: impl FnMut(&[AttachmentStatus]) -> bool) {
        let mut changes = self.changes();
        loop {
            if ready(&self.list()) {
                return;
            }
            if changes.changed().await.is_err() {
                return;
            }
        }
    }

    /// Detaches the attachments whose time to live has run out by `now`; returns how many.
    pub fn expire(&self, now: i64) -> usize {
        let mut detached = 0;
        for (id, attachment) in self.lock().iter_mut() {
            if attachment.detached.is_none() && attachment.expires.is_some_and(|e| now >= e) {
                attachment.detached = Some(now);
                detached += 1;
                tracing::info!(attachment = %id, "time to live over: detached");
            }
        }
        if detached > 0 {
            self.changed();
        }
        detached
    }

    /// The nearest deadline of an attachment not yet detached.
    pub fn next_deadline(&self) -> Option<i64> {
        self.lock()
            .values()
            .filter(|a| a.detached.is_none())
            .filter_map(|a| a.expires)
            .min()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Attachment>> {
        self.attachments.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds an attachment (its target must exist); [`Self::reconcile`] attaches.
    pub fn attach(&self, request: AttachRequest) -> Result<(), ControllerError> {
        if !spider_model::controller::is_attachment_id(&request.id) {
            return Err(ControllerError::InvalidAttachment(format!(
                "id {:?} is not a DNS label of at most 40 characters",
                request.id
            )));
        }
        if request.image.is_empty() {
            return Err(ControllerError::InvalidAttachment("no image".into()));
        }
        {
            let state = self.inventory.read();
            match &request.target {
                Target::Pod { namespace, name } => {
                    if !state
                        .pods
                        .keys()
                        .any(|(ns, n)| &**ns == namespace && &**n == name)
                    {
                        return Err(ControllerError::NoSuchPod {
                            namespace: namespace.clone(),
                            name: name.clone(),
                        });
                    }
                }
                Target::Workload {
                    namespace,
                    kind,
                    name,
                } => {
                    let known = state
                        .workloads
                        .keys()
                        .any(|(k, ns, n)| &**k == kind && &**ns == namespace && &**n == name)
                        || !state.pods_of(namespace, kind, name).is_empty();
                    if !known {
                        return Err(ControllerError::NoSuchWorkload {
                            namespace: namespace.clone(),
                            kind: kind.clone(),
                            name: name.clone(),
                        });
                    }
                }
            }
        }
        let now = now_ns();
        let expires = request.ttl_seconds.map(|ttl| {
            now.saturating_add(
                i64::try_from(ttl)
                    .unwrap_or(i64::MAX)
                    .saturating_mul(1_000_000_000),
            )
        });
        self.lock().insert(
            request.id.clone(),
            Attachment {
                request,
                created: now,
                expires,
                detached: None,
                added: BTreeMap::new(),
            },
        );
        self.changed();
        Ok(())
    }

    /// Forgets an attachment: no more containers are added (running ones run to their TTL).
    pub fn detach(&self, id: &str) -> bool {
        let removed = self.lock().remove(id).is_some();
        if removed {
            self.changed();
        }
        removed
    }

    /// Every attachment and its pods.
    pub fn list(&self) -> Vec<AttachmentStatus> {
        let now = now_ns();
        let state = self.inventory.read();
        self.lock()
            .values()
            .map(|a| AttachmentStatus {
                request: a.request.clone(),
                created: a.created,
                expires: a.expires,
                expired: a.expires.is_some_and(|e| now >= e),
                detached: a.detached,
                pods: {
                    let mut pods: Vec<PodAttachment> = a
                        .targets(&state)
                        .into_iter()
                        .map(|p| a.on_pod(p, now))
                        .filter(|p| !p.containers.is_empty())
                        .collect();
                    pods.sort_by(|x, y| (&x.namespace, &x.pod).cmp(&(&y.namespace, &y.pod)));
                    pods
                },
            })
            .collect()
    }

    /// Adds the containers that are due; returns how many were added.
    pub async fn reconcile(&self) -> Result<usize, ControllerError> {
        let now = now_ns();
        let names = self.names_address.lock().ok().and_then(|a| a.clone());
        let more_env = self
            .whisperer_env
            .lock()
            .map(|env| env.clone())
            .unwrap_or_default();
        let due: Vec<(String, String, String, String, serde_json::Value)> = {
            let state = self.inventory.read();
            let attachments = self.lock();
            let mut due = Vec::new();
            for (id, attachment) in attachments.iter() {
                for pod in attachment.targets(&state) {
                    if let Some(name) = attachment.due(pod, now) {
                        due.push((
                            id.clone(),
                            pod.uid.to_string(),
                            pod.namespace.to_string(),
                            pod.name.to_string(),
                            attachment.container(
                                &name,
                                &pod.name,
                                now,
                                names.as_deref(),
                                &more_env,
                            ),
                        ));
                    }
                }
            }
            due
        };
        let mut added = 0;
        let mut failed: HashSet<String> = HashSet::new();
        for (id, uid, namespace, pod, container) in due {
            let name = container["name"].as_str().unwrap_or_default().to_string();
            let api: Api<Pod> = Api::namespaced(self.client.clone(), &namespace);
            let patch = json!({"spec": {"ephemeralContainers": [container]}});
            match api
                .patch_ephemeral_containers(&pod, &PatchParams::default(), &Patch::Strategic(patch))
                .await
            {
                Ok(_) => {
                    tracing::info!(attachment = %id, %namespace, %pod, container = %name, "whisperer attached");
                    if let Some(a) = self.lock().get_mut(&id) {
                        a.added.entry(uid).or_default().push(name);
                    }
                    added += 1;
                }
                Err(e) => {
                    tracing::warn!(attachment = %id, %namespace, %pod, error = %e, "cannot attach");
                    failed.insert(format!("{namespace}/{pod}: {e}"));
                }
            }
        }
        if added > 0 {
            self.changed();
        }
        if let Some(first) = failed.into_iter().next() {
            if added == 0 {
                return Err(ControllerError::InvalidAttachment(first));
            }
        }
        Ok(added)
    }

    /// Reconciles at every inventory change (new replicas, terminated Whisperers) and every
    /// change of the attachments, and detaches each attachment at its deadline (a timer on the
    /// nearest one), until the inventory is dropped.
    pub async fn run(self) {
        let mut inventory = self.inventory.changes();
        let mut attachments = self.changes();
        loop {
            self.expire(now_ns());
            attachments.borrow_and_update();
            if let Err(e) = self.reconcile().await {
                tracing::warn!(error = %e, "attachment");
            }
            // A change made during the reconcile (ours included: one more pass, which adds
            // nothing) wakes the loop again.
            let deadline = self.next_deadline().map(|at| {
                let wait = u64::try_from(at.saturating_sub(now_ns())).unwrap_or(0);
                tokio::time::Instant::now() + Duration::from_nanos(wait)
            });
            let timer = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                changed = inventory.changed() => if changed.is_err() { return },
                changed = attachments.changed() => if changed.is_err() { return },
                () = timer => {}
            }
        }
    }

    /// The log of a container (an agent's: a Whisperer, a Gocipher), its last `tail_lines`
    /// lines when given.
    pub async fn logs(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        tail_lines: Option<i64>,
    ) -> Result<String, ControllerError> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let params = LogParams {
            container: Some(container.to_string()),
            tail_lines,
            ..LogParams::default()
        };
        Ok(api.logs(pod, &params).await?)
    }
}

//! One kube-runtime watcher per kind: it lists, then watches from the list's resource version
//! with bookmarks, watches again from the last version seen when a watch ends, and lists again
//! when the server answers 410 Gone. Each event updates the compact state; a list replaces
//! what the state held of that kind (objects deleted while no watch was open go away).

use std::fmt::Debug;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Namespace, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::ListParams;
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use tokio::task::JoinHandle;

use super::state::{Entry, Kind};
use super::Inventory;
use crate::error::ControllerError;
use crate::now_ns;

/// A watched type and its compact form.
trait Compact {
    fn entry(&self) -> Entry;
}

macro_rules! compact {
    ($($type:ty => $variant:ident),* $(,)?) => {
        $(impl Compact for $type {
            fn entry(&self) -> Entry {
                Entry::$variant(self.into())
            }
        })*
    };
}

compact!(
    Node => Node,
    Namespace => Namespace,
    Pod => Pod,
    Service => Service,
    EndpointSlice => Slice,
    ReplicaSet => Workload,
    Deployment => Workload,
    DaemonSet => Workload,
    StatefulSet => Workload,
    Job => Workload,
    CronJob => Workload,
);

fn key_of<K: Resource>(object: &K) -> (std::sync::Arc<str>, std::sync::Arc<str>) {
    let meta = object.meta();
    (
        std::sync::Arc::from(meta.namespace.as_deref().unwrap_or_default()),
        std::sync::Arc::from(meta.name.as_deref().unwrap_or_default()),
    )
}

async fn watch_kind<K>(inventory: Inventory, api: Api<K>, kind: Kind)
where
    K: Resource<DynamicType = ()>
        + Compact
        + Clone
        + DeserializeOwned
        + Debug
        + Send
        + Sync
        + 'static,
{
    let stream = watcher::watcher(api, watcher::Config::default()).default_backoff();
    let mut stream = std::pin::pin!(stream);
    while let Some(event) = stream.next().await {
        let now = now_ns();
        match event {
            Ok(Event::Init) => inventory.update(|state| state.begin_relist(kind)),
            Ok(Event::InitApply(object) | Event::Apply(object)) => {
                let entry = object.entry();
                inventory.update(|state| state.apply(kind, entry, now));
            }
            Ok(Event::Delete(object)) => {
                let key = key_of(&object);
                let entry = object.entry();
                inventory.update(|state| {
                    // The last state first: a pod's deletion time says when it let its IP go.
                    state.apply(kind, entry, now);
                    state.delete(kind, &key, now);
                });
            }
            Ok(Event::InitDone) => {
                inventory.clear_error(kind);
                inventory.update(|state| state.end_relist(kind, now));
            }
            // 410 Gone: the watcher lists again; the normal way of a long watch, not a failure.
            Err(watcher::Error::WatchError(status)) if status.code == 410 => {
                tracing::debug!(kind = kind.plural(), "watch expired, listing again");
            }
            Err(error) => {
                let message = describe(kind, &error);
                tracing::warn!(kind = kind.plural(), error = %message, "watch failed");
                inventory.set_error(kind, message);
            }
        }
    }
}

fn forbidden(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 403)
}

fn describe(kind: Kind, error: &watcher::Error) -> String {
    match error {
        watcher::Error::InitialListFailed(e)
        | watcher::Error::WatchStartFailed(e)
        | watcher::Error::WatchFailed(e)
            if forbidden(e) =>
        {
            format!(
                "missing rights: list and watch on {} (see deploy/controller)",
                kind.plural()
            )
        }
        other => other.to_string(),
    }
}

fn watch<K>(inventory: &Inventory, client: &Client, kind: Kind) -> JoinHandle<()>
where
    K: Resource<DynamicType = ()>
        + Compact
        + Clone
        + DeserializeOwned
        + Debug
        + Send
        + Sync
        + 'static,
{
    tokio::spawn(watch_kind::<K>(
        inventory.clone(),
        Api::all(client.clone()),
        kind,
    ))
}

/// Starts a watcher for every kind.
pub fn spawn_watchers(inventory: &Inventory, client: &Client) -> Vec<JoinHandle<()>> {
    Kind::ALL
        .iter()
        .map(|kind| match kind {
            Kind::Node => watch::<Node>(inventory, client, *kind),
            Kind::Namespace => watch::<Namespace>(inventory, client, *kind),
            Kind::Pod => watch::<Pod>(inventory, client, *kind),
            Kind::Service => watch::<Service>(inventory, client, *kind),
            Kind::EndpointSlice => watch::<EndpointSlice>(inventory, client, *kind),
            Kind::ReplicaSet => watch::<ReplicaSet>(inventory, client, *kind),
            Kind::Deployment => watch::<Deployment>(inventory, client, *kind),
            Kind::DaemonSet => watch::<DaemonSet>(inventory, client, *kind),
            Kind::StatefulSet => watch::<StatefulSet>(inventory, client, *kind),
            Kind::Job => watch::<Job>(inventory, client, *kind),
            Kind::CronJob => watch::<CronJob>(inventory, client, *kind),
        })
        .collect()
}

async fn can_list<K>(client: &Client) -> Result<(), kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
{
    Api::<K>::all(client.clone())
        .list(&ListParams::default().limit(1))
        .await
        .map(|_| ())
}

/// Checks that the Controller may list every kind it watches; names every one it may not.
pub async fn check_rights(client: &Client) -> Result<(), ControllerError> {
    let mut missing = Vec::new();
    for kind in Kind::ALL {
        let result = match kind {
            Kind::Node => can_list::<Node>(client).await,
            Kind::Namespace => can_list::<Namespace>(client).await,
            Kind::Pod => can_list::<Pod>(client).await,
            Kind::Service => can_list::<Service>(client).await,
            Kind::EndpointSlice => can_list::<EndpointSlice>(client).await,
            Kind::ReplicaSet => can_list::<ReplicaSet>(client).await,
            Kind::Deployment => can_list::<Deployment>(client).await,
            Kind::DaemonSet => can_list::<DaemonSet>(client).await,
            Kind::StatefulSet => can_list::<StatefulSet>(client).await,
            Kind::Job => can_list::<Job>(client).await,
            Kind::CronJob => can_list::<CronJob>(client).await,
        };
        match result {
            Ok(()) => {}
            Err(e) if forbidden(&e) => missing.push(kind.plural().to_string()),
            Err(e) => return Err(ControllerError::Kube(e)),
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ControllerError::Forbidden { resources: missing })
    }
}

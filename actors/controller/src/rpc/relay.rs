//! The Controller's listener for its cluster's agents: `Auth.login` checks the credential with
//! the backend; the `Session` passes query and registry calls on to the backend's session,
//! serves names of IPs, and hands out an `Ingest` that enriches usage records with Kubernetes
//! names before passing every batch on with its own batch id (a batch retried through another
//! path is still stored once), and answers `flush` with the backend's acknowledgements.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use spider_backend::client::{CommandServer, ControllerCommands};
use spider_rpc_schema::auth_capnp::{auth, session};
use spider_rpc_schema::controller_capnp::name_service;
use spider_rpc_schema::ingest_capnp::ingest;
use spider_rpc_schema::limits::read_records;
use spider_rpc_schema::{read_usage, write_usage};

use crate::enrich::enrich;
use crate::inventory::Inventory;
use crate::telemetry::ControllerStats;

/// What the listener shares with the backend link.
#[derive(Clone)]
pub struct RelayState {
    /// The backend's `Auth` on the Controller's current connection; `None` while disconnected.
    pub backend: Rc<RefCell<Option<auth::Client>>>,
    pub inventory: Inventory,
    pub commands: Rc<dyn ControllerCommands>,
    /// Enrich usage (the Controller's settings can turn it off).
    pub enrich: Rc<Cell<bool>>,
    /// Usage records relayed, for the Controller's status.
    pub records: Rc<Cell<u64>>,
    pub batches: Rc<Cell<u64>>,
    /// The agents' listener's refusals (a batch over the bounds is one).
    pub limits: spider_backend::LimitCounters,
    /// The same, and the link's state, for `/metrics`.
    pub stats: std::sync::Arc<crate::telemetry::ControllerStats>,
}

impl std::fmt::Debug for RelayState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayState")
            .field("connected", &self.backend.borrow().is_some())
            .field("records", &self.records.get())
            .finish_non_exhaustive()
    }
}

fn failed(error: impl std::fmt::Display) -> capnp::Error {
    capnp::Error::failed(error.to_string())
}

/// The listener's bootstrap capability.
#[derive(Debug)]
pub struct RelayAuth(pub RelayState);

impl auth::Server for RelayAuth {
    async fn login(
        self: Rc<Self>,
        params: auth::LoginParams,
        mut results: auth::LoginResults,
    ) -> Result<(), capnp::Error> {
        let backend = self.0.backend.borrow().clone().ok_or_else(|| {
            capnp::Error::disconnected("the Controller is not connected to the backend".into())
        })?;
        let mut login = backend.login_request();
        login
            .get()
            .set_credential(params.get()?.get_credential()?)?;
        let session = login.send().promise.await?.get()?.get_session()?;
        results
            .get()
            .set_session(capnp_rpc::new_client(RelaySession {
                state: self.0.clone(),
                backend: session,
            }));
        Ok(())
    }
}

struct RelaySession {
    state: RelayState,
    backend: session::Client,
}

impl session::Server for RelaySession {
    async fn ingest(
        self: Rc<Self>,
        _: session::IngestParams,
        mut results: session::IngestResults,
    ) -> Result<(), capnp::Error> {
        let inner = self
            .backend
            .ingest_request()
            .send()
            .promise
            .await?
            .get()?
            .get_ingest()?;
        results
            .get()
            .set_ingest(capnp_rpc::new_client(EnrichingIngest {
                state: self.state.clone(),
                inner,
            }));
        Ok(())
    }

    async fn query(
        self: Rc<Self>,
        _: session::QueryParams,
        mut results: session::QueryResults,
    ) -> Result<(), capnp::Error> {
        let reply = self.backend.query_request().send().promise.await?;
        results.get().set_query(reply.get()?.get_query()?);
        Ok(())
    }

    async fn agents(
        self: Rc<Self>,
        _: session::AgentsParams,
        mut results: session::AgentsResults,
    ) -> Result<(), capnp::Error> {
        let reply = self.backend.agents_request().send().promise.await?;
        results.get().set_registry(reply.get()?.get_registry()?);
        Ok(())
    }

    async fn whoami(
        self: Rc<Self>,
        _: session::WhoamiParams,
        mut results: session::WhoamiResults,
    ) -> Result<(), capnp::Error> {
        let reply = self.backend.whoami_request().send().promise.await?;
        results.get().set_identity(reply.get()?.get_identity()?)?;
        Ok(())
    }

    async fn names(
        self: Rc<Self>,
        _: session::NamesParams,
        mut results: session::NamesResults,
    ) -> Result<(), capnp::Error> {
        let service: name_service::Client =
            capnp_rpc::new_client(CommandServer(self.state.commands.clone()));
        results.get().set_names(service);
        Ok(())
    }
}

/// An agent's ingest through the Controller.
struct EnrichingIngest {
    state: RelayState,
    inner: ingest::Client,
}

impl ingest::Server for EnrichingIngest {
    async fn shard_map(
        self: Rc<Self>,
        _: ingest::ShardMapParams,
        mut results: ingest::ShardMapResults,
    ) -> Result<(), capnp::Error> {
        let reply = self.inner.shard_map_request().send().promise.await?;
        results.get().set_map(reply.get()?.get_map()?)?;
        Ok(())
    }

    async fn push_capture(
        self: Rc<Self>,
        params: ingest::PushCaptureParams,
    ) -> Result<(), capnp::Error> {
        let mut request = self.inner.push_capture_request();
        request.get().set_batch(params.get()?.get_batch()?)?;
        request.send().await
    }

    async fn push_usage(
        self: Rc<Self>,
        params: ingest::PushUsageParams,
    ) -> Result<(), capnp::Error> {
        let batch = params.get()?.get_batch()?;
        // Within the bounds every listener applies (no zero-sized records, at most a batch's
        // worth), before a record is read; a refusal is counted with the listener's.
        let mut records =
            read_records("batch.records", batch.get_records(), read_usage).map_err(|error| {
                if self.state.limits.count_schema(&error) {
                    tracing::warn!(%error, "usage batch refused: over a limit");
                }
                failed(error)
            })?;
        if self.state.enrich.get() {
            enrich(&self.state.inventory, &mut records);
        }
        let mut request = self.inner.push_usage_request();
        let mut out = request.get().init_batch();
        out.set_id(batch.get_id()?)?;
        out.set_shard(batch.get_shard());
        out.set_map_epoch(batch.get_map_epoch());
        let len = u32::try_from(records.len()).map_err(failed)?;
        let mut list = out.init_records(len);
        for (index, record) in (0..).zip(&records) {
            write_usage(list.reborrow().get(index), record).map_err(failed)?;
        }
        let state = &self.state;
        if let Err(error) = request.send().await {
            ControllerStats::add(&state.stats.usage_failures, 1);
            return Err(error);
        }
        state
            .records
            .set(state.records.get() + records.len() as u64);
        state.batches.set(state.batches.get() + 1);
        ControllerStats::add(&state.stats.usage_records, records.len() as u64);
        ControllerStats::add(&state.stats.usage_batches, 1);
        Ok(())
    }

    async fn flush(
        self: Rc<Self>,
        _: ingest::FlushParams,
        mut results: ingest::FlushResults,
    ) -> Result<(), capnp::Error> {
        let reply = self.inner.flush_request().send().promise.await?;
        results.get().set_acked(reply.get()?.get_acked()?)?;
        Ok(())
    }

    async fn push_inventory(
        self: Rc<Self>,
        params: ingest::PushInventoryParams,
    ) -> Result<(), capnp::Error> {
        let mut request = self.inner.push_inventory_request();
        request.get().set_batch(params.get()?.get_batch()?)?;
        request.send().await
    }

    async fn acknowledged(
        self: Rc<Self>,
        params: ingest::AcknowledgedParams,
        mut results: ingest::AcknowledgedResults,
    ) -> Result<(), capnp::Error> {
        let params = params.get()?;
        let mut call = self.inner.acknowledged_request();
        call.get().set_agent(params.get_agent()?);
        call.get().set_incarnation(params.get_incarnation());
        let reply = call.send().promise.await?;
        results.get().set_acked(reply.get()?.get_acked()?)?;
        Ok(())
    }
}

//! The Controller's capabilities from both sides: a Controller serves its commands
//! ([`ControllerCommands`]) when it registers and pushes its inventory; an admin (the gateway)
//! reaches a connected Controller through the registry ([`ControllerHandle`]) and reads the
//! inventories; an agent asks a Controller for the names of IPs.

use std::net::IpAddr;
use std::rc::Rc;

use futures::future::LocalBoxFuture;
use spider_model::agent::{AgentConfig, AgentInfo};
use spider_model::controller::{AgentPod, AttachRequest, AttachmentStatus, IpNames};
use spider_model::inventory::{ClusterInventory, InventoryChange, InventoryUpdate};
use spider_rpc_schema::controller_capnp::{controller_control, name_service};
use spider_rpc_schema::{
    inventory_shard, ip_octets, read_agent_pod, read_attach_request, read_attachment_status,
    read_inventory_update, read_ip, read_ip_names, write_agent_pod, write_attach_request,
    write_attachment_status, write_inventory_update, write_ip_names,
};

use super::agents::{register, AgentControl, Registration};
use super::{len_u32, BackendClient, ClientError};

/// What a Controller does when the backend asks. Called on the client's `LocalSet` thread.
pub trait ControllerCommands: 'static {
    /// Starts an attachment; the error says why not (no such target, id taken).
    fn attach(&self, request: AttachRequest) -> Result<(), String>;
    /// Ends an attachment; false when there is none with that id.
    fn detach(&self, id: &str) -> bool;
    fn attachments(&self) -> Vec<AttachmentStatus>;
    /// Spider's agents found among the pods.
    fn agents(&self) -> Vec<AgentPod>;
    /// The log of a container (`tail_lines` 0: all of it).
    fn logs(
        &self,
        namespace: String,
        pod: String,
        container: String,
        tail_lines: u32,
    ) -> LocalBoxFuture<'static, Result<String, String>>;
    /// The names of IPs.
    fn names(&self, ips: &[IpAddr]) -> Vec<IpNames>;
}

fn failed(error: impl std::fmt::Display) -> capnp::Error {
    capnp::Error::failed(error.to_string())
}

/// Serves `ControllerControl` and `NameService` with a Controller's [`ControllerCommands`].
pub struct CommandServer(pub Rc<dyn ControllerCommands>);

impl std::fmt::Debug for CommandServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CommandServer")
    }
}

impl controller_control::Server for CommandServer {
    async fn attach(
        self: Rc<Self>,
        params: controller_control::AttachParams,
        _: controller_control::AttachResults,
    ) -> Result<(), capnp::Error> {
        let request = read_attach_request(params.get()?.get_request()?).map_err(failed)?;
        self.0.attach(request).map_err(failed)
    }

    async fn detach(
        self: Rc<Self>,
        params: controller_control::DetachParams,
        mut results: controller_control::DetachResults,
    ) -> Result<(), capnp::Error> {
        let id = params.get()?.get_id()?.to_str()?;
        results.get().set_found(self.0.detach(id));
        Ok(())
    }

    async fn attachments(
        self: Rc<Self>,
        _: controller_control::AttachmentsParams,
        mut results: controller_control::AttachmentsResults,
    ) -> Result<(), capnp::Error> {
        let list = self.0.attachments();
        let mut out = results
            .get()
            .init_list(len_u32(list.len()).map_err(failed)?);
        for (index, status) in (0..).zip(&list) {
            write_attachment_status(out.reborrow().get(index), status).map_err(failed)?;
        }
        Ok(())
    }

    async fn agent_logs(
        self: Rc<Self>,
        params: controller_control::AgentLogsParams,
        mut results: controller_control::AgentLogsResults,
    ) -> Result<(), capnp::Error> {
        let params = params.get()?;
        let log = self
            .0
            .logs(
                params.get_namespace()?.to_string()?,
                params.get_pod()?.to_string()?,
                params.get_container()?.to_string()?,
                params.get_tail_lines(),
            )
            .await
            .map_err(failed)?;
        results.get().set_log(&log);
        Ok(())
    }

    async fn agents(
        self: Rc<Self>,
        _: controller_control::AgentsParams,
        mut results: controller_control::AgentsResults,
    ) -> Result<(), capnp::Error> {
        let list = self.0.agents();
        let mut out = results
            .get()
            .init_list(len_u32(list.len()).map_err(failed)?);
        for (index, agent) in (0..).zip(&list) {
            write_agent_pod(out.reborrow().get(index), agent).map_err(failed)?;
        }
        Ok(())
    }
}

impl name_service::Server for CommandServer {
    async fn names(
        self: Rc<Self>,
        params: name_service::NamesParams,
        mut results: name_service::NamesResults,
    ) -> Result<(), capnp::Error> {
        let ips = params
            .get()?
            .get_ips()?
            .iter()
            .map(|data| read_ip("names.ips", data?).map_err(failed))
            .collect::<Result<Vec<_>, _>>()?;
        let names = self.0.names(&ips);
        let mut out = results
            .get()
            .init_names(len_u32(names.len()).map_err(failed)?);
        for (index, entry) in (0..).zip(&names) {
            write_ip_names(out.reborrow().get(index), entry).map_err(failed)?;
        }
        Ok(())
    }
}

/// A connected Controller, reached through the backend's registry.
pub struct ControllerHandle {
    client: controller_control::Client,
}

impl std::fmt::Debug for ControllerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ControllerHandle")
    }
}

impl ControllerHandle {
    pub async fn attach(&self, request: &AttachRequest) -> Result<(), ClientError> {
        let mut call = self.client.attach_request();
        write_attach_request(call.get().init_request(), request)?;
        call.send().promise.await?;
        Ok(())
    }

    /// Ends an attachment: false when the Controller has none with that id.
    pub async fn detach(&self, id: &str) -> Result<bool, ClientError> {
        let mut call = self.client.detach_request();
        call.get().set_id(id);
        Ok(call.send().promise.await?.get()?.get_found())
    }

    pub async fn attachments(&self) -> Result<Vec<AttachmentStatus>, ClientError> {
        let reply = self.client.attachments_request().send().promise.await?;
        let mut out = Vec::new();
        for status in reply.get()?.get_list()? {
            out.push(read_attachment_status(status)?);
        }
        Ok(out)
    }

    pub async fn agents(&self) -> Result<Vec<AgentPod>, ClientError> {
        let reply = self.client.agents_request().send().promise.await?;
        let mut out = Vec::new();
        for agent in reply.get()?.get_list()? {
            out.push(read_agent_pod(agent)?);
        }
        Ok(out)
    }

    pub async fn logs(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        tail_lines: u32,
    ) -> Result<String, ClientError> {
        let mut call = self.client.agent_logs_request();
        call.get().set_namespace(namespace);
        call.get().set_pod(pod);
        call.get().set_container(container);
        call.get().set_tail_lines(tail_lines);
        let reply = call.send().promise.await?;
        Ok(reply.get()?.get_log()?.to_str()?.to_owned())
    }
}

/// One inventory update of a Controller, numbered like every ingest batch.
#[derive(Debug)]
pub struct InventoryPush<'a> {
    pub agent: &'a str,
    pub incarnation: u64,
    pub sequence: u64,
    pub update: &'a InventoryUpdate,
}

/// What the backend keeps of the Controllers' inventories.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventories {
    pub clusters: Vec<ClusterInventory>,
    /// Shards that did not answer (their Controllers' inventories are missing).
    pub missing_shards: Vec<u16>,
}

impl BackendClient {
    /// Registers a Controller with its command capability.
    pub async fn register_controller(
        &self,
        info: &AgentInfo,
        control: Rc<dyn AgentControl>,
        commands: Rc<dyn ControllerCommands>,
    ) -> Result<(Registration, AgentConfig), ClientError> {
        let server: controller_control::Client = capnp_rpc::new_client(CommandServer(commands));
        register(&self.registry, info, control, Some(server)).await
    }

    /// A connected Controller's commands, by its agent name.
    pub async fn controller(&self, name: &str) -> Result<ControllerHandle, ClientError> {
        let mut call = self.registry.controller_request();
        call.get().set_name(name);
        let reply = call.send().promise.await?;
        Ok(ControllerHandle {
            client: reply.get()?.get_control()?,
        })
    }

    /// Pushes an inventory update to the shard of the Controller's name (acknowledged by
    /// `flush` like every batch).
    pub async fn push_inventory(&self, push: InventoryPush<'_>) -> Result<(), ClientError> {
        let mut request = self.ingest.push_inventory_request();
        let mut batch = request.get().init_batch();
        let mut id = batch.reborrow().init_id();
        id.set_agent(push.agent);
        id.set_incarnation(push.incarnation);
        id.set_sequence(push.sequence);
        batch.set_shard(inventory_shard(&push.update.controller));
        write_inventory_update(batch.init_update(), push.update)?;
        request.send().await?;
        Ok(())
    }

    /// The inventory of every cluster whose Controller sent one.
    pub async fn inventories(&self) -> Result<Inventories, ClientError> {
        let reply = self.query.inventory_request().send().promise.await?;
        let list = reply.get()?.get_list()?;
        let mut out = Inventories {
            missing_shards: list.get_missing_shards()?.iter().collect(),
            ..Inventories::default()
        };
        for update in list.get_clusters()? {
            let update = read_inventory_update(update)?;
            if let InventoryChange::Snapshot(objects) = update.change {
                out.clusters.push(ClusterInventory {
                    controller: update.controller,
                    cluster: update.cluster,
                    time: update.time,
                    objects,
                });
            }
        }
        Ok(out)
    }

    /// The names of `ips`, from the Controller this client is logged into.
    pub async fn names(&self, ips: &[IpAddr]) -> Result<Vec<IpNames>, ClientError> {
        let service = self
            .session
            .names_request()
            .send()
            .promise
            .await?
            .get()?
            .get_names()?;
        let mut call = service.names_request();
        let mut list = call.get().init_ips(len_u32(ips.len())?);
        for (index, ip) in (0..).zip(ips) {
            list.set(index, ip_octets(*ip).as_slice());
        }
        let reply = call.send().promise.await?;
        let mut out = Vec::new();
        for entry in reply.get()?.get_names()? {
            out.push(read_ip_names(entry)?);
        }
        Ok(out)
    }
}

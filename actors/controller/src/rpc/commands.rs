//! The Controller's answers to the backend's commands (`ControllerControl`) and to its agents'
//! questions (`NameService`), over the attacher and the inventory.

use std::net::IpAddr;

use futures::future::LocalBoxFuture;
use spider_backend::client::ControllerCommands;
use spider_model::controller::{AgentPod, AttachRequest, AttachmentStatus, IpNames};

use crate::attach::Attacher;
use crate::dns;
use crate::inventory::Inventory;

/// What a Controller offers the backend and its agents.
#[derive(Clone)]
pub struct Commands {
    pub attacher: Attacher,
    pub inventory: Inventory,
    /// The cluster's DNS domain (`cluster.local`).
    pub domain: String,
}

impl std::fmt::Debug for Commands {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Commands")
            .field("domain", &self.domain)
            .finish_non_exhaustive()
    }
}

impl ControllerCommands for Commands {
    fn attach(&self, request: AttachRequest) -> Result<(), String> {
        let id = request.id.clone();
        self.attacher
            .attach(request)
            .map_err(|error| error.to_string())?;
        tracing::info!(attachment = %id, "attachment asked by the backend");
        Ok(())
    }

    fn detach(&self, id: &str) -> bool {
        self.attacher.detach(id)
    }

    fn attachments(&self) -> Vec<AttachmentStatus> {
        self.attacher.list()
    }

    fn agents(&self) -> Vec<AgentPod> {
        self.inventory.agents()
    }

    fn logs(
        &self,
        namespace: String,
        pod: String,
        container: String,
        tail_lines: u32,
    ) -> LocalBoxFuture<'static, Result<String, String>> {
        let attacher = self.attacher.clone();
        Box::pin(async move {
            let tail = (tail_lines > 0).then_some(i64::from(tail_lines));
            attacher
                .logs(&namespace, &pod, &container, tail)
                .await
                .map_err(|error| error.to_string())
        })
    }

    fn names(&self, ips: &[IpAddr]) -> Vec<IpNames> {
        ips.iter()
            .map(|ip| IpNames {
                ip: *ip,
                names: dns::names(&self.inventory, *ip, &self.domain),
            })
            .collect()
    }
}

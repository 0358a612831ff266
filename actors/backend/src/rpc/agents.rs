//! `AgentRegistry` and `Registration`: agents register with their control capability and report
//! their status; admins list them and change their settings.

use std::rc::Rc;

use spider_model::agent::ConfigAck;
use spider_rpc_schema::agent_capnp::{agent_registry, registration};
use spider_rpc_schema::{
    read_agent_config, read_agent_info, read_agent_status, read_config_ack, write_agent_config,
    write_agent_summary, write_config_ack,
};

use super::access::{permission_denied, Guard};
use super::failed;
use crate::registry::Registry;

/// What a session may do with the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RegistryAccess {
    /// Every method (admins, API tokens with scope `agents`).
    Full,
    /// Register as this name only (an agent's own token).
    RegisterSelf(String),
    /// List the agents of its teams (viewers, `query` tokens).
    ReadOnly,
}

/// The registry capability of a session.
pub(crate) struct AgentRegistry {
    registry: Registry,
    guard: Guard,
    access: RegistryAccess,
}

impl AgentRegistry {
    pub fn new(registry: Registry, guard: Guard, access: RegistryAccess) -> Self {
        Self {
            registry,
            guard,
            access,
        }
    }

    /// The check of every call, then that the access allows changing agents.
    fn may_change(&self) -> Result<(), capnp::Error> {
        self.guard.check()?;
        match self.access {
            RegistryAccess::Full => Ok(()),
            _ => Err(permission_denied("changing agents needs scope agents")),
        }
    }
}

/// One live registration: dropping it (the agent let it go, or its connection ended)
/// unregisters the agent.
struct Registration {
    registry: Registry,
    guard: Guard,
    name: String,
    number: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.registry.unregister(&self.name, self.number);
    }
}

impl registration::Server for Registration {
    async fn report(
        self: Rc<Self>,
        params: registration::ReportParams,
    ) -> Result<(), capnp::Error> {
        self.guard.check()?;
        let status = read_agent_status(params.get()?.get_status()?).map_err(failed)?;
        self.registry.report(&self.name, self.number, status);
        Ok(())
    }
}

impl agent_registry::Server for AgentRegistry {
    async fn register(
        self: Rc<Self>,
        params: agent_registry::RegisterParams,
        mut results: agent_registry::RegisterResults,
    ) -> Result<(), capnp::Error> {
        self.guard.check()?;
        if self.access == RegistryAccess::ReadOnly {
            return Err(permission_denied(
                "registering needs an agent's or admin's credential",
            ));
        }
        let params = params.get()?;
        let info = read_agent_info(params.get_info()?).map_err(failed)?;
        self.guard.may_act_as(&info.name)?;
        let control = params.get_control()?;
        let controller = params
            .has_controller()
            .then(|| params.get_controller())
            .transpose()?;
        let name = info.name.clone();
        let (number, config) = self
            .registry
            .register(info, control, controller)
            .map_err(failed)?;
        let mut results = results.get();
        write_agent_config(results.reborrow().init_config(), &config).map_err(failed)?;
        results.set_registration(capnp_rpc::new_client(Registration {
            registry: self.registry.clone(),
            guard: self.guard.clone(),
            name,
            number,
        }));
        Ok(())
    }

    async fn list(
        self: Rc<Self>,
        _: agent_registry::ListParams,
        mut results: agent_registry::ListResults,
    ) -> Result<(), capnp::Error> {
        self.guard.check()?;
        if let RegistryAccess::RegisterSelf(_) = self.access {
            return Err(permission_denied("an agent cannot list agents"));
        }
        let visible = self.guard.visible();
        let agents: Vec<_> = self
            .registry
            .list()
            .into_iter()
            .filter(|agent| visible.shows(&agent.info.name))
            .collect();
        let mut list = results
            .get()
            .init_agents(u32::try_from(agents.len()).map_err(failed)?);
        for (index, agent) in (0..).zip(&agents) {
            write_agent_summary(list.reborrow().get(index), agent).map_err(failed)?;
        }
        Ok(())
    }

    async fn control(
        self: Rc<Self>,
        params: agent_registry::ControlParams,
        mut results: agent_registry::ControlResults,
    ) -> Result<(), capnp::Error> {
        self.may_change()?;
        let name = params.get()?.get_name()?.to_str()?;
        let control = self.registry.control(name).map_err(failed)?;
        results.get().set_control(control);
        Ok(())
    }

    async fn controller(
        self: Rc<Self>,
        params: agent_registry::ControllerParams,
        mut results: agent_registry::ControllerResults,
    ) -> Result<(), capnp::Error> {
        self.may_change()?;
        let name = params.get()?.get_name()?.to_str()?;
        let control = self.registry.controller(name).map_err(failed)?;
        results.get().set_control(control);
        Ok(())
    }

    async fn set_config(
        self: Rc<Self>,
        params: agent_registry::SetConfigParams,
        mut results: agent_registry::SetConfigResults,
    ) -> Result<(), capnp::Error> {
        self.may_change()?;
        let params = params.get()?;
        let name = params.get_name()?.to_str()?.to_owned();
        let settings = read_agent_config(params.get_config()?)
            .map_err(failed)?
            .settings;
        let (config, control) = self
            .registry
            .set_config(&name, settings)
            .await
            .map_err(failed)?;
        let ack = match control {
            None => ConfigAck {
                generation: config.generation,
                accepted: false,
                error: Some(format!(
                    "agent {name:?} is not connected: it gets these settings when it registers"
                )),
            },
            Some(control) => {
                let mut call = control.configure_request();
                write_agent_config(call.get().init_config(), &config).map_err(failed)?;
                match call.send().promise.await {
                    Ok(reply) => read_config_ack(reply.get()?.get_ack()?).map_err(failed)?,
                    Err(error) => ConfigAck {
                        generation: config.generation,
                        accepted: false,
                        error: Some(format!("agent {name:?} did not answer: {error}")),
                    },
                }
            }
        };
        tracing::info!(
            agent = name,
            generation = ack.generation,
            accepted = ack.accepted,
            "settings pushed"
        );
        write_config_ack(results.get().init_ack(), &ack).map_err(failed)?;
        Ok(())
    }
}

//! The agent registry from both sides: an agent registers with its control capability and
//! reports its status; an admin lists agents and changes their settings.

use std::rc::Rc;

use spider_model::agent::{
    AgentConfig, AgentInfo, AgentSettings, AgentStatus, AgentSummary, ConfigAck,
};
use spider_rpc_schema::agent_capnp::{agent_control, agent_registry, registration};
use spider_rpc_schema::controller_capnp::controller_control;
use spider_rpc_schema::{
    read_agent_config, read_agent_summary, read_config_ack, write_agent_config, write_agent_info,
    write_agent_status, write_config_ack,
};

use super::{BackendClient, ClientError};

/// What an agent does when the backend controls it. Called on the client's `LocalSet` thread:
/// keep each call short (hand the work to the agent's own threads).
pub trait AgentControl: 'static {
    /// Applies new settings, or refuses them with the reason (the previous ones stay).
    fn configure(&self, config: AgentConfig) -> ConfigAck;
    /// Resumes (true) or pauses (false) capturing or counting.
    fn set_running(&self, running: bool);
    /// The status now.
    fn status(&self) -> AgentStatus;
}

/// Serves `AgentControl` with an agent's [`AgentControl`].
struct ControlServer(Rc<dyn AgentControl>);

impl agent_control::Server for ControlServer {
    async fn configure(
        self: Rc<Self>,
        params: agent_control::ConfigureParams,
        mut results: agent_control::ConfigureResults,
    ) -> Result<(), capnp::Error> {
        let config = read_agent_config(params.get()?.get_config()?)
            .map_err(|error| capnp::Error::failed(error.to_string()))?;
        let ack = self.0.configure(config);
        write_config_ack(results.get().init_ack(), &ack)
            .map_err(|error| capnp::Error::failed(error.to_string()))
    }

    async fn start(
        self: Rc<Self>,
        _: agent_control::StartParams,
        _: agent_control::StartResults,
    ) -> Result<(), capnp::Error> {
        self.0.set_running(true);
        Ok(())
    }

    async fn stop(
        self: Rc<Self>,
        _: agent_control::StopParams,
        _: agent_control::StopResults,
    ) -> Result<(), capnp::Error> {
        self.0.set_running(false);
        Ok(())
    }

    async fn status(
        self: Rc<Self>,
        _: agent_control::StatusParams,
        mut results: agent_control::StatusResults,
    ) -> Result<(), capnp::Error> {
        write_agent_status(results.get().init_status(), &self.0.status())
            .map_err(|error| capnp::Error::failed(error.to_string()))
    }
}

/// An agent's live registration: report through it; dropping it unregisters.
pub struct Registration {
    client: registration::Client,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Registration")
    }
}

impl Registration {
    /// Sends a status report (flow-controlled: a slow backend slows the reports).
    pub async fn report(&self, status: &AgentStatus) -> Result<(), ClientError> {
        let mut request = self.client.report_request();
        write_agent_status(request.get().init_status(), status)?;
        request.send().await?;
        Ok(())
    }
}

/// Registers an agent (with its command capability when it is a Controller).
pub(super) async fn register(
    registry: &agent_registry::Client,
    info: &AgentInfo,
    control: Rc<dyn AgentControl>,
    controller: Option<controller_control::Client>,
) -> Result<(Registration, AgentConfig), ClientError> {
    let mut call = registry.register_request();
    write_agent_info(call.get().init_info(), info)?;
    call.get()
        .set_control(capnp_rpc::new_client(ControlServer(control)));
    if let Some(controller) = controller {
        call.get().set_controller(controller);
    }
    let reply = call.send().promise.await?;
    let reply = reply.get()?;
    let config = read_agent_config(reply.get_config()?)?;
    Ok((
        Registration {
            client: reply.get_registration()?,
        },
        config,
    ))
}

impl BackendClient {
    /// Registers an agent: returns its registration and the settings it should apply.
    pub async fn register_agent(
        &self,
        info: &AgentInfo,
        control: Rc<dyn AgentControl>,
    ) -> Result<(Registration, AgentConfig), ClientError> {
        register(&self.registry, info, control, None).await
    }

    /// Every agent the backend knows.
    pub async fn agents(&self) -> Result<Vec<AgentSummary>, ClientError> {
        let reply = self.registry.list_request().send().promise.await?;
        let mut out = Vec::new();
        for agent in reply.get()?.get_agents()? {
            out.push(read_agent_summary(agent)?);
        }
        Ok(out)
    }

    /// Sets an agent's settings: the answer is the agent's own (or a refusal when it is not
    /// connected: it gets them when it registers).
    pub async fn set_agent_config(
        &self,
        name: &str,
        settings: AgentSettings,
    ) -> Result<ConfigAck, ClientError> {
        let mut call = self.registry.set_config_request();
        call.get().set_name(name);
        write_agent_config(
            call.get().init_config(),
            &AgentConfig {
                generation: 0,
                settings,
            },
        )?;
        let reply = call.send().promise.await?;
        Ok(read_config_ack(reply.get()?.get_ack()?)?)
    }

    /// Starts (true) or stops (false) a connected agent's capture or counting.
    pub async fn set_agent_running(&self, name: &str, running: bool) -> Result<(), ClientError> {
        let mut call = self.registry.control_request();
        call.get().set_name(name);
        let control = call.send().promise.await?.get()?.get_control()?;
        if running {
            control.start_request().send().promise.await?;
        } else {
            control.stop_request().send().promise.await?;
        }
        Ok(())
    }
}

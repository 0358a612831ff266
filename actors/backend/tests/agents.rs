//! The agent registry over real TCP: an agent registers with its control capability, reports,
//! is listed with its status, gets new settings pushed and answers them; it is listed as
//! disconnected once its registration ends, and its settings survive a restart of the node.
#![allow(clippy::unwrap_used)]

mod common;

use std::cell::RefCell;
use std::rc::Rc;

use common::{on_local, start_node, TOKEN};
use spider_backend::client::{AgentControl, BackendClient};
use spider_model::agent::{
    AgentConfig, AgentInfo, AgentKind, AgentSettings, AgentState, AgentStatus, ConfigAck,
    WhispererSettings,
};

/// An agent that refuses a filter it cannot compile (here: any filter with "bogus").
#[derive(Default)]
struct Agent {
    applied: RefCell<Vec<AgentConfig>>,
    running: RefCell<Option<bool>>,
}

impl AgentControl for Agent {
    fn configure(&self, config: AgentConfig) -> ConfigAck {
        let refused = match &config.settings {
            AgentSettings::Whisperer(settings) => settings
                .filter
                .as_deref()
                .is_some_and(|filter| filter.contains("bogus")),
            _ => false,
        };
        if refused {
            return ConfigAck {
                generation: config.generation,
                accepted: false,
                error: Some("filter: syntax error near 'bogus'".into()),
            };
        }
        let generation = config.generation;
        self.applied.borrow_mut().push(config);
        ConfigAck {
            generation,
            accepted: true,
            error: None,
        }
    }

    fn set_running(&self, running: bool) {
        *self.running.borrow_mut() = Some(running);
    }

    fn status(&self) -> AgentStatus {
        AgentStatus::default()
    }
}

fn info() -> AgentInfo {
    AgentInfo {
        kind: AgentKind::Whisperer,
        name: "edge-1".into(),
        host: "host-a".into(),
        version: "test".into(),
        interfaces: Vec::new(),
        incarnation: 7,
        started_at: 1,
        namespace: None,
        pod: None,
        node: None,
        cluster: None,
    }
}

#[test]
fn agents_register_report_take_settings_and_are_remembered() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node(dir.path());
    let addr = node.local_addr();
    on_local(async move {
        let agent_side = BackendClient::connect(addr, TOKEN).await.unwrap();
        let admin = BackendClient::connect(addr, TOKEN).await.unwrap();
        let agent = Rc::new(Agent::default());
        let (registration, config) = agent_side
            .register_agent(&info(), agent.clone())
            .await
            .unwrap();
        assert_eq!(
            config.settings,
            AgentSettings::Whisperer(WhispererSettings::default())
        );
        let status = AgentStatus {
            state: AgentState::Recording,
            packets_seen: 1234,
            own_drops: 5,
            config_generation: config.generation,
            ..AgentStatus::default()
        };
        registration.report(&status).await.unwrap();
        // A call after the report on the same connection: the report has been handled.
        agent_side.flush().await.unwrap();

        let listed = admin.agents().await.unwrap();
        assert_eq!(listed.len(), 1);
        assert!(listed[0].connected);
        assert_eq!(listed[0].info, info());
        assert_eq!(listed[0].status.packets_seen, 1234);
        assert_eq!(listed[0].status.state, AgentState::Recording);

        let wanted = WhispererSettings {
            filter: Some("tcp port 80".into()),
            throughput_limit: 10_000_000,
            ..WhispererSettings::default()
        };
        let ack = admin
            .set_agent_config("edge-1", AgentSettings::Whisperer(wanted.clone()))
            .await
            .unwrap();
        assert!(ack.accepted, "{ack:?}");
        assert_eq!(ack.generation, config.generation + 1);
        assert_eq!(
            agent.applied.borrow().last().map(|c| c.settings.clone()),
            Some(AgentSettings::Whisperer(wanted.clone()))
        );

        let bad = WhispererSettings {
            filter: Some("bogus and".into()),
            ..WhispererSettings::default()
        };
        let refused = admin
            .set_agent_config("edge-1", AgentSettings::Whisperer(bad))
            .await
            .unwrap();
        assert!(!refused.accepted);
        assert!(refused.error.unwrap().contains("bogus"));

        let wrong_kind = admin
            .set_agent_config("edge-1", AgentSettings::default_for(AgentKind::Gocipher))
            .await;
        assert!(wrong_kind.unwrap_err().to_string().contains("Whisperer"));
        let unknown = admin
            .set_agent_config("nobody", AgentSettings::default_for(AgentKind::Whisperer))
            .await;
        assert!(unknown.unwrap_err().to_string().contains("nobody"));

        admin.set_agent_running("edge-1", false).await.unwrap();
        assert_eq!(*agent.running.borrow(), Some(false));

        drop(registration);
        // The release reaches the node before the next call on the same connection returns.
        agent_side.flush().await.unwrap();
        let listed = admin.agents().await.unwrap();
        assert!(
            !listed[0].connected,
            "disconnected once the registration ends"
        );
    });
    node.stop();

    let node = start_node(dir.path());
    let addr = node.local_addr();
    on_local(async move {
        let admin = BackendClient::connect(addr, TOKEN).await.unwrap();
        let listed = admin.agents().await.unwrap();
        assert_eq!(listed.len(), 1, "remembered across a restart");
        assert!(!listed[0].connected);
        let AgentSettings::Whisperer(settings) = &listed[0].config.settings else {
            panic!("a whisperer's settings");
        };
        assert_eq!(
            settings.filter.as_deref(),
            Some("bogus and"),
            "the wanted settings"
        );
        let offline = admin
            .set_agent_config("edge-1", AgentSettings::default_for(AgentKind::Whisperer))
            .await
            .unwrap();
        assert!(!offline.accepted && offline.error.unwrap().contains("not connected"));

        let agent_side = BackendClient::connect(addr, TOKEN).await.unwrap();
        let (_registration, config) = agent_side
            .register_agent(&info(), Rc::new(Agent::default()))
            .await
            .unwrap();
        assert_eq!(
            config.settings,
            AgentSettings::default_for(AgentKind::Whisperer),
            "an agent gets the settings set while it was away"
        );
    });
    node.stop();
}

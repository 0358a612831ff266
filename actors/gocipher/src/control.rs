//! The Gocipher as an agent of the backend (host mode): it registers with the agent registry,
//! reports its status, and takes its settings (counting on or off; the bucket length is fixed
//! at start).

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;

use spider_backend::client::AgentControl;
use spider_model::agent::{
    AgentConfig, AgentInfo, AgentKind, AgentSettings, AgentState, AgentStatus, ConfigAck,
};
use tokio::sync::Notify;

use crate::Counters;

/// State shared by the actor and the backend's calls (same thread).
#[derive(Debug)]
pub(crate) struct Control {
    pub counting: Cell<bool>,
    pub generation: Cell<u64>,
    pub bucket_seconds: u64,
    pub counters: Arc<Counters>,
    pub state: Cell<AgentState>,
    pub state_since: Cell<i64>,
    pub message: std::cell::RefCell<Option<String>>,
    /// Wakes the actor to apply a change.
    pub changed: Notify,
}

pub(crate) fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Control {
    pub fn new(bucket_seconds: u64, counters: Arc<Counters>) -> Self {
        Self {
            counting: Cell::new(true),
            generation: Cell::new(0),
            bucket_seconds,
            counters,
            state: Cell::new(AgentState::Starting),
            state_since: Cell::new(now_ns()),
            message: std::cell::RefCell::new(None),
            changed: Notify::new(),
        }
    }

    pub fn set_state(&self, state: AgentState, message: Option<String>) {
        if self.state.get() != state {
            self.state.set(state);
            self.state_since.set(now_ns());
        }
        *self.message.borrow_mut() = message;
    }

    pub fn info(name: &str, incarnation: u64) -> AgentInfo {
        AgentInfo {
            kind: AgentKind::Gocipher,
            name: name.to_owned(),
            host: crate::hostname(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            interfaces: crate::peers::local_interfaces(),
            incarnation,
            started_at: i64::try_from(incarnation).unwrap_or(0),
            namespace: None,
            pod: None,
            node: None,
            cluster: None,
        }
    }
}

/// The backend's handle on a Gocipher.
pub(crate) struct Remote(pub Rc<Control>);

impl AgentControl for Remote {
    fn configure(&self, config: AgentConfig) -> ConfigAck {
        let refuse = |error: String| ConfigAck {
            generation: config.generation,
            accepted: false,
            error: Some(error),
        };
        let AgentSettings::Gocipher(settings) = &config.settings else {
            return refuse("these are not a gocipher's settings".into());
        };
        if u64::from(settings.bucket_seconds) != self.0.bucket_seconds {
            return refuse(format!(
                "the bucket length is set when the gocipher starts ({} s), not {} s",
                self.0.bucket_seconds, settings.bucket_seconds
            ));
        }
        self.0.counting.set(settings.counting);
        self.0.generation.set(config.generation);
        self.0.changed.notify_one();
        ConfigAck {
            generation: config.generation,
            accepted: true,
            error: None,
        }
    }

    fn set_running(&self, running: bool) {
        self.0.counting.set(running);
        self.0.changed.notify_one();
    }

    fn status(&self) -> AgentStatus {
        status(&self.0)
    }
}

pub(crate) fn status(control: &Control) -> AgentStatus {
    let c = &control.counters;
    let get = Counters::get;
    AgentStatus {
        state: if control.counting.get() {
            control.state.get()
        } else {
            AgentState::Stopped
        },
        message: control.message.borrow().clone(),
        time: now_ns(),
        state_since: control.state_since.get(),
        packets_seen: get(&c.calls),
        own_drops: get(&c.dropped_records),
        limit_drops: get(&c.flow_evictions) + get(&c.flows_failed),
        queue_depth: get(&c.buffered_records),
        batches_sent: get(&c.batches_sent),
        batches_acked: get(&c.batches_acked),
        config_generation: control.generation.get(),
        ..AgentStatus::default()
    }
}

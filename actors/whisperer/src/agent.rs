//! The Whisperer as an agent of the backend's registry: on every connection it registers (who it
//! is, where it captures) with an `AgentControl` capability, applies the settings the backend
//! answers with, reports its status every `status_interval` and at each change of state, and
//! takes new settings, start and stop through that capability.
//!
//! What the backend's `WhispererSettings` hold maps onto the live [`CaptureSettings`] (capture
//! on/off, filter, throughput limit, CPU budget, skip empty ACKs); `retention_ttl` rides on every
//! batch; snap length, promiscuous mode and interfaces are fixed for the life of the Whisperer, so
//! a change of them is refused with the reason (the settings in force stay).
//!
//! A backend that never had settings for this Whisperer (generation 1: the defaults it made when
//! the Whisperer first registered) does not override those it was started with.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use spider_backend::client::{AgentControl, BackendClient, Registration};
use spider_model::agent::{
    AgentConfig, AgentInfo, AgentKind, AgentSettings, AgentState, AgentStatus, CaptureInterface,
    ConfigAck, WhispererSettings,
};

use crate::config::{LiveSource, Source};
use crate::settings::CaptureSettings;
use crate::status::WhispererState;
use crate::{lock, Shared};

/// The registry's side of the Whisperer, kept in [`Shared`].
#[derive(Debug, Default)]
pub(crate) struct AgentSide {
    /// The backend's settings last taken (at registration, or accepted since): a change of what
    /// cannot change live is measured against them.
    baseline: Option<WhispererSettings>,
    /// The backend's generation of the settings in force.
    pub generation: u64,
    /// Why the last settings were refused (cleared by the next accepted ones).
    pub config_error: Option<String>,
    /// A start or stop command, which holds until new settings are accepted.
    running: Option<bool>,
}

/// The state the backend sees.
pub(crate) fn agent_state(state: WhispererState) -> AgentState {
    match state {
        WhispererState::Starting => AgentState::Starting,
        WhispererState::Recording => AgentState::Recording,
        WhispererState::Paused | WhispererState::Stopped => AgentState::Stopped,
        WhispererState::ServerDown => AgentState::ServerDown,
        WhispererState::InvalidConfig => AgentState::InvalidConfig,
        WhispererState::Failed => AgentState::InternalError,
    }
}

/// The status report of now.
pub(crate) fn agent_status(shared: &Shared) -> AgentStatus {
    let status = shared.status();
    let c = &status.counters;
    AgentStatus {
        state: agent_state(status.state),
        message: status.message,
        time: status.time,
        state_since: status.state_since,
        packets_seen: c.packets_seen,
        bytes_seen: c.bytes_seen,
        kernel_drops: c.kernel_drops,
        own_drops: c.own_drop_frames,
        limit_drops: c.limit_drops,
        skipped_empty_acks: c.skipped_empty_acks,
        queue_depth: status.depth.memory_bytes + status.depth.spill_bytes,
        cpu_percent: status.cpu_percent,
        rss_bytes: status.rss_bytes,
        last_sent_at: status.last_sent_at,
        last_ack_at: status.last_ack_at,
        batches_sent: c.pushes.saturating_sub(c.batches_resent),
        batches_acked: c.batches_acked,
        config_generation: lock(&shared.agent).generation,
    }
}

/// Who the Whisperer is, for its registration.
pub(crate) fn agent_info(shared: &Shared) -> AgentInfo {
    AgentInfo {
        kind: AgentKind::Whisperer,
        name: shared.config.name.clone(),
        host: host_name(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        interfaces: shared.interfaces.clone(),
        incarnation: shared.incarnation,
        started_at: shared.started_at,
        namespace: env_non_empty("POD_NAMESPACE"),
        pod: env_non_empty("POD_NAME"),
        node: env_non_empty("NODE_NAME"),
        cluster: env_non_empty("SPIDER_CLUSTER"),
    }
}

fn env_non_empty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .unwrap_or_default()
}

/// Registers on a new connection and applies the settings the backend answers with. `None` when
/// the backend refused or does not serve the registry: capture data still flows.
pub(crate) async fn register(shared: &Arc<Shared>, client: &BackendClient) -> Option<Registration> {
    let control: Rc<dyn AgentControl> = Rc::new(WhispererControl(shared.clone()));
    match client.register_agent(&agent_info(shared), control).await {
        Ok((registration, config)) => {
            tracing::info!(
                generation = config.generation,
                "registered with the backend"
            );
            let ack = configure(shared, config, true);
            if !ack.accepted {
                tracing::warn!(
                    generation = ack.generation,
                    error = ack.error.as_deref().unwrap_or(""),
                    "the backend's settings were refused"
                );
            }
            Some(registration)
        }
        Err(error) => {
            tracing::warn!(%error, "cannot register with the backend's agent registry");
            None
        }
    }
}

/// Applies settings from the backend (at registration, or pushed): the answer says whether they
/// were taken, or why not (the settings in force then stay).
pub(crate) fn configure(shared: &Shared, config: AgentConfig, registering: bool) -> ConfigAck {
    let generation = config.generation;
    let refuse = |reason: String| {
        tracing::warn!(generation, reason = %reason, "settings refused");
        lock(&shared.agent).config_error = Some(reason.clone());
        shared.settle_state();
        ConfigAck {
            generation,
            accepted: false,
            error: Some(reason),
        }
    };
    let wanted = match config.settings {
        AgentSettings::Whisperer(settings) => settings,
        other => {
            return refuse(format!(
                "these are settings for a {:?}; this agent is a whisperer",
                other.kind()
            ))
        }
    };
    if registering && generation <= 1 {
        // The backend made these defaults itself: the settings given at start stay.
        let mut side = lock(&shared.agent);
        side.baseline = Some(wanted.clone());
        side.generation = generation;
        shared
            .retention_ttl
            .store(wanted.retention_ttl, Ordering::Relaxed);
        return ConfigAck {
            generation,
            accepted: true,
            error: None,
        };
    }
    let baseline = lock(&shared.agent).baseline.clone();
    if let (false, Some(baseline)) = (registering, &baseline) {
        if let Some(reason) = fixed_change(&shared.config.source, baseline, &wanted) {
            return refuse(reason);
        }
    }
    let running = lock(&shared.agent).running;
    let settings = CaptureSettings {
        capture: if registering {
            running.unwrap_or(wanted.capture)
        } else {
            wanted.capture
        },
        filter: wanted.filter.clone().filter(|f| !f.trim().is_empty()),
        throughput_limit: wanted.throughput_limit,
        cpu_budget: wanted.cpu_budget,
        skip_empty_acks: wanted.skip_empty_acks,
    };
    if let Err(error) = shared.settings.apply(settings) {
        if registering {
            lock(&shared.agent).baseline = Some(wanted);
        }
        return refuse(error.to_string());
    }
    {
        let mut side = lock(&shared.agent);
        side.baseline = Some(wanted.clone());
        side.generation = generation;
        side.config_error = None;
        if !registering {
            side.running = None;
        }
    }
    shared
        .retention_ttl
        .store(wanted.retention_ttl, Ordering::Relaxed);
    tracing::info!(generation, "settings applied");
    shared.settle_state();
    ConfigAck {
        generation,
        accepted: true,
        error: None,
    }
}

/// Why `wanted` cannot be applied while the Whisperer runs, if it changes what is fixed.
fn fixed_change(
    source: &Source,
    baseline: &WhispererSettings,
    wanted: &WhispererSettings,
) -> Option<String> {
    let restart = "it takes effect only at a restart of the whisperer";
    if wanted.snaplen != baseline.snaplen {
        let current = match source {
            Source::Live(live) => live.snap_len.to_string(),
            Source::File(_) => "that of the file".into(),
        };
        return Some(format!(
            "snaplen cannot change from {} to {} while capturing (frames are captured with {current} bytes): {restart}",
            baseline.snaplen, wanted.snaplen
        ));
    }
    if wanted.promiscuous != baseline.promiscuous {
        return Some(format!(
            "promiscuous mode cannot change to {} while capturing: {restart}",
            wanted.promiscuous
        ));
    }
    if wanted.interfaces != baseline.interfaces {
        return Some(format!(
            "the interfaces cannot change to [{}] while capturing: {restart}",
            wanted.interfaces.join(", ")
        ));
    }
    let filter = |s: &WhispererSettings| s.filter.clone().filter(|f| !f.trim().is_empty());
    if matches!(source, Source::File(_))
        && filter(wanted).is_some()
        && filter(wanted) != filter(baseline)
    {
        return Some(
            "a filter applies to live capture: a capture file is replayed whole".to_owned(),
        );
    }
    None
}

/// Turns capture off or on (a stop or start command of the backend).
pub(crate) fn set_running(shared: &Shared, running: bool) {
    lock(&shared.agent).running = Some(running);
    let (current, _) = shared.settings.get();
    if current.capture != running {
        let settings = CaptureSettings {
            capture: running,
            ..(*current).clone()
        };
        if let Err(error) = shared.settings.apply(settings) {
            tracing::error!(%error, "the settings in force no longer validate");
        }
    }
    tracing::info!(
        running,
        "capture turned {}",
        if running { "on" } else { "off" }
    );
    shared.settle_state();
}

/// The capability the Whisperer hands over when it registers.
struct WhispererControl(Arc<Shared>);

impl AgentControl for WhispererControl {
    fn configure(&self, config: AgentConfig) -> ConfigAck {
        configure(&self.0, config, false)
    }

    fn set_running(&self, running: bool) {
        set_running(&self.0, running);
    }

    fn status(&self) -> AgentStatus {
        agent_status(&self.0)
    }
}

/// The interfaces a live source captures on (in its network namespace), with their index, link
/// type and addresses; nothing for a file.
pub(crate) fn capture_interfaces(source: &Source) -> Vec<CaptureInterface> {
    let Source::Live(live) = source else {
        return Vec::new();
    };
    let all = match &live.netns {
        Some(path) => {
            spider_capture::netns::run_in(path, list_interfaces).unwrap_or_else(|error| {
                tracing::warn!(%error, "cannot list the interfaces of the capture's namespace");
                Vec::new()
            })
        }
        None => list_interfaces(),
    };
    select(live, all)
}

fn select(live: &LiveSource, all: Vec<CaptureInterface>) -> Vec<CaptureInterface> {
    if live.interfaces.contains(&spider_capture::Interface::All) {
        return all;
    }
    live.interfaces
        .iter()
        .map(|wanted| {
            let name = wanted.display_name();
            all.iter()
                .find(|i| i.name == name)
                .cloned()
                .unwrap_or_else(|| CaptureInterface {
                    name: name.to_owned(),
                    ..CaptureInterface::default()
                })
        })
        .collect()
}

/// Every interface of the calling thread's network namespace (`getifaddrs`).
fn list_interfaces() -> Vec<CaptureInterface> {
    let mut found: BTreeMap<String, CaptureInterface> = BTreeMap::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we free below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Vec::new();
    }
    let mut cursor = head;
    while !cursor.is_null() {
        // SAFETY: `cursor` is an element of the list getifaddrs returned, not freed yet.
        let entry = unsafe { &*cursor };
        cursor = entry.ifa_next;
        if entry.ifa_name.is_null() || entry.ifa_addr.is_null() {
            continue;
        }
        // SAFETY: ifa_name is a NUL-terminated string of the list.
        let name = unsafe { std::ffi::CStr::from_ptr(entry.ifa_name) }
            .to_string_lossy()
            .into_owned();
        let interface = found
            .entry(name.clone())
            .or_insert_with(|| CaptureInterface {
                name,
                ..CaptureInterface::default()
            });
        // SAFETY: ifa_addr is non-null; its family says which sockaddr it is.
        let family = i32::from(unsafe { (*entry.ifa_addr).sa_family });
        match family {
            libc::AF_PACKET => {
                // SAFETY: an AF_PACKET address is a sockaddr_ll.
                let ll = unsafe { &*entry.ifa_addr.cast::<libc::sockaddr_ll>() };
                interface.index = u32::try_from(ll.sll_ifindex).unwrap_or(0);
                interface.link_type = spider_capture::link_type_for_arphrd(ll.sll_hatype)
                    .and_then(|t| u16::try_from(t).ok())
                    .unwrap_or(0);
            }
            libc::AF_INET => {
                // SAFETY: an AF_INET address is a sockaddr_in.
                let sin = unsafe { &*entry.ifa_addr.cast::<libc::sockaddr_in>() };
                let ip = std::net::Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
                interface.addresses.push(IpAddr::V4(ip));
            }
            libc::AF_INET6 => {
                // SAFETY: an AF_INET6 address is a sockaddr_in6.
                let sin6 = unsafe { &*entry.ifa_addr.cast::<libc::sockaddr_in6>() };
                let ip = std::net::Ipv6Addr::from(sin6.sin6_addr.s6_addr);
                interface.addresses.push(IpAddr::V6(ip));
            }
            _ => {}
        }
    }
    // SAFETY: `head` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    found.into_values().collect()
}

# Agents: registration, status reports, and the commands the system sends them.
#
# Agents (Whisperers, Gociphers, Controllers) always dial out: to the backend, or to their cluster's
# Controller. After `Auth.login` they call `AgentRegistry.register`, handing over an `AgentControl`
# capability; every command to the agent (configure, start, stop) travels back over that capability on
# the connection the agent opened, so no agent ever listens on a port. The agent keeps the
# `Registration` it gets back for as long as it runs and streams its status on it. When the connection
# drops, the registry marks the agent disconnected (keeping its last status); the agent dials again,
# logs in and registers again (same name, same incarnation while the process lives).

@0xcf984429ee43546c;

using Controller = import "controller.capnp";

enum AgentKind {
  whisperer @0;
  # Captures frames (AF_PACKET) and streams packets, session updates, hosts and DNS.

  gocipher @1;
  # Counts per-minute usage with eBPF on one node.

  controller @2;
  # One per Kubernetes cluster: inventory, usage enrichment, Whisperer attachment.
}

struct CaptureInterface {
  # One interface an agent can capture on.

  index @0 :UInt32;
  # The agent-local index that PacketRecord.interface refers to; stable for the agent's incarnation.

  name @1 :Text;
  # The interface name (`eth0`), or the file name in file replay mode.

  linkType @2 :UInt16;
  # The LINKTYPE_* of its frames.

  addresses @3 :List(Data);
  # Its IP addresses (4 or 16 octets each).
}

struct AgentInfo {
  # Who an agent is; sent once per registration.

  kind @0 :AgentKind;

  name @1 :Text;
  # Unique in the system and stable across restarts (for a Whisperer in a pod: derived from the pod).
  # It is BatchId.agent, PacketRecord.whisperer and the `whisperers` query filter.

  host @2 :Text;
  # The host name of the machine (or pod) it runs on.

  version @3 :Text;
  # Spider's version, e.g. `0.1.0`.

  interfaces @4 :List(CaptureInterface);
  # What it can capture on (empty for Gociphers and Controllers).

  incarnation @5 :UInt64;
  # Drawn at random (non-zero) when the process starts; the same value as in its BatchIds.

  startedAt @6 :Int64;
  # When the process started (epoch ns).

  namespace @7 :Text;
  # Kubernetes namespace it runs in; null outside Kubernetes.

  pod @8 :Text;
  # Kubernetes pod it runs in (for an attached Whisperer: the pod it captures); null outside.

  node @9 :Text;
  # Kubernetes node it runs on; null outside.

  cluster @10 :Text;
  # The cluster name of its Controller; null outside Kubernetes.
}

enum AgentState {
  starting @0;
  # Initialising (opening the capture, loading programs, connecting).

  recording @1;
  # Capturing or counting, and sending.

  stopped @2;
  # Told to stop (AgentControl.stop or `capture = false`); connected and idle.

  serverDown @3;
  # Cannot reach the backend; capturing into its bounded queue, dropping what does not fit.

  invalidConfig @4;
  # The last configuration was rejected; `message` says why. It keeps the previous one.

  internalError @5;
  # Something failed inside the agent; `message` says what.
}

struct AgentStatus {
  # A status report. Counters are cumulative since the incarnation started (not deltas), so a lost
  # report loses nothing; a new incarnation starts them from zero.

  state @0 :AgentState;

  message @1 :Text;
  # Detail for invalidConfig and internalError (lowercase); null otherwise.

  time @2 :Int64;
  # When this report was taken.

  stateSince @3 :Int64;
  # When the agent entered `state`.

  packetsSeen @4 :UInt64;
  # Frames the capture delivered (Whisperer) or messages counted (Gocipher).

  bytesSeen @5 :UInt64;
  # Wire bytes of those frames.

  kernelDrops @6 :UInt64;
  # Frames the kernel dropped before the agent saw them (ring full).

  ownDrops @7 :UInt64;
  # Frames or records the agent dropped itself: queue full, throughput limit, CPU budget.

  queueDepth @8 :UInt64;
  # Bytes waiting to be sent or acknowledged, now.

  cpuPercent @9 :Float32;
  # CPU used over the last report interval, in percent of one core.

  rssBytes @10 :UInt64;
  # Resident memory now.

  lastSentAt @11 :Int64;
  # When the last batch was pushed; 0 if none yet.

  lastAckAt @12 :Int64;
  # When the backend last acknowledged batches as durable (Ingest.flush); 0 if never.

  batchesSent @13 :UInt64;
  batchesAcked @14 :UInt64;

  configGeneration @15 :UInt64;
  # The AgentConfig.generation in force.

  limitDrops @16 :UInt64;
  # Frames a circuit breaker (throughput limit, CPU budget) did not capture or send.

  skippedEmptyAcks @17 :UInt64;
  # Empty ACK packets skipped on purpose (WhispererConfig.skipEmptyAcks).
}

struct WhispererConfig {
  # What and how a Whisperer captures. The defaults are what a Whisperer does without configuration.

  capture @0 :Bool = true;
  # Capture on (true) or off. Off: the Whisperer stays connected, state `stopped`.

  filter @1 :Text;
  # Kernel filter in pcap filter syntax; null or empty captures everything (except Spider's own
  # connections, always excluded).

  snaplen @2 :UInt32 = 65535;
  # Bytes kept of each frame.

  promiscuous @3 :Bool = false;

  throughputLimit @4 :UInt64;
  # Frame bytes sent per minute at most (excess frames dropped and counted in ownDrops); 0: no limit.

  cpuBudget @5 :Float32;
  # CPU share the Whisperer may use, in percent of one core; 0: no limit.

  skipEmptyAcks @6 :Bool = false;
  # Do not send TCP segments without payload, SYN, FIN or RST (they still count in session stats).

  retentionTtl @7 :Int64;
  # How long the backend keeps this Whisperer's capture data, in ns; 0: the backend's default.

  interfaces @8 :List(Text);
  # Names of the interfaces to capture on; empty: every interface the Whisperer registered.
}

struct GocipherConfig {
  counting @0 :Bool = true;
  # Counting on (true) or off.

  bucketSeconds @1 :UInt32 = 60;
  # Length of a usage bucket (UsageRecord.minute is its start).
}

struct ControllerConfig {
  enrich @0 :Bool = true;
  # Enrich usage with Kubernetes names.

  inventory @1 :Bool = true;
  # Send the cluster inventory (Ingest.pushInventory).
}

struct AgentConfig {
  generation @0 :UInt64;
  # Increases with every change; echoed in ConfigAck and AgentStatus.configGeneration.

  union {
    whisperer @1 :WhispererConfig;
    gocipher @2 :GocipherConfig;
    controller @3 :ControllerConfig;
  }
}

struct ConfigAck {
  generation @0 :UInt64;
  # The generation this answers.

  accepted @1 :Bool;
  # True: applied. False: rejected, the previous configuration stays (state invalidConfig).

  error @2 :Text;
  # Why it was rejected; null when accepted.
}

interface AgentControl {
  # Served by the agent, called by the system over the agent's own connection.

  configure @0 (config :AgentConfig) -> (ack :ConfigAck);
  # Apply a configuration; answers once applied or rejected.

  start @1 () -> ();
  # Resume capturing / counting.

  stop @2 () -> ();
  # Stop capturing / counting; stay connected.

  status @3 () -> (status :AgentStatus);
  # The current status, now.
}

interface Registration {
  # Held by an agent while it is registered. Dropping it, or losing the connection, unregisters.

  report @0 (status :AgentStatus) -> stream;
  # A status report, every few seconds and on every state change.
}

struct AgentSummary {
  # What the system knows of one agent.

  info @0 :AgentInfo;

  status @1 :AgentStatus;
  # The latest report; null if none arrived yet.

  connected @2 :Bool;
  # Whether its Registration is alive now.

  lastSeen @3 :Int64;
  # The last time a report or registration arrived.

  config @4 :AgentConfig;
  # The configuration the system wants it to have (it has it when status.configGeneration matches).
}

interface AgentRegistry {
  register @0 (info :AgentInfo, control :AgentControl, controller :Controller.ControllerControl)
           -> (registration :Registration, config :AgentConfig);
  # Called by an agent (role `agent` or `admin`). Returns the configuration to start with (null:
  # keep the agent's local defaults). A second registration under a name whose first one is still
  # connected replaces it (the older connection is most likely dead). A Controller also hands over
  # its `controller` capability (null for other agents).

  list @1 () -> (agents :List(AgentSummary));
  # Every agent known (connected or not). Role `admin`.

  control @2 (name :Text) -> (control :AgentControl);
  # The control capability of a connected agent, by name (fails when it is not connected). Role
  # `admin`. Calls on it travel through the registry's host to the agent.

  setConfig @3 (name :Text, config :AgentConfig) -> (ack :ConfigAck);
  # Store the desired configuration of an agent (kept across its reconnections) and, when it is
  # connected, apply it now. Role `admin`. `config.generation` is assigned by the registry.

  controller @4 (name :Text) -> (control :Controller.ControllerControl);
  # The command capability of a connected Controller, by name (fails when it is not connected or
  # is not a Controller). Role `admin`.
}

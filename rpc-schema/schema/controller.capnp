# The Controller's commands and services.
#
# A Controller dials out to the backend like every agent and, when it registers, hands over a
# `ControllerControl` next to its `AgentControl`: the backend (for the UI) attaches Whisperers to
# pods and workloads, lists them, and reads agents' logs through it, over the connection the
# Controller opened. The Controller also listens for its cluster's agents (Gociphers, Whisperers):
# its `Auth.login` checks the credential with the backend, and the `Session` it returns hands out an
# `Ingest` that enriches usage with Kubernetes names before passing every call on to the backend
# (same batch ids: a batch retried through another path is stored once), and a `NameService`.

@0xd6f3a1c2b4e59788;

struct AttachTarget {
  union {
    pod :group {
      namespace @0 :Text;
      name @1 :Text;
    }
    workload :group {
      namespace @2 :Text;
      kind @3 :Text;
      # `Deployment`, `DaemonSet`, `StatefulSet`, `CronJob`, `Job`.
      name @4 :Text;
    }
  }
}

struct AttachRequest {
  id @0 :Text;
  # Short id, a DNS label; the containers are named `spider-whisperer-ID` (`-2`, … after a failure).

  target @1 :AttachTarget;

  image @2 :Text;
  # The Whisperer's container image.

  command @3 :List(Text);
  args @4 :List(Text);

  ttlSeconds @5 :UInt64;
  # After this the Whisperers exit and no container is added; 0: no limit.
}

enum PodAttachmentState {
  starting @0;
  # Added; the kubelet has not started it yet.
  running @1;
  crashLoop @2;
  # Failed twice in 5 minutes: not started again.
  done @3;
  # Exited normally (its time to live ran out).
}

struct PodAttachment {
  namespace @0 :Text;
  pod @1 :Text;
  node @2 :Text;
  containers @3 :List(Text);
  state @4 :PodAttachmentState;
  failures @5 :UInt32;
}

struct AttachmentStatus {
  request @0 :AttachRequest;
  created @1 :Int64;
  expires @2 :Int64;
  # 0: no time to live.
  expired @3 :Bool;
  detached @4 :Int64;
  # When it was detached; 0 while attached.
  pods @5 :List(PodAttachment);
}

struct AgentPod {
  # One of Spider's agents running in a pod: a sidecar Whisperer or a Gocipher pod.
  role @0 :Text;
  # `whisperer` or `gocipher`.
  namespace @1 :Text;
  pod @2 :Text;
  container @3 :Text;
  sidecar @4 :Bool;
  node @5 :Text;
  ips @6 :List(Data);
  phase @7 :Text;
  running @8 :Bool;
  workloadKind @9 :Text;
  workload @10 :Text;
  recognisedBy @11 :Text;
  # `image` or `label`.
}

interface ControllerControl {
  # Served by a Controller, called by the backend over the Controller's own connection.

  attach @0 (request :AttachRequest) -> ();
  # Fails when the target does not exist or the id is taken.

  detach @1 (id :Text) -> (found :Bool);
  # No container is added any more; the Whisperers already running exit.

  attachments @2 () -> (list :List(AttachmentStatus));

  agentLogs @3 (namespace :Text, pod :Text, container :Text, tailLines :UInt32) -> (log :Text);
  # The log of a container (an attached Whisperer, a sidecar, a Gocipher); tailLines 0: all of it.

  agents @4 () -> (list :List(AgentPod));
  # Sidecar Whisperers and Gocipher pods found in the cluster.
}

struct IpNames {
  ip @0 :Data;
  names @1 :List(Text);
  # Fully qualified names: `POD.NAMESPACE.pod.cluster.local`-style for pods, the services that
  # select it, `SERVICE.NAMESPACE.svc.cluster.local`, or a node's name. Empty when unknown.
}

interface NameService {
  # Served by a Controller to the agents of its cluster (Session.names), so that Whisperers need
  # no Kubernetes rights to name the IPs they see.

  names @0 (ips :List(Data)) -> (names :List(IpNames));
}

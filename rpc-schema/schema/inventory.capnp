# The Controller's inventory of a Kubernetes cluster, as it learns it from the Kubernetes API.
#
# A Controller sends an InventoryUpdate through Ingest.pushInventory: a full snapshot first (after every
# start and every reconnection), then deltas, in order. The receiver replaces everything it knew from
# that Controller with a snapshot and applies each delta on top. Ingest's batch sequence numbers keep
# the order and make a retried delta harmless (see ingest.capnp). The usage map (NLS: namespaces →
# workloads; NPS: nodes → namespaces → pods) draws its boxes from this, including idle ones.

@0xb268a4d61591811b;

using Records = import "records.capnp";

struct Node {
  name @0 :Text;

  addresses @1 :List(Data);
  # Its IP addresses (InternalIP and ExternalIP, 4 or 16 octets each).

  labels @2 :List(Records.NameValue);

  ready @3 :Bool;
  # The Ready condition is True.
}

struct Namespace {
  name @0 :Text;
  labels @1 :List(Records.NameValue);
}

struct Workload {
  # A parent workload: what WorkloadRef.kind and WorkloadRef.workload name.

  kind @0 :Text;
  # `Deployment`, `DaemonSet`, `StatefulSet`, `CronJob`, `Job`, or `Pod` (a bare pod).

  name @1 :Text;
  namespace @2 :Text;
  labels @3 :List(Records.NameValue);

  replicas @4 :UInt32;
  # Desired replicas where the kind has them (Deployment, StatefulSet); 0 otherwise.
}

struct Pod {
  name @0 :Text;
  namespace @1 :Text;

  ips @2 :List(Data);
  # Pod IPs (4 or 16 octets each); empty before it has one.

  node @3 :Text;
  # The node it is scheduled on; null while pending.

  workloadKind @4 :Text;
  # Kind of its parent workload, owners followed (a ReplicaSet's Deployment, a Job's CronJob).

  workload @5 :Text;
  # Name of its parent workload (its own name for a bare pod).

  hostNetwork @6 :Bool;
  # It uses the node's network namespace (its IPs are the node's).

  phase @7 :Text;
  # `Pending`, `Running`, `Succeeded`, `Failed`, `Unknown`.

  labels @8 :List(Records.NameValue);
}

struct ServicePort {
  name @0 :Text;
  port @1 :UInt16;

  targetPort @2 :Text;
  # A number or a named port, as written in the Service.

  protocol @3 :Text;
  # `TCP`, `UDP` or `SCTP`.
}

struct Service {
  name @0 :Text;
  namespace @1 :Text;

  clusterIps @2 :List(Data);
  # Empty for headless services.

  ports @3 :List(ServicePort);

  selector @4 :List(Records.NameValue);

  type @5 :Text;
  # `ClusterIP`, `NodePort`, `LoadBalancer` or `ExternalName`.
}

enum ObjectKind {
  node @0;
  namespace @1;
  workload @2;
  pod @3;
  service @4;
}

struct InventoryRef {
  # Names one inventory object (for removal).

  kind @0 :ObjectKind;

  namespace @1 :Text;
  # Null for nodes and namespaces.

  name @2 :Text;

  workloadKind @3 :Text;
  # For workloads: Workload.kind (names are unique per kind and namespace only).
}

struct InventoryObjects {
  nodes @0 :List(Node);
  namespaces @1 :List(Namespace);
  workloads @2 :List(Workload);
  pods @3 :List(Pod);
  services @4 :List(Service);
}

struct InventoryDelta {
  upserted @0 :InventoryObjects;
  # Added or changed objects, whole (an object replaces the one with the same kind and names).

  removed @1 :List(InventoryRef);
  # Deleted objects.
}

struct InventoryUpdate {
  controller @0 :Text;
  # The Controller's agent name.

  cluster @1 :Text;
  # The cluster's name, as configured on the Controller.

  time @2 :Int64;
  # When the Controller's view was in this state.

  union {
    snapshot @3 :InventoryObjects;
    # Everything, replacing what was known from this Controller.

    delta @4 :InventoryDelta;
    # Changes since the previous update of this Controller.
  }
}

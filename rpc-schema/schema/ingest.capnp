# Ingest: how agents push data to the backend's storage shards.
#
# Shards. Storage is split into S = 256 virtual shards (`virtualShards`), placed on backend nodes by
# the ShardMap. Every batch is addressed to one virtual shard, even on a single node, so adding nodes
# changes placement only:
# - capture data (frames, session updates) of a session goes to shard_of(whisperer, sessionId), so a
#   session's frames all land on the shard that reassembles and parses it;
# - usage goes to the shard of (reporter, source): not by minute, which would send every current
#   write to one shard;
# - an inventory goes to the shard of its Controller's name.
# The hash (FNV-1a 64, folded) is specified in the crate's README and implemented in
# `spider_rpc_schema::shard`, with test vectors; every language must compute it identically.
#
# Idempotency. A batch's BatchId is (agent, incarnation, sequence), and `sequence` counts 1, 2, 3, …
# without gaps per (agent, incarnation, shard). A shard stores, atomically with each batch, the last
# sequence applied per (agent, incarnation); a batch whose sequence is not above it is a retry, already
# stored: the shard drops it and answers as if it had stored it. A batch whose sequence is more than
# one above it means batches were lost in between: the shard fails the call (the agent resends from
# its last acknowledged batch). So retrying any suffix of the batches is always safe.
#
# Flow control. The push methods are streaming (`-> stream`): the client keeps a window of calls in
# flight and waits when it is full, so a slow shard slows its senders instead of growing queues. Calls
# on one Ingest capability are delivered in order. A failed push fails the stream: later pushes on
# the same capability fail too, and the agent reconnects and resends.
#
# Acknowledgement. A streaming call returning means "received", not "durable". An agent learns what is
# durable from `flush`, which returns once every batch pushed before it on this capability is durably
# stored (per the durability policy in the backend's ARCHITECTURE.md), and answers, per shard, the
# highest sequence such that every batch up to it is stored. The agent keeps every batch until a flush
# covers it, and after a reconnection resends, in order, the batches above the acknowledged sequence.

@0x8ad3d742c14ccad9;

using Records = import "records.capnp";
using Inventory = import "inventory.capnp";

const virtualShards :UInt16 = 256;
# S, the number of virtual shards. Fixed: changing it moves every session to another shard.

struct BatchId {
  agent @0 :Text;
  # The sending agent's registered name (AgentInfo.name).

  incarnation @1 :UInt64;
  # Random and non-zero, drawn when the agent process starts (AgentInfo.incarnation). A restarted
  # agent starts a new sequence space; shards may forget an incarnation idle for a retention period.

  sequence @2 :UInt64;
  # 1, 2, 3, … per (agent, incarnation, shard), without gaps, across every push method.
}

struct BatchAck {
  # What one shard holds durably from one sender.

  agent @0 :Text;
  incarnation @1 :UInt64;
  shard @2 :UInt16;

  sequence @3 :UInt64;
  # Every batch of (agent, incarnation) to `shard` with a sequence up to this one is durably stored.
}

struct NodeAddress {
  id @0 :Text;
  # The backend node's stable id (a StatefulSet pod name, or `local`).

  address @1 :Text;
  # Where to dial it: `host:port` of its Cap'n Proto RPC listener.
}

struct ShardMap {
  # Which backend node owns which virtual shard.

  epoch @0 :UInt64;
  # Increases whenever placement changes; batches echo it in `mapEpoch`.

  shardCount @1 :UInt16;
  # S (256).

  nodes @2 :List(NodeAddress);

  owners @3 :List(UInt16);
  # owners[s] is the index in `nodes` of the node that owns virtual shard s; `shardCount` entries.

  answeringNode @4 :UInt16;
  # The index in `nodes` of the node that answered.

  followers @5 :List(UInt16);
  # followers[s] is the index in `nodes` of the node that keeps a copy of virtual shard s (and
  # takes over when its owner is lost); 65535 when there is none. Empty for a single node.
}

struct DropCounters {
  # What a Whisperer lost or left out, over [since, until). Whisperer-wide: it rides in one batch (to
  # whichever shard is next), and queries add up the counters of every shard.

  since @0 :Int64;
  until @1 :Int64;

  kernelDrops @2 :UInt64;
  # Frames the kernel dropped (ring full).

  ownDrops @3 :UInt64;
  # Frames the Whisperer dropped: its queue was full (backend slow or down).

  limitDrops @4 :UInt64;
  # Frames not sent because of WhispererConfig.throughputLimit or cpuBudget.

  skippedEmptyAcks @5 :UInt64;
  # Frames left out on purpose by WhispererConfig.skipEmptyAcks (not loss).
}

struct CaptureBatch {
  id @0 :BatchId;
  # Required.

  shard @1 :UInt16;
  # The virtual shard it is for (< S). A node that does not own it fails the call; the agent then
  # fetches the ShardMap again.

  mapEpoch @2 :UInt64;
  # The ShardMap.epoch the sender routed with.

  whisperer @3 :Text;
  # The Whisperer that captured everything in the batch (the same as id.agent when it sends itself).

  frames @4 :List(Records.PacketRecord);
  # Frames in capture order, each with shard_of(whisperer, sessionId) == shard; `whisperer` null.

  sessions @5 :List(Records.TcpSessionRecord);
  # New or changed sessions of this shard (shard_of(whisperer, id) == shard); `whisperer` null.

  hosts @6 :List(Records.HostRecord);
  # Host names learnt; they may ride with any shard's batch (the Whisperer puts them in the batch of
  # the flow it learnt them from). `whisperer` null.

  dns @7 :List(Records.DnsRecord);
  # DNS responses; like hosts, with any shard (that of their flow). `whisperer` null.

  drops @8 :DropCounters;
  # Null unless this batch carries the Whisperer's drop counters since the previous ones.

  retentionTtl @9 :Int64;
  # WhispererConfig.retentionTtl in force (ns; 0: the backend's default), so the shard files the data
  # in the right retention class.

  replicated @10 :Bool;
  # Set by a group's owner node when it passes the batch on to the group's follower node (the
  # follower takes only these for the groups it follows).

  forwarded @11 :Bool;
  # Set by a node that passes an agent's batch on to the group's owner node: the agent's ingest
  # rate was charged where it dialed, so the owner does not charge it again. Taken into account
  # only from a node (an admin session); an agent that sets it is charged all the same.
}

struct UsageBatch {
  id @0 :BatchId;
  # Required.

  shard @1 :UInt16;
  mapEpoch @2 :UInt64;

  records @3 :List(Records.UsageRecord);
  # Each with usage shard (see the crate README) == shard.

  replicated @4 :Bool;
  # As CaptureBatch.replicated.

  forwarded @5 :Bool;
  # As CaptureBatch.forwarded.
}

struct InventoryBatch {
  id @0 :BatchId;
  # Required.

  shard @1 :UInt16;
  # The shard of the Controller's name.

  mapEpoch @2 :UInt64;

  update @3 :Inventory.InventoryUpdate;
  # Required.

  replicated @4 :Bool;
  # As CaptureBatch.replicated.

  forwarded @5 :Bool;
  # As CaptureBatch.forwarded.
}

interface Ingest {
  # Obtained from Session.ingest (roles `agent` and `admin`). Served by every backend node for the
  # shards it owns.

  shardMap @0 () -> (map :ShardMap);
  # The current placement. Agents fetch it after login and after any push error.

  pushCapture @1 (batch :CaptureBatch) -> stream;
  # Frames, session updates, hosts and DNS of one Whisperer, for one shard.

  pushUsage @2 (batch :UsageBatch) -> stream;
  # Usage records of one Gocipher or Controller, for one shard.

  flush @3 () -> (acked :List(BatchAck));
  # Waits until every batch pushed before it on this capability is durably stored, then answers the
  # acknowledged sequence of every (agent, incarnation, shard) pushed on this capability. Agents call
  # it every second or so, and before they exit.

  pushInventory @4 (batch :InventoryBatch) -> stream;
  # A Controller's inventory snapshot or delta.

  acknowledged @5 (agent :Text, incarnation :UInt64) -> (acked :List(BatchAck));
  # What this backend holds durably of one incarnation of an agent, whatever connection sent it:
  # per shard, the highest sequence stored (every batch before it is stored too, since a batch
  # after a gap is refused). An agent that reconnects resumes after it instead of resending
  # everything it had not seen acknowledged.

  copyGroup @6 (group :UInt16, to :Text, handOver :Bool, after :CopyPosition)
      -> (entries :List(RawEntry), next :CopyPosition, done :Bool);
  # Node to node (role admin): a chunk of the raw storage entries of shard group `group` after
  # `after` (null: from the start), asked by node `to` that copies the group. The owner stops
  # taking writes into the group from the first chunk on (once the writes in flight are stored);
  # with `handOver` it stays closed until the shard map names `to` the owner, else it opens again
  # after the last chunk (`done`; `next` is then null). Fails when this node does not own the group.
}

struct CopyPosition {
  # The last entry of a chunk: the next chunk starts after it.
  family @0 :UInt8;
  key @1 :Data;
}

struct RawEntry {
  # One storage entry as it is: column family (its index in the shard's list), key and value.
  family @0 :UInt8;
  key @1 :Data;
  value @2 :Data;
}

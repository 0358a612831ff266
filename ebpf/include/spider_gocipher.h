/* Types shared with user space: mirrors ebpf/common/src/lib.rs (spider-ebpf-common) field by
 * field. Change both together; the sizes are asserted on both sides. */
#ifndef SPIDER_GOCIPHER_H
#define SPIDER_GOCIPHER_H

#define DIR_SEND 0
#define DIR_RECV 1

#define ROLE_UNKNOWN 0
#define ROLE_CLIENT 1
#define ROLE_SERVER 2

#define PROTO_TCP 6
#define PROTO_UDP 17

#define STAT_FLOWS_CREATED 0
#define STAT_FLOWS_FAILED 1
#define STAT_RESERVED 2
#define STAT_SKB_UNPARSED 3
#define STAT_RECV_NO_PEER 4
#define STAT_COUNT 8

struct flow_key {
	__u64 bucket;
	__u64 cookie;
	__u8 local_ip[16];
	__u8 remote_ip[16];
	__u16 local_port;
	__u16 remote_port;
	__u8 proto;
	__u8 dir;
	__u8 pad[2];
};

struct flow_value {
	__u64 bytes;
	__u64 calls;
	__u64 wire_bytes;
	__u64 packets;
};

struct sock_info {
	__u64 cgroup_id;
	__u32 pid;
	__u8 role;
	__u8 pad[3];
	char comm[16];
};

struct peer_info {
	__u64 cookie;
	__u8 ip[16];
	__u16 port;
	__u8 pad[6];
};

struct gocipher_config {
	__u64 bucket_ns;
	__u64 realtime_offset_ns;
	__u64 cgroup_id;
	__u32 cgroup_level;
	__u32 pad;
};

_Static_assert(sizeof(struct flow_key) == 56, "flow_key layout");
_Static_assert(sizeof(struct flow_value) == 32, "flow_value layout");
_Static_assert(sizeof(struct sock_info) == 32, "sock_info layout");
_Static_assert(sizeof(struct peer_info) == 32, "peer_info layout");
_Static_assert(sizeof(struct gocipher_config) == 32, "gocipher_config layout");

#endif

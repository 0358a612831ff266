/* Maps and helpers shared by the Gocipher's kernel programs. */
#ifndef GOCIPHER_H
#define GOCIPHER_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>

#include "spider_gocipher.h"

#define AF_INET 2
#define AF_INET6 10
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define MSG_PEEK 2
#define GOCIPHER_EEXIST 17

/* Sizes are the defaults; the loader sets them from its configuration. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct flow_key);
	__type(value, struct flow_value);
} gc_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct sock_info);
} gc_socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct peer_info);
} gc_peers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gocipher_config);
} gc_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STAT_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} gc_stats SEC(".maps");

/* Per CPU: the bucket computed at a jiffy, reused until the next one (kernel only). */
struct clock_cache {
	__u64 jiffies;
	__u64 bucket;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct clock_cache);
} gc_clock SEC(".maps");

/* Plain header layouts for packet parsing (no CO-RE: these are wire formats). */
struct gc_ip4 {
	__u8 vihl;
	__u8 tos;
	__be16 tot_len;
	__be16 id;
	__be16 frag_off;
	__u8 ttl;
	__u8 protocol;
	__u16 check;
	__be32 saddr;
	__be32 daddr;
};

struct gc_ip6 {
	__be32 vtcfl;
	__be16 payload_len;
	__u8 nexthdr;
	__u8 hop_limit;
	__u8 saddr[16];
	__u8 daddr[16];
};

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&gc_stats, &idx);
	if (v)
		*v += 1;
}

static __always_inline struct gocipher_config *get_config(void)
{
	__u32 zero = 0;
	struct gocipher_config *cfg = bpf_map_lookup_elem(&gc_config, &zero);
	if (!cfg || cfg->bucket_ns == 0)
		return 0;
	return cfg;
}

/* The bucket of now. Reading the clock and dividing costs more than the rest of a program: do it
 * once per jiffy and CPU (an event in the jiffy after an edge may still count in the bucket
 * before it; each event still counts in exactly one bucket). */
static __always_inline __u64 bucket_now(const struct gocipher_config *cfg)
{
	__u32 zero = 0;
	__u64 now = bpf_jiffies64();
	struct clock_cache *cache = bpf_map_lookup_elem(&gc_clock, &zero);
	if (cache && cache->jiffies == now)
		return cache->bucket;
	__u64 bucket = (bpf_ktime_get_ns() + cfg->realtime_offset_ns) / cfg->bucket_ns;
	if (cache) {
		cache->jiffies = now;
		cache->bucket = bucket;
	}
	return bucket;
}

static __always_inline void ip4_mapped(__u8 *out, __be32 addr)
{
	__builtin_memset(out, 0, 10);
	out[10] = 0xff;
	out[11] = 0xff;
	__builtin_memcpy(out + 12, &addr, 4);
}

/* Adds to the counters of a flow, creating it (counted) when it is new. */
static __always_inline void flow_add(const struct flow_key *key, __u64 bytes, __u64 calls,
				     __u64 wire_bytes, __u64 packets)
{
	struct flow_value *v = bpf_map_lookup_elem(&gc_flows, key);
	if (!v) {
		struct flow_value zero = {};
		long err = bpf_map_update_elem(&gc_flows, key, &zero, BPF_NOEXIST);
		if (err == 0)
			stat_inc(STAT_FLOWS_CREATED);
		else if (err != -GOCIPHER_EEXIST) {
			stat_inc(STAT_FLOWS_FAILED);
			return;
		}
		v = bpf_map_lookup_elem(&gc_flows, key);
		if (!v) {
			stat_inc(STAT_FLOWS_FAILED);
			return;
		}
	}
	v->bytes += bytes;
	v->calls += calls;
	v->wire_bytes += wire_bytes;
	v->packets += packets;
}

/* Sets the role of a socket, keeping what else is known of it. */
static __always_inline void set_role(__u64 cookie, __u8 role)
{
	struct sock_info *info = bpf_map_lookup_elem(&gc_socks, &cookie);
	if (info) {
		info->role = role;
		return;
	}
	struct sock_info fresh = {};
	fresh.role = role;
	bpf_map_update_elem(&gc_socks, &cookie, &fresh, BPF_NOEXIST);
}

#endif

/* cgroup_skb/ingress and cgroup_skb/egress: IP bytes and packets of the sockets of the cgroup.
 * GSO/GRO packets count as their segments, each with its own headers. Always pass the packet. */
#include "gocipher.h"

static __always_inline int on_skb(struct __sk_buff *skb, __u8 dir)
{
	struct gocipher_config *cfg = get_config();
	if (!cfg)
		return 1;
	__u8 src[16], dst[16];
	__u8 proto;
	__u32 hdr;
	__be16 ports[2];
	__u32 l4 = 8;
	/* Headers are in the linear part (direct access); else read them with the helper. */
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct gc_ip4 copy;
		struct gc_ip4 *ip = data;
		if ((void *)(ip + 1) > data_end) {
			if (bpf_skb_load_bytes(skb, 0, &copy, sizeof(copy)))
				goto unparsed;
			ip = &copy;
		}
		if (ip->frag_off & bpf_htons(0x1fff))
			return 1; /* a later fragment: no ports (counted with its first) */
		proto = ip->protocol;
		hdr = (ip->vihl & 0xf) * 4;
		ip4_mapped(src, ip->saddr);
		ip4_mapped(dst, ip->daddr);
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct gc_ip6 copy;
		struct gc_ip6 *ip = data;
		if ((void *)(ip + 1) > data_end) {
			if (bpf_skb_load_bytes(skb, 0, &copy, sizeof(copy)))
				goto unparsed;
			ip = &copy;
		}
		proto = ip->nexthdr;
		hdr = 40;
		__builtin_memcpy(src, ip->saddr, 16);
		__builtin_memcpy(dst, ip->daddr, 16);
	} else {
		return 1;
	}
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return 1;
	if (hdr < 20 || hdr > 60)
		goto unparsed;
	/* Ports and the TCP data offset (byte 12 of the TCP header). */
	__u8 *l4p = data + hdr;
	if ((void *)(l4p + 13) <= data_end) {
		__builtin_memcpy(ports, l4p, 4);
		if (proto == IPPROTO_TCP)
			l4 = (l4p[12] >> 4) * 4;
	} else {
		if (bpf_skb_load_bytes(skb, hdr, ports, sizeof(ports)))
			goto unparsed;
		if (proto == IPPROTO_TCP) {
			__u8 doff;
			if (bpf_skb_load_bytes(skb, hdr + 12, &doff, 1))
				goto unparsed;
			l4 = (doff >> 4) * 4;
		}
	}
	__u64 segs = skb->gso_segs;
	if (segs == 0)
		segs = 1;
	__u64 wire = (__u64)skb->len + (segs - 1) * (__u64)(hdr + l4);

	struct flow_key key = {};
	key.bucket = bucket_now(cfg);
	key.cookie = bpf_get_socket_cookie(skb);
	key.proto = proto;
	key.dir = dir;
	if (dir == DIR_SEND) {
		__builtin_memcpy(key.local_ip, src, 16);
		__builtin_memcpy(key.remote_ip, dst, 16);
		key.local_port = bpf_ntohs(ports[0]);
		key.remote_port = bpf_ntohs(ports[1]);
	} else {
		__builtin_memcpy(key.local_ip, dst, 16);
		__builtin_memcpy(key.remote_ip, src, 16);
		key.local_port = bpf_ntohs(ports[1]);
		key.remote_port = bpf_ntohs(ports[0]);
	}
	flow_add(&key, 0, 0, wire, segs);
	return 1;
unparsed:
	stat_inc(STAT_SKB_UNPARSED);
	return 1;
}

SEC("cgroup_skb/ingress")
int skb_ingress(struct __sk_buff *skb)
{
	return on_skb(skb, DIR_RECV);
}

SEC("cgroup_skb/egress")
int skb_egress(struct __sk_buff *skb)
{
	return on_skb(skb, DIR_SEND);
}

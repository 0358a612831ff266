/* cgroup/sendmsg4|6 and cgroup/recvmsg4|6: the peer of each unconnected UDP call, kept per thread
 * for the length tracepoint that follows in the same call. They never change the call. */
#include "gocipher.h"

static __always_inline void remember_peer(struct bpf_sock_addr *ctx, int v6)
{
	struct peer_info peer = {};
	peer.cookie = bpf_get_socket_cookie(ctx);
	if (v6) {
		__u32 w0 = ctx->user_ip6[0], w1 = ctx->user_ip6[1];
		__u32 w2 = ctx->user_ip6[2], w3 = ctx->user_ip6[3];
		__builtin_memcpy(peer.ip, &w0, 4);
		__builtin_memcpy(peer.ip + 4, &w1, 4);
		__builtin_memcpy(peer.ip + 8, &w2, 4);
		__builtin_memcpy(peer.ip + 12, &w3, 4);
	} else {
		ip4_mapped(peer.ip, ctx->user_ip4);
	}
	peer.port = bpf_ntohs((__u16)ctx->user_port);
	__u64 id = bpf_get_current_pid_tgid();
	bpf_map_update_elem(&gc_peers, &id, &peer, BPF_ANY);
}

SEC("cgroup/sendmsg4")
int sendmsg4(struct bpf_sock_addr *ctx)
{
	remember_peer(ctx, 0);
	return 1;
}

SEC("cgroup/sendmsg6")
int sendmsg6(struct bpf_sock_addr *ctx)
{
	remember_peer(ctx, 1);
	return 1;
}

SEC("cgroup/recvmsg4")
int recvmsg4(struct bpf_sock_addr *ctx)
{
	remember_peer(ctx, 0);
	return 1;
}

SEC("cgroup/recvmsg6")
int recvmsg6(struct bpf_sock_addr *ctx)
{
	remember_peer(ctx, 1);
	return 1;
}

/* cgroup/sock_create: the process that opens a socket; cgroup/post_bind4|6: a UDP socket bound by
 * bind() is a server's. Both always allow the call. */
#include "gocipher.h"

SEC("cgroup/sock_create")
int sock_create(struct bpf_sock *ctx)
{
	if (ctx->family != AF_INET && ctx->family != AF_INET6)
		return 1;
	if (ctx->protocol != IPPROTO_TCP && ctx->protocol != IPPROTO_UDP)
		return 1;
	__u64 cookie = bpf_get_socket_cookie(ctx);
	struct sock_info info = {};
	info.pid = bpf_get_current_pid_tgid() >> 32;
	info.cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(info.comm, sizeof(info.comm));
	bpf_map_update_elem(&gc_socks, &cookie, &info, BPF_ANY);
	return 1;
}

static __always_inline void bound(struct bpf_sock *ctx)
{
	if (ctx->protocol == IPPROTO_UDP && ctx->src_port != 0)
		set_role(bpf_get_socket_cookie(ctx), ROLE_SERVER);
}

SEC("cgroup/post_bind4")
int post_bind4(struct bpf_sock *ctx)
{
	bound(ctx);
	return 1;
}

SEC("cgroup/post_bind6")
int post_bind6(struct bpf_sock *ctx)
{
	bound(ctx);
	return 1;
}

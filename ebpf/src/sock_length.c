/* tp_btf/sock_send_length and tp_btf/sock_recv_length: payload bytes and calls at the socket,
 * for the TCP and UDP sockets of the configured cgroup (and its descendants). These
 * tracepoints fire for every socket of the host: the cgroup of the socket decides, once per
 * socket (a socket in gc_socks is in scope). Fields are read directly (BTF pointers, CO-RE
 * offsets): this runs twice per request of a busy server. */
#include "gocipher.h"

/* Whether the socket belongs to the configured cgroup or one of its descendants. */
static __always_inline int in_scope(struct sock *sk, const struct gocipher_config *cfg)
{
	__u32 level = cfg->cgroup_level;
	if (level == 0)
		return 1;
	if (level > 1024)
		return 0;
	struct cgroup *cgrp = sk->sk_cgrp_data.cgroup;
	if (!cgrp)
		return 0;
	int own = cgrp->level;
	if (own < 0 || (__u32)own < level)
		return 0;
	/* ancestors[] is indexed by a variable: read through the helper. */
	struct cgroup *ancestor = 0;
	void *slot = (void *)cgrp + bpf_core_field_offset(struct cgroup, ancestors) +
		     (__u64)level * sizeof(void *);
	if (bpf_probe_read_kernel(&ancestor, sizeof(ancestor), slot) || !ancestor)
		return 0;
	struct kernfs_node *kn = BPF_CORE_READ(ancestor, kn);
	return kn && BPF_CORE_READ(kn, id) == cfg->cgroup_id;
}

/* The socket's entry in gc_socks, made (with the current process) when it is in scope and new;
 * the process is updated when another one uses the socket. NULL: not counted. */
static __always_inline struct sock_info *sock_user(struct sock *sk, __u64 cookie,
						    const struct gocipher_config *cfg)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	struct sock_info *info = bpf_map_lookup_elem(&gc_socks, &cookie);
	if (info) {
		if (info->pid != pid) {
			info->pid = pid;
			info->cgroup_id = bpf_get_current_cgroup_id();
			bpf_get_current_comm(info->comm, sizeof(info->comm));
		}
		return info;
	}
	if (!in_scope(sk, cfg))
		return 0;
	struct sock_info fresh = {};
	fresh.pid = pid;
	fresh.cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(fresh.comm, sizeof(fresh.comm));
	bpf_map_update_elem(&gc_socks, &cookie, &fresh, BPF_NOEXIST);
	return bpf_map_lookup_elem(&gc_socks, &cookie);
}

static __always_inline int on_length(struct sock *sk, int ret, int flags, __u8 dir)
{
	if (!sk)
		return 0;
	__u16 family = sk->__sk_common.skc_family;
	if (family != AF_INET && family != AF_INET6)
		return 0;
	__u16 proto = sk->sk_protocol;
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return 0;
	if (ret < 0) {
		/* A failed UDP call: forget the peer its sendmsg hook may have left. */
		if (proto == IPPROTO_UDP) {
			__u64 id = bpf_get_current_pid_tgid();
			bpf_map_delete_elem(&gc_peers, &id);
		}
		return 0;
	}
	/* TCP: 0 is the end of the stream, not a message; UDP: an empty datagram. */
	if (ret == 0 && proto == IPPROTO_TCP)
		return 0;
	if (dir == DIR_RECV && (flags & MSG_PEEK))
		return 0;
	struct gocipher_config *cfg = get_config();
	if (!cfg)
		return 0;
	__u64 cookie = bpf_get_socket_cookie(sk);
	if (!sock_user(sk, cookie, cfg))
		return 0;

	struct flow_key key = {};
	key.bucket = bucket_now(cfg);
	key.cookie = cookie;
	key.proto = proto;
	key.dir = dir;
	key.local_port = sk->__sk_common.skc_num;
	key.remote_port = bpf_ntohs(sk->__sk_common.skc_dport);
	if (family == AF_INET) {
		ip4_mapped(key.local_ip, sk->__sk_common.skc_rcv_saddr);
		ip4_mapped(key.remote_ip, sk->__sk_common.skc_daddr);
	} else {
		__builtin_memcpy(key.local_ip, &sk->__sk_common.skc_v6_rcv_saddr, 16);
		__builtin_memcpy(key.remote_ip, &sk->__sk_common.skc_v6_daddr, 16);
	}
	if (proto == IPPROTO_UDP) {
		/* The peer of an unconnected call, left by cgroup/sendmsg* or cgroup/recvmsg*. */
		__u64 id = bpf_get_current_pid_tgid();
		struct peer_info *peer = bpf_map_lookup_elem(&gc_peers, &id);
		if (peer) {
			if (peer->cookie == cookie) {
				__builtin_memcpy(key.remote_ip, peer->ip, 16);
				key.remote_port = peer->port;
			}
			bpf_map_delete_elem(&gc_peers, &id);
		} else if (key.remote_port == 0 && dir == DIR_RECV) {
			stat_inc(STAT_RECV_NO_PEER);
		}
	}
	flow_add(&key, (__u64)ret, 1, 0, 0);
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(sock_send_length, struct sock *sk, int ret, int flags)
{
	return on_length(sk, ret, flags, DIR_SEND);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(sock_recv_length, struct sock *sk, int ret, int flags)
{
	return on_length(sk, ret, flags, DIR_RECV);
}

/* TCP roles: an active open is the client, a passive one the server. */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(inet_sock_set_state, struct sock *sk, int oldstate, int newstate)
{
	if (!sk || newstate != TCP_ESTABLISHED)
		return 0;
	__u8 role;
	if (oldstate == TCP_SYN_SENT)
		role = ROLE_CLIENT;
	else if (oldstate == TCP_SYN_RECV)
		role = ROLE_SERVER;
	else
		return 0;
	struct gocipher_config *cfg = get_config();
	if (!cfg || !in_scope(sk, cfg))
		return 0;
	set_role(bpf_get_socket_cookie(sk), role);
	return 0;
}

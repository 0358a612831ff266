/* The Gocipher's kernel programs, one object: see ../README.md. Each included file holds one
 * program type. */
#include "sock_length.c"
#include "sock_addr.c"
#include "sock.c"
#include "skb.c"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

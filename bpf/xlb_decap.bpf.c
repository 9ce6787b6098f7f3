// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xlb's decapsulation program for direct-server-return backends (forwarding: dsr, encapsulation:
 * ipip). This kernel has no tunnel drivers, and a backend should not need one: attached to the
 * backend's interface, it removes the outer header xlb added (IPv4 in IPv4, protocol 4; IPv6 in
 * IPv6, next header 41) and passes the inner packet, addressed to the VIP the backend holds on
 * lo, to the stack. Everything else passes untouched. Attach with
 *   ip link set dev eth0 xdp obj xlb_decap.bpf.o sec xdp
 * Counters: the per-CPU array xlb_decap_stats (xlb_common.h, enum xlb_decap_stat).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "xlb_common.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XLB_DECAP_STAT_COUNT);
	__type(key, __u32);
	__type(value, struct xlb_stat);
} xlb_decap_stats SEC(".maps");

static __always_inline int count(struct xdp_md *ctx, __u32 what, int action)
{
	struct xlb_stat *s = bpf_map_lookup_elem(&xlb_decap_stats, &what);

	if (s) {
		s->packets++;
		s->bytes += ctx->data_end - ctx->data;
	}
	return action;
}

/* Moves the Ethernet header `outer` bytes in and drops the outer IP header in front of it. */
static __always_inline int strip(struct xdp_md *ctx, __u32 outer, __be16 inner_proto)
{
	struct ethhdr eth, *e;
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;

	if (data + sizeof(eth) > end)
		return count(ctx, XLB_DECAP_MALFORMED, XDP_DROP);
	__builtin_memcpy(&eth, data, sizeof(eth));
	if (bpf_xdp_adjust_head(ctx, (int)outer))
		return count(ctx, XLB_DECAP_MALFORMED, XDP_DROP);
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	e = data;
	if ((void *)(e + 1) > end)
		return count(ctx, XLB_DECAP_MALFORMED, XDP_DROP);
	__builtin_memcpy(e, &eth, sizeof(eth));
	e->h_proto = inner_proto;
	return count(ctx, XLB_DECAP_DONE, XDP_PASS);
}

SEC("xdp")
int xlb_decap(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > end)
		return count(ctx, XLB_DECAP_PASS, XDP_PASS);
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		struct iphdr *inner = (void *)(ip + 1);

		if ((void *)(ip + 1) > end || ip->protocol != IPPROTO_IPIP)
			return count(ctx, XLB_DECAP_PASS, XDP_PASS);
		/* xlb writes no options and no fragments; anything else is not ours to open. */
		if (ip->ihl != 5 || (ip->frag_off & bpf_htons(0x3fff)) || (void *)(inner + 1) > end ||
		    inner->version != 4 || bpf_ntohs(ip->tot_len) != bpf_ntohs(inner->tot_len) + 20)
			return count(ctx, XLB_DECAP_MALFORMED, XDP_DROP);
		return strip(ctx, sizeof(*ip), bpf_htons(ETH_P_IP));
	}
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		struct ipv6hdr *inner6 = (void *)(ip6 + 1);

		if ((void *)(ip6 + 1) > end || ip6->nexthdr != IPPROTO_IPV6)
			return count(ctx, XLB_DECAP_PASS, XDP_PASS);
		if ((void *)(inner6 + 1) > end || inner6->version != 6 ||
		    bpf_ntohs(ip6->payload_len) != bpf_ntohs(inner6->payload_len) + sizeof(*inner6))
			return count(ctx, XLB_DECAP_MALFORMED, XDP_DROP);
		return strip(ctx, sizeof(*ip6), bpf_htons(ETH_P_IPV6));
	}
	return count(ctx, XLB_DECAP_PASS, XDP_PASS);
}

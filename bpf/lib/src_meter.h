// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Automatic blocking's measurement: per source address of traffic to a VIP, one window's counts
 * of each XLB_SRC_KINDS kind in an LRU hash (bounded: the least recently seen source goes when
 * it is full). A count reaching its configured limit sends one event per window and kind to the
 * control plane through a ring buffer; the control plane decides (allowlist, folding, observe
 * mode) and writes the blocklist. Nothing here blocks by itself.
 *
 * One entry is shared by the CPUs a source's packets reach, with atomic adds: a source's
 * packets spread over CPUs by their ports, and a per-CPU count would let a flood reach
 * nr_cpus times the limit. Only CPUs receiving the same source touch its line.
 */
#ifndef XLB_LIB_SRC_METER_H
#define XLB_LIB_SRC_METER_H

#include "clock.h"

#define SRC_PACKET 0   /* a packet the VIP serves */
#define SRC_FILTERED 1 /* a packet to a port or protocol it does not serve */

/* The source address of the packet stage_ipv4/stage_ipv6 parsed; nonzero when out of reach. */
static __always_inline int src_key(struct xdp_md *ctx, const struct pkt *p,
				   struct xlb_addr_key *k)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 l3 = BOUND(p->l3, 0x3f);

	if (p->dkey.family == XLB_FAMILY_V4) {
		struct iphdr *ip = data + l3;

		if ((void *)(ip + 1) > end)
			return 1;
		k->family = XLB_FAMILY_V4;
		__builtin_memcpy(k->addr, &ip->saddr, 4);
		return 0;
	}
	{
		struct ipv6hdr *ip6 = data + l3;

		if ((void *)(ip6 + 1) > end)
			return 1;
		k->family = XLB_FAMILY_V6;
		__builtin_memcpy(k->addr, &ip6->saddr, 16);
	}
	return 0;
}

static __always_inline void src_report(const struct xlb_addr_key *k, __u32 kind, __u32 count)
{
	struct xlb_src_event ev = { .kind = kind, .count = count };

	ev.src = *k;
	/* A full ring loses the event; the next window reports the source again. */
	bpf_ringbuf_output(&xlb_src_events, &ev, sizeof(ev), 0);
}

/* Judges one kind; the bit in c->reported keeps it to one event per window. */
static __always_inline void src_judge(struct xlb_config *cfg, struct xlb_src_count *c,
				      const struct xlb_addr_key *k, __u32 kind, __s32 value)
{
	__u32 limit = cfg->src_limit[kind];

	if (limit == 0 || value < (__s32)limit || (c->reported & (1u << kind)))
		return;
	/* A plain store: two CPUs crossing together send two events, which the control plane
	 * takes as one. */
	c->reported |= 1u << kind;
	src_report(k, kind, (__u32)value);
}

/* Counts the packet against its source (what: SRC_PACKET or SRC_FILTERED); a served UDP
 * packet counts as UDP too. */
static __always_inline void src_meter(struct xdp_md *ctx, struct xlb_config *cfg,
				      const struct pkt *p, int what)
{
	struct xlb_addr_key k = {};
	struct xlb_src_count *c;
	__u64 now;

	if (!cfg->src_window_ns || src_key(ctx, p, &k))
		return;
	now = now_ns(cfg);
	c = bpf_map_lookup_elem(&xlb_src_meter, &k);
	if (!c) {
		struct xlb_src_count fresh = { .window_start_ns = now };

		bpf_map_update_elem(&xlb_src_meter, &k, &fresh, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&xlb_src_meter, &k);
		if (!c)
			return;
	}
	if (now - c->window_start_ns >= cfg->src_window_ns) {
		/* Another CPU may count into the old window meanwhile: an estimate suffices. */
		c->window_start_ns = now;
		__builtin_memset(c->count, 0, sizeof(c->count));
		c->acks = 0;
		c->reported = 0;
	}
	__sync_fetch_and_add(&c->count[XLB_SRC_PACKETS], 1);
	if (what == SRC_FILTERED) {
		__sync_fetch_and_add(&c->count[XLB_SRC_FILTERED], 1);
		src_judge(cfg, c, &k, XLB_SRC_FILTERED, (__s32)c->count[XLB_SRC_FILTERED]);
	} else if (p->l4proto == IPPROTO_UDP) {
		__sync_fetch_and_add(&c->count[XLB_SRC_UDP], 1);
		src_judge(cfg, c, &k, XLB_SRC_UDP, (__s32)c->count[XLB_SRC_UDP]);
	} else if ((p->flags & (F_SYN | F_ACK)) == F_SYN) {
		__sync_fetch_and_add(&c->count[XLB_SRC_SYN], 1);
		src_judge(cfg, c, &k, XLB_SRC_SYN,
			  (__s32)(c->count[XLB_SRC_SYN] - c->acks));
	} else if ((p->flags & (F_SYN | F_RST | F_ACK)) == F_ACK) {
		__sync_fetch_and_add(&c->acks, 1);
	}
	src_judge(cfg, c, &k, XLB_SRC_PACKETS, (__s32)c->count[XLB_SRC_PACKETS]);
}

#endif /* XLB_LIB_SRC_METER_H */

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A cluster of instances behind ECMP: a packet of a flow another instance holds (the router
 * rehashed it here after a membership change) goes to that instance over the shared segment,
 * its IP packet untouched: only the Ethernet addresses change, and it leaves by XDP_TX.
 *
 * A SYN (without ACK) is never sent on: a new connection belongs where the router sends it. If a
 * peer still holds an earlier connection of the same tuple (in TIME_WAIT, or a handshake the
 * router moved), the entry is removed here so that the rest of the new connection stays here too;
 * the peer's own entry ends on its timer.
 *
 * A frame that came from a peer is never sent on again: two instances whose announcements
 * disagree for a moment must not bounce a frame between them. Such a frame goes to the engine,
 * which serves it if it holds the flow and drops it (no_conntrack) otherwise.
 */
#ifndef XLB_LIB_CLUSTER_H
#define XLB_LIB_CLUSTER_H

static __always_inline int from_peer(const struct xlb_peers *ps, const __u8 *src)
{
	int i;

#pragma unroll
	for (i = 0; i < XLB_MAX_PEERS; i++) {
		const struct xlb_peer_mac *m = &ps->peer[i];

		if (m->up && m->mac[0] == src[0] && m->mac[1] == src[1] && m->mac[2] == src[2] &&
		    m->mac[3] == src[3] && m->mac[4] == src[4] && m->mac[5] == src[5])
			return 1;
	}
	return 0;
}

/* The client -> VIP key of a TCP or UDP packet to a VIP (stage_vip checked its ports fit). */
static __always_inline int flow_key_of(struct xdp_md *ctx, const struct pkt *p,
				       struct xlb_flow_key *k)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 l3 = BOUND(p->l3, 0x3f);
	__be16 *ports = data + BOUND(p->l4, 0x3ff);

	if ((void *)(ports + 2) > end)
		return -1;
	k->family = p->dkey.family;
	k->proto = p->l4proto;
	k->cport = ports[0];
	k->vport = ports[1];
	__builtin_memcpy(k->vip, p->dkey.addr, 16);
	if (p->dkey.family == XLB_FAMILY_V4) {
		struct iphdr *ip = data + l3;

		if ((void *)(ip + 1) > end)
			return -1;
		__builtin_memcpy(k->client, &ip->saddr, 4);
	} else {
		struct ipv6hdr *ip6 = data + l3;

		if ((void *)(ip6 + 1) > end)
			return -1;
		__builtin_memcpy(k->client, &ip6->saddr, 16);
	}
	return 0;
}

#define FROM_PEER -2

/* CONTINUE unless the flow is a peer's: then XDP_TX to it, or FROM_PEER when a peer sent it. */
static __always_inline int stage_cluster(struct xdp_md *ctx, const struct pkt *p)
{
	struct xlb_flow_key k = {};
	struct xlb_peers *ps;
	struct ethhdr *eth;
	__u32 zero = 0, *holder;
	void *end;

	if (flow_key_of(ctx, p, &k) != 0)
		return CONTINUE;
	holder = bpf_map_lookup_elem(&xlb_peer_flows, &k);
	if (!holder)
		return CONTINUE;
	if (p->l4proto == IPPROTO_TCP && (p->flags & (F_SYN | F_ACK)) == F_SYN) {
		bpf_map_delete_elem(&xlb_peer_flows, &k);
		return CONTINUE;
	}
	ps = bpf_map_lookup_elem(&xlb_peers, &zero);
	if (!ps || *holder >= XLB_MAX_PEERS || !ps->peer[*holder & (XLB_MAX_PEERS - 1)].up)
		return CONTINUE;
	eth = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	if ((void *)(eth + 1) > end)
		return CONTINUE;
	if (from_peer(ps, eth->h_source))
		return FROM_PEER;
	/* From our own address (the one it arrived at) to the holder's. */
	__builtin_memcpy(eth->h_source, eth->h_dest, 6);
	__builtin_memcpy(eth->h_dest, ps->peer[*holder & (XLB_MAX_PEERS - 1)].mac, 6);
	return done(ctx, XLB_REASON_TX_TO_PEER, XDP_TX);
}

#endif /* XLB_LIB_CLUSTER_H */

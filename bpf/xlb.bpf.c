// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xlb's XDP program: the pre-filter in front of the AF_XDP workers.
 *
 * Stages, in order:
 *   1. parse Ethernet, up to two VLAN tags and the IP header; non-IP (ARP, LLDP, ...) passes;
 *      a malformed IP header is a counted drop (the kernel would discard it too);
 *   2. blocklist on the source address of every IP packet, the host's own traffic included (a
 *      filter of a bit per entry first: a source no entry covers skips the maps' lookups);
 *   3. destination: neither a VIP nor a SNAT address with a port in the SNAT range -> pass, so
 *      the host's own traffic, SSH, health checks and the control API are untouched;
 *   4. VIP: fragments, other protocols and ports the VIP does not serve are counted drops (an
 *      address may serve TCP and UDP, each with its own ports); with automatic blocking on,
 *      every packet to a VIP is counted against its source (lib/src_meter.h);
 *   5. SYN to a VIP in cookie mode (always, or auto above the SYN-rate threshold): verify the IP
 *      and TCP checksums, answer with a SYN-ACK built in place carrying our own cookie (see
 *      xlb_cookie.h) and XDP_TX it; no state is created anywhere;
 *   5a. a cluster: a flow another instance holds goes to it (lib/cluster.h);
 *   6. everything else for a VIP or SNAT port goes to the queue's AF_XDP socket. The ACK that
 *      completes a cookie handshake is validated by the engine, which holds the same key, only
 *      when it matches no connection. With no socket on the queue (worker gone) the configured
 *      fallback applies: fail-closed (drop) by default, fail-open (pass) on request.
 *
 * Every reason is counted per CPU in xlb_stats, indexed by the shared XLB_REASONS list. Each
 * stage is a function returning a verdict or CONTINUE; the pieces live in lib/: maps, verdicts,
 * header parsing, the blocklist, the SYN rate and the SYN cookie answer.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "xlb_common.h"
#include "xlb_cookie.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#include "lib/maps.h"
#include "lib/verdict.h"
#include "lib/parse.h"
#include "lib/csum.h"
#include "lib/blocklist.h"
#include "lib/syn_rate.h"
#include "lib/synack.h"

/* What the stages learn about a packet, as offsets from the frame's start. */
struct pkt {
	struct xlb_addr_key dkey;
	__u32 l3, l4, l4len;
	__u16 proto; /* the ethertype after the VLAN tags */
	__u8 l4proto;
	__u8 frag;
	__u8 flags; /* TCP, after stage_vip */
};

/* 1. Ethernet and up to two VLAN tags. */
static __always_inline int mac_equal(const __u8 *a, const __u8 *b)
{
	return ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3]) | (a[4] ^ b[4]) |
		(a[5] ^ b[5])) == 0;
}

static __always_inline int stage_l2(struct xdp_md *ctx, const struct xlb_config *cfg,
				    struct pkt *p)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u32 l3 = sizeof(*eth);
	__be16 proto;
	int i;

	if ((void *)(eth + 1) > end)
		return DROP(ETH_TRUNCATED);
	/* Unknown unicast a switch floods reaches every host on the segment; only the one it is
	 * addressed to answers it (group addresses have bit 0 of the first byte set). */
	if (cfg->check_mac && !(eth->h_dest[0] & 1) &&
	    !mac_equal(eth->h_dest, cfg->local_mac))
		return PASS(PASS_OTHER_HOST);
	proto = eth->h_proto;
	/* Untagged IP first: most frames carry no tag, and the tag tests cost them nine compares. */
	if (proto == bpf_htons(ETH_P_IP) || proto == bpf_htons(ETH_P_IPV6)) {
		p->proto = proto;
		p->l3 = l3;
		return CONTINUE;
	}
#pragma unroll
	for (i = 0; i < 2; i++) {
		if (is_vlan(proto)) {
			struct vlan_hdr *v = data + l3;

			if ((void *)(v + 1) > end)
				return DROP(VLAN_TRUNCATED);
			proto = v->proto;
			l3 += sizeof(*v);
		}
	}
	if (is_vlan(proto))
		return DROP(VLAN_TOO_DEEP);
	p->proto = proto;
	p->l3 = l3;
	return CONTINUE;
}

/* 3. Whether the destination's bit in the config's filter is set: a clear bit is host traffic,
 * passed before the stage context is written. `w0`, `w1`: the address bytes as xlb_addr_key
 * holds them (IPv4 in the first four, the rest zero). */
static __always_inline int dest_may_be_ours(const struct xlb_config *cfg, __u64 w0, __u64 w1,
					    __u32 family)
{
	__u64 bit = xlb_dest_filter_bit_of(w0, w1, family);

	return (cfg->dest_filter[(bit >> 6) & (XLB_DEST_FILTER_WORDS - 1)] >> (bit & 63)) & 1;
}

/* 2. The IPv4 header, then the blocklist on its source, then the destination filter. */
static __always_inline int stage_ipv4(struct xdp_md *ctx, struct xlb_config *cfg, struct pkt *p)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 l3 = BOUND(p->l3, 0x3f), hl, tot;
	struct iphdr *ip = data + l3;
	__u64 daddr;

	if ((void *)(ip + 1) > end)
		return DROP(IPV4_TRUNCATED);
	if (ip->version != 4)
		return DROP(IPV4_BAD_VERSION);
	hl = ip->ihl * 4;
	if (hl < 20)
		return DROP(IPV4_BAD_IHL);
	tot = bpf_ntohs(ip->tot_len);
	/* tot >= hl and the frame holding tot bytes imply it holds the header; a header longer
	 * than the frame is reported as truncated, as before the checks were merged. */
	if (tot < hl)
		return data + l3 + hl > end ? DROP(IPV4_TRUNCATED) : DROP(IPV4_BAD_LENGTH);
	if (data + l3 + tot > end)
		return DROP(IPV4_TRUNCATED);
	if (block_hit(cfg, blocked4(cfg, ip->saddr)))
		return DROP(BLOCKLIST);
	/* The key's first word: the address's four bytes first, the rest zero. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	daddr = ip->daddr;
#else
	daddr = (__u64)ip->daddr << 32;
#endif
	if (!dest_may_be_ours(cfg, daddr, 0, XLB_FAMILY_V4))
		return PASS(PASS_NOT_OURS);
	p->dkey.family = XLB_FAMILY_V4;
	__builtin_memcpy(p->dkey.addr, &daddr, 8);
	p->l4proto = ip->protocol;
	p->l4 = l3 + hl;
	p->l4len = tot - hl;
	p->frag = (ip->frag_off & bpf_htons(0x3fff)) != 0;
	return CONTINUE;
}

/* 2. The IPv6 header, the blocklist on its source, the extension headers as the engine's
 * parser walks them (at most 8), then the destination filter. */
static __always_inline int stage_ipv6(struct xdp_md *ctx, struct xlb_config *cfg, struct pkt *p)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 l3 = BOUND(p->l3, 0x3f);
	struct ipv6hdr *ip = data + l3;
	__u32 pl, l4, lim;
	__u64 daddr[2];
	__u8 nh;
	int i;

	if ((void *)(ip + 1) > end)
		return DROP(IPV6_TRUNCATED);
	if (ip->version != 6)
		return DROP(IPV6_BAD_VERSION);
	pl = bpf_ntohs(ip->payload_len);
	if (pl == 0)
		return DROP(IPV6_BAD_LENGTH);
	if ((void *)(ip + 1) + pl > end)
		return DROP(IPV6_TRUNCATED);
	if (block_hit(cfg, blocked6(cfg, &ip->saddr)))
		return DROP(BLOCKLIST);
	__builtin_memcpy(daddr, &ip->daddr, 16);
	/* Locals, not the struct's fields: the verifier needs the bounds checked on the same
	 * registers the packet pointers are made from. */
	nh = ip->nexthdr;
	l4 = l3 + sizeof(*ip);
	lim = l4 + pl;
#pragma unroll
	for (i = 0; i < 8; i++) {
		__u8 *h;
		__u32 hlen;

		if (!is_ipv6_ext(nh))
			break;
		if (nh == 0 && i != 0)
			return DROP(IPV6_EXT_BAD);
		if (l4 + 8 > lim || l4 > 512)
			return DROP(IPV6_EXT_TRUNCATED);
		h = data + BOUND(l4, 0x3ff);
		if ((void *)(h + 8) > end)
			return DROP(IPV6_EXT_TRUNCATED);
		hlen = nh == 44 ? 8 : ((__u32)h[1] + 1) * 8;
		if (nh == 44 && ((h[2] << 8 | h[3]) & 0xfff9))
			p->frag = 1; /* offset or more-fragments: a real fragment */
		if (l4 + hlen > lim)
			return DROP(IPV6_EXT_TRUNCATED);
		nh = h[0];
		l4 += hlen;
	}
	if (is_ipv6_ext(nh))
		return DROP(IPV6_EXT_BAD);
	if (!dest_may_be_ours(cfg, daddr[0], daddr[1], XLB_FAMILY_V6))
		return PASS(PASS_NOT_OURS);
	p->dkey.family = XLB_FAMILY_V6;
	__builtin_memcpy(p->dkey.addr, daddr, 16);
	p->l4proto = nh;
	p->l4 = l4;
	p->l4len = lim - l4;
	return CONTINUE;
}

/* 3. A SNAT address: replies from backends are TCP or UDP to a port in the SNAT range; the host's
 * own connections from the same address use ports outside it. */
static __always_inline int stage_snat(struct xdp_md *ctx, struct xlb_config *cfg, struct pkt *p)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct udphdr *ports;
	__u32 l4 = p->l4;

	if ((p->l4proto != IPPROTO_TCP && p->l4proto != IPPROTO_UDP) || p->frag || l4 > 512)
		return PASS(PASS_NOT_OURS);
	/* The destination port sits at the same offset in both headers. */
	ports = data + BOUND(l4, 0x3ff);
	if ((void *)(ports + 1) > end)
		return p->l4proto == IPPROTO_TCP ? DROP(TCP_TRUNCATED) : DROP(UDP_TRUNCATED);
	if (bpf_ntohs(ports->dest) < cfg->snat_port_lo || bpf_ntohs(ports->dest) > cfg->snat_port_hi)
		return PASS(PASS_NOT_OURS);
	return CONTINUE;
}

#include "lib/src_meter.h"

/* A packet to a port or protocol the VIP does not serve: dropped, and counted against its
 * source (a port scan). */
static __always_inline int drop_filtered(struct xdp_md *ctx, struct xlb_config *cfg,
					 const struct pkt *p, __u32 reason)
{
	src_meter(ctx, cfg, p, SRC_FILTERED);
	return done(ctx, reason, XDP_DROP);
}

/* Whether VIP slot `vid` serves `port` (its 65536-bit set in xlb_vip_ports). */
static __always_inline int port_served(__u32 vid, __u16 port)
{
	struct xlb_port_bits *pb = bpf_map_lookup_elem(&xlb_vip_ports, &vid);

	return pb && ((pb->bits[(port >> 6) & 1023] >> (port & 63)) & 1);
}

/* 4. A UDP VIP: a datagram to a port it serves goes to the engine (flows are created there). */
static __always_inline int stage_udp_vip(struct xdp_md *ctx, struct xlb_config *cfg,
					 struct xlb_dest *dest, struct pkt *p)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct udphdr *udp;
	__u32 l4 = p->l4;

	if (l4 > 512)
		return DROP(IPV6_EXT_BAD);
	udp = data + BOUND(l4, 0x3ff);
	if ((void *)(udp + 1) > end || p->l4len < sizeof(*udp))
		return DROP(UDP_TRUNCATED);
	if (!port_served(dest->udp_vip_id, bpf_ntohs(udp->dest)))
		return drop_filtered(ctx, cfg, p, XLB_REASON_PORT_FILTER);
	if (bpf_ntohs(udp->len) < sizeof(*udp) || bpf_ntohs(udp->len) > p->l4len)
		return DROP(UDP_BAD_LENGTH);
	p->flags = 0;
	return CONTINUE;
}

/* 4. A VIP: fragments, other protocols, ports it does not serve and impossible TCP headers are
 * counted drops. On CONTINUE, p->flags holds the TCP flags (0 for UDP). */
static __always_inline int stage_vip(struct xdp_md *ctx, struct xlb_config *cfg,
				     struct xlb_dest *dest, struct pkt *p)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct tcphdr *tcp;
	__u32 l4 = p->l4, l4len = p->l4len;
	__u8 flags;

	if (p->frag)
		return DROP(FRAGMENT);
	if (p->l4proto == IPPROTO_UDP && (dest->protos & XLB_PROTO_UDP))
		return stage_udp_vip(ctx, cfg, dest, p);
	if (p->l4proto != IPPROTO_TCP || !(dest->protos & XLB_PROTO_TCP)) {
		/* Neighbour solicitations and advertisements for an IPv6 VIP (NUD probes are
		 * unicast to it) belong to the host, as ARP does for IPv4. */
		if (p->l4proto == IPPROTO_ICMPV6 && l4 <= 512) {
			__u8 *icmp = data + BOUND(l4, 0x3ff);

			if ((void *)(icmp + 1) <= end && icmp[0] >= 133 && icmp[0] <= 137)
				return PASS(PASS_ND);
		}
		return drop_filtered(ctx, cfg, p, XLB_REASON_PROTO_FILTER);
	}
	if (l4 > 512)
		return DROP(IPV6_EXT_BAD);
	tcp = data + BOUND(l4, 0x3ff);
	if ((void *)(tcp + 1) > end || l4len < sizeof(*tcp))
		return DROP(TCP_TRUNCATED);
	if (!port_served(dest->vip_id, bpf_ntohs(tcp->dest)))
		return drop_filtered(ctx, cfg, p, XLB_REASON_PORT_FILTER);
	if (tcp->doff < 5 || tcp->doff * 4 > l4len)
		return DROP(TCP_BAD_DOFF);
	flags = *((__u8 *)tcp + TCP_FLAGS_OFF);
	if ((flags & (F_SYN | F_FIN)) == (F_SYN | F_FIN) ||
	    (flags & (F_SYN | F_RST)) == (F_SYN | F_RST) || (flags & 0x3f) == 0)
		return DROP(TCP_BAD_FLAGS);
	p->flags = flags;
	return CONTINUE;
}

#include "lib/cluster.h"

/* 6. To the queue's AF_XDP socket (counted under `reason`), or the fallback when none is there. */
static __always_inline int stage_redirect(struct xdp_md *ctx, struct xlb_config *cfg, __u32 reason)
{
	__u32 fallback = cfg->fail_open ? XDP_PASS : XDP_DROP;

	if (cfg->sim_redirect)
		return done(ctx, reason, XDP_REDIRECT);
	if (bpf_redirect_map(&xlb_xsks, ctx->rx_queue_index, fallback) == XDP_REDIRECT)
		return done(ctx, reason, XDP_REDIRECT);
	if (cfg->fail_open)
		return PASS(NO_SOCKET_PASS);
	return DROP(NO_SOCKET_DROP);
}

SEC("xdp")
int xlb_xdp(struct xdp_md *ctx)
{
	struct pkt p = {};
	struct xlb_config *cfg;
	struct xlb_dest *dest;
	__u32 zero = 0;
	__u64 now;
	int rc;

	cfg = bpf_map_lookup_elem(&xlb_cfg, &zero);
	if (!cfg)
		return XDP_PASS;
	rc = stage_l2(ctx, cfg, &p);
	if (rc != CONTINUE)
		return rc;
	if (p.proto == bpf_htons(ETH_P_IP))
		rc = stage_ipv4(ctx, cfg, &p);
	else if (p.proto == bpf_htons(ETH_P_IPV6))
		rc = stage_ipv6(ctx, cfg, &p);
	else
		return PASS(PASS_NOT_IP);
	if (rc != CONTINUE)
		return rc;

	dest = bpf_map_lookup_elem(&xlb_dests, &p.dkey);
	if (!dest)
		return PASS(PASS_NOT_OURS);
	if (dest->kind == XLB_DEST_SNAT) {
		rc = stage_snat(ctx, cfg, &p);
		return rc != CONTINUE ? rc : stage_redirect(ctx, cfg, XLB_REASON_REDIRECT);
	}
	if (dest->kind != XLB_DEST_VIP)
		return PASS(PASS_NOT_OURS);
	rc = stage_vip(ctx, cfg, dest, &p);
	if (rc != CONTINUE)
		return rc;
	src_meter(ctx, cfg, &p, SRC_PACKET);
	if (cfg->cluster) {
		rc = stage_cluster(ctx, &p);
		if (rc == FROM_PEER)
			return stage_redirect(ctx, cfg, XLB_REASON_PEER_LOOP);
		if (rc != CONTINUE)
			return rc;
	}
	/* 5. The clock is read only where it is used: a helper call costs more than the parse. */
	if ((p.flags & (F_SYN | F_ACK)) == F_SYN) {
		now = now_ns(cfg);
		if (cookies_on(cfg, dest, now)) {
			return xlb_answer_syn(ctx, p.l3, p.l4, p.dkey.family == XLB_FAMILY_V6,
					      now);
		}
	}
	return stage_redirect(ctx, cfg, XLB_REASON_REDIRECT);
}

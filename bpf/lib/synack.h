// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The SYN cookie answer: option parsing, the SYN-ACK built in place for each family. */
#ifndef XLB_LIB_SYNACK_H
#define XLB_LIB_SYNACK_H

#define SYNACK_OPT_LEN 12
#define SYNACK_TCP_LEN (20 + SYNACK_OPT_LEN)

struct tcp_opts {
	__u32 mss;
	__u32 wscale;
	__u32 sack;
};

/* Reads MSS, window scale and SACK-permitted from a SYN. Returns 0 on malformed options. */
static __always_inline int parse_syn_opts(struct tcphdr *tcp, void *end, struct tcp_opts *o)
{
	__u8 *opt = (__u8 *)(tcp + 1);
	__u32 optlen = tcp->doff * 4 - sizeof(*tcp);
	__u32 off = 0;
	int i;

	o->mss = 0;
	o->wscale = 0xff;
	o->sack = 0;
	for (i = 0; i < 40; i++) {
		__u8 *k;
		__u32 len;

		if (off >= optlen)
			break;
		off &= 0x3f;
		k = opt + off;
		if ((void *)(k + 1) > end)
			return 0;
		if (k[0] == 0)
			break;
		if (k[0] == 1) {
			off++;
			continue;
		}
		if ((void *)(k + 2) > end || off + 1 >= optlen)
			return 0;
		len = k[1];
		if (len < 2 || off + len > optlen)
			return 0;
		if (k[0] == 2) {
			if (len != 4 || (void *)(k + 4) > end)
				return 0;
			o->mss = ((__u32)k[2] << 8) | k[3];
		} else if (k[0] == 3) {
			if (len != 3 || (void *)(k + 3) > end)
				return 0;
			o->wscale = k[2];
		} else if (k[0] == 4) {
			if (len != 2)
				return 0;
			o->sack = 1;
		}
		off += len;
	}
	return 1;
}

/* Writes the 12 option bytes of our SYN-ACK: MSS, then SACK-permitted and window scale only
 * when the client offered them, NOP-padded so every byte is defined. */
static __always_inline void write_synack_opts(__u8 *o, __u32 mss, __u32 wscale, __u32 sack)
{
	o[0] = 2;
	o[1] = 4;
	o[2] = mss >> 8;
	o[3] = mss & 0xff;
	o[4] = 1;
	o[5] = 1;
	o[6] = sack ? 4 : 1;
	o[7] = sack ? 2 : 1;
	o[8] = 1;
	o[9] = wscale != 0xff ? 3 : 1;
	o[10] = wscale != 0xff ? 3 : 1;
	o[11] = wscale != 0xff ? XLB_SYNACK_WSCALE : 1;
}

static __always_inline void write_synack_tcp(struct tcphdr *t, __be16 sport, __be16 dport,
					     __u32 cookie, __u32 isn, __u32 len)
{
	t->source = sport;
	t->dest = dport;
	t->seq = bpf_htonl(cookie);
	t->ack_seq = bpf_htonl(isn + 1);
	*((__u8 *)t + 12) = (len / 4) << 4;
	*((__u8 *)t + TCP_FLAGS_OFF) = F_SYN | F_ACK;
	t->window = bpf_htons(XLB_SYNACK_WINDOW);
	t->check = 0;
	t->urg_ptr = 0;
}

/* Sum of a SYN-ACK TCP header: 20 bytes, plus the 12 option bytes when full. */
static __always_inline __u64 sum_synack(struct tcphdr *t, int full)
{
	__u32 *w = (__u32 *)t;
	__u64 sum = 0;
	int i;

#pragma unroll
	for (i = 0; i < 5; i++)
		sum += w[i];
	if (full) {
#pragma unroll
		for (i = 5; i < SYNACK_TCP_LEN / 4; i++)
			sum += w[i];
	}
	return sum;
}

/*
 * Makes room for the SYN-ACK: the frame becomes l3 + iplen + 32 bytes. Growing needs tailroom,
 * which a SYN without options may not have (a tight buffer). Then the SYN-ACK goes without
 * options in the 20 bytes the SYN had, and the cookie records that neither window scaling nor
 * SACK was offered, exactly as the client will see it. Returns 1 (options), 0 (none), -1.
 */
static __always_inline int synack_room(struct xdp_md *ctx, __u32 l3, __u32 iplen,
				       struct tcp_opts *o)
{
	int len = ctx->data_end - ctx->data;

	if (!bpf_xdp_adjust_tail(ctx, (int)(l3 + iplen + SYNACK_TCP_LEN) - len))
		return 1;
	if (bpf_xdp_adjust_tail(ctx, (int)(l3 + iplen + 20) - len))
		return -1;
	o->wscale = 0xff;
	o->sack = 0;
	return 0;
}

/* What the answer needs from a SYN that checked out. Addresses as the SYN carried them; an IPv4
 * address is word 0 and the other words stay zero, so sums over all four words fit both. */
struct syn_in {
	__u32 saddr[4];
	__u32 daddr[4];
	__u32 ports;
	__u32 isn;
	struct tcp_opts o;
};

#define SYN_OK 0xffffffffU

/* Reads the SYN's ports, sequence and options into `in`; SYN_OK or the drop reason. */
static __always_inline __u32 syn_read_tcp(struct tcphdr *tcp, void *end, struct syn_in *in)
{
	if (!parse_syn_opts(tcp, end, &in->o))
		return XLB_REASON_TCP_BAD_OPTION;
	in->ports = *(__u32 *)tcp;
	in->isn = bpf_ntohl(tcp->seq);
	return SYN_OK;
}

/* Sum of a SYN's TCP segment of tcplen bytes at packet offset off (doff already checked against
 * tcplen), or CSUM_BAD: the header by xlb_csum_hdr, any payload (rare: a SYN may carry data)
 * by csum_bytes. */
static __always_inline __u64 syn_tcp_sum(struct xdp_md *ctx, void *data, void *end,
					 struct tcphdr *tcp, __u32 off, __u32 tcplen)
{
	__u32 hlen = tcp->doff * 4;
	__u64 sum = xlb_csum_hdr(ctx, off, tcp->doff), tail;
	int ok;

	if (sum == CSUM_BAD || tcplen == hlen)
		return sum;
	tail = csum_bytes(data, end, off + hlen, tcplen - hlen, &ok);
	return ok ? sum + tail : CSUM_BAD;
}

/* An IPv4 SYN: header and TCP checksums verified (a partial or bad sum is dropped, never
 * answered), then read. SYN_OK or the drop reason. */
static __always_inline __u32 syn_in4(struct xdp_md *ctx, void *data, void *end, __u32 l3,
				     struct syn_in *in)
{
	struct iphdr *ip = data + l3;
	struct tcphdr *tcp;
	__u32 hl, tcplen;
	__u64 sum;

	if ((void *)(ip + 1) > end)
		return XLB_REASON_IPV4_TRUNCATED;
	hl = ip->ihl * 4;
	if (hl < 20 || hl > 60)
		return XLB_REASON_IPV4_BAD_IHL;
	sum = xlb_csum_hdr(ctx, l3, ip->ihl);
	if (sum == CSUM_BAD)
		return XLB_REASON_IPV4_TRUNCATED;
	if (csum_fold(sum) != 0xffff)
		return XLB_REASON_BAD_CHECKSUM;
	tcp = (void *)ip + hl;
	if ((void *)(tcp + 1) > end)
		return XLB_REASON_TCP_TRUNCATED;
	tcplen = bpf_ntohs(ip->tot_len) - hl;
	if (tcp->doff < 5 || tcp->doff * 4 > tcplen)
		return XLB_REASON_TCP_BAD_DOFF;
	sum = syn_tcp_sum(ctx, data, end, tcp, l3 + hl, tcplen);
	if (sum == CSUM_BAD)
		return XLB_REASON_TCP_TRUNCATED;
	sum += ip->saddr;
	sum += ip->daddr;
	sum += bpf_htons(IPPROTO_TCP);
	sum += bpf_htons(tcplen);
	if (csum_fold(sum) != 0xffff)
		return XLB_REASON_BAD_CHECKSUM;
	in->saddr[0] = ip->saddr;
	in->daddr[0] = ip->daddr;
	in->saddr[1] = in->saddr[2] = in->saddr[3] = 0;
	in->daddr[1] = in->daddr[2] = in->daddr[3] = 0;
	return syn_read_tcp(tcp, end, in);
}

/* An IPv6 SYN whose TCP header is at l4 (after any extension headers): TCP checksum verified,
 * then read. SYN_OK or the drop reason. */
static __always_inline __u32 syn_in6(struct xdp_md *ctx, void *data, void *end, __u32 l3,
				     __u32 l4, struct syn_in *in)
{
	struct ipv6hdr *ip = data + l3;
	struct tcphdr *tcp;
	__u32 tcplen;
	__u64 sum;
	int i;

	if ((void *)(ip + 1) > end)
		return XLB_REASON_IPV6_TRUNCATED;
	if (l4 > 512)
		return XLB_REASON_IPV6_EXT_BAD;
	asm volatile("" : "+r"(l4));
	l4 &= 0x3ff;
	tcp = data + l4;
	if ((void *)(tcp + 1) > end)
		return XLB_REASON_TCP_TRUNCATED;
	tcplen = l3 + sizeof(*ip) + bpf_ntohs(ip->payload_len) - l4;
	if (tcp->doff < 5 || tcp->doff * 4 > tcplen)
		return XLB_REASON_TCP_BAD_DOFF;
	sum = syn_tcp_sum(ctx, data, end, tcp, l4, tcplen);
	if (sum == CSUM_BAD)
		return XLB_REASON_TCP_TRUNCATED;
#pragma unroll
	for (i = 0; i < 4; i++) {
		in->saddr[i] = ip->saddr.in6_u.u6_addr32[i];
		in->daddr[i] = ip->daddr.in6_u.u6_addr32[i];
		sum += (__u64)in->saddr[i] + in->daddr[i];
	}
	sum += bpf_htons(IPPROTO_TCP);
	sum += bpf_htonl(tcplen);
	if (csum_fold(sum) != 0xffff)
		return XLB_REASON_BAD_CHECKSUM;
	return syn_read_tcp(tcp, end, in);
}

/* The reply's IP header, fresh (no options, no extension headers), addresses swapped. Returns 0
 * when the frame is too short for it. */
static __always_inline int write_synack_ip(void *l3hdr, void *end, int v6,
					   const struct syn_in *in, __u32 tcplen)
{
	if (v6) {
		struct ipv6hdr *ip6 = l3hdr;
		int i;

		if ((void *)(ip6 + 1) > end)
			return 0;
		*(__be32 *)ip6 = bpf_htonl(0x60000000); /* version 6, class 0, flow label 0 */
		ip6->payload_len = bpf_htons(tcplen);
		ip6->nexthdr = IPPROTO_TCP;
		ip6->hop_limit = 64;
#pragma unroll
		for (i = 0; i < 4; i++) {
			ip6->saddr.in6_u.u6_addr32[i] = in->daddr[i];
			ip6->daddr.in6_u.u6_addr32[i] = in->saddr[i];
		}
	} else {
		struct iphdr *ip = l3hdr;
		__u32 *w = l3hdr;
		__u64 sum = 0;
		int i;

		if ((void *)(ip + 1) > end)
			return 0;
		ip->version = 4;
		ip->ihl = 5;
		ip->tos = 0;
		ip->tot_len = bpf_htons(sizeof(struct iphdr) + tcplen);
		ip->id = 0;
		ip->frag_off = bpf_htons(0x4000); /* DF */
		ip->ttl = 64;
		ip->protocol = IPPROTO_TCP;
		ip->check = 0;
		ip->saddr = in->daddr[0];
		ip->daddr = in->saddr[0];
#pragma unroll
		for (i = 0; i < 5; i++)
			sum += w[i];
		ip->check = ~csum_fold(sum);
	}
	return 1;
}

/*
 * Answers a SYN with a cookie SYN-ACK built in place, for either family. l3 is the IP header
 * offset, l4 the TCP header's (IPv6: after extension headers). The reply keeps the Ethernet and
 * VLAN headers (addresses swapped) and gets a fresh IP header. Every emitted byte is written
 * here. A global function: the verifier checks it once on its own instead of once per path into
 * it (VLAN depth, family), which keeps the option and checksum loops affordable.
 */
__noinline int xlb_answer_syn(struct xdp_md *ctx, __u32 l3, __u32 l4, __u32 v6, __u64 now)
{
	__u32 zero = 0;
	struct xlb_config *cfg = bpf_map_lookup_elem(&xlb_cfg, &zero);
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct syn_in in; /* filled by syn_in4/6: "= {}" here cost ~150 ns per SYN (xlb-bench-xdp) */
	struct tcphdr *tcp;
	__u32 iphlen, tcplen, cookie, mss_idx, meta, r;
	__u8 smac[ETH_ALEN], dmac[ETH_ALEN];
	__u64 sum, tick;
	int full, i;

	if (!cfg || l3 > 64 || data + ETH_HLEN > end)
		return XDP_DROP;
	/* The same bound again, hidden from the optimiser so it stays on the register used. */
	asm volatile("" : "+r"(l3));
	l3 &= 0x7f;
	r = v6 ? syn_in6(ctx, data, end, l3, l4, &in) : syn_in4(ctx, data, end, l3, &in);
	if (r != SYN_OK)
		return done(ctx, r, XDP_DROP);
	__builtin_memcpy(smac, data, ETH_ALEN);
	__builtin_memcpy(dmac, data + ETH_ALEN, ETH_ALEN);

	iphlen = v6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr);
	full = synack_room(ctx, l3, iphlen, &in.o);
	if (full < 0)
		return DROP(TCP_TRUNCATED);
	tick = now >> XLB_COOKIE_TICK_SHIFT;
	mss_idx = xlb_cookie_mss_idx_capped(in.o.mss, cfg->synack_mss_cap);
	meta = xlb_cookie_meta(tick, mss_idx, in.o.wscale, in.o.sack);
	cookie = v6 ? xlb_cookie6(cfg->cookie_key, in.saddr, in.daddr, in.ports, in.isn, tick, meta)
		    : xlb_cookie4(cfg->cookie_key, in.saddr[0], in.daddr[0], in.ports, in.isn, tick,
				  meta);
	tcplen = full ? SYNACK_TCP_LEN : 20;

	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	if (data + ETH_HLEN > end)
		return DROP(TCP_TRUNCATED);
	tcp = data + l3 + iphlen;
	if ((void *)(tcp + 1) > end)
		return DROP(TCP_TRUNCATED);
	if (full && (void *)tcp + SYNACK_TCP_LEN > end)
		return DROP(TCP_TRUNCATED);
	if (!write_synack_ip(data + l3, end, v6, &in, tcplen))
		return DROP(TCP_TRUNCATED);
	__builtin_memcpy(data, dmac, ETH_ALEN);
	__builtin_memcpy(data + ETH_ALEN, smac, ETH_ALEN);
	write_synack_tcp(tcp, in.ports >> 16, in.ports & 0xffff, cookie, in.isn, tcplen);
	if (full)
		write_synack_opts((__u8 *)(tcp + 1), xlb_cookie_mss(mss_idx), in.o.wscale, in.o.sack);
	/* The pseudo-header: a 16-bit length (IPv4) and a 32-bit one (IPv6) fold to the same sum. */
	sum = sum_synack(tcp, full) + bpf_htons(IPPROTO_TCP) + bpf_htons(tcplen);
#pragma unroll
	for (i = 0; i < 4; i++)
		sum += (__u64)in.saddr[i] + in.daddr[i];
	tcp->check = ~csum_fold(sum);
	return done(ctx, XLB_REASON_TX_SYNCOOKIE, XDP_TX);
}

#endif /* XLB_LIB_SYNACK_H */

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

/*
 * Answers a SYN with a cookie SYN-ACK built in place. l3 is the IP header offset; the reply
 * keeps the Ethernet and VLAN headers (addresses swapped) and gets a fresh IP header without
 * options or extension headers. Every emitted byte is written here.
 */
/*
 * The SYN answers are global functions: the verifier checks each once on its own instead of once
 * per path into it (VLAN depth, family), which keeps the option and checksum loops affordable.
 */
__noinline int xlb_answer_syn4(struct xdp_md *ctx, __u32 l3, __u64 now)
{
	__u32 zero = 0;
	struct xlb_config *cfg = bpf_map_lookup_elem(&xlb_cfg, &zero);
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct iphdr *ip;
	struct tcphdr *tcp;
	struct tcp_opts o;
	__u32 saddr, daddr, ports, isn, hl, tcplen, cookie, mss_idx, meta;
	__be16 sport, dport;
	__u8 smac[ETH_ALEN], dmac[ETH_ALEN];
	__u64 sum;
	int ok, full;

	if (!cfg || l3 > 64 || data + ETH_HLEN > end)
		return XDP_DROP;
	/* The same bound again, hidden from the optimiser so it stays on the register used. */
	asm volatile("" : "+r"(l3));
	l3 &= 0x7f;
	ip = data + l3;
	if ((void *)(ip + 1) > end)
		return DROP(IPV4_TRUNCATED);
	hl = ip->ihl * 4;
	if (hl < 20 || hl > 60)
		return DROP(IPV4_BAD_IHL);
	sum = csum_bytes(data, end, l3, hl, &ok);
	if (!ok)
		return DROP(IPV4_TRUNCATED);
	if (csum_fold(sum) != 0xffff)
		return DROP(BAD_CHECKSUM);
	tcp = (void *)ip + hl;
	if ((void *)(tcp + 1) > end)
		return DROP(TCP_TRUNCATED);
	tcplen = bpf_ntohs(ip->tot_len) - hl;
	if (tcp->doff < 5 || tcp->doff * 4 > tcplen)
		return DROP(TCP_BAD_DOFF);
	sum = csum_bytes(data, end, l3 + hl, tcplen, &ok);
	if (!ok)
		return DROP(TCP_TRUNCATED);
	sum += ip->saddr;
	sum += ip->daddr;
	sum += bpf_htons(IPPROTO_TCP);
	sum += bpf_htons(tcplen);
	if (csum_fold(sum) != 0xffff)
		return DROP(BAD_CHECKSUM);
	if (!parse_syn_opts(tcp, end, &o))
		return DROP(TCP_BAD_OPTION);

	saddr = ip->saddr;
	daddr = ip->daddr;
	ports = *(__u32 *)tcp;
	sport = tcp->source;
	dport = tcp->dest;
	isn = bpf_ntohl(tcp->seq);
	__builtin_memcpy(smac, data, ETH_ALEN);
	__builtin_memcpy(dmac, data + ETH_ALEN, ETH_ALEN);

	full = synack_room(ctx, l3, sizeof(struct iphdr), &o);
	if (full < 0)
		return DROP(TCP_TRUNCATED);
	mss_idx = xlb_cookie_mss_idx_capped(o.mss, cfg->synack_mss_cap);
	meta = xlb_cookie_meta(now >> XLB_COOKIE_TICK_SHIFT, mss_idx, o.wscale, o.sack);
	cookie = xlb_cookie4(cfg->cookie_key, saddr, daddr, ports, isn,
			     now >> XLB_COOKIE_TICK_SHIFT, meta);
	tcplen = full ? SYNACK_TCP_LEN : 20;

	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	if (data + ETH_HLEN > end)
		return DROP(TCP_TRUNCATED);
	ip = data + l3;
	tcp = (void *)(ip + 1);
	if ((void *)(tcp + 1) > end)
		return DROP(TCP_TRUNCATED);
	if (full && (void *)tcp + SYNACK_TCP_LEN > end)
		return DROP(TCP_TRUNCATED);

	__builtin_memcpy(data, dmac, ETH_ALEN);
	__builtin_memcpy(data + ETH_ALEN, smac, ETH_ALEN);
	ip->version = 4;
	ip->ihl = 5;
	ip->tos = 0;
	ip->tot_len = bpf_htons(sizeof(struct iphdr) + tcplen);
	ip->id = 0;
	ip->frag_off = bpf_htons(0x4000); /* DF */
	ip->ttl = 64;
	ip->protocol = IPPROTO_TCP;
	ip->check = 0;
	ip->saddr = daddr;
	ip->daddr = saddr;
	sum = 0;
	{
		__u32 *w = (__u32 *)ip;
		int i;
#pragma unroll
		for (i = 0; i < 5; i++)
			sum += w[i];
	}
	ip->check = ~csum_fold(sum);

	write_synack_tcp(tcp, dport, sport, cookie, isn, tcplen);
	if (full)
		write_synack_opts((__u8 *)(tcp + 1), xlb_cookie_mss(mss_idx), o.wscale, o.sack);
	sum = sum_synack(tcp, full) + daddr + saddr + bpf_htons(IPPROTO_TCP) + bpf_htons(tcplen);
	tcp->check = ~csum_fold(sum);
	return done(ctx, XLB_REASON_TX_SYNCOOKIE, XDP_TX);
}

__noinline int xlb_answer_syn6(struct xdp_md *ctx, __u32 l3, __u32 l4, __u64 now)
{
	__u32 zero = 0;
	struct xlb_config *cfg = bpf_map_lookup_elem(&xlb_cfg, &zero);
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ipv6hdr *ip;
	struct tcphdr *tcp;
	struct tcp_opts o;
	struct in6_addr saddr, daddr;
	__u32 ports, isn, tcplen, cookie, mss_idx, meta;
	__be16 sport, dport;
	__u8 smac[ETH_ALEN], dmac[ETH_ALEN];
	__u64 sum;
	int ok, full, i;

	if (!cfg || l3 > 64 || data + ETH_HLEN > end)
		return XDP_DROP;
	/* The same bound again, hidden from the optimiser so it stays on the register used. */
	asm volatile("" : "+r"(l3));
	l3 &= 0x7f;
	ip = data + l3;
	if ((void *)(ip + 1) > end)
		return DROP(IPV6_TRUNCATED);
	if (l4 > 512)
		return DROP(IPV6_EXT_BAD);
	asm volatile("" : "+r"(l4));
	l4 &= 0x3ff;
	tcp = data + l4;
	if ((void *)(tcp + 1) > end)
		return DROP(TCP_TRUNCATED);
	tcplen = l3 + sizeof(*ip) + bpf_ntohs(ip->payload_len) - l4;
	if (tcp->doff < 5 || tcp->doff * 4 > tcplen)
		return DROP(TCP_BAD_DOFF);
	sum = csum_bytes(data, end, l4, tcplen, &ok);
	if (!ok)
		return DROP(TCP_TRUNCATED);
#pragma unroll
	for (i = 0; i < 4; i++)
		sum += (__u64)ip->saddr.in6_u.u6_addr32[i] + ip->daddr.in6_u.u6_addr32[i];
	sum += bpf_htons(IPPROTO_TCP);
	sum += bpf_htonl(tcplen);
	if (csum_fold(sum) != 0xffff)
		return DROP(BAD_CHECKSUM);
	if (!parse_syn_opts(tcp, end, &o))
		return DROP(TCP_BAD_OPTION);

	saddr = ip->saddr;
	daddr = ip->daddr;
	ports = *(__u32 *)tcp;
	sport = tcp->source;
	dport = tcp->dest;
	isn = bpf_ntohl(tcp->seq);
	__builtin_memcpy(smac, data, ETH_ALEN);
	__builtin_memcpy(dmac, data + ETH_ALEN, ETH_ALEN);

	full = synack_room(ctx, l3, sizeof(struct ipv6hdr), &o);
	if (full < 0)
		return DROP(TCP_TRUNCATED);
	mss_idx = xlb_cookie_mss_idx_capped(o.mss, cfg->synack_mss_cap);
	meta = xlb_cookie_meta(now >> XLB_COOKIE_TICK_SHIFT, mss_idx, o.wscale, o.sack);
	cookie = xlb_cookie6(cfg->cookie_key, saddr.in6_u.u6_addr32, daddr.in6_u.u6_addr32, ports,
			     isn, now >> XLB_COOKIE_TICK_SHIFT, meta);
	tcplen = full ? SYNACK_TCP_LEN : 20;

	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	if (data + ETH_HLEN > end)
		return DROP(TCP_TRUNCATED);
	ip = data + l3;
	tcp = (void *)(ip + 1);
	if ((void *)(tcp + 1) > end)
		return DROP(TCP_TRUNCATED);
	if (full && (void *)tcp + SYNACK_TCP_LEN > end)
		return DROP(TCP_TRUNCATED);

	__builtin_memcpy(data, dmac, ETH_ALEN);
	__builtin_memcpy(data + ETH_ALEN, smac, ETH_ALEN);
	*(__be32 *)ip = bpf_htonl(0x60000000); /* version 6, traffic class 0, flow label 0 */
	ip->payload_len = bpf_htons(tcplen);
	ip->nexthdr = IPPROTO_TCP;
	ip->hop_limit = 64;
	ip->saddr = daddr;
	ip->daddr = saddr;

	write_synack_tcp(tcp, dport, sport, cookie, isn, tcplen);
	if (full)
		write_synack_opts((__u8 *)(tcp + 1), xlb_cookie_mss(mss_idx), o.wscale, o.sack);
	sum = sum_synack(tcp, full) + bpf_htons(IPPROTO_TCP) + bpf_htonl(tcplen);
#pragma unroll
	for (i = 0; i < 4; i++)
		sum += (__u64)saddr.in6_u.u6_addr32[i] + daddr.in6_u.u6_addr32[i];
	tcp->check = ~csum_fold(sum);
	return done(ctx, XLB_REASON_TX_SYNCOOKIE, XDP_TX);
}

#endif /* XLB_LIB_SYNACK_H */

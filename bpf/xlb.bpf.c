// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xlb's XDP program: the pre-filter in front of the AF_XDP workers.
 *
 * Stages, in order:
 *   1. parse Ethernet, up to two VLAN tags and the IP header; non-IP (ARP, LLDP, ...) passes;
 *      a malformed IP header is a counted drop (the kernel would discard it too);
 *   2. blocklist on the source address of every IP packet, the host's own traffic included;
 *   3. destination: neither a VIP nor a SNAT address with a port in the SNAT range -> pass, so
 *      the host's own traffic, SSH, health checks and the control API are untouched;
 *   4. VIP: fragments, other protocols and ports the VIP does not serve are counted drops;
 *   5. SYN to a VIP in cookie mode (always, or auto above the SYN-rate threshold): verify the IP
 *      and TCP checksums, answer with a SYN-ACK built in place carrying our own cookie (see
 *      xlb_cookie.h) and XDP_TX it; no state is created anywhere;
 *   6. everything else for a VIP or SNAT port goes to the queue's AF_XDP socket. The ACK that
 *      completes a cookie handshake is validated by the engine, which holds the same key, only
 *      when it matches no connection. With no socket on the queue (worker gone) the configured
 *      fallback applies: fail-closed (drop) by default, fail-open (pass) on request.
 *
 * Every reason is counted per CPU in xlb_stats, indexed by the shared XLB_REASONS list.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "xlb_common.h"
#include "xlb_cookie.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xlb_config);
} xlb_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XLB_MAX_DESTS);
	__type(key, struct xlb_addr_key);
	__type(value, struct xlb_dest);
} xlb_dests SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XLB_MAX_VIPS);
	__type(key, __u32);
	__type(value, struct xlb_port_bits);
} xlb_vip_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XLB_MAX_VIPS);
	__type(key, __u32);
	__type(value, struct xlb_syn_rate);
} xlb_syn_rate SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, XLB_BLOCKLIST_DEFAULT_CAPACITY);
	__type(key, __u32);
	__type(value, struct xlb_block_val);
} xlb_block4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, XLB_BLOCKLIST_DEFAULT_CAPACITY);
	__type(key, struct xlb_lpm4_key);
	__type(value, struct xlb_block_val);
} xlb_block4_lpm SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, XLB_BLOCKLIST_DEFAULT_CAPACITY);
	__type(key, struct in6_addr);
	__type(value, struct xlb_block_val);
} xlb_block6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, XLB_BLOCKLIST_DEFAULT_CAPACITY);
	__type(key, struct xlb_lpm6_key);
	__type(value, struct xlb_block_val);
} xlb_block6_lpm SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, XLB_MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} xlb_xsks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XLB_REASON_COUNT);
	__type(key, __u32);
	__type(value, struct xlb_stat);
} xlb_stats SEC(".maps");

struct vlan_hdr {
	__be16 tci;
	__be16 proto;
};

#define ETH_P_8021Q_ 0x8100
#define ETH_P_8021AD_ 0x88a8
#define ETH_P_QINQ1_ 0x9100
#define TCP_FLAGS_OFF 13
#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_ACK 0x10
#define SYNACK_OPT_LEN 12
#define SYNACK_TCP_LEN (20 + SYNACK_OPT_LEN)
#define CSUM_MAX_BYTES 1500

static __always_inline int done(struct xdp_md *ctx, __u32 reason, int action)
{
	struct xlb_stat *st = bpf_map_lookup_elem(&xlb_stats, &reason);

	if (st) {
		st->packets++;
		st->bytes += ctx->data_end - ctx->data;
	}
	return action;
}

#define DROP(r) done(ctx, XLB_REASON_##r, XDP_DROP)
#define PASS(r) done(ctx, XLB_REASON_##r, XDP_PASS)

static __always_inline __u16 csum_fold(__u64 sum)
{
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

/*
 * One's-complement sum of len bytes at data + off (loaded as native words, so the result is
 * byte-swapped on little-endian; folding and comparing with 0xffff does not care).
 * len <= CSUM_MAX_BYTES. Sets *ok = 0 when the bytes are not all inside the packet.
 * The offset goes through an empty asm each round so the compiler keeps the bounds check in a
 * shape the verifier can follow.
 */
static __always_inline __u64 csum_bytes(void *data, void *end, __u32 off, __u32 len, int *ok)
{
	__u64 sum = 0;
	__u32 i;

	*ok = 0;
	if (len > CSUM_MAX_BYTES)
		return 0;
	for (i = 0; i < CSUM_MAX_BYTES / 4; i++) {
		__u32 *w;

		if (len < 4)
			break;
		asm volatile("" : "+r"(off));
		if (off > 2048)
			return 0;
		w = data + off;
		if ((void *)(w + 1) > end)
			return 0;
		sum += *w;
		off += 4;
		len -= 4;
	}
	asm volatile("" : "+r"(off));
	if (off > 2048)
		return 0;
	if (len >= 2) {
		__u16 *h = data + off;

		if ((void *)(h + 1) > end)
			return 0;
		sum += *h;
		off += 2;
		len -= 2;
	}
	if (len == 1) {
		__u8 *b;

		asm volatile("" : "+r"(off));
		if (off > 2048)
			return 0;
		b = data + off;
		if ((void *)(b + 1) > end)
			return 0;
		sum += *b; /* the odd byte is the high byte of a zero-padded network word */
	}
	*ok = 1;
	return sum;
}

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
 * CLOCK_MONOTONIC at tick resolution (a few ms): plenty for a 100 ms SYN window, a 68 s cookie
 * tick and a last-hit time, and it is a memory read where bpf_ktime_get_ns() reads the
 * clocksource (~30 ns per packet on a VM's kvm-clock).
 */
static __always_inline __u64 now_ns(struct xlb_config *cfg)
{
	return cfg->fixed_now_ns ? cfg->fixed_now_ns : bpf_ktime_get_coarse_ns();
}

struct syn_sum_ctx {
	struct xlb_config *cfg;
	__u64 now;
	__u32 id;
	__u32 self;
	__u32 sum;
};

/* bpf_loop callback: adds one other CPU's SYN count for its latest whole window. */
static long add_cpu_syns(__u64 cpu, void *data)
{
	struct syn_sum_ctx *c = data;
	struct xlb_syn_rate *o;
	__s64 age;

	if (cpu == c->self)
		return 0;
	o = bpf_map_lookup_percpu_elem(&xlb_syn_rate, &c->id, (__u32)cpu);
	if (!o)
		return 1;
	/* Another CPU's fields are read without a lock: an estimate is all the decision needs. */
	age = (__s64)(c->now - o->window_start_ns);
	if (age < (__s64)c->cfg->syn_window_ns)
		c->sum += o->last;
	else if (age < 2 * (__s64)c->cfg->syn_window_ns)
		c->sum += o->count;
	return 0;
}

/*
 * Auto mode: counts the SYN and says whether cookies are on for this VIP on this CPU. The
 * threshold is the VIP's: at each window's end a CPU adds the other CPUs' latest counts to its
 * own (bpf_loop over xlb_syn_rate, once per window, never per packet), and a CPU that alone
 * sees the whole threshold switches at once. The engine's half-open pressure turns cookies on
 * for every auto-mode VIP whatever the rate.
 */
static __always_inline int cookies_on(struct xlb_config *cfg, struct xlb_dest *d, __u64 now)
{
	__u32 id = d->vip_id;
	struct xlb_syn_rate *r;

	if (d->syn_mode == XLB_SYN_ALWAYS)
		return 1;
	if (d->syn_mode != XLB_SYN_AUTO)
		return 0;
	r = bpf_map_lookup_elem(&xlb_syn_rate, &id);
	if (!r)
		return cfg->syn_pressure;
	if (now - r->window_start_ns >= cfg->syn_window_ns) {
		/* Decide on the window that just ended; an idle gap longer than one window means
		 * the rate fell to nothing. Off only below half the threshold (hysteresis). */
		struct syn_sum_ctx c = { .cfg = cfg, .now = now, .id = id,
					 .self = bpf_get_smp_processor_id() };
		__u32 last = now - r->window_start_ns >= 2 * cfg->syn_window_ns ? 0 : r->count;
		__u32 cpus = cfg->nr_cpus < XLB_MAX_CPUS ? cfg->nr_cpus : XLB_MAX_CPUS;

		bpf_loop(cpus, add_cpu_syns, &c, 0);
		c.sum += last;
		if (c.sum < d->syn_threshold / 2) {
			r->cookies = 0;
		} else if (!r->cookies && c.sum >= d->syn_threshold) {
			r->cookies = 1;
			r->switches++;
		}
		r->last = last;
		r->window_start_ns = now;
		r->count = 0;
	}
	r->count++;
	if (!r->cookies && r->count >= d->syn_threshold) {
		r->cookies = 1;
		r->switches++;
	}
	return r->cookies || cfg->syn_pressure;
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

static __always_inline struct xlb_block_val *blocked4(struct xlb_config *cfg, __u32 saddr)
{
	struct xlb_block_val *v = 0;

	if (cfg->block_maps & XLB_BLOCK_V4_EXACT)
		v = bpf_map_lookup_elem(&xlb_block4, &saddr);
	if (!v && (cfg->block_maps & XLB_BLOCK_V4_LPM)) {
		struct xlb_lpm4_key k = { .prefixlen = 32 };

		__builtin_memcpy(k.addr, &saddr, 4);
		v = bpf_map_lookup_elem(&xlb_block4_lpm, &k);
	}
	return v;
}

static __always_inline struct xlb_block_val *blocked6(struct xlb_config *cfg,
						      struct in6_addr *saddr)
{
	struct xlb_block_val *v = 0;

	if (cfg->block_maps & XLB_BLOCK_V6_EXACT)
		v = bpf_map_lookup_elem(&xlb_block6, saddr);
	if (!v && (cfg->block_maps & XLB_BLOCK_V6_LPM)) {
		struct xlb_lpm6_key k = { .prefixlen = 128 };

		__builtin_memcpy(k.addr, saddr, 16);
		v = bpf_map_lookup_elem(&xlb_block6_lpm, &k);
	}
	return v;
}

static __always_inline int is_ipv6_ext(__u8 nh)
{
	return nh == 0 || nh == 43 || nh == 60 || nh == 44;
}

SEC("xdp")
int xlb_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct xlb_addr_key dkey = {};
	struct xlb_block_val *bv;
	struct xlb_config *cfg;
	struct xlb_dest *dest;
	struct tcphdr *tcp;
	__u32 zero = 0, l3, l4 = 0, l4len = 0, fallback;
	__u16 proto;
	__u8 l4proto, flags;
	int frag = 0, i;
	__u64 now;

	cfg = bpf_map_lookup_elem(&xlb_cfg, &zero);
	if (!cfg)
		return XDP_PASS;
	if ((void *)(eth + 1) > end)
		return DROP(ETH_TRUNCATED);
	proto = eth->h_proto;
	l3 = sizeof(*eth);
#pragma unroll
	for (i = 0; i < 2; i++) {
		if (proto == bpf_htons(ETH_P_8021Q_) || proto == bpf_htons(ETH_P_8021AD_) ||
		    proto == bpf_htons(ETH_P_QINQ1_)) {
			struct vlan_hdr *v = data + l3;

			if ((void *)(v + 1) > end)
				return DROP(VLAN_TRUNCATED);
			proto = v->proto;
			l3 += sizeof(*v);
		}
	}
	if (proto == bpf_htons(ETH_P_8021Q_) || proto == bpf_htons(ETH_P_8021AD_) ||
	    proto == bpf_htons(ETH_P_QINQ1_))
		return DROP(VLAN_TOO_DEEP);

	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = data + l3;
		__u32 hl, tot;

		if ((void *)(ip + 1) > end)
			return DROP(IPV4_TRUNCATED);
		if (ip->version != 4)
			return DROP(IPV4_BAD_VERSION);
		hl = ip->ihl * 4;
		if (hl < 20)
			return DROP(IPV4_BAD_IHL);
		if (data + l3 + hl > end)
			return DROP(IPV4_TRUNCATED);
		tot = bpf_ntohs(ip->tot_len);
		if (tot < hl)
			return DROP(IPV4_BAD_LENGTH);
		if (data + l3 + tot > end)
			return DROP(IPV4_TRUNCATED);
		bv = blocked4(cfg, ip->saddr);
		if (bv)
			goto blocked;
		dkey.family = XLB_FAMILY_V4;
		__builtin_memcpy(dkey.addr, &ip->daddr, 4);
		l4proto = ip->protocol;
		l4 = l3 + hl;
		l4len = tot - hl;
		frag = (ip->frag_off & bpf_htons(0x3fff)) != 0;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip = data + l3;
		__u32 pl, lim;

		if ((void *)(ip + 1) > end)
			return DROP(IPV6_TRUNCATED);
		if (ip->version != 6)
			return DROP(IPV6_BAD_VERSION);
		pl = bpf_ntohs(ip->payload_len);
		if (pl == 0)
			return DROP(IPV6_BAD_LENGTH);
		if ((void *)(ip + 1) + pl > end)
			return DROP(IPV6_TRUNCATED);
		bv = blocked6(cfg, &ip->saddr);
		if (bv)
			goto blocked;
		dkey.family = XLB_FAMILY_V6;
		__builtin_memcpy(dkey.addr, &ip->daddr, 16);
		l4proto = ip->nexthdr;
		l4 = l3 + sizeof(*ip);
		lim = l4 + pl;
		/* Extension headers, as the engine's parser walks them (at most 8). */
#pragma unroll
		for (i = 0; i < 8; i++) {
			__u8 *h;
			__u32 hlen;

			if (!is_ipv6_ext(l4proto))
				break;
			if (l4proto == 0 && i != 0)
				return DROP(IPV6_EXT_BAD);
			if (l4 + 8 > lim || l4 > 512)
				return DROP(IPV6_EXT_TRUNCATED);
			h = data + l4;
			if ((void *)(h + 8) > end)
				return DROP(IPV6_EXT_TRUNCATED);
			hlen = l4proto == 44 ? 8 : ((__u32)h[1] + 1) * 8;
			if (l4proto == 44 && ((h[2] << 8 | h[3]) & 0xfff9))
				frag = 1; /* offset or more-fragments: a real fragment */
			if (l4 + hlen > lim)
				return DROP(IPV6_EXT_TRUNCATED);
			l4proto = h[0];
			l4 += hlen;
		}
		if (is_ipv6_ext(l4proto))
			return DROP(IPV6_EXT_BAD);
		l4len = lim - l4;
	} else {
		return PASS(PASS_NOT_IP);
	}

	dest = bpf_map_lookup_elem(&xlb_dests, &dkey);
	if (!dest)
		return PASS(PASS_NOT_OURS);
	if (dest->kind == XLB_DEST_SNAT) {
		/* Replies from backends: TCP to a port in the SNAT range. The host's own connections
		 * from the same address use ports outside it. */
		if (l4proto != IPPROTO_TCP || frag)
			return PASS(PASS_NOT_OURS);
		if (l4 > 512)
			return PASS(PASS_NOT_OURS);
		tcp = data + l4;
		if ((void *)(tcp + 1) > end)
			return DROP(TCP_TRUNCATED);
		if (bpf_ntohs(tcp->dest) < cfg->snat_port_lo || bpf_ntohs(tcp->dest) > cfg->snat_port_hi)
			return PASS(PASS_NOT_OURS);
		goto redirect;
	}
	if (dest->kind != XLB_DEST_VIP)
		return PASS(PASS_NOT_OURS);
	if (frag)
		return DROP(FRAGMENT);
	if (l4proto != dest->proto) {
		/* Neighbour solicitations and advertisements for an IPv6 VIP (NUD probes are
		 * unicast to it) belong to the host, as ARP does for IPv4. */
		if (l4proto == IPPROTO_ICMPV6 && l4 <= 512) {
			__u8 *icmp = data + l4;

			if ((void *)(icmp + 1) <= end && icmp[0] >= 133 && icmp[0] <= 137)
				return PASS(PASS_ND);
		}
		return DROP(PROTO_FILTER);
	}
	if (l4 > 512)
		return DROP(IPV6_EXT_BAD);
	tcp = data + l4;
	if ((void *)(tcp + 1) > end || l4len < sizeof(*tcp))
		return DROP(TCP_TRUNCATED);
	{
		__u32 vid = dest->vip_id;
		__u16 port = bpf_ntohs(tcp->dest);
		struct xlb_port_bits *pb = bpf_map_lookup_elem(&xlb_vip_ports, &vid);

		if (!pb || !((pb->bits[(port >> 6) & 1023] >> (port & 63)) & 1))
			return DROP(PORT_FILTER);
	}
	if (tcp->doff < 5 || tcp->doff * 4 > l4len)
		return DROP(TCP_BAD_DOFF);
	flags = *((__u8 *)tcp + TCP_FLAGS_OFF);
	if ((flags & (F_SYN | F_FIN)) == (F_SYN | F_FIN) ||
	    (flags & (F_SYN | F_RST)) == (F_SYN | F_RST) || (flags & 0x3f) == 0)
		return DROP(TCP_BAD_FLAGS);
	/* The clock is read only where it is used: a helper call costs more than the whole parse. */
	now = (flags & (F_SYN | F_ACK)) == F_SYN ? now_ns(cfg) : 0;
	if ((flags & (F_SYN | F_ACK)) == F_SYN && cookies_on(cfg, dest, now)) {
		if (dkey.family == XLB_FAMILY_V4)
			return xlb_answer_syn4(ctx, l3, now);
		return xlb_answer_syn6(ctx, l3, l4, now);
	}

redirect:
	if (cfg->sim_redirect)
		return done(ctx, XLB_REASON_REDIRECT, XDP_REDIRECT);
	fallback = cfg->fail_open ? XDP_PASS : XDP_DROP;
	if (bpf_redirect_map(&xlb_xsks, ctx->rx_queue_index, fallback) == XDP_REDIRECT)
		return done(ctx, XLB_REASON_REDIRECT, XDP_REDIRECT);
	if (cfg->fail_open)
		return PASS(NO_SOCKET_PASS);
	return DROP(NO_SOCKET_DROP);

blocked:
	__sync_fetch_and_add(&bv->hits, 1);
	bv->last_hit_ns = now_ns(cfg);
	return DROP(BLOCKLIST);
}

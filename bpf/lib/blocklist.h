// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Blocklist lookups: the filter first (a clear bit means no entry covers the source), then
 * full-length addresses in the hash maps, then the LPM tries. Host traffic from a source not on
 * the list pays the filter's probes, not two map lookups that are real calls. IPv4's filter is a
 * bit per /24 (one inlined array load); IPv6's a hashed bit per prefix length present. */
#ifndef XLB_LIB_BLOCKLIST_H
#define XLB_LIB_BLOCKLIST_H

#include "clock.h"

/* 1 when the bit of the source's /24 is set (the maps decide), 0 when no IPv4 entry intersects
 * that /24. `a` is the address in host order. */
static __always_inline int block_filter_may_hold4(__u32 a)
{
	__u32 w = a >> 14; /* the /24's number, a >> 8, over 64 bits a word */
	__u64 *word = bpf_map_lookup_elem(&xlb_block_filter, &w);

	return word && ((*word >> ((a >> 8) & 63)) & 1);
}

/* 1 when an IPv6 bit for one of the prefix lengths present is set (the maps decide), or when
 * there are more lengths than the config lists; 0 when every bit is clear. */
static __always_inline int block_filter_may_hold6(const struct xlb_config *cfg, __u64 hi, __u64 lo)
{
	/* Read once: each probe's lookup is a call, after which the compiler reads the config
	 * again unless the count is held in a register. */
	__u32 nlens = cfg->block_nlens6;
	int i;

	if (nlens > XLB_BLOCK_FILTER_LENS)
		return 1;
#pragma unroll
	for (i = 0; i < XLB_BLOCK_FILTER_LENS; i++) {
		__u64 bit, *word;
		__u32 w;

		if (i >= nlens)
			break;
		bit = xlb_block_filter_bit6(cfg->block_lens6[i], hi, lo, cfg->block_filter_log2);
		w = XLB_BLOCK_FILTER_V4_WORDS + (__u32)(bit >> 6);
		word = bpf_map_lookup_elem(&xlb_block_filter, &w);
		if (word && ((*word >> (bit & 63)) & 1))
			return 1;
	}
	return 0;
}

static __always_inline struct xlb_block_val *blocked4(struct xlb_config *cfg, __u32 saddr)
{
	struct xlb_block_val *v = 0;

	if (!(cfg->block_maps & (XLB_BLOCK_V4_EXACT | XLB_BLOCK_V4_LPM)) ||
	    !block_filter_may_hold4(bpf_ntohl(saddr)))
		return 0;

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
	__u64 w[2];

	if (!(cfg->block_maps & (XLB_BLOCK_V6_EXACT | XLB_BLOCK_V6_LPM)))
		return 0;
	__builtin_memcpy(w, saddr, sizeof(w));
	if (!block_filter_may_hold6(cfg, bpf_be64_to_cpu(w[0]), bpf_be64_to_cpu(w[1])))
		return 0;
	if (cfg->block_maps & XLB_BLOCK_V6_EXACT)
		v = bpf_map_lookup_elem(&xlb_block6, saddr);
	if (!v && (cfg->block_maps & XLB_BLOCK_V6_LPM)) {
		struct xlb_lpm6_key k = { .prefixlen = 128 };

		__builtin_memcpy(k.addr, saddr, 16);
		v = bpf_map_lookup_elem(&xlb_block6_lpm, &k);
	}
	return v;
}

/* Counts a hit on the entry that matched (if any); true when the source is blocked. */
static __always_inline int block_hit(struct xlb_config *cfg, struct xlb_block_val *v)
{
	if (!v)
		return 0;
	__sync_fetch_and_add(&v->hits, 1);
	v->last_hit_ns = now_ns(cfg);
	return 1;
}

#endif /* XLB_LIB_BLOCKLIST_H */

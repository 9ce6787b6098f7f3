// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Blocklist lookups: the filter first (a clear bit for every prefix length the family's entries
 * have means no entry covers the source), then full-length addresses in the hash maps, then the
 * LPM tries. Host traffic from a source not on the list pays the filter's probes, not two map
 * lookups that are real calls. */
#ifndef XLB_LIB_BLOCKLIST_H
#define XLB_LIB_BLOCKLIST_H

#include "clock.h"

/* 1 when a bit for one of the `n` prefix lengths is set (the maps decide), 0 when every bit is
 * clear: no entry of this family covers the address. */
static __always_inline int block_filter_may_hold(const struct xlb_config *cfg, const __u8 *lens,
						 __u8 n, __u8 family, __u64 hi, __u64 lo)
{
	int i;

	if (n > XLB_BLOCK_FILTER_LENS)
		return 1;
#pragma unroll
	for (i = 0; i < XLB_BLOCK_FILTER_LENS; i++) {
		__u64 bit, *word;
		__u32 w;

		if (i >= n)
			break;
		bit = xlb_block_filter_bit(family, lens[i], hi, lo, cfg->block_filter_log2);
		w = (__u32)(bit >> 6);
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
	    !block_filter_may_hold(cfg, cfg->block_lens4, cfg->block_nlens4, XLB_FAMILY_V4,
				   (__u64)bpf_ntohl(saddr) << 32, 0))
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
	if (!block_filter_may_hold(cfg, cfg->block_lens6, cfg->block_nlens6, XLB_FAMILY_V6,
				   bpf_be64_to_cpu(w[0]), bpf_be64_to_cpu(w[1])))
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

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Blocklist lookups: full-length addresses in the hash maps first, then the LPM tries. */
#ifndef XLB_LIB_BLOCKLIST_H
#define XLB_LIB_BLOCKLIST_H

#include "clock.h"

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

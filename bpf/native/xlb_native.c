// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The XDP program's own source (xlb.bpf.c and lib/), compiled as native code: one source, two
 * targets. include/bpf/bpf_helpers.h stands in for libbpf's and implements the helpers over the
 * runtime's maps; the context gets pointer-wide data fields. Nothing of the program is copied
 * here: what differs is only how a map is found and what a helper does, and the differential
 * test (tests/bpf/xdp_differential_test.cc) holds both builds to the same bytes, verdicts and
 * map contents.
 */
#define xdp_md xlb_kernel_xdp_md
#include <linux/bpf.h>
#undef xdp_md

#include "xlb_native.h"

#define xdp_md xlb_native_xdp_md
#define LICENSE xlb_native_license

#include "../xlb.bpf.c"

static __always_inline struct xlb_native_map *xlb_native_map_of(const void *map)
{
	struct xlb_native_map *t = xlb_env->maps;

	/* Every call site passes a map's address as a constant: once inlined this folds away. */
	if (map == &xlb_cfg)
		return &t[XLB_NMAP_CFG];
	if (map == &xlb_dests)
		return &t[XLB_NMAP_DESTS];
	if (map == &xlb_vip_ports)
		return &t[XLB_NMAP_VIP_PORTS];
	if (map == &xlb_syn_rate)
		return &t[XLB_NMAP_SYN_RATE];
	if (map == &xlb_block4)
		return &t[XLB_NMAP_BLOCK4];
	if (map == &xlb_block4_lpm)
		return &t[XLB_NMAP_BLOCK4_LPM];
	if (map == &xlb_block6)
		return &t[XLB_NMAP_BLOCK6];
	if (map == &xlb_block6_lpm)
		return &t[XLB_NMAP_BLOCK6_LPM];
	if (map == &xlb_xsks)
		return &t[XLB_NMAP_XSKS];
	if (map == &xlb_peer_flows)
		return &t[XLB_NMAP_PEER_FLOWS];
	if (map == &xlb_peers)
		return &t[XLB_NMAP_PEERS];
	if (map == &xlb_src_meter)
		return &t[XLB_NMAP_SRC_METER];
	if (map == &xlb_src_events)
		return &t[XLB_NMAP_SRC_EVENTS];
	if (map == &xlb_block_filter)
		return &t[XLB_NMAP_BLOCK_FILTER];
	if (map == &xlb_clock)
		return &t[XLB_NMAP_CLOCK];
	return &t[XLB_NMAP_STATS];
}

#define XLB_SPEC(m)                                                                 \
	{                                                                           \
		.type = sizeof(*(m).type) / sizeof(int),                            \
		.key_size = sizeof(*(m).key), .value_size = sizeof(*(m).value),     \
		.max_entries = sizeof(*(m).max_entries) / sizeof(int),              \
	}

const struct xlb_native_map_spec xlb_native_specs[XLB_NMAP_COUNT] = {
	[XLB_NMAP_CFG] = XLB_SPEC(xlb_cfg),
	[XLB_NMAP_DESTS] = XLB_SPEC(xlb_dests),
	[XLB_NMAP_VIP_PORTS] = XLB_SPEC(xlb_vip_ports),
	[XLB_NMAP_SYN_RATE] = XLB_SPEC(xlb_syn_rate),
	[XLB_NMAP_BLOCK4] = XLB_SPEC(xlb_block4),
	[XLB_NMAP_BLOCK4_LPM] = XLB_SPEC(xlb_block4_lpm),
	[XLB_NMAP_BLOCK6] = XLB_SPEC(xlb_block6),
	[XLB_NMAP_BLOCK6_LPM] = XLB_SPEC(xlb_block6_lpm),
	[XLB_NMAP_XSKS] = XLB_SPEC(xlb_xsks),
	[XLB_NMAP_STATS] = XLB_SPEC(xlb_stats),
	[XLB_NMAP_PEER_FLOWS] = XLB_SPEC(xlb_peer_flows),
	[XLB_NMAP_PEERS] = XLB_SPEC(xlb_peers),
	[XLB_NMAP_SRC_METER] = XLB_SPEC(xlb_src_meter),
	[XLB_NMAP_BLOCK_FILTER] = XLB_SPEC(xlb_block_filter),
	[XLB_NMAP_CLOCK] = XLB_SPEC(xlb_clock),
	/* A ring buffer has no key or value; its size is its bytes. */
	[XLB_NMAP_SRC_EVENTS] = {
		.type = sizeof(*xlb_src_events.type) / sizeof(int),
		.max_entries = sizeof(*xlb_src_events.max_entries) / sizeof(int),
	},
};

int xlb_native_run(struct xlb_native_env *env, struct xlb_native_xdp_md *ctx)
{
	xlb_env = env;
	return xlb_xdp(ctx);
}

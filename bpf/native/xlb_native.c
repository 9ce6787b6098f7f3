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

#define XLB_MAP_OF(id, name, obj, ...)      \
	if (map == &obj)                    \
		return &t[XLB_NMAP_##id];

static __always_inline struct xlb_native_map *xlb_native_map_of(const void *map)
{
	struct xlb_native_map *t = xlb_env->maps;

	/* Every call site passes a map's address as a constant: once inlined this folds away. */
	XLB_MAPS(XLB_MAP_OF, XLB_MAP_OF)
	return 0; /* a map XLB_MAPS does not list: the first test that uses it faults */
}

#define XLB_SPEC(id, name, m, ...)                                                  \
	[XLB_NMAP_##id] = {                                                         \
		.type = sizeof(*(m).type) / sizeof(int),                            \
		.key_size = sizeof(*(m).key), .value_size = sizeof(*(m).value),     \
		.max_entries = sizeof(*(m).max_entries) / sizeof(int),              \
	},
/* A ring buffer has no key or value; its size is its bytes. */
#define XLB_RING_SPEC(id, name, m)                                                  \
	[XLB_NMAP_##id] = {                                                         \
		.type = sizeof(*(m).type) / sizeof(int),                            \
		.max_entries = sizeof(*(m).max_entries) / sizeof(int),              \
	},

const struct xlb_native_map_spec xlb_native_specs[XLB_NMAP_COUNT] = {
	XLB_MAPS(XLB_SPEC, XLB_RING_SPEC)
};

int xlb_native_run(struct xlb_native_env *env, struct xlb_native_xdp_md *ctx)
{
	xlb_env = env;
	return xlb_xdp(ctx);
}

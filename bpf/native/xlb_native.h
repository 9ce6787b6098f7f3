// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The XDP program built a second time, as native code: the interface between xlb_native.c (the
 * program's own source with the helper shims) and the C++ runtime that owns its maps
 * (engine/bpf/native_runtime.cc). C, included from C++ too.
 *
 * The map ids are XLB_MAPS' order (xlb_common.h), as XdpMap's are.
 */
#ifndef XLB_NATIVE_H
#define XLB_NATIVE_H

#include <linux/types.h>

#include "xlb_common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define XLB_NMAP_ID(id, ...) XLB_NMAP_##id,
enum xlb_native_map_id {
	XLB_MAPS(XLB_NMAP_ID, XLB_NMAP_ID)
	XLB_NMAP_COUNT
};
#undef XLB_NMAP_ID

/* A map as the program's source declares it: type, sizes and entries, read from the map
 * definitions themselves so the two builds cannot disagree. */
struct xlb_native_map_spec {
	__u32 type; /* BPF_MAP_TYPE_* */
	__u32 key_size;
	__u32 value_size;
	__u32 max_entries;
};

extern const struct xlb_native_map_spec xlb_native_specs[XLB_NMAP_COUNT];

/* A map's storage. Arrays (per-CPU ones too) are looked up in place; hash maps and LPM tries go
 * through the runtime's lookup functions with `impl`. */
struct xlb_native_map {
	__u8 *data;   /* arrays: max_entries * cpus values, `stride` bytes apart */
	__u32 max_entries;
	__u32 stride; /* per-CPU values: value_size rounded up to 8, as the kernel copies them */
	__u32 cpus;   /* 1, or the per-CPU width */
	__u32 type;
	void *impl;
};

struct xlb_native_env {
	struct xlb_native_map maps[XLB_NMAP_COUNT];
	__u32 cpu;         /* what bpf_get_smp_processor_id() answers */
	__u64 now_coarse;  /* bpf_ktime_get_coarse_ns() when the config gives no fixed time */
};

/* The context as the program reads it, with pointer-wide data fields (the kernel's xdp_md has
 * 32-bit ones the verifier rewrites). */
struct xlb_native_xdp_md {
	unsigned long data;
	unsigned long data_end;
	unsigned long data_meta;
	unsigned long data_hard_end; /* the linear part may grow up to here (bpf_xdp_adjust_tail) */
	unsigned long frags_len;     /* bytes past the linear part (a multi-buffer frame): they
				      * follow data_hard_end, out of the program's sight */
	__u32 ingress_ifindex;
	__u32 rx_queue_index;
	__u32 egress_ifindex;
};

/* A test run's geometry: each fragment is a page, at most XLB_NATIVE_MAX_FRAGS of them. */
#define XLB_NATIVE_FRAG_SIZE 4096
#define XLB_NATIVE_MAX_FRAGS 17

/* Runs the program's entry point on one frame; returns the XDP action. */
int xlb_native_run(struct xlb_native_env *env, struct xlb_native_xdp_md *ctx);

/* Implemented by the runtime: a hash map's or an LPM trie's value for the key, or NULL. */
void *xlb_native_hash_lookup(void *impl, const void *key);
void *xlb_native_lpm_lookup(void *impl, const void *key);
/* A hash map's entry written (BPF_ANY, BPF_NOEXIST, BPF_EXIST): 0 or -errno. An LRU map
 * (lru != 0) makes room when full instead of failing. */
long xlb_native_hash_update(void *impl, const void *key, const void *value, __u64 flags, int lru);
/* A ring buffer's record appended: 0, or -ENOSPC when the ring holds no room for it. */
long xlb_native_ring_output(void *impl, const void *data, __u64 size);
/* A hash map's entry removed: 0, or -ENOENT. */
long xlb_native_hash_delete(void *impl, const void *key);

#ifdef __cplusplus
}
#endif

#endif /* XLB_NATIVE_H */

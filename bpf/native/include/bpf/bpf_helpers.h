// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libbpf's bpf_helpers.h for the native build of the XDP program (xlb_native.c): the same
 * map-definition macros, and each helper the program calls implemented in process over the maps
 * the runtime owns (struct xlb_native_env). The BPF build never sees this file; the native one
 * finds it first on its include path.
 *
 * Each helper does what the kernel's does for the arguments this program passes, including the
 * failure answers a test run can see: an array index out of range is NULL, an XSKMAP has no
 * sockets (a test run has none either), the tail cannot grow past the frame's room or shrink
 * below an Ethernet header.
 */
#ifndef XLB_NATIVE_BPF_HELPERS_H
#define XLB_NATIVE_BPF_HELPERS_H

#include <string.h>
#include <time.h>

#include "../../xlb_native.h"

#define SEC(name)
#define __uint(name, val) int(*name)[val]
#define __type(name, val) typeof(val) *name
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#define __noinline __attribute__((noinline))

/* Set by xlb_native_run for the frame being run. */
static __thread struct xlb_native_env *xlb_env;

/* Defined after the program's maps (xlb_native.c): the storage of the map at that address. */
static inline struct xlb_native_map *xlb_native_map_of(const void *map);

static __always_inline void *xlb_native_elem(struct xlb_native_map *m, const void *key,
					     __u32 cpu)
{
	__u32 i;

	switch (m->type) {
	case BPF_MAP_TYPE_ARRAY:
	case BPF_MAP_TYPE_PERCPU_ARRAY:
		memcpy(&i, key, sizeof(i));
		if (i >= m->max_entries || cpu >= m->cpus)
			return 0;
		return m->data + ((__u64)i * m->cpus + cpu) * m->stride;
	case BPF_MAP_TYPE_HASH:
	case BPF_MAP_TYPE_LRU_HASH:
		return xlb_native_hash_lookup(m->impl, key);
	case BPF_MAP_TYPE_LPM_TRIE:
		return xlb_native_lpm_lookup(m->impl, key);
	default:
		return 0; /* XSKMAP: the program never looks into it */
	}
}

static __always_inline void *bpf_map_lookup_elem(void *map, const void *key)
{
	struct xlb_native_map *m = xlb_native_map_of(map);

	return xlb_native_elem(m, key, m->cpus > 1 ? xlb_env->cpu : 0);
}

/* Hash maps only (the program inserts into xlb_src_meter alone); an LRU hash makes room. */
static __always_inline long bpf_map_update_elem(void *map, const void *key, const void *value,
						__u64 flags)
{
	struct xlb_native_map *m = xlb_native_map_of(map);

	if (m->type != BPF_MAP_TYPE_HASH && m->type != BPF_MAP_TYPE_LRU_HASH)
		return -22;
	return xlb_native_hash_update(m->impl, key, value, flags,
				      m->type == BPF_MAP_TYPE_LRU_HASH);
}

/* A copy of the record into the runtime's ring: 0, or -ENOSPC when it is full. */
static __always_inline long bpf_ringbuf_output(void *map, void *data, __u64 size, __u64 flags)
{
	struct xlb_native_map *m = xlb_native_map_of(map);

	if (m->type != BPF_MAP_TYPE_RINGBUF || flags)
		return -22;
	return xlb_native_ring_output(m->impl, data, size);
}

static __always_inline long bpf_map_delete_elem(void *map, const void *key)
{
	struct xlb_native_map *m = xlb_native_map_of(map);

	if (m->type != BPF_MAP_TYPE_HASH)
		return -22; /* -EINVAL: the program deletes from hash maps only */
	return xlb_native_hash_delete(m->impl, key);
}

static __always_inline void *bpf_map_lookup_percpu_elem(void *map, const void *key, __u32 cpu)
{
	struct xlb_native_map *m = xlb_native_map_of(map);

	if (m->type != BPF_MAP_TYPE_PERCPU_ARRAY)
		return 0;
	return xlb_native_elem(m, key, cpu);
}

/* The XSKMAP holds no socket in process: the lower bits of flags are the fallback action. */
static __always_inline long bpf_redirect_map(void *map, __u64 key, __u64 flags)
{
	(void)map;
	(void)key;
	return (long)(flags & 3);
}

/* A multi-buffer frame (longer than the linear part) changes its last fragments first: growth
 * goes into the last page's room; a cut frees fragments from the end and reaches the linear
 * part only once none is left. */
static __always_inline long xlb_adjust_frags(struct xlb_native_xdp_md *ctx, int delta)
{
	unsigned long cut, total = ctx->data_end - ctx->data + ctx->frags_len;

	if (delta > 0) {
		unsigned long last = (ctx->frags_len - 1) % XLB_NATIVE_FRAG_SIZE + 1;

		if ((unsigned long)delta > XLB_NATIVE_FRAG_SIZE - last)
			return -22;
		memset((void *)(ctx->data_hard_end + ctx->frags_len), 0, (size_t)delta);
		ctx->frags_len += (unsigned long)delta;
		return 0;
	}
	cut = (unsigned long)-(long)delta;
	if (cut > total - 14)
		return -22;
	if (cut < ctx->frags_len) {
		ctx->frags_len -= cut;
		return 0;
	}
	ctx->data_end -= cut - ctx->frags_len;
	ctx->frags_len = 0;
	return 0;
}

static __always_inline long bpf_xdp_adjust_tail(struct xlb_native_xdp_md *ctx, int delta)
{
	unsigned long end = ctx->data_end + (long)delta;

	if (ctx->frags_len)
		return xlb_adjust_frags(ctx, delta);
	if (end > ctx->data_hard_end || end < ctx->data + 14)
		return -22; /* -EINVAL */
	if (delta > 0)
		memset((void *)ctx->data_end, 0, (size_t)delta); /* the kernel clears what it adds */
	ctx->data_end = end;
	return 0;
}

static __always_inline __u64 bpf_ktime_get_coarse_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
}

/* Jiffies stand for "the coarse clock moved": the coarse time itself serves, one value per tick. */
static __always_inline __u64 bpf_jiffies64(void)
{
	return bpf_ktime_get_coarse_ns();
}

static __always_inline __u32 bpf_get_smp_processor_id(void)
{
	return xlb_env->cpu;
}

static __always_inline long bpf_loop(__u32 nr, long (*fn)(__u64, void *), void *ctx, __u64 flags)
{
	__u32 i;

	if (flags)
		return -22;
	if (nr > (1u << 23))
		return -7; /* -E2BIG */
	for (i = 0; i < nr; i++) {
		if (fn(i, ctx))
			return i + 1;
	}
	return nr;
}

#endif /* XLB_NATIVE_BPF_HELPERS_H */

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The auto SYN-flood mode: per-VIP SYN rate, all CPUs together. */
#ifndef XLB_LIB_SYN_RATE_H
#define XLB_LIB_SYN_RATE_H

#include "clock.h"

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

#endif /* XLB_LIB_SYN_RATE_H */

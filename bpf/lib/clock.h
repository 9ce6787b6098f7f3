// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The program's clock. */
#ifndef XLB_LIB_CLOCK_H
#define XLB_LIB_CLOCK_H

/*
 * CLOCK_MONOTONIC at tick resolution (a few ms): plenty for a 100 ms SYN window, a 68 s cookie
 * tick and a last-hit time, and it is a memory read where bpf_ktime_get_ns() reads the
 * clocksource (~30 ns per packet on a VM's kvm-clock).
 *
 * Even bpf_ktime_get_coarse_ns() is a helper call (3-4 ns, as much as a blocklist drop's
 * whole parse), and the coarse clock moves only when jiffies do. bpf_jiffies64() is inlined by
 * the JIT (one load), so each CPU keeps the coarse time it read with the jiffies it read it at
 * and calls the helper once per tick. The answer may trail the coarse clock by a tick when
 * jiffies move a moment before the time does (both happen in the same tick handler); a tick is
 * far inside every use above. Per CPU because XDP runs one packet at a time on a CPU: no torn
 * pair, no line shared between CPUs.
 */
static __always_inline __u64 now_ns(struct xlb_config *cfg)
{
	struct xlb_clock *c;
	__u32 zero = 0;
	__u64 j;

	if (cfg->fixed_now_ns)
		return cfg->fixed_now_ns;
	c = bpf_map_lookup_elem(&xlb_clock, &zero);
	if (!c)
		return bpf_ktime_get_coarse_ns();
	j = bpf_jiffies64();
	/* A fresh entry's jiffies (0) never match: the count starts near 2^32 (INITIAL_JIFFIES). */
	if (c->jiffies != j) {
		c->ns = bpf_ktime_get_coarse_ns();
		c->jiffies = j;
	}
	return c->ns;
}

#endif /* XLB_LIB_CLOCK_H */

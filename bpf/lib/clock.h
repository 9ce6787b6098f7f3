// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The program's clock. */
#ifndef XLB_LIB_CLOCK_H
#define XLB_LIB_CLOCK_H

/*
 * CLOCK_MONOTONIC at tick resolution (a few ms): plenty for a 100 ms SYN window, a 68 s cookie
 * tick and a last-hit time, and it is a memory read where bpf_ktime_get_ns() reads the
 * clocksource (~30 ns per packet on a VM's kvm-clock).
 */
static __always_inline __u64 now_ns(struct xlb_config *cfg)
{
	return cfg->fixed_now_ns ? cfg->fixed_now_ns : bpf_ktime_get_coarse_ns();
}

#endif /* XLB_LIB_CLOCK_H */

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Every outcome is counted per CPU under its reason (xlb_stats, the shared XLB_REASONS list).
 * CONTINUE: a stage let the packet through to the next one. */
#ifndef XLB_LIB_VERDICT_H
#define XLB_LIB_VERDICT_H

static __always_inline int done(struct xdp_md *ctx, __u32 reason, int action)
{
	struct xlb_stat *st = bpf_map_lookup_elem(&xlb_stats, &reason);

	if (st) {
		st->packets++;
		st->bytes += ctx->data_end - ctx->data;
	}
	return action;
}

#define DROP(r) done(ctx, XLB_REASON_##r, XDP_DROP)
#define PASS(r) done(ctx, XLB_REASON_##r, XDP_PASS)

#define CONTINUE -1

#endif /* XLB_LIB_VERDICT_H */

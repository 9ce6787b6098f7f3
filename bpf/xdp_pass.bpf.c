// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* For the rig's bridge-side veth peers: a veth drops frames redirected or XDP_TX'ed into it
 * unless its peer runs an XDP program. This one passes everything. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

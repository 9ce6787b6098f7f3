// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Packet-format constants and the header walk shared by the stages. */
#ifndef XLB_LIB_PARSE_H
#define XLB_LIB_PARSE_H

struct vlan_hdr {
	__be16 tci;
	__be16 proto;
};

#define ETH_P_8021Q_ 0x8100
#define ETH_P_8021AD_ 0x88a8
#define ETH_P_QINQ1_ 0x9100
#define TCP_FLAGS_OFF 13
#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_ACK 0x10

/*
 * An offset the verifier may have lost track of (it went through the stage context on the
 * stack), masked to a bound a check already enforced: the empty asm keeps the compiler from
 * dropping a mask it can prove redundant, and the verifier sees the bound.
 */
#define BOUND(v, mask)                          \
	({                                      \
		__u32 __b = (v);                \
		asm volatile("" : "+r"(__b));   \
		__b & (mask);                   \
	})

static __always_inline int is_vlan(__be16 proto)
{
	return proto == bpf_htons(ETH_P_8021Q_) || proto == bpf_htons(ETH_P_8021AD_) ||
	       proto == bpf_htons(ETH_P_QINQ1_);
}

static __always_inline int is_ipv6_ext(__u8 nh)
{
	return nh == 0 || nh == 43 || nh == 60 || nh == 44;
}

#endif /* XLB_LIB_PARSE_H */

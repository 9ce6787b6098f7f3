/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* xlb ABI: the one definition shared by the XDP program and the C++ engine. */
#ifndef XLB_COMMON_H
#define XLB_COMMON_H

#include <linux/types.h>

/*
 * Every verdict reason, declared once. Columns: ENUM suffix, C++ name, metric label, action.
 * BPF counters, the engine's per-worker counters and Prometheus labels are all generated from
 * this list, so a reason cannot exist in one place and be missing in another. Order is ABI: the
 * BPF per-CPU counter array is indexed by it. Append only.
 */
#define XLB_ACT_DROP 0
#define XLB_ACT_TX 1
#define XLB_ACT_PASS 2

#define XLB_REASONS(X)                                                   \
	/* transmitted */                                                \
	X(TX_TO_BACKEND, TxToBackend, tx_to_backend, XLB_ACT_TX)         \
	X(TX_TO_CLIENT, TxToClient, tx_to_client, XLB_ACT_TX)            \
	X(TX_SYNCOOKIE, TxSyncookie, syncookie_sent, XLB_ACT_TX)         \
	/* handed to the kernel */                                       \
	X(PASS_NOT_IP, PassNotIp, pass_not_ip, XLB_ACT_PASS)             \
	X(PASS_NOT_OURS, PassNotOurs, pass_not_ours, XLB_ACT_PASS)       \
	/* malformed: dropped */                                         \
	X(ETH_TRUNCATED, EthTruncated, eth_truncated, XLB_ACT_DROP)      \
	X(VLAN_TRUNCATED, VlanTruncated, vlan_truncated, XLB_ACT_DROP)   \
	X(VLAN_TOO_DEEP, VlanTooDeep, vlan_too_deep, XLB_ACT_DROP)       \
	X(IPV4_TRUNCATED, Ipv4Truncated, ipv4_truncated, XLB_ACT_DROP)   \
	X(IPV4_BAD_VERSION, Ipv4BadVersion, ipv4_bad_version, XLB_ACT_DROP) \
	X(IPV4_BAD_IHL, Ipv4BadIhl, ipv4_bad_ihl, XLB_ACT_DROP)          \
	X(IPV4_BAD_LENGTH, Ipv4BadLength, ipv4_bad_length, XLB_ACT_DROP) \
	X(IPV4_BAD_OPTION, Ipv4BadOption, ipv4_bad_option, XLB_ACT_DROP) \
	X(IPV6_TRUNCATED, Ipv6Truncated, ipv6_truncated, XLB_ACT_DROP)   \
	X(IPV6_BAD_VERSION, Ipv6BadVersion, ipv6_bad_version, XLB_ACT_DROP) \
	X(IPV6_BAD_LENGTH, Ipv6BadLength, ipv6_bad_length, XLB_ACT_DROP) \
	X(IPV6_EXT_TRUNCATED, Ipv6ExtTruncated, ipv6_ext_truncated, XLB_ACT_DROP) \
	X(IPV6_EXT_BAD, Ipv6ExtBad, ipv6_ext_bad, XLB_ACT_DROP)          \
	X(TCP_TRUNCATED, TcpTruncated, tcp_truncated, XLB_ACT_DROP)      \
	X(TCP_BAD_DOFF, TcpBadDoff, tcp_bad_doff, XLB_ACT_DROP)          \
	X(TCP_BAD_OPTION, TcpBadOption, tcp_bad_option, XLB_ACT_DROP)    \
	X(TCP_BAD_FLAGS, TcpBadFlags, tcp_bad_flags, XLB_ACT_DROP)       \
	X(UDP_TRUNCATED, UdpTruncated, udp_truncated, XLB_ACT_DROP)      \
	X(UDP_BAD_LENGTH, UdpBadLength, udp_bad_length, XLB_ACT_DROP)    \
	X(ICMP_TRUNCATED, IcmpTruncated, icmp_truncated, XLB_ACT_DROP)   \
	X(BAD_CHECKSUM, BadChecksum, bad_checksum, XLB_ACT_DROP)         \
	X(FRAGMENT, Fragment, fragment, XLB_ACT_DROP)                    \
	/* policy: dropped */                                            \
	X(BLOCKLIST, Blocklist, blocklist, XLB_ACT_DROP)                 \
	X(PORT_FILTER, PortFilter, port_filter, XLB_ACT_DROP)            \
	X(PROTO_FILTER, ProtoFilter, proto_filter, XLB_ACT_DROP)         \
	X(NO_CONNTRACK, NoConntrack, no_conntrack, XLB_ACT_DROP)         \
	X(TABLE_FULL, TableFull, table_full, XLB_ACT_DROP)               \
	X(SNAT_EXHAUSTED, SnatExhausted, snat_exhausted, XLB_ACT_DROP)   \
	X(NO_BACKEND, NoBackend, no_backend, XLB_ACT_DROP)               \
	X(SYNCOOKIE_INVALID, SyncookieInvalid, syncookie_invalid, XLB_ACT_DROP)

enum xlb_reason {
#define XLB_REASON_ENUM(e, c, l, a) XLB_REASON_##e,
	XLB_REASONS(XLB_REASON_ENUM)
#undef XLB_REASON_ENUM
	XLB_REASON_COUNT
};

#endif /* XLB_COMMON_H */

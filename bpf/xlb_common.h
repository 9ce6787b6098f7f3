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
#define XLB_ACT_REDIRECT 3 /* XDP: handed to the AF_XDP worker */
#define XLB_ACT_HOLD 4     /* engine: payload kept until the backend handshake completes */

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
	X(SYNCOOKIE_INVALID, SyncookieInvalid, syncookie_invalid, XLB_ACT_DROP) \
	/* appended with the data path */                                \
	X(REDIRECT, Redirect, to_engine, XLB_ACT_REDIRECT)               \
	X(NO_SOCKET_DROP, NoSocketDrop, no_socket_drop, XLB_ACT_DROP)    \
	X(NO_SOCKET_PASS, NoSocketPass, no_socket_pass, XLB_ACT_PASS)    \
	X(SYNPROXY_HELD, SynproxyHeld, synproxy_held, XLB_ACT_HOLD)      \
	X(SYNPROXY_HOLD_FULL, SynproxyHoldFull, synproxy_hold_full, XLB_ACT_DROP) \
	X(SYNPROXY_BAD_SYNACK, SynproxyBadSynack, synproxy_bad_synack, XLB_ACT_DROP) \
	X(TX_SYNPROXY, TxSynproxy, synproxy_handshake, XLB_ACT_TX)      \
	/* appended with the control plane */                            \
	X(TX_KILL_RST, TxKillRst, killed_reset, XLB_ACT_TX)              \
	/* IPv6 neighbour discovery for a VIP: the host's stack answers */ \
	X(PASS_ND, PassNd, pass_neighbor_discovery, XLB_ACT_PASS)       \
	/* a SYN whose TCP checksum is only the pseudo-header's (a sender's TX offload) */ \
	X(PARTIAL_CHECKSUM, PartialChecksum, partial_checksum, XLB_ACT_DROP) \
	/* a backend's TIME_WAIT answered our SYN: reset it (the SYN goes again at once) */ \
	X(TX_TIMEWAIT_RESET, TxTimewaitReset, time_wait_reset, XLB_ACT_TX) \
	/* a new UDP flow while UDP flows hold their share of the table and none is evictable */ \
	X(UDP_BUDGET, UdpBudget, udp_budget, XLB_ACT_DROP) \
	/* direct server return over IPIP: the frame has no room for the outer header */ \
	X(DSR_TOO_BIG, DsrTooBig, dsr_frame_too_big, XLB_ACT_DROP) \
	/* a cluster: the flow is held by another instance (xlb_peer_flows): sent to it */ \
	X(TX_TO_PEER, TxToPeer, cluster_forward, XLB_ACT_TX) \
	/* a cluster: a frame a peer forwarded names a third holder; the engine decides */ \
	X(PEER_LOOP, PeerLoop, cluster_forward_loop, XLB_ACT_REDIRECT) \
	/* a unicast frame to another host's MAC (a switch flooding unknown unicast): the \
	 * kernel's to drop or bridge, not ours to answer */ \
	X(PASS_OTHER_HOST, PassOtherHost, pass_other_host, XLB_ACT_PASS) \
	/* engine: a reset of an established connection outside the window the other side last \
	 * acknowledged (a blind reset, RFC 5961): dropped, the connection kept */ \
	X(RST_OUT_OF_WINDOW, RstOutOfWindow, rst_out_of_window, XLB_ACT_DROP)

enum xlb_reason {
#define XLB_REASON_ENUM(e, c, l, a) XLB_REASON_##e,
	XLB_REASONS(XLB_REASON_ENUM)
#undef XLB_REASON_ENUM
	XLB_REASON_COUNT
};

/*
 * Maps. Key and value layouts below are ABI between xlb.bpf.c and the loader, which checks
 * every map's key and value size against these structs when it opens the object.
 */
#define XLB_MAX_VIPS 256
#define XLB_MAX_SNAT_ADDRS 64
#define XLB_MAX_DESTS (XLB_MAX_VIPS + XLB_MAX_SNAT_ADDRS)
#define XLB_DEST_FILTER_LOG2 12 /* 4,096 bits: under 1 in 12 false hits with every slot used */
#define XLB_DEST_FILTER_WORDS ((1 << XLB_DEST_FILTER_LOG2) / 64)
#define XLB_MAX_QUEUES 64
#define XLB_MAX_CPUS 1024 /* CPUs whose SYN counts the auto mode sums (xlb_config.nr_cpus) */
#define XLB_BLOCKLIST_DEFAULT_CAPACITY 1000000
/* The blocklist filter (xlb_block_filter). Its first XLB_BLOCK_FILTER_V4_WORDS words are IPv4's:
 * a bit per /24, indexed by the address itself, set while an entry intersects that /24 (2 MiB,
 * one load whatever lengths the list holds). IPv6's hashed bits follow: bits per entry of one
 * map's capacity (at most 1 in 8 set when that map is full), no more than
 * 2^XLB_BLOCK_FILTER_MAX_LOG2 bits, and the distinct prefix lengths it probes; with more lengths
 * the IPv6 maps are asked for every source. */
#define XLB_BLOCK_FILTER_V4_WORDS (1u << (24 - 6))
#define XLB_BLOCK_FILTER_BITS_PER_ENTRY 8
#define XLB_BLOCK_FILTER_MAX_LOG2 26
#define XLB_BLOCK_FILTER_LENS 8

#define XLB_FAMILY_V4 4
#define XLB_FAMILY_V6 6

/* xlb_dests: every VIP and SNAT address, keyed by family and address (IPv4 in addr[0..3]). */
struct xlb_addr_key {
	__u32 family;
	__u8 addr[16];
};

#define XLB_DEST_VIP 1
#define XLB_DEST_SNAT 2

#define XLB_SYN_OFF 0
#define XLB_SYN_ALWAYS 1
#define XLB_SYN_AUTO 2

/* xlb_dest.protos: the protocols an address serves as a VIP. A TCP and a UDP service may share
 * an address (HTTPS on TCP 443 and QUIC on UDP 443); each is its own VIP with its own slot. */
#define XLB_PROTO_TCP 0x01
#define XLB_PROTO_UDP 0x02

struct xlb_dest {
	__u8 kind;      /* XLB_DEST_* */
	__u8 syn_mode;  /* XLB_SYN_*; the TCP VIP's */
	__u8 protos;    /* XLB_PROTO_* bits */
	__u8 pad;
	__u16 vip_id;   /* the TCP VIP's slot: xlb_vip_ports and xlb_syn_rate */
	__u16 udp_vip_id; /* the UDP VIP's slot in xlb_vip_ports */
	__u32 syn_threshold; /* auto mode: SYNs per window, all CPUs together, that switch
			      * cookies on (off below half of it) */
	__u32 pad3;
};

/* xlb_vip_ports: served ports of each VIP, a 65536-bit set. */
struct xlb_port_bits {
	__u64 bits[1024];
};

/*
 * xlb_syn_rate (per CPU): the auto mode's SYN counter per VIP. Each CPU counts its own SYNs
 * (no shared cache line on the packet path) and, once per window, adds up the other CPUs'
 * counts to decide for the VIP as a whole.
 */
struct xlb_syn_rate {
	__u64 window_start_ns;
	__u32 count;     /* SYNs in the current window */
	__u32 cookies;   /* 1 while cookie mode is on */
	__u64 switches;  /* times cookie mode switched on (on this CPU) */
	__u32 last;      /* SYNs in the window before the current one */
	__u32 pad;
};

/*
 * Automatic blocking (docs/ARCHITECTURE.md, "Automatic blocking"): what the program measures per
 * source address of traffic to a VIP, declared once. Columns: ENUM suffix, C++ name, name in the
 * configuration, the API and the metrics. Order is ABI (xlb_config.src_limit, xlb_src_count).
 *   SYN:      SYNs less the pure ACKs that followed them: handshakes never completed;
 *   FILTERED: packets to ports or protocols the VIP does not serve (a port scan);
 *   PACKETS:  every packet to a VIP (an ACK flood from one source);
 *   UDP:      UDP packets to a port a VIP serves (a UDP flood: its own limit, as a resolver's
 *             clients send many more packets than a web client's);
 *   INVALID_ACK: TCP segments to a VIP that match no connection and complete no cookie
 *             handshake (an ACK flood). Counted by the engine, which holds the connections and
 *             the cookie key; the program leaves its slot of xlb_src_count unused.
 */
#define XLB_SRC_KINDS(X)                                        \
	X(SYN, Syn, syn_without_handshake)                      \
	X(FILTERED, Filtered, filtered_port)                    \
	X(PACKETS, Packets, packets)                            \
	X(UDP, Udp, udp_packets)                                \
	X(INVALID_ACK, InvalidAck, invalid_ack)

enum xlb_src_kind {
#define XLB_SRC_ENUM(e, c, l) XLB_SRC_##e,
	XLB_SRC_KINDS(XLB_SRC_ENUM)
#undef XLB_SRC_ENUM
	XLB_SRC_KIND_COUNT
};

/* xlb_cfg: one entry of global settings. */
struct xlb_config {
	__u64 cookie_key[2];  /* SipHash key of the SYN cookie; the engine holds the same */
	__u64 fixed_now_ns;   /* 0: bpf_ktime_get_ns(); the simulator sets its virtual clock */
	__u64 syn_window_ns;  /* auto mode window */
	__u16 snat_port_lo;   /* host order, inclusive */
	__u16 snat_port_hi;
	__u8 fail_open;       /* no AF_XDP socket on the queue: 1 XDP_PASS, 0 XDP_DROP */
	__u8 block_maps;      /* XLB_BLOCK_* bits: which blocklist maps hold entries */
	__u16 synack_mss_cap; /* largest MSS the SYN-ACK advertises */
	__u8 sim_redirect;    /* the simulator (BPF_PROG_TEST_RUN, no AF_XDP socket exists):
			       * report what would be redirected as XDP_REDIRECT */
	__u8 syn_pressure;    /* 1: half-open connections hold too many SNAT ports or entries
			       * (the engine's verdict): auto-mode VIPs answer every SYN with a
			       * cookie */
	__u16 nr_cpus;        /* possible CPUs: the width of the per-CPU maps */
	__u8 cluster;         /* 1: this instance is in a cluster; xlb_peer_flows is asked */
	__u8 check_mac;       /* 1: a unicast frame not to local_mac passes untouched */
	__u8 local_mac[6];    /* the interface's MAC (xlbd) */
	__u8 pad[4];
	__u64 src_window_ns;  /* automatic blocking: the per-source window; 0: not measured */
	__u32 src_limit[XLB_SRC_KIND_COUNT];   /* per XLB_SRC_KINDS, in the window; 0: that kind is not judged */
	__u32 pad2;
	/* The blocklist filter's IPv6 part: the prefix lengths IPv6 entries have (any order), how
	 * many (more than XLB_BLOCK_FILTER_LENS: the IPv6 maps are asked for every source), and
	 * its size, 2^block_filter_log2 bits after IPv4's words. */
	__u8 block_lens6[XLB_BLOCK_FILTER_LENS];
	__u8 block_nlens6;
	__u8 block_filter_log2;
	__u8 pad3[6];
	/* A bit per xlb_dest_filter_bit() of every key in xlb_dests: a clear bit answers "not
	 * ours" for the host's own traffic without the hash lookup, a call that costs more than
	 * the whole parse; a set bit may be another address's, and the lookup decides. */
	__u64 dest_filter[XLB_DEST_FILTER_WORDS];
};

/* The bit of xlb_config.dest_filter that stands for a destination: its family and its address
 * bytes as xlb_addr_key holds them, read as two words (unused bytes zero). Two multiplications,
 * the same in the program and the loader. */
static inline __u64 xlb_dest_filter_bit_of(__u64 w0, __u64 w1, __u32 family)
{
	__u64 h = w0 * 0x9e3779b97f4a7c15ULL;

	h ^= w1 + family;
	h *= 0xbf58476d1ce4e5b9ULL;
	return h >> (64 - XLB_DEST_FILTER_LOG2);
}

/* The same for a key: its address as two words, as the program reads them from the packet. */
static inline __u64 xlb_dest_filter_bit(const struct xlb_addr_key *k)
{
	__u64 w[2];

	__builtin_memcpy(w, k->addr, sizeof(w));
	return xlb_dest_filter_bit_of(w[0], w[1], k->family);
}

/* The bit of the IPv6 part of xlb_block_filter that stands for the prefix of `len` bits of an
 * address, given as two host-order words with the address's first bit at the top of `hi`.
 * Every address under the prefix has the same bit, so one probe per prefix length the blocklist
 * holds answers for all of its entries of that length. The same in the program and the loader. */
static inline __u64 xlb_block_filter_bit6(__u32 len, __u64 hi, __u64 lo, __u32 log2)
{
	__u64 h;

	if (len < 64) {
		hi = len ? hi & (~0ULL << (64 - len)) : 0;
		lo = 0;
	} else if (len < 128) {
		lo = len > 64 ? lo & (~0ULL << (128 - len)) : 0;
	}
	h = hi * 0x9e3779b97f4a7c15ULL;
	h ^= lo + len;
	h *= 0xbf58476d1ce4e5b9ULL;
	return h >> (64 - log2);
}

#define XLB_BLOCK_V4_EXACT 0x01
#define XLB_BLOCK_V4_LPM 0x02
#define XLB_BLOCK_V6_EXACT 0x04
#define XLB_BLOCK_V6_LPM 0x08

/*
 * Blocklist: full-length addresses in hash maps (one probe), shorter prefixes in LPM tries.
 * A full-length match is always the longest, so the hash is asked first.
 */
struct xlb_block_val {
	__u64 hits;        /* atomically incremented by XDP */
	__u64 last_hit_ns; /* bpf_ktime_get_ns() of the latest hit */
};

struct xlb_lpm4_key {
	__u32 prefixlen;
	__u8 addr[4];
};

struct xlb_lpm6_key {
	__u32 prefixlen;
	__u8 addr[16];
};

/* xlb_clock (per CPU, one entry): the coarse clock as last read and the jiffies it was read at
 * (lib/clock.h). */
struct xlb_clock {
	__u64 jiffies;
	__u64 ns;
};

/* xlb_stats (per CPU): packets and bytes per reason. */
struct xlb_stat {
	__u64 packets;
	__u64 bytes;
};

/*
 * xlb_decap.bpf.c, the program DSR backends run with encapsulation: ipip: its per-CPU counters
 * (xlb_decap_stats, indexed by these), packets and bytes each.
 */
enum xlb_decap_stat {
	XLB_DECAP_DONE = 0,  /* outer header removed, the inner packet passed to the stack */
	XLB_DECAP_PASS,      /* not encapsulated: passed untouched */
	XLB_DECAP_MALFORMED, /* encapsulated, but the outer or inner header is broken: dropped */
	XLB_DECAP_STAT_COUNT
};

/*
 * A cluster of instances (docs/ARCHITECTURE.md, "Scale-out"): the flows other instances hold,
 * learnt from their flow announcements, so that a flow the router's ECMP moves here is sent on
 * to its holder over the shared segment. Keys name the client side (client -> VIP), ports in
 * network order.
 */
#define XLB_MAX_PEERS 16
#define XLB_PEER_FLOWS_CAPACITY 1000000

struct xlb_flow_key {
	__u8 family;  /* XLB_FAMILY_* */
	__u8 proto;   /* IPPROTO_TCP or IPPROTO_UDP */
	__be16 cport; /* client port */
	__be16 vport; /* VIP port */
	__u16 pad;
	__u8 client[16];
	__u8 vip[16];
};

/* xlb_peers: one entry; slot i is peer i (the value xlb_peer_flows holds). */
struct xlb_peer_mac {
	__u8 mac[6];
	__u8 up;  /* 1: alive and its MAC known; a flow of a peer that is not up stays here */
	__u8 pad;
};

struct xlb_peers {
	struct xlb_peer_mac peer[XLB_MAX_PEERS];
};

#define XLB_SRC_METER_CAPACITY 65536        /* sources measured at once (LRU) */
#define XLB_SRC_EVENTS_BYTES (256 * 1024)   /* the ring of crossings to the control plane */

/* xlb_src_meter (LRU hash keyed by xlb_addr_key of the source): one window's counts. */
struct xlb_src_count {
	__u64 window_start_ns;
	__u32 count[XLB_SRC_KIND_COUNT]; /* per XLB_SRC_KINDS (SYN: SYNs seen) */
	__u32 acks;      /* pure ACKs seen: SYN is judged on count[SYN] - acks */
	__u32 reported;  /* bit per kind: a crossing went out in this window */
	__u32 pad;
};

/* xlb_src_events (ring buffer): a source crossed a kind's limit; once per window and kind. */
struct xlb_src_event {
	struct xlb_addr_key src;
	__u32 kind;      /* XLB_SRC_* */
	__u32 count;     /* what it reached */
};

/*
 * The program's maps (lib/maps.h declares them), in the order both runtimes number them: XdpMap
 * in engine/bpf/include/xlb/xdp_runtime.h and xlb_native_map_id in bpf/native/xlb_native.h are
 * made from this list, as are the names the kernel runtime finds the maps by and the key and
 * value sizes the loader checks. X(ID, Name, object name, key type, value type) for a map with
 * keys; R(ID, Name, object name) for a ring buffer, which has neither.
 */
#define XLB_MAPS(X, R)                                                                   \
	X(CFG, Cfg, xlb_cfg, __u32, struct xlb_config)                                    \
	X(DESTS, Dests, xlb_dests, struct xlb_addr_key, struct xlb_dest)                  \
	X(VIP_PORTS, VipPorts, xlb_vip_ports, __u32, struct xlb_port_bits)                \
	X(SYN_RATE, SynRate, xlb_syn_rate, __u32, struct xlb_syn_rate)                    \
	X(BLOCK4, Block4, xlb_block4, __u32, struct xlb_block_val)                        \
	X(BLOCK4_LPM, Block4Lpm, xlb_block4_lpm, struct xlb_lpm4_key, struct xlb_block_val) \
	X(BLOCK6, Block6, xlb_block6, __u8[16], struct xlb_block_val)                     \
	X(BLOCK6_LPM, Block6Lpm, xlb_block6_lpm, struct xlb_lpm6_key, struct xlb_block_val) \
	X(XSKS, Xsks, xlb_xsks, __u32, __u32)                                             \
	X(STATS, Stats, xlb_stats, __u32, struct xlb_stat)                                \
	X(PEER_FLOWS, PeerFlows, xlb_peer_flows, struct xlb_flow_key, __u32)              \
	X(PEERS, Peers, xlb_peers, __u32, struct xlb_peers)                               \
	X(SRC_METER, SrcMeter, xlb_src_meter, struct xlb_addr_key, struct xlb_src_count)  \
	R(SRC_EVENTS, SrcEvents, xlb_src_events)                                          \
	X(BLOCK_FILTER, BlockFilter, xlb_block_filter, __u32, __u64)                      \
	X(CLOCK, Clock, xlb_clock, __u32, struct xlb_clock)

/* The SYN-ACK the XDP program builds advertises this window scale when the client offers one. */
#define XLB_SYNACK_WSCALE 7
#define XLB_SYNACK_WINDOW 65535

#endif /* XLB_COMMON_H */

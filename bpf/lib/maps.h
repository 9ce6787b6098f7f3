// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The program's maps; layouts are in xlb_common.h, the ABI the loader checks. */
#ifndef XLB_LIB_MAPS_H
#define XLB_LIB_MAPS_H

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xlb_config);
} xlb_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XLB_MAX_DESTS);
	__type(key, struct xlb_addr_key);
	__type(value, struct xlb_dest);
} xlb_dests SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XLB_MAX_VIPS);
	__type(key, __u32);
	__type(value, struct xlb_port_bits);
} xlb_vip_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XLB_MAX_VIPS);
	__type(key, __u32);
	__type(value, struct xlb_syn_rate);
} xlb_syn_rate SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, XLB_BLOCKLIST_DEFAULT_CAPACITY);
	__type(key, __u32);
	__type(value, struct xlb_block_val);
} xlb_block4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, XLB_BLOCKLIST_DEFAULT_CAPACITY);
	__type(key, struct xlb_lpm4_key);
	__type(value, struct xlb_block_val);
} xlb_block4_lpm SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, XLB_BLOCKLIST_DEFAULT_CAPACITY);
	__type(key, struct in6_addr);
	__type(value, struct xlb_block_val);
} xlb_block6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, XLB_BLOCKLIST_DEFAULT_CAPACITY);
	__type(key, struct xlb_lpm6_key);
	__type(value, struct xlb_block_val);
} xlb_block6_lpm SEC(".maps");

/* The blocklist filter, kept by the loader (lib/blocklist.h): IPv4's bit per /24, then IPv6's
 * hashed bits (xlb_block_filter_bit6()), whose size follows the blocklist capacity (the loader
 * sets the entries). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} xlb_block_filter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, XLB_MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} xlb_xsks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XLB_REASON_COUNT);
	__type(key, __u32);
	__type(value, struct xlb_stat);
} xlb_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, XLB_PEER_FLOWS_CAPACITY);
	__type(key, struct xlb_flow_key);
	__type(value, __u32);
} xlb_peer_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xlb_peers);
} xlb_peers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, XLB_SRC_METER_CAPACITY);
	__type(key, struct xlb_addr_key);
	__type(value, struct xlb_src_count);
} xlb_src_meter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, XLB_SRC_EVENTS_BYTES);
} xlb_src_events SEC(".maps");

/* The clock's cache (lib/clock.h). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xlb_clock);
} xlb_clock SEC(".maps");

#endif /* XLB_LIB_MAPS_H */

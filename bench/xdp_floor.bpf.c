// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Reference programs for xlb-bench-xdp, not xlb: how fast a host-traffic pass can be with the
 * duties xlb's has, each written as plainly as the verifier allows, to read xlb's figures
 * against (docs/ARCHITECTURE.md, "How lean the pass can be").
 *
 *   floor_parse:  Ethernet and IPv4 checked, a per-CPU packet and byte counter;
 *   floor_duties: what xlb's pass does for untagged IPv4: the config read, the MAC check, the
 *                 IPv4 header and length checks, the blocklist's /24 bit, the destination
 *                 filter's hash and bit, the counter (tagged and IPv6 frames elided: pass);
 *                 a source whose bit is set is looked up in the exact-match hash, and a hit is
 *                 recorded (count and time, in jiffies) and dropped, as xlb does;
 *   floor_no_block: floor_duties without the blocklist bit.
 *
 * Every IPv4 access is at the constant offset 14, no stage context is kept, and the destination
 * hash is taken from the register the address was loaded into.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

struct floor_cfg {
	__u8 check_mac;
	__u8 block_maps;
	__u8 local_mac[6];
	__u64 dest_filter[64];
};

struct floor_stat {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct floor_cfg);
} floor_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, struct floor_stat);
} floor_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1 << 18);
	__type(key, __u32);
	__type(value, __u64);
} floor_block_filter SEC(".maps");

struct floor_hit {
	__u64 hits;
	__u64 last_jiffies; /* the leanest clock: one load the JIT inlines; xlb keeps ns */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1 << 20);
	__type(key, __u32);
	__type(value, struct floor_hit);
} floor_block4 SEC(".maps");

static __always_inline int count(struct xdp_md *ctx, __u32 reason, int action)
{
	struct floor_stat *s = bpf_map_lookup_elem(&floor_stats, &reason);

	if (s) {
		s->packets++;
		s->bytes += ctx->data_end - ctx->data;
	}
	return action;
}

static __always_inline int duties(struct xdp_md *ctx, int block)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	struct floor_cfg *cfg;
	__u32 zero = 0, hl, tot, a, w;
	struct floor_hit *hit;
	__u64 *word, h;

	cfg = bpf_map_lookup_elem(&floor_cfg, &zero);
	if (!cfg)
		return XDP_PASS;
	if ((void *)(eth + 1) > end)
		return count(ctx, 1, XDP_DROP);
	if (cfg->check_mac && !(eth->h_dest[0] & 1) &&
	    ((*(__u32 *)eth->h_dest ^ *(__u32 *)cfg->local_mac) |
	     (*(__u16 *)(eth->h_dest + 4) ^ *(__u16 *)(cfg->local_mac + 4))))
		return count(ctx, 2, XDP_PASS);
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return count(ctx, 3, XDP_PASS);
	if ((void *)(ip + 1) > end)
		return count(ctx, 4, XDP_DROP);
	if (ip->version != 4)
		return count(ctx, 5, XDP_DROP);
	hl = ip->ihl * 4;
	if (hl < 20)
		return count(ctx, 6, XDP_DROP);
	tot = bpf_ntohs(ip->tot_len);
	if (tot < hl)
		return count(ctx, 7, XDP_DROP);
	if ((void *)ip + tot > end)
		return count(ctx, 4, XDP_DROP);
	if (block && cfg->block_maps) {
		a = bpf_ntohl(ip->saddr);
		w = a >> 14;
		word = bpf_map_lookup_elem(&floor_block_filter, &w);
		if (word && ((*word >> ((a >> 8) & 63)) & 1)) {
			hit = bpf_map_lookup_elem(&floor_block4, &ip->saddr);
			if (hit) {
				__sync_fetch_and_add(&hit->hits, 1);
				hit->last_jiffies = bpf_jiffies64();
				return count(ctx, 8, XDP_DROP);
			}
		}
	}
	h = (__u64)ip->daddr * 0x9e3779b97f4a7c15ULL;
	h ^= 4;
	h *= 0xbf58476d1ce4e5b9ULL;
	h >>= 52;
	if (!((cfg->dest_filter[(h >> 6) & 63] >> (h & 63)) & 1))
		return count(ctx, 9, XDP_PASS);
	return count(ctx, 10, XDP_PASS); /* xlb would look the destination up */
}

SEC("xdp")
int floor_parse(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);

	if ((void *)(ip + 1) > end)
		return count(ctx, 1, XDP_DROP);
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return count(ctx, 3, XDP_PASS);
	if (ip->version != 4 || ip->ihl < 5)
		return count(ctx, 5, XDP_DROP);
	if ((void *)ip + bpf_ntohs(ip->tot_len) > end)
		return count(ctx, 4, XDP_DROP);
	return count(ctx, 9, XDP_PASS);
}

SEC("xdp")
int floor_duties(struct xdp_md *ctx)
{
	return duties(ctx, 1);
}

SEC("xdp")
int floor_no_block(struct xdp_md *ctx)
{
	return duties(ctx, 0);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

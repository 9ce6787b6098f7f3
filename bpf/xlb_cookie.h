/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * xlb's SYN cookie, shared verbatim by the XDP program (which answers SYNs with it) and the C++
 * engine (which validates the ACK that completes the handshake and decodes the client's options).
 *
 * Why our own cookie instead of bpf_tcp_raw_gen_syncookie_ipv4/ipv6: the kernel's helpers use the
 * kernel's secret, so only XDP could check them and the engine would have to trust metadata; they
 * encode the MSS only, not window scale or SACK-permitted, which the SYN proxy needs to open the
 * backend connection with the client's options; and they cannot run in the simulator on a
 * virtual clock. A keyed SipHash-2-4 runs identically in both places, and the key lives in the
 * config map and in the engine.
 *
 * Layout of the 32-bit cookie (our ISN towards the client):
 *   bits 31..8  top 24 bits of SipHash(key, saddr, daddr, ports, client ISN, tick, meta)
 *   bit  7      client sent SACK-permitted
 *   bits 6..3   client window scale (0..14), 15 = none
 *   bits 2..1   MSS index into {536, 1220, 1440, 1460}
 *   bit  0      parity of the tick (now >> 36, ~68.7 s) the cookie was made in
 * The hash covers the meta bits, so none of them can be changed without failing the check. A
 * cookie is accepted in the tick it was made and the next one (68.7 to 137 s).
 */
#ifndef XLB_COOKIE_H
#define XLB_COOKIE_H

#include <linux/types.h>

#ifdef __cplusplus
/* Kernel-style C shared with the BPF program: its implicit conversions are intended. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#ifndef __clang__
#pragma GCC diagnostic ignored "-Wuseless-cast"
#endif
#endif

#define XLB_COOKIE_INLINE static inline __attribute__((always_inline))

#define XLB_COOKIE_TICK_SHIFT 36
#define XLB_COOKIE_NO_WSCALE 15

struct xlb_sip {
	__u64 v0, v1, v2, v3;
};

XLB_COOKIE_INLINE __u64 xlb_rotl64(__u64 x, int b)
{
	return (x << b) | (x >> (64 - b));
}

XLB_COOKIE_INLINE void xlb_sipround(struct xlb_sip *s)
{
	s->v0 += s->v1;
	s->v1 = xlb_rotl64(s->v1, 13);
	s->v1 ^= s->v0;
	s->v0 = xlb_rotl64(s->v0, 32);
	s->v2 += s->v3;
	s->v3 = xlb_rotl64(s->v3, 16);
	s->v3 ^= s->v2;
	s->v0 += s->v3;
	s->v3 = xlb_rotl64(s->v3, 21);
	s->v3 ^= s->v0;
	s->v2 += s->v1;
	s->v1 = xlb_rotl64(s->v1, 17);
	s->v1 ^= s->v2;
	s->v2 = xlb_rotl64(s->v2, 32);
}

XLB_COOKIE_INLINE void xlb_sip_init(struct xlb_sip *s, const __u64 *key)
{
	s->v0 = key[0] ^ 0x736f6d6570736575ULL;
	s->v1 = key[1] ^ 0x646f72616e646f6dULL;
	s->v2 = key[0] ^ 0x6c7967656e657261ULL;
	s->v3 = key[1] ^ 0x7465646279746573ULL;
}

XLB_COOKIE_INLINE void xlb_sip_word(struct xlb_sip *s, __u64 m)
{
	s->v3 ^= m;
	xlb_sipround(s);
	xlb_sipround(s);
	s->v0 ^= m;
}

XLB_COOKIE_INLINE __u64 xlb_sip_final(struct xlb_sip *s, __u64 nwords)
{
	__u64 b = (nwords * 8) << 56;

	s->v3 ^= b;
	xlb_sipround(s);
	xlb_sipround(s);
	s->v0 ^= b;
	s->v2 ^= 0xff;
	xlb_sipround(s);
	xlb_sipround(s);
	xlb_sipround(s);
	xlb_sipround(s);
	return s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
}

XLB_COOKIE_INLINE __u16 xlb_cookie_mss(__u32 idx)
{
	switch (idx & 3) {
	case 0:
		return 536;
	case 1:
		return 1220;
	case 2:
		return 1440;
	default:
		return 1460;
	}
}

/* The largest table MSS not above what the client offered (536 when it offered none). */
XLB_COOKIE_INLINE __u32 xlb_cookie_mss_idx(__u32 mss)
{
	if (mss >= 1460)
		return 3;
	if (mss >= 1440)
		return 2;
	if (mss >= 1220)
		return 1;
	return 0;
}

/* The MSS index a SYN-ACK advertises: the client's, lowered to fit cap (0: no cap). */
XLB_COOKIE_INLINE __u32 xlb_cookie_mss_idx_capped(__u32 mss, __u32 cap)
{
	__u32 idx = xlb_cookie_mss_idx(mss);

	if (cap && xlb_cookie_mss(idx) > cap)
		idx = xlb_cookie_mss_idx(cap);
	return idx;
}

/* wscale: the client's shift, or 0xff when it sent none. RFC 7323 caps the shift at 14. */
XLB_COOKIE_INLINE __u32 xlb_cookie_meta(__u64 tick, __u32 mss_idx, __u32 wscale, __u32 sack)
{
	__u32 ws = wscale == 0xff ? XLB_COOKIE_NO_WSCALE : (wscale > 14 ? 14 : wscale);

	return (tick & 1) | ((mss_idx & 3) << 1) | (ws << 3) | ((sack ? 1 : 0) << 7);
}

/*
 * Addresses and ports are passed as they sit in the packet (network byte order, loaded as
 * native words); the client ISN and the tick in host order.
 */
XLB_COOKIE_INLINE __u32 xlb_cookie4(const __u64 *key, __u32 saddr, __u32 daddr, __u32 ports,
				    __u32 isn, __u64 tick, __u32 meta)
{
	struct xlb_sip s;

	xlb_sip_init(&s, key);
	xlb_sip_word(&s, ((__u64)saddr << 32) | daddr);
	xlb_sip_word(&s, ((__u64)ports << 32) | isn);
	xlb_sip_word(&s, (tick << 8) | meta);
	return ((__u32)(xlb_sip_final(&s, 3) >> 32) & 0xffffff00U) | meta;
}

XLB_COOKIE_INLINE __u32 xlb_cookie6(const __u64 *key, const __u32 *saddr, const __u32 *daddr,
				    __u32 ports, __u32 isn, __u64 tick, __u32 meta)
{
	struct xlb_sip s;

	xlb_sip_init(&s, key);
	xlb_sip_word(&s, ((__u64)saddr[0] << 32) | saddr[1]);
	xlb_sip_word(&s, ((__u64)saddr[2] << 32) | saddr[3]);
	xlb_sip_word(&s, ((__u64)daddr[0] << 32) | daddr[1]);
	xlb_sip_word(&s, ((__u64)daddr[2] << 32) | daddr[3]);
	xlb_sip_word(&s, ((__u64)ports << 32) | isn);
	xlb_sip_word(&s, (tick << 8) | meta);
	return ((__u32)(xlb_sip_final(&s, 6) >> 32) & 0xffffff00U) | meta;
}

/* The tick a cookie with this meta byte was made in, given the current tick. */
XLB_COOKIE_INLINE __u64 xlb_cookie_tick_of(__u32 meta, __u64 now_tick)
{
	return ((now_tick ^ meta) & 1) ? now_tick - 1 : now_tick;
}

#ifdef __cplusplus
#pragma GCC diagnostic pop
#endif

#endif /* XLB_COOKIE_H */

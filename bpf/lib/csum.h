// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Internet checksums over packet bytes, for the SYN answers. */
#ifndef XLB_LIB_CSUM_H
#define XLB_LIB_CSUM_H

#define CSUM_MAX_BYTES 1500

static __always_inline __u16 csum_fold(__u64 sum)
{
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

/*
 * One's-complement sum of len bytes at data + off (loaded as native words, so the result is
 * byte-swapped on little-endian; folding and comparing with 0xffff does not care).
 * len <= CSUM_MAX_BYTES. Sets *ok = 0 when the bytes are not all inside the packet.
 * The offset goes through an empty asm each round so the compiler keeps the bounds check in a
 * shape the verifier can follow.
 */
static __always_inline __u64 csum_bytes(void *data, void *end, __u32 off, __u32 len, int *ok)
{
	__u64 sum = 0;
	__u32 i;

	*ok = 0;
	if (len > CSUM_MAX_BYTES)
		return 0;
	for (i = 0; i < CSUM_MAX_BYTES / 4; i++) {
		__u32 *w;

		if (len < 4)
			break;
		asm volatile("" : "+r"(off));
		if (off > 2048)
			return 0;
		w = data + off;
		if ((void *)(w + 1) > end)
			return 0;
		sum += *w;
		off += 4;
		len -= 4;
	}
	asm volatile("" : "+r"(off));
	if (off > 2048)
		return 0;
	if (len >= 2) {
		__u16 *h = data + off;

		if ((void *)(h + 1) > end)
			return 0;
		sum += *h;
		off += 2;
		len -= 2;
	}
	if (len == 1) {
		__u8 *b;

		asm volatile("" : "+r"(off));
		if (off > 2048)
			return 0;
		b = data + off;
		if ((void *)(b + 1) > end)
			return 0;
		sum += *b; /* the odd byte is the high byte of a zero-padded network word */
	}
	*ok = 1;
	return sum;
}

#define CSUM_BAD ((__u64)-1) /* above any sum of CSUM_MAX_BYTES */

/*
 * The sum of the IPv4 or TCP header of nwords (5..15) 32-bit words at packet offset off, or
 * CSUM_BAD when it is not all inside the packet. Unrolled, every word sits at a constant offset
 * from the header, so there is no variable offset to bound and no loop to run (a SYN answered:
 * 1,614 -> 1,412 instructions, docs/ARCHITECTURE.md). A global function: the verifier checks it
 * once, not once per way into it. Inlined, each header length its unrolled words allow was a
 * state of its own, and the option parser after it was verified once per length, past the
 * verifier's limit.
 */
__noinline __u64 xlb_csum_hdr(struct xdp_md *ctx, __u32 off, __u32 nwords)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 *hdr;
	__u64 sum = 0;
	int i, in = 1;

	if (off > 2048)
		return CSUM_BAD;
	hdr = data + off;
	if ((void *)(hdr + 5) > end)
		return CSUM_BAD;
#pragma unroll
	for (i = 0; i < 5; i++)
		sum += hdr[i];
	/* No break or return inside: a loop with a second exit is not unrolled. */
#pragma unroll
	for (i = 5; i < 15; i++) {
		if (i < nwords) {
			if ((void *)(hdr + i + 1) > end)
				in = 0;
			else
				sum += hdr[i];
		}
	}
	return in ? sum : CSUM_BAD;
}

#endif /* XLB_LIB_CSUM_H */

/* SPDX-License-Identifier: MIT */
/*
 * test_chan.h — shared by the channel tests: the channel format as pshm(7)
 * documents it (for the tests that forge hostile headers or crashed
 * states; kept apart from the library on purpose, so that a library that
 * drifts from its documentation fails them), and self-checking messages.
 */
#ifndef PSHM_TEST_CHAN_H
#define PSHM_TEST_CHAN_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
	CL_MAGIC = 0,          /* u64 "PSHCHAN1" */
	CL_VERSION = 8,        /* u32, 1 */
	CL_RING_OFF = 12,      /* u32 */
	CL_TOTAL = 16,         /* u64 */
	CL_RING_SIZE = 24,     /* u64 */
	CL_MAX_MSG = 32,       /* u32 */
	CL_MODE = 36,          /* u32 */
	CL_MAX_PROD = 40,      /* u32 */
	CL_TAIL = 64,          /* u64 */
	CL_HEAD = 128,         /* u64 */
	CL_RECEIVED = 136,     /* u64 */
	CL_REL_POS = 144,      /* u64 */
	CL_REL_LEN = 152,      /* u64 */
	CL_CONS_WAIT = 192,    /* u32 */
	CL_SPACE_WAIT = 256,   /* u32 */
	CL_SLOTS = 384,        /* 64-byte slots: [0] consumer, [1..] producers */
	CL_SLOT_OWNER = 0,     /* u64 pid | state << 32 */
	CL_SLOT_START = 8,     /* u64 */
	CL_SLOT_IPOS = 16,     /* u64 */
	CL_SLOT_ILEN = 24,     /* u64 */
};

#define CL_IDLE UINT64_MAX
enum { CL_R_EMPTY = 0, CL_R_BUSY = 1, CL_R_MSG = 2, CL_R_PAD = 3, CL_R_DEAD = 4 };

static inline uint64_t *cl_u64(void *base, uint64_t off)
{
	return (uint64_t *)((char *)base + off);
}

static inline uint32_t *cl_u32(void *base, uint64_t off)
{
	return (uint32_t *)((char *)base + off);
}

static inline uint64_t cl_slot(unsigned i, unsigned field)
{
	return CL_SLOTS + 64 * (uint64_t)i + field;
}

/* A record header word for position @pos of a ring of 2^@shift bytes. */
static inline uint64_t cl_rec(unsigned type, uint64_t len, unsigned slot, uint64_t pos,
			      unsigned shift)
{
	return len | (uint64_t)type << 32 | (uint64_t)slot << 36 | ((pos >> shift) & 0xffff) << 48;
}

/* ---- self-checking messages: producer id, sequence number, checksum ---- */

struct tc_hdr {
	uint32_t producer;
	uint32_t len; /* payload bytes after this header */
	uint64_t seq;
	uint32_t sum;
	uint32_t pad;
};

static inline uint32_t tc_fnv(const unsigned char *p, size_t n, uint32_t h)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static inline uint32_t tc_rnd(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(*s >> 33);
}

/* Build message @seq of @producer (at most @max bytes) in @buf; returns
 * its length. The same (producer, seq) always gives the same message. */
static inline size_t tc_make(unsigned char *buf, unsigned producer, uint64_t seq, size_t max)
{
	uint64_t s = seq * 7919 + producer;
	struct tc_hdr h = { .producer = producer, .seq = seq };
	h.len = tc_rnd(&s) % (uint32_t)(max - sizeof(h) + 1);
	unsigned char *pl = buf + sizeof(h);
	for (uint32_t i = 0; i < h.len; i++)
		pl[i] = (unsigned char)tc_rnd(&s);
	h.sum = tc_fnv(pl, h.len, 2166136261u ^ producer ^ (uint32_t)seq);
	memcpy(buf, &h, sizeof(h));
	return sizeof(h) + h.len;
}

/* Check a message's integrity: 0 and its header in *h, or -1 if torn. */
static inline int tc_check(const unsigned char *buf, size_t len, unsigned nprod, struct tc_hdr *h)
{
	if (len < sizeof(*h))
		return -1;
	memcpy(h, buf, sizeof(*h));
	if (h->producer >= nprod || sizeof(*h) + h->len != len)
		return -1;
	return h->sum == tc_fnv(buf + sizeof(*h), h->len, 2166136261u ^ h->producer ^ (uint32_t)h->seq)
		       ? 0 : -1;
}

/*
 * Forge, in the empty file @fd, a sparse "channel" as a hostile user could
 * plant it: a valid header claiming a ring of 2^@shift bytes (@mode, 1 or
 * 64 producer slots) with head 0 and tail at the end of the ring, and
 * @nrec message records of 2^@rshift bytes each from position 0, the rest
 * of the ring left a hole. Only the header page and one page per record
 * are allocated. Returns 0, or -1 with errno.
 */
static inline int cl_forge_sparse(int fd, unsigned mode, unsigned shift, unsigned rshift,
				  unsigned nrec)
{
	uint64_t ring = (uint64_t)1 << shift, nprod = mode ? 64 : 1;
	uint64_t off = (CL_SLOTS + (nprod + 1) * 64 + 4095) & ~(uint64_t)4095;
	unsigned char h[CL_SLOTS] = { 0 };
	memcpy(h + CL_MAGIC, "PSHCHAN1", 8);
	*(uint32_t *)(h + CL_VERSION) = 1;
	*(uint32_t *)(h + CL_RING_OFF) = (uint32_t)off;
	*(uint64_t *)(h + CL_TOTAL) = off + ring;
	*(uint64_t *)(h + CL_RING_SIZE) = ring;
	*(uint32_t *)(h + CL_MAX_MSG) = (uint32_t)(ring / 4);
	*(uint32_t *)(h + CL_MODE) = mode;
	*(uint32_t *)(h + CL_MAX_PROD) = (uint32_t)nprod;
	*(uint64_t *)(h + CL_TAIL) = ring;
	*(uint64_t *)(h + CL_REL_POS) = CL_IDLE;
	if (pwrite(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h) || ftruncate(fd, (off_t)(off + ring)))
		return -1;
	for (uint64_t i = 0; i < nrec; i++) {
		uint64_t pos = i << rshift;
		uint64_t w = cl_rec(CL_R_MSG, ((uint64_t)1 << rshift) - 8, 0, pos, shift);
		if (pwrite(fd, &w, 8, (off_t)(off + pos)) != 8)
			return -1;
	}
	return 0;
}

#endif

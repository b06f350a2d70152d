/*
 * test_chan_layout.h — the channel format as pshm(7) documents it, for the
 * tests that forge hostile headers or crashed states. Kept apart from the
 * library on purpose: if the library drifts from its documentation, these
 * tests notice.
 */
#ifndef PSHM_TEST_CHAN_LAYOUT_H
#define PSHM_TEST_CHAN_LAYOUT_H

#include <stdint.h>

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

#endif

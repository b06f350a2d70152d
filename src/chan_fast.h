/* SPDX-License-Identifier: MIT */
/*
 * chan_fast.h — the channel fast path, inline, shared by the single
 * operations (chan.c) and the batches (chan_batch.c). What runs per message
 * is here; each piece calls out of line (chan.c) for its slow case, so the
 * fast path saves no registers for it and reads no clock.
 */
#ifndef PSHM_CHAN_FAST_H
#define PSHM_CHAN_FAST_H

#include <string.h>

#include "chan.h"
#include "smallcopy.h"

#define NOINLINE __attribute__((noinline))
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#define ALWAYS_INLINE inline __attribute__((always_inline))

/* The slow cases (chan.c). */
void pshm__chan_touch_slow(pshm_chan *ch);
/* MPSC: wipe and release up to @end. */
void pshm__chan_mpsc_release_to(pshm_chan *ch, uint64_t end);
/* The record at head is not a plain message: step over PAD and DEAD
 * records; 1 and the header in ch->slow_w for a message, 0, or -EBADMSG. */
int pshm__chan_poll_slow(pshm_chan *ch);
/* Nothing at head yet: wait as @timeout says; the header in ch->slow_w. */
int pshm__chan_cons_wait(pshm_chan *ch, int64_t timeout);
/* The claim did not fit at once: claim @span bytes, waiting as @timeout
 * says; the position in ch->slow_pos. */
int pshm__chan_claim_slow(pshm_chan *ch, uint64_t span, int64_t timeout);

/* ---- the consumer ------------------------------------------------------- */

static ALWAYS_INLINE void touch(pshm_chan *ch)
{
	if (UNLIKELY(--ch->touch_left == 0))
		pshm__chan_touch_slow(ch);
}

static ALWAYS_INLINE void release_to(pshm_chan *ch, uint64_t end, uint64_t n)
{
	struct chan_hdr *h = ch->h;
	if (ch->mode == PSHM_CHAN_MPSC)
		pshm__chan_mpsc_release_to(ch, end);
	ch->head = end;
	STORE_REL(&h->head, end);
	if (n) {
		ch->received += n;
		STORE(&h->received, ch->received);
	}
	wake_producers(ch);
}

/* The header of a current message at @p, without the full check? */
static inline bool msg_ok(const pshm_chan *ch, uint64_t p, uint64_t w)
{
	/* Type MSG, no slot, this lap's tag: the upper half in one compare. */
	uint64_t want = (uint64_t)R_MSG | lap_tag(ch, p) << 16;
	return (w >> 32) == want && rec_len(w) <= ch->max_msg &&
	       align8(8 + (uint64_t)rec_len(w)) <= ch->ring_size - (p & ch->mask);
}

static ALWAYS_INLINE int cons_poll(pshm_chan *ch, uint64_t *wp)
{
	uint64_t w = LOAD_ACQ(hdr_at(ch, ch->head));
	if (w == 0)
		return 0;
	if (LIKELY(msg_ok(ch, ch->head, w))) {
		*wp = w;
		return 1;
	}
	int r = pshm__chan_poll_slow(ch);
	*wp = ch->slow_w;
	return r;
}

/* The next message's header into *wp, waiting as @timeout says. */
static ALWAYS_INLINE int cons_first(pshm_chan *ch, int64_t timeout, uint64_t *wp)
{
	if (ch->peeked) {
		*wp = ch->peek_w;
		return 0;
	}
	int r = cons_poll(ch, wp);
	if (UNLIKELY(r <= 0)) {
		r = r < 0 ? r : pshm__chan_cons_wait(ch, timeout);
		*wp = ch->slow_w;
	} else {
		r = 0;
	}
	return r;
}

/* ---- producers ---------------------------------------------------------- */

/* @spsc: ch->mode == PSHM_CHAN_SPSC, passed as a constant where the
 * caller knows it, so that the compiler drops the other case (the mode is
 * otherwise loaded again after every store through the ring, which may
 * alias the handle). */
static ALWAYS_INLINE void flush(pshm_chan *ch, bool spsc)
{
	if (spsc)
		STORE(&ch->h->tail, ch->tail);
	wake_consumer(ch);
}

/* Reserve @span bytes for a record: its position in *pos. The SPSC case
 * with room known and no wrap is inline. */
static ALWAYS_INLINE int claim(pshm_chan *ch, uint64_t span, int64_t timeout, uint64_t *pos, bool spsc)
{
	if (spsc) {
		uint64_t t = ch->tail;
		if (LIKELY((t & ch->mask) + span <= ch->ring_size &&
			   t + span + 8 <= ch->head_seen + ch->ring_size)) {
			*pos = t;
			return 0;
		}
	}
	int r = pshm__chan_claim_slow(ch, span, timeout);
	*pos = ch->slow_pos;
	return r;
}

/* Publish the message of @len bytes written at @pos (a claim of @span). */
static ALWAYS_INLINE void commit(pshm_chan *ch, uint64_t pos, uint64_t span, uint32_t len, bool spsc)
{
	uint64_t used = align8(8 + (uint64_t)len);
	if (spsc) {
		/* The header slot after the full claim was zeroed already; a
		 * shortened message needs its own. */
		if (used < span)
			STORE(hdr_at(ch, pos + used), 0);
		STORE_REL(hdr_at(ch, pos), rec_make(ch, R_MSG, len, 0, pos));
		ch->tail = pos + used;
		return;
	}
	/* MPSC: the claim's size is fixed; a shortened message leaves a PAD. */
	if (used < span)
		STORE(hdr_at(ch, pos + used), rec_make(ch, R_PAD, span - used, 0, pos + used));
	STORE_REL(hdr_at(ch, pos), rec_make(ch, R_MSG, len, 0, pos));
	STORE(&slot_at(ch, ch->slot)->ipos, IDLE);
}

/*
 * Copy (the part past the first line of) a message body into the ring:
 * inline up to 64 bytes, memcpy() up to PSHM_COPY_LARGE_MIN, and above
 * that the method this process chose (tune.c).
 */
static ALWAYS_INLINE void copy_in(unsigned char *dst, const unsigned char *src, size_t len)
{
	if (len <= 64)
		pshm__copy_small(dst, src, len);
	else if (len < PSHM_COPY_LARGE_MIN || !pshm__tune_copy_loop)
		memcpy(dst, src, len);
	else
		pshm__copy_loop(dst, src, len);
}

static ALWAYS_INLINE void put(pshm_chan *ch, uint64_t pos, uint64_t span, const void *msg, size_t len,
		       bool spsc)
{
	unsigned char *rec = ch->ring + (pos & ch->mask);
	/* The record's first cache line, which the consumer polls, is written
	 * last and in one burst (header included, by commit), so it moves to
	 * the consumer once, complete; the rest of the record, and in SPSC
	 * the next header slot, are written before it. */
	size_t first = 56 - ((uintptr_t)rec & 63);
	if (len > first)
		copy_in(rec + 8 + first, (const unsigned char *)msg + first, len - first);
	if (spsc)
		STORE(hdr_at(ch, pos + span), 0);
	pshm__copy_small(rec + 8, msg, len < first ? len : first);
	commit(ch, pos, span, (uint32_t)len, spsc);
}

#endif

/* SPDX-License-Identifier: MIT */
/*
 * chan.h — channels: lock-free rings of variable-size messages in a segment,
 * one consumer and one (SPSC) or many (MPSC) producers. Private to the
 * channel files: chan.c (the fast path: send, receive, wait), chan_open.c
 * (create, attach, recovery, close), chan_peer.c (who is attached, and
 * alive), chan_stat.c (describing a channel without joining it).
 *
 * Layout (all little-endian, 64-byte lines; pshm(7) has the full story):
 *   line 0   constants written once by the creator (magic, version, sizes)
 *   line 1   tail: the producers' reservation index
 *   line 2   head: the consumer's release index, its release intent
 *   line 3   cons_wait: futex word, 1 while the consumer may sleep
 *   line 4   space_wait: futex word, 1 while a producer may sleep
 *   line 5   attach counters, need_fence
 *   slots    one line per peer: [0] the consumer, [1..max_producers]
 *   ring     at ring_off (page aligned), ring_size bytes, a power of two
 *
 * head and tail are byte positions that only grow (64 bits never wrap); a
 * position's offset in the ring is pos & (ring_size - 1). A record starts
 * on an 8-byte boundary with one 64-bit header word and never crosses the
 * end of the ring (a PAD record fills the rest of a lap instead):
 *   bits 0-31 length (MSG: payload bytes; BUSY/PAD/DEAD: the record's span)
 *   bits 32-35 type: 0 EMPTY, 1 BUSY, 2 MSG, 3 PAD, 4 DEAD
 *   bits 36-47 producer slot (BUSY only)
 *   bits 48-63 lap tag: (pos / ring_size) mod 2^16, a check against stale
 *              or misplaced headers
 * A record is published by storing its header last, with release ordering;
 * the consumer polls the header at head with acquire ordering.
 *
 * The consumer must never mistake stale bytes of an earlier lap for a
 * header. SPSC: before publishing a record the producer zeroes the header
 * slot that follows it (it reserves those 8 bytes), so the word after the
 * last published record is always 0, and the consumer never clears
 * anything: a release is one store of head, at any size. MPSC: producers
 * claim space by CAS on tail, so no producer may write beyond its own
 * claim, and a claimed record's header is stale until its producer writes
 * BUSY there; instead the consumer wipes every record it releases, so all
 * free space reads as zeros (Agrona's many-to-one ring does the same).
 * SPSC producers store tail once per send or batch: records past tail
 * are published already (their headers say so); see spsc_recover().
 *
 * Crashes. MPSC producers write their intent (position, length) into their
 * slot before the CAS, and a BUSY header naming their slot right after it.
 * A consumer stuck on an unfinished record checks, on its slow path, whether
 * the owner is dead (its slot's liveness lock is free: live.c; no PID is
 * involved) and then turns the record into DEAD, which is skipped and
 * wiped like PAD.
 * The consumer records a release intent before wiping so that a successor
 * can finish a release cut short by a crash. A message is never delivered
 * in part: its header is written only when the message is complete.
 *
 * Everything read from the segment is untrusted: the constants are read
 * once and validated at attach time, indices and headers are validated at
 * each read, and every loop is bounded.
 */
#ifndef PSHM_CHAN_H
#define PSHM_CHAN_H

#include <limits.h>
#include <stdint.h>

#include "guard.h"
#include "shared.h"

#define CHAN_VERSION 1u
#define RING_MIN ((uint64_t)PSHM_CHAN_RING_MIN)
#define RING_MAX ((uint64_t)PSHM_CHAN_RING_MAX)
#define RING_DEFAULT ((uint64_t)PSHM_CHAN_RING_DEFAULT)
#define PROD_MAX PSHM_CHAN_MAX_PRODUCERS
#define PROD_DEFAULT PSHM_CHAN_MAX_PRODUCERS
#define CHECK_NS INT64_C(20000000)  /* peers are re-checked every 20 ms of waiting */
#define IDLE UINT64_MAX             /* an intent slot holding no claim */
#define CLAIM_TRIES 100000u          /* CAS attempts before giving up for now */

enum { R_EMPTY = 0, R_BUSY = 1, R_MSG = 2, R_PAD = 3, R_DEAD = 4 };

struct chan_hdr {
	/* line 0: written once, before the name appears */
	uint64_t magic;
	uint32_t version;
	uint32_t ring_off;
	uint64_t total_size;
	uint64_t ring_size;
	uint32_t max_msg;
	uint32_t mode;
	uint32_t max_producers;
	uint32_t reserved0;
	uint8_t pad0[16];
	/* line 1: producers */
	uint64_t tail;
	uint8_t pad1[56];
	/* line 2: the consumer */
	uint64_t head;
	uint64_t received;
	uint64_t rel_pos;
	uint64_t rel_len;
	uint8_t pad2[32];
	/* line 3 */
	uint32_t cons_wait;
	uint8_t pad3[60];
	/* line 4 */
	uint32_t space_wait;
	uint8_t pad4[60];
	/* line 5: rarely written */
	uint64_t prod_attaches;
	uint64_t cons_attaches;
	uint32_t need_fence;
	uint8_t pad5[44];
};

struct chan_slot {
	uint64_t owner; /* pid | state << 32 | generation << 40; state 0: free */
	uint64_t start; /* 0 (older versions: a start time; unused) */
	uint64_t ipos;  /* MPSC producer: position being claimed, or IDLE */
	uint64_t ilen;  /* its length */
	uint8_t pad[32];
};

_Static_assert(sizeof(struct chan_hdr) == 6 * LINE, "header is six cache lines");
_Static_assert(sizeof(struct chan_slot) == LINE, "a slot is one cache line");

struct pshm_chan {
	pshm_seg *seg; /* NULL for pshm__chan_attach_mem() */
	struct chan_hdr *h;
	struct chan_slot *slots;
	unsigned char *ring;
	uint64_t ring_size, mask;
	unsigned shift;
	uint32_t max_msg;
	unsigned mode, nprod, role, slot;
	bool detached;  /* no peer table: every peer counts as gone */
	int lock_fd;    /* the segment's file, for liveness locks; -1 if none */
	bool self_fence; /* this process cannot use membarrier */
	bool mb;        /* sleep with membarrier rather than a fence */
	unsigned wait;
	uint64_t spin_ns;
	int64_t next_check;
	bool seen_peer;
	struct pshm__zone zone; /* the SIGBUS zone over the mapping (guard.h) */
	unsigned touch_left; /* operations before the next look at the clock */
	int64_t touched_sec; /* CLOCK_MONOTONIC_COARSE second of the last mtime update */
	bool peer_gone;     /* the last check found the peers gone... */
	uint64_t gone_mark; /* ...and the other side's attach count then */
	uint64_t owners0[PROD_MAX + 1]; /* the other side's slots when we attached */
	/* producer */
	uint64_t tail;      /* SPSC: where the next record goes */
	uint64_t head_seen; /* the last head read: free space is at least this */
	bool resv;
	uint64_t resv_pos, resv_span;
	uint64_t slow_pos;  /* where claim_slow() puts the claim (chan.c) */
	uint32_t resv_len;
	/* consumer */
	uint64_t head;
	uint64_t received;
	uint64_t received0;  /* received when we attached */
	bool peeked;
	uint64_t peek_w;    /* the first peeked message's header */
	uint64_t peek_end;  /* the position after the last peeked message */
	uint64_t peek_n;    /* how many were peeked */
	uint64_t slow_w;    /* where cons_wait() puts the header (chan.c) */
};

/* Run expr in the channel's SIGBUS zone (guard.h): -EFAULT instead when
 * the mapping faults, then or before (see the public operations in chan.c). */
#define CHAN_GUARDED(ret, ch, expr)                                              \
	do {                                                                     \
		struct pshm__zone *zprev_ = pshm__zone_enter(&(ch)->zone);       \
		(ret) = (expr);                                                  \
		pshm__zone_leave(zprev_);                                        \
		if (__builtin_expect((ch)->zone.faulted, 0))                     \
			(ret) = -EFAULT;                                         \
	} while (0)

/* ---- records ------------------------------------------------------------ */

static inline uint64_t align8(uint64_t n)
{
	return (n + 7) & ~(uint64_t)7;
}

static inline uint64_t *hdr_at(const pshm_chan *ch, uint64_t pos)
{
	return (uint64_t *)(ch->ring + (pos & ch->mask));
}

static inline uint64_t lap_tag(const pshm_chan *ch, uint64_t pos)
{
	return (pos >> ch->shift) & 0xffff;
}

static inline uint64_t rec_make(const pshm_chan *ch, unsigned type, uint64_t len, unsigned slot,
				uint64_t pos)
{
	return len | (uint64_t)type << 32 | (uint64_t)(slot & 0xfff) << 36 | lap_tag(ch, pos) << 48;
}

static inline uint32_t rec_len(uint64_t w) { return (uint32_t)w; }
static inline unsigned rec_type(uint64_t w) { return (unsigned)(w >> 32) & 0xf; }
static inline unsigned rec_slot(uint64_t w) { return (unsigned)(w >> 36) & 0xfff; }

static inline struct chan_slot *slot_at(const pshm_chan *ch, unsigned i)
{
	return &ch->slots[i];
}

/*
 * Validate the header word @w found at @pos and give the record's span.
 * Anything a correct peer cannot have written is -EBADMSG. Static, not
 * inline: each file's compiler decides (chan.c's inlines it in the poll).
 */
static __attribute__((unused)) int rec_check(const pshm_chan *ch, uint64_t pos, uint64_t w,
					     uint64_t *span)
{
	uint64_t room = ch->ring_size - (pos & ch->mask);
	unsigned type = rec_type(w);
	uint64_t len = rec_len(w);
	if ((w >> 48) != lap_tag(ch, pos))
		return -EBADMSG;
	if (rec_slot(w) && type != R_BUSY)
		return -EBADMSG;
	switch (type) {
	case R_MSG:
		if (len > ch->max_msg)
			return -EBADMSG;
		*span = align8(8 + len);
		break;
	case R_BUSY:
		if (ch->mode != PSHM_CHAN_MPSC || rec_slot(w) == 0 || rec_slot(w) > ch->nprod)
			return -EBADMSG;
		/* fall through */
	case R_PAD:
	case R_DEAD:
		if (len < 8 || (len & 7))
			return -EBADMSG;
		*span = len;
		break;
	default:
		return -EBADMSG;
	}
	return *span <= room ? 0 : -EBADMSG;
}

/* ---- waking and sleeping ------------------------------------------------ */

static inline void waker_barrier(const pshm_chan *ch)
{
	pshm__waker_barrier(ch->self_fence, &ch->h->need_fence);
}

static inline void wake(const pshm_chan *ch, uint32_t *flag, int n)
{
	pshm__wake_flag(ch->self_fence, &ch->h->need_fence, flag, n);
}

static inline void wake_consumer(const pshm_chan *ch)
{
	wake(ch, &ch->h->cons_wait, 1);
}

static inline void wake_producers(const pshm_chan *ch)
{
	wake(ch, &ch->h->space_wait, INT_MAX);
}

/* ---- layout ------------------------------------------------------------- */

/* Where the ring starts: after the header and @nprod + 1 slots, page aligned. */
static inline uint64_t ring_offset(unsigned nprod)
{
	uint64_t n = sizeof(struct chan_hdr) + (uint64_t)(nprod + 1) * sizeof(struct chan_slot);
	return (n + 4095) & ~(uint64_t)4095;
}

/* A handle over the channel at [addr, addr + size), its constants read
 * once and checked (-EPROTO otherwise); nothing is claimed (chan_open.c). */
int pshm__chan_new(void *addr, size_t size, unsigned role, bool detached, pshm_chan **out);

/* ---- peers (chan_peer.c) ------------------------------------------------ */

/* The slots of the other side: [first, last]. */
static inline void peer_range(const pshm_chan *ch, unsigned *first, unsigned *last)
{
	*first = ch->role == PSHM_CONSUMER ? 1 : 0;
	*last = ch->role == PSHM_CONSUMER ? ch->nprod : 0;
}

/* Is the owner of slot @i, whose owner word is @o, alive? Asked through
 * @fd (the segment's file; -1: nobody is): its liveness lock (live.c). */
bool pshm__chan_owner_alive(int fd, unsigned i, uint64_t o);
/* Is the owner of slot @i alive? Never, for a detached handle. */
bool pshm__chan_slot_alive(const pshm_chan *ch, unsigned i);
/* Is any producer alive? */
bool pshm__chan_producers_alive(const pshm_chan *ch);
/* Has a peer attached since we did? (Its claim changed an owner word.) */
bool pshm__chan_peer_came(const pshm_chan *ch);
/* Take a slot for our role and its liveness lock: -EBUSY when the one
 * slot of the role is held by a live process, -EUSERS when every MPSC
 * producer slot is, -ENOLCK (or the lock's -errno) when the filesystem
 * refuses liveness locks. */
int pshm__chan_claim_slot(pshm_chan *ch);
/* Give our slot back, keeping its generation. */
void pshm__chan_slot_free(pshm_chan *ch);

/* ---- shared by chan.c and chan_batch.c --------------------------------- */

#define TOUCH_EVERY 1024u /* operations between two looks at the clock */

/* Producer: claim @span bytes, waiting as @timeout says (0: not at all). */
int pshm__chan_claim(pshm_chan *ch, uint64_t span, int64_t timeout, uint64_t *pos);
/* Producer: write the message @msg of @len bytes into the claim at @pos of
 * @span bytes and publish its header; tail and the wake come with flush. */
void pshm__chan_put(pshm_chan *ch, uint64_t pos, uint64_t span, const void *msg, size_t len);
/* Producer: store tail (SPSC) and wake a sleeping consumer. */
void pshm__chan_flush(pshm_chan *ch);
/* Consumer: the header of the message at head into *wp, waiting as
 * @timeout says; PAD and DEAD records on the way are released. */
int pshm__chan_first(pshm_chan *ch, int64_t timeout, uint64_t *wp);
/* Consumer: what is at position @p (head < p < head + ring_size), taking
 * nothing: 1 and the header in *wp for a message, 2 and its span in *spanp
 * for PAD or DEAD, 0 for nothing (yet), or -EBADMSG. */
int pshm__chan_look(const pshm_chan *ch, uint64_t p, uint64_t *wp, uint64_t *spanp);
/* Consumer: release everything before @end, @n messages, and wake a
 * sleeping producer. */
void pshm__chan_release_to(pshm_chan *ch, uint64_t end, uint64_t n);
/* The operation counter behind the mtime (see touch() in chan.c). */
void pshm__chan_touch(pshm_chan *ch);

/* ---- per-process speed choices (tune.c) --------------------------------- */

/* pshm__tune_init() and pshm__tune_spin_ns() are in internal.h (topics
 * and services wait with the same spin). */
/* Nonzero: copy message bodies of PSHM_COPY_LARGE_MIN bytes or more with
 * pshm__copy_loop() rather than memcpy(). Written once, before the first
 * attach returns. */
extern int pshm__tune_copy_loop PSHM__HIDDEN;
/* Copy @len bytes with 16-byte loads and stores (memcpy() where the
 * target has no SSE2). */
void pshm__copy_loop(unsigned char *dst, const unsigned char *src, size_t len);

/* ---- the consumer's recovery (chan.c, chan_open.c) ---------------------- */

/* Finish a release that a dead consumer started (see cons_release). */
void pshm__chan_finish_release(pshm_chan *ch);
/* MPSC slow path: turn an unfinished record whose owner is dead into DEAD.
 * 1 when something changed, 0 when not, or -EBADMSG/-EPROTO. */
int pshm__chan_resolve_head(pshm_chan *ch);

#endif

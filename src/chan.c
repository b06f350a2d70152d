/* SPDX-License-Identifier: MIT */
/*
 * chan.c — the channel fast path: sending, receiving, waiting. The layout,
 * the record format and the crash rules are described in chan.h; batches
 * are in chan_batch.c, the per-process speed choices in tune.c.
 *
 * What runs per message is inline and short; everything else (waiting,
 * peer checks, the clock, unusual records, recovery) is out of line, so
 * the fast path saves no registers for it and reads no clock.
 */
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "chan_fast.h"

#if defined(__SANITIZE_THREAD__)
uint64_t pshm__fence_word;
#endif


/* ---- waking and sleeping ------------------------------------------------ */

/* What a waiting side is waiting for, tested without side effects. */
typedef bool (*ready_fn)(const pshm_chan *ch, uint64_t arg);

struct waiter {
	int64_t timeout, deadline, spin_end;
	bool started;
};

static int cons_check(pshm_chan *ch);
static int prod_check(pshm_chan *ch);

/*
 * Poll @ready a few hundred times. Mostly plain loads: a PAUSE costs about
 * as much as the cache-line transfer being waited for, so one in eight
 * polls pauses, enough to leave an SMT sibling its share (figures:
 * bench/RESULTS.md, "Measurements behind the code").
 */
static inline __attribute__((always_inline)) void spin(const pshm_chan *ch, ready_fn ready,
						       uint64_t arg)
{
	for (unsigned i = 1; i <= 256; i++) {
		if (ready(ch, arg))
			return;
		if (!(i & 7))
			pshm__cpu_relax();
	}
}

/* How many peers of the other role have ever attached. */
static inline uint64_t peer_attaches(const pshm_chan *ch)
{
	return LOAD(ch->role == PSHM_CONSUMER ? &ch->h->prod_attaches : &ch->h->cons_attaches);
}

/* Sleep on @flag until woken, or until the deadline or the next peer check. */
static int sleep_on(pshm_chan *ch, struct waiter *wt, uint32_t *flag, ready_fn ready,
		    uint64_t arg, int64_t now)
{
	STORE(flag, 1);
	/* Dekker with the waker: flag store, full barrier, condition load. */
	if (ch->mb && !pshm__membarrier()) {
		/* membarrier failed: from now on the wakers must fence
		 * themselves (this sleep is still bounded by the next check). */
		ch->mb = false;
		STORE_REL(&ch->h->need_fence, 1);
		FULL_FENCE();
	} else if (!ch->mb) {
		FULL_FENCE();
	}
	bool mine = flag == &ch->h->cons_wait;
	if (ready(ch, arg)) {
		if (mine)
			STORE(flag, 0);
		return 0;
	}
	int64_t until = wt->deadline < ch->next_check ? wt->deadline : ch->next_check;
	int r = pshm__futex_wait(flag, 1, until > now ? until - now : 0);
	/* Only the consumer may clear its own flag: several producers share
	 * theirs, and the consumer clears that one when it wakes them. */
	if (mine)
		STORE(flag, 0);
	return r == -EINTR ? -EINTR : 0;
}

/*
 * Traffic goes through the mapping, which does not change the file's mtime
 * on tmpfs, so a channel busy all day would look untouched since its
 * creation and `pshm gc` would take it for abandoned whenever no process
 * happens to be attached (between two `pshm send` runs, say). Each handle
 * sets the mtime at most once per second of CLOCK_MONOTONIC_COARSE, and
 * looks at that clock only off the fast path: when it starts waiting, and
 * once every TOUCH_EVERY operations (a counter). Best effort: a failure
 * changes nothing, errno included.
 */
NOINLINE void pshm__chan_touch_slow(pshm_chan *ch)
{
	struct timespec ts;
	ch->touch_left = TOUCH_EVERY;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	if (ts.tv_sec == ch->touched_sec || !ch->seg)
		return;
	ch->touched_sec = ts.tv_sec;
	int e = errno;
	futimens(pshm_seg_fd(ch->seg), NULL);
	errno = e;
}


void pshm__chan_touch(pshm_chan *ch)
{
	touch(ch);
}

/*
 * One step of waiting for @ready: spin (up to spin_ns, or for ever when
 * polling), re-check the peers every CHECK_NS, then sleep on @flag.
 * Returns 0 when the caller should look again, or -EAGAIN (timeout 0),
 * -ETIMEDOUT, -EPIPE, -EINTR, -EPROTO/-EBADMSG, -EFAULT (the mapping
 * faulted: what is read now is zeros, see guard.h).
 */
static inline __attribute__((always_inline)) int
wait_step(pshm_chan *ch, struct waiter *wt, uint32_t *flag, ready_fn ready, uint64_t arg)
{
	if (ch->zone.faulted)
		return -EFAULT;
	int64_t now = pshm__now_ns();
	if (!wt->started) {
		wt->started = true;
		wt->deadline = wt->timeout > 0 && wt->timeout < INT64_MAX - now ? now + wt->timeout
										 : INT64_MAX;
		wt->spin_end = now + (ch->spin_ns > INT64_MAX / 2 ? INT64_MAX / 2 : (int64_t)ch->spin_ns);
		pshm__chan_touch_slow(ch);
	}
	bool polling = ch->wait == PSHM_WAIT_POLL;
	if (wt->timeout != 0 && now < wt->deadline &&
	    (polling ? now < ch->next_check : now < wt->spin_end)) {
		spin(ch, ready, arg);
		return 0;
	}
	if (now >= ch->next_check || (ch->peer_gone && peer_attaches(ch) != ch->gone_mark)) {
		ch->next_check = now + CHECK_NS;
		/* The count before the check: a peer attaching during it (slot
		 * first, count after) then shows as a change, not as gone. */
		uint64_t mark = peer_attaches(ch);
		int r = ch->role == PSHM_CONSUMER ? cons_check(ch) : prod_check(ch);
		ch->peer_gone = r == -EPIPE;
		ch->gone_mark = mark;
		if (r)
			return r > 0 ? 0 : r;
	} else if (ch->peer_gone) {
		/* Between checks, the verdict stands unless a peer attached. */
		return -EPIPE;
	}
	if (wt->timeout == 0)
		return -EAGAIN;
	if (now >= wt->deadline)
		return -ETIMEDOUT;
	if (polling)
		return 0;
	return sleep_on(ch, wt, flag, ready, arg, now);
}

/* ---- the consumer ------------------------------------------------------- */

/*
 * MPSC: wipe @len bytes of released records at @pos, header last, so free
 * space reads as zeros (see chan.h). SPSC never wipes: the producer zeroes
 * the header slot after each record, which is all the consumer needs, and
 * a release then costs the same at every size.
 */
static void wipe(pshm_chan *ch, uint64_t pos, uint64_t len)
{
	unsigned char *r = ch->ring + (pos & ch->mask);
	pshm__clear(r + 8, len - 8);
	STORE((uint64_t *)r, 0);
}

/* MPSC: wipe and release up to @end, a lap's end at a time. A consumer
 * killed mid-wipe leaves its intent; the next one finishes the release
 * instead of delivering a half-wiped record. */
NOINLINE void pshm__chan_mpsc_release_to(pshm_chan *ch, uint64_t end)
{
	struct chan_hdr *h = ch->h;
	while (ch->head < end) {
		uint64_t p = ch->head, room = ch->ring_size - (p & ch->mask);
		uint64_t len = end - p < room ? end - p : room;
		STORE(&h->rel_len, len);
		STORE_REL(&h->rel_pos, p);
		RELEASE_FENCE();
		wipe(ch, p, len);
		ch->head = p + len;
		STORE_REL(&h->head, ch->head);
		STORE(&h->rel_pos, IDLE);
	}
}


void pshm__chan_release_to(pshm_chan *ch, uint64_t end, uint64_t n)
{
	release_to(ch, end, n);
}


int pshm__chan_look(const pshm_chan *ch, uint64_t p, uint64_t *wp, uint64_t *spanp)
{
	uint64_t w = LOAD_ACQ(hdr_at(ch, p)), span;
	if (w == 0)
		return 0;
	int r = rec_check(ch, p, w, &span);
	if (r < 0)
		return r;
	if (rec_type(w) == R_BUSY)
		return 0;
	*wp = w;
	*spanp = span;
	return rec_type(w) == R_MSG ? 1 : 2;
}

/*
 * The record at head is not a plain message: release PAD and DEAD records
 * on the way (at most a ring's worth), then 1 and the header in ch->slow_w if a
 * message is there, 0 if nothing is (yet), or -EBADMSG.
 */
NOINLINE int pshm__chan_poll_slow(pshm_chan *ch)
{
	for (uint64_t skips = 0; skips <= ch->ring_size / 8; skips++) {
		uint64_t span;
		int r = pshm__chan_look(ch, ch->head, &ch->slow_w, &span);
		if (r < 2)
			return r;
		release_to(ch, ch->head + span, 0);
	}
	return 0;
}


static bool cons_ready(const pshm_chan *ch, uint64_t arg)
{
	(void)arg;
	uint64_t w = LOAD_ACQ(hdr_at(ch, ch->head));
	/* Also load the next cache line while spinning: a message of more
	 * than 56 bytes spans two lines, and when the producer writes them,
	 * both misses are then in flight at once instead of one after the
	 * other. The value is not used (and is read again after the acquire). */
	(void)LOAD(hdr_at(ch, (ch->head & ~(uint64_t)63) + 64));
	return w != 0 && rec_type(w) != R_BUSY;
}

void pshm__chan_finish_release(pshm_chan *ch)
{
	struct chan_hdr *h = ch->h;
	uint64_t rp = LOAD_ACQ(&h->rel_pos), rl = LOAD(&h->rel_len);
	uint64_t room = ch->ring_size - (ch->head & ch->mask);
	if (rp == ch->head && rl >= 8 && !(rl & 7) && rl <= room) {
		/* SPSC consumers no longer wipe; an older one's intent only
		 * needs its head moved. */
		if (ch->mode == PSHM_CHAN_MPSC)
			wipe(ch, rp, rl);
		ch->head = rp + rl;
		STORE_REL(&h->head, ch->head);
	}
	STORE(&h->rel_pos, IDLE);
}

/*
 * The consumer's periodic check: resolve dead claims, then -EPIPE if the
 * ring is empty and every producer that came is gone. 1 on progress.
 */
static int cons_check(pshm_chan *ch)
{
	if (ch->mode == PSHM_CHAN_MPSC) {
		int r = pshm__chan_resolve_head(ch);
		if (r)
			return r;
	}
	if (pshm__chan_producers_alive(ch)) {
		ch->seen_peer = true;
		return 0;
	}
	/* A message received or peeked at means a producer came, whatever
	 * the liveness checks said before. */
	if (ch->received != ch->received0 || ch->peeked)
		ch->seen_peer = true;
	if (!ch->seen_peer && !pshm__chan_peer_came(ch))
		return 0;
	if (cons_ready(ch, 0))
		return 1;
	/* A claim at head that resolve_head could not settle: a producer
	 * that attached since producers_alive looked, or a corrupted table.
	 * Keep waiting (the caller's timeout bounds it). */
	if (ch->mode == PSHM_CHAN_MPSC && LOAD_ACQ(&ch->h->tail) != ch->head)
		return 0;
	return -EPIPE;
}

/* Nothing at head yet: wait as @timeout says; the header in ch->slow_w
 * (not through a pointer: the fast path then keeps its locals in
 * registers, with no stack protector). */
NOINLINE int pshm__chan_cons_wait(pshm_chan *ch, int64_t timeout)
{
	struct waiter wt = { .timeout = timeout };
	for (;;) {
		int r = wait_step(ch, &wt, &ch->h->cons_wait, cons_ready, 0);
		if (r)
			return r;
		r = cons_poll(ch, &ch->slow_w);
		if (r)
			return r < 0 ? r : 0;
	}
}


int pshm__chan_first(pshm_chan *ch, int64_t timeout, uint64_t *wp)
{
	return cons_first(ch, timeout, wp);
}

/* ---- producers ---------------------------------------------------------- */

/*
 * Is there room up to position @end? Re-reads head only when the cached
 * value says no. -EAGAIN when full, -EPROTO when head is out of range.
 */
static int have_room(pshm_chan *ch, uint64_t end)
{
	if (end <= ch->head_seen + ch->ring_size)
		return 0;
	/* At any instant head <= tail <= head + ring_size. MPSC reads the
	 * shared tail before and after head, as others move both meanwhile. */
	uint64_t t1 = ch->mode == PSHM_CHAN_MPSC ? LOAD_ACQ(&ch->h->tail) : ch->tail;
	uint64_t h = LOAD_ACQ(&ch->h->head);
	uint64_t t2 = ch->mode == PSHM_CHAN_MPSC ? LOAD_ACQ(&ch->h->tail) : ch->tail;
	if (h > t2 || (t1 > h && t1 - h > ch->ring_size) || (h & 7))
		return -EPROTO;
	ch->head_seen = h;
	return end <= h + ch->ring_size ? 0 : -EAGAIN;
}

static bool room_ready(const pshm_chan *ch, uint64_t end)
{
	return end <= LOAD_ACQ(&ch->h->head) + ch->ring_size;
}


void pshm__chan_flush(pshm_chan *ch)
{
	flush(ch, ch->mode == PSHM_CHAN_SPSC);
}

/* SPSC: publish the record @w of @span bytes at the write position. The
 * header slot after it is zeroed first (it was reserved with the record),
 * so the consumer finds 0 there, never a header of an earlier lap. */
static inline void spsc_publish(pshm_chan *ch, uint64_t w, uint64_t span)
{
	uint64_t t = ch->tail;
	STORE(hdr_at(ch, t + span), 0);
	STORE_REL(hdr_at(ch, t), w);
	ch->tail = t + span;
}

static int spsc_claim(pshm_chan *ch, uint64_t span, uint64_t *pos, uint64_t *need)
{
	for (int i = 0; i < 2; i++) {
		uint64_t t = ch->tail, off = t & ch->mask;
		bool pad = off + span > ch->ring_size;
		uint64_t len = pad ? ch->ring_size - off : span;
		*need = t + len + 8;
		int r = have_room(ch, *need);
		if (r < 0)
			return r;
		if (!pad) {
			*pos = t;
			return 0;
		}
		spsc_publish(ch, rec_make(ch, R_PAD, len, 0, t), len);
		flush(ch, true);
	}
	return -EPROTO;
}

static int mpsc_claim(pshm_chan *ch, uint64_t span, uint64_t *pos, uint64_t *need)
{
	struct chan_slot *me = slot_at(ch, ch->slot);
	uint64_t t = LOAD_ACQ(&ch->h->tail);
	for (unsigned tries = 0; tries < CLAIM_TRIES; tries++) {
		/* head_seen <= head <= tail for honest peers: a tail set back
		 * below what we saw of head would claim unread records. */
		if ((t & 7) || t < ch->head_seen) {
			STORE_REL(&me->ipos, IDLE);
			return -EPROTO;
		}
		uint64_t off = t & ch->mask;
		bool pad = off + span > ch->ring_size;
		uint64_t len = pad ? ch->ring_size - off : span;
		*need = t + len;
		int r = have_room(ch, *need);
		if (r < 0) {
			STORE_REL(&me->ipos, IDLE);
			return r;
		}
		/* The intent is visible before the claim (the CAS is a release). */
		STORE(&me->ilen, len);
		STORE_REL(&me->ipos, t);
		if (!__atomic_compare_exchange_n(&ch->h->tail, &t, t + len, false, __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE))
			continue;
		if (pad) {
			STORE_REL(hdr_at(ch, t), rec_make(ch, R_PAD, len, 0, t));
			STORE_REL(&me->ipos, IDLE);
			wake_consumer(ch);
			t = LOAD_ACQ(&ch->h->tail);
			continue;
		}
		STORE(hdr_at(ch, t), rec_make(ch, R_BUSY, len, ch->slot, t));
		*pos = t;
		return 0;
	}
	STORE_REL(&me->ipos, IDLE);
	return -EAGAIN;
}

/* The producer's periodic check while the ring is full: -EPIPE if the
 * consumer it saw (or one that came since it attached) is gone. */
static int prod_check(pshm_chan *ch)
{
	if (pshm__chan_slot_alive(ch, 0)) {
		ch->seen_peer = true;
		return 0;
	}
	if (ch->seen_peer || pshm__chan_peer_came(ch))
		return -EPIPE;
	return 0;
}

/* Reserve @span bytes for a record, waiting as @timeout says: the slow
 * path of claim(). The position in ch->slow_pos (see pshm__chan_cons_wait()). */
NOINLINE int pshm__chan_claim_slow(pshm_chan *ch, uint64_t span, int64_t timeout)
{
	struct waiter wt = { .timeout = timeout };
	uint64_t *pos = &ch->slow_pos;
	for (;;) {
		uint64_t need = 0;
		int r = ch->mode == PSHM_CHAN_MPSC ? mpsc_claim(ch, span, pos, &need)
						   : spsc_claim(ch, span, pos, &need);
		if (r != -EAGAIN)
			return r;
		r = wait_step(ch, &wt, &ch->h->space_wait, room_ready, need);
		if (r)
			return r;
	}
}


int pshm__chan_claim(pshm_chan *ch, uint64_t span, int64_t timeout, uint64_t *pos)
{
	return claim(ch, span, timeout, pos, ch->mode == PSHM_CHAN_SPSC);
}




void pshm__chan_put(pshm_chan *ch, uint64_t pos, uint64_t span, const void *msg, size_t len)
{
	put(ch, pos, span, msg, len, ch->mode == PSHM_CHAN_SPSC);
}

/* ---- sending and receiving ---------------------------------------------- */

static inline int prod_begin(pshm_chan *ch, size_t len, int64_t timeout, uint64_t *pos,
			     uint64_t *span, bool spsc)
{
	if (ch->role != PSHM_PRODUCER)
		return -EINVAL;
	if (ch->resv)
		return -EBUSY;
	if (len > ch->max_msg)
		return -EMSGSIZE;
	*span = align8(8 + (uint64_t)len);
	return claim(ch, *span, timeout, pos, spsc);
}

static inline __attribute__((always_inline)) int
send_as(pshm_chan *ch, const void *msg, size_t len, int64_t timeout_ns, bool spsc)
{
	uint64_t pos, span;
	int r = prod_begin(ch, len, timeout_ns, &pos, &span, spsc);
	if (r < 0)
		return r;
	put(ch, pos, span, msg, len, spsc);
	flush(ch, spsc);
	return 0;
}

static inline int chan_send(pshm_chan *ch, const void *msg, size_t len, int64_t timeout_ns)
{
	if (!msg && len)
		return -EINVAL;
	if (ch->mode == PSHM_CHAN_SPSC)
		return send_as(ch, msg, len, timeout_ns, true);
	return send_as(ch, msg, len, timeout_ns, false);
}

static int chan_reserve(pshm_chan *ch, size_t len, void **ptr, int64_t timeout_ns)
{
	if (!ptr)
		return -EINVAL;
	uint64_t pos, span;
	int r = prod_begin(ch, len, timeout_ns, &pos, &span, ch->mode == PSHM_CHAN_SPSC);
	if (r < 0)
		return r;
	ch->resv = true;
	ch->resv_pos = pos;
	ch->resv_span = span;
	ch->resv_len = (uint32_t)len;
	/* SPSC: zero the next header slot now, before the caller writes the
	 * record's first line, so that line is not written, stolen by the
	 * polling consumer, and written again at commit. */
	if (ch->mode == PSHM_CHAN_SPSC)
		STORE(hdr_at(ch, pos + span), 0);
	*ptr = ch->ring + (pos & ch->mask) + 8;
	return 0;
}

static int chan_commit(pshm_chan *ch, size_t len)
{
	if (ch->role != PSHM_PRODUCER || !ch->resv || len > ch->resv_len)
		return -EINVAL;
	ch->resv = false;
	bool spsc = ch->mode == PSHM_CHAN_SPSC;
	commit(ch, ch->resv_pos, ch->resv_span, (uint32_t)len, spsc);
	flush(ch, spsc);
	return 0;
}

static inline ssize_t chan_recv(pshm_chan *ch, void *buf, size_t cap, int64_t timeout_ns)
{
	if (ch->role != PSHM_CONSUMER)
		return -EINVAL;
	uint64_t w;
	int r = cons_first(ch, timeout_ns, &w);
	if (r < 0)
		return r;
	uint32_t len = rec_len(w);
	if (len > cap)
		return -EMSGSIZE;
	if (!buf && len)
		return -EINVAL;
	pshm__copy_out(buf, ch->ring + (ch->head & ch->mask) + 8, len);
	ch->peeked = false;
	release_to(ch, ch->head + align8(8 + (uint64_t)len), 1);
	return (ssize_t)len;
}

static ssize_t chan_peek(pshm_chan *ch, const void **ptr, int64_t timeout_ns)
{
	if (ch->role != PSHM_CONSUMER || !ptr)
		return -EINVAL;
	uint64_t w;
	int r = cons_first(ch, timeout_ns, &w);
	if (r < 0)
		return r;
	ch->peeked = true;
	ch->peek_w = w;
	ch->peek_end = ch->head + align8(8 + (uint64_t)rec_len(w));
	ch->peek_n = 1;
	*ptr = ch->ring + (ch->head & ch->mask) + 8;
	return (ssize_t)rec_len(w);
}

static int chan_release(pshm_chan *ch)
{
	if (ch->role != PSHM_CONSUMER || !ch->peeked)
		return -EINVAL;
	ch->peeked = false;
	release_to(ch, ch->peek_end, ch->peek_n);
	return 0;
}

/*
 * The public operations run in the channel's SIGBUS zone over the whole
 * mapping (header, slots and ring): a peer that truncates the segment
 * makes the call fail with -EFAULT instead of killing the process,
 * whichever load or store meets the missing page. The handle is not usable
 * after that (the segment is gone); close it. The zone costs a
 * thread-local load and two stores per call, no sigsetjmp() and no system
 * call (guard.h). Memory handed out by reserve() and peek() is the
 * caller's to touch, outside the zone: see pshm(7).
 */
int pshm_chan_send(pshm_chan *ch, const void *msg, size_t len, int64_t timeout_ns)
{
	int r;
	if (!ch)
		return -EINVAL;
	CHAN_GUARDED(r, ch, chan_send(ch, msg, len, timeout_ns));
	touch(ch);
	return r;
}

int pshm_chan_reserve(pshm_chan *ch, size_t len, void **ptr, int64_t timeout_ns)
{
	int r;
	if (!ch)
		return -EINVAL;
	CHAN_GUARDED(r, ch, chan_reserve(ch, len, ptr, timeout_ns));
	return r;
}

int pshm_chan_commit(pshm_chan *ch, size_t len)
{
	int r;
	if (!ch)
		return -EINVAL;
	CHAN_GUARDED(r, ch, chan_commit(ch, len));
	touch(ch);
	return r;
}

ssize_t pshm_chan_recv(pshm_chan *ch, void *buf, size_t cap, int64_t timeout_ns)
{
	ssize_t r;
	if (!ch)
		return -EINVAL;
	CHAN_GUARDED(r, ch, chan_recv(ch, buf, cap, timeout_ns));
	touch(ch);
	return r;
}

ssize_t pshm_chan_peek(pshm_chan *ch, const void **ptr, int64_t timeout_ns)
{
	ssize_t r;
	if (!ch)
		return -EINVAL;
	CHAN_GUARDED(r, ch, chan_peek(ch, ptr, timeout_ns));
	touch(ch);
	return r;
}

int pshm_chan_release(pshm_chan *ch)
{
	int r;
	if (!ch)
		return -EINVAL;
	CHAN_GUARDED(r, ch, chan_release(ch));
	return r;
}

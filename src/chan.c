/* SPDX-License-Identifier: MIT */
/*
 * chan.c — the channel fast path: sending, receiving, waiting. The layout,
 * the record format and the crash rules are described in chan.h.
 */
#include <string.h>
#if defined(__x86_64__) && defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <sys/stat.h>
#include <time.h>

#include "chan.h"
#include "smallcopy.h"

#if defined(__SANITIZE_THREAD__)
uint64_t pshm__chan_fence_word;
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
 * One step of waiting for @ready: spin (up to spin_ns, or for ever when
 * polling), re-check the peers every CHECK_NS, then sleep on @flag.
 * Returns 0 when the caller should look again, or -EAGAIN (timeout 0),
 * -ETIMEDOUT, -EPIPE, -EINTR, -EPROTO/-EBADMSG.
 */
static inline __attribute__((always_inline)) int
wait_step(pshm_chan *ch, struct waiter *wt, uint32_t *flag, ready_fn ready, uint64_t arg)
{
	int64_t now = pshm__now_ns();
	if (!wt->started) {
		wt->started = true;
		wt->deadline = wt->timeout > 0 && wt->timeout < INT64_MAX - now ? now + wt->timeout
										 : INT64_MAX;
		wt->spin_end = now + (ch->spin_ns > INT64_MAX / 2 ? INT64_MAX / 2 : (int64_t)ch->spin_ns);
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
 * Wipe a released record. MPSC: all of it, header last, so free space reads
 * as zeros. SPSC: the payload, up to the last line boundary before the
 * record's end. The header stays, as a new producer's recovery walk
 * (spsc_recover) may still need to read it; and the record's last, partial
 * line also holds the next record's header, which the consumer polls and
 * the producer writes next: writing it here as well would take that line
 * from the producer once more, between a message and the reply to it
 * (slower round trips and streams: bench/RESULTS.md, "Measurements behind
 * the code"; the SPSC wipe is only for speed, see wipes()).
 */
static void wipe(pshm_chan *ch, uint64_t pos, uint64_t span)
{
	unsigned char *r = ch->ring + (pos & ch->mask);
	if (ch->mode == PSHM_CHAN_SPSC) {
		uintptr_t end = ((uintptr_t)r + span) & ~(uintptr_t)63;
		if (end > (uintptr_t)r + 8)
			pshm__clear(r + 8, end - ((uintptr_t)r + 8));
		return;
	}
	pshm__clear(r + 8, span - 8);
	STORE((uint64_t *)r, 0);
}

/*
 * Does a released record of @span bytes get wiped? Always in MPSC (free
 * space must read as zeros, see the top of this file). In SPSC it is not
 * needed, but it pays when the producer will find the record's lines still
 * in the consumer's cache a lap later: lines the consumer has read and left
 * shared are slow for the producer to take back, lines it has written are
 * not. So small records are wiped, and so is every message that
 * pshm_chan_recv() copied out of a ring of up to WIPE_RING bytes, which
 * stays in the caches: recv has just read all of its lines. Not so a
 * message released after a peek, whose reader may have touched few of its
 * lines (wiping would pull the others over for nothing, and releasing it
 * should cost the same at any size), nor padding, which nobody reads. In a
 * larger ring large records are left alone: their lines have left the
 * consumer's cache by the time they are reused. Each rule won where it
 * applies: bench/RESULTS.md, "Measurements behind the code".
 */
#define WIPE_MAX (64 * 1024)
#define WIPE_RING (2 * 1024 * 1024)
static inline bool wipes(const pshm_chan *ch, uint64_t pos, uint64_t span, bool copied)
{
	if (ch->mode == PSHM_CHAN_MPSC)
		return true;
	/* Nothing to clear before the record's last line boundary (a
	 * record within one line): no wipe, and no release intent. */
	uintptr_t r = (uintptr_t)(ch->ring + (pos & ch->mask));
	if (((r + span) & ~(uintptr_t)63) <= r + 8)
		return false;
	return span <= WIPE_MAX || (copied && ch->ring_size <= WIPE_RING);
}

/* Release the record at head, of @span bytes, and let producers reuse it.
 * @msg: a message (counted as received); @copied: one recv just read whole. */
static void cons_release(pshm_chan *ch, uint64_t span, bool msg, bool copied)
{
	struct chan_hdr *h = ch->h;
	uint64_t p = ch->head;
	bool w = wipes(ch, p, span, copied);
	if (w) {
		/* A consumer killed mid-wipe leaves this intent; the next one
		 * finishes the release instead of delivering a half-wiped record. */
		STORE(&h->rel_len, span);
		STORE_REL(&h->rel_pos, p);
		RELEASE_FENCE();
		wipe(ch, p, span);
	}
	ch->head = p + span;
	STORE_REL(&h->head, ch->head);
	if (w)
		STORE(&h->rel_pos, IDLE);
	if (msg)
		STORE(&h->received, ++ch->received);
	wake_producers(ch);
}

/*
 * Look at the record at head: 1 and its header in *wp if a message is
 * there, 0 if nothing is (yet), or -EBADMSG. PAD and DEAD records are
 * released on the way, at most a ring's worth per call.
 */
static int cons_poll(pshm_chan *ch, uint64_t *wp)
{
	for (uint64_t skips = 0; skips <= ch->ring_size / 8; skips++) {
		uint64_t p = ch->head;
		uint64_t w = LOAD_ACQ(hdr_at(ch, p));
		if (w == 0)
			return 0;
		uint64_t span;
		int r = rec_check(ch, p, w, &span);
		if (r < 0)
			return r;
		if (rec_type(w) == R_BUSY)
			return 0;
		if (rec_type(w) == R_MSG) {
			*wp = w;
			return 1;
		}
		cons_release(ch, span, false, false);
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

/* The next message's header into *wp, waiting as @timeout says. */
static int cons_next(pshm_chan *ch, int64_t timeout, uint64_t *wp)
{
	struct waiter wt = { .timeout = timeout };
	for (;;) {
		int r = cons_poll(ch, wp);
		if (r)
			return r < 0 ? r : 0;
		r = wait_step(ch, &wt, &ch->h->cons_wait, cons_ready, 0);
		if (r)
			return r;
	}
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

static void spsc_advance(pshm_chan *ch, uint64_t span)
{
	ch->tail += span;
	STORE(&ch->h->tail, ch->tail);
	wake_consumer(ch);
}

/* SPSC: publish the record @w of @span bytes at the write position. The
 * header slot after it is zeroed first (it was reserved with the record),
 * so the consumer finds 0 there, never a header of an earlier lap. */
static void spsc_publish(pshm_chan *ch, uint64_t w, uint64_t span)
{
	uint64_t t = ch->tail;
	STORE(hdr_at(ch, t + span), 0);
	STORE_REL(hdr_at(ch, t), w);
	spsc_advance(ch, span);
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

/* Reserve @span bytes for a record: its position in *pos. */
static int prod_claim(pshm_chan *ch, uint64_t span, int64_t timeout, uint64_t *pos)
{
	struct waiter wt = { .timeout = timeout };
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

static void prod_commit(pshm_chan *ch, uint64_t pos, uint64_t span, uint32_t len)
{
	uint64_t used = align8(8 + (uint64_t)len);
	if (ch->mode == PSHM_CHAN_SPSC) {
		/* pshm_chan_reserve() zeroed the header slot after the full
		 * reservation; a shortened message needs its own. */
		if (used < span)
			STORE(hdr_at(ch, pos + used), 0);
		STORE_REL(hdr_at(ch, pos), rec_make(ch, R_MSG, len, 0, pos));
		spsc_advance(ch, used);
		return;
	}
	/* MPSC: the claim's size is fixed; a shortened message leaves a PAD. */
	if (used < span)
		STORE(hdr_at(ch, pos + used), rec_make(ch, R_PAD, span - used, 0, pos + used));
	STORE_REL(hdr_at(ch, pos), rec_make(ch, R_MSG, len, 0, pos));
	STORE(&slot_at(ch, ch->slot)->ipos, IDLE);
	wake_consumer(ch);
}


/* ---- sending and receiving ---------------------------------------------- */

static int prod_begin(pshm_chan *ch, size_t len, int64_t timeout, uint64_t *pos, uint64_t *span)
{
	if (!ch || ch->role != PSHM_PRODUCER)
		return -EINVAL;
	if (ch->resv)
		return -EBUSY;
	if (len > ch->max_msg)
		return -EMSGSIZE;
	*span = align8(8 + (uint64_t)len);
	return prod_claim(ch, *span, timeout, pos);
}

/*
 * Copy (the part past the first line of) a message body into the ring.
 * From 8 KiB up to about the L2 size, glibc's memcpy() uses REP MOVSB,
 * which is slow when the lines it writes were last held by the other core;
 * this plain loop of 16-byte loads and stores is several times faster
 * there, and beat memcpy() and non-temporal stores in the channel at every
 * size tried from 8 KiB to 1 MiB (below 8 KiB memcpy() is as fast or
 * faster). Within one core's L1, memcpy() is the faster, but a ring line
 * being written has usually just left the other core's cache. Measured on
 * Zen 4 only (bench/RESULTS.md, "Measurements behind the code"). The
 * consumer copies out with pshm__copy_out(): its destination is its own
 * buffer.
 */
#define COPY_LOOP_MIN (8 * 1024)
static inline void copy_in(unsigned char *dst, const unsigned char *src, size_t len)
{
	if (len <= 64) {
		pshm__copy_small(dst, src, len);
		return;
	}
#if defined(__x86_64__) && defined(__SSE2__)
	if (len >= COPY_LOOP_MIN) {
		size_t n = len & ~(size_t)63;
		for (size_t i = 0; i < n; i += 64) {
			__m128i a = _mm_loadu_si128((const __m128i *)(src + i));
			__m128i b = _mm_loadu_si128((const __m128i *)(src + i + 16));
			__m128i c = _mm_loadu_si128((const __m128i *)(src + i + 32));
			__m128i d = _mm_loadu_si128((const __m128i *)(src + i + 48));
			_mm_storeu_si128((__m128i *)(dst + i), a);
			_mm_storeu_si128((__m128i *)(dst + i + 16), b);
			_mm_storeu_si128((__m128i *)(dst + i + 32), c);
			_mm_storeu_si128((__m128i *)(dst + i + 48), d);
		}
		memcpy(dst + n, src + n, len - n);
		return;
	}
#endif
	memcpy(dst, src, len);
}

static int chan_send(pshm_chan *ch, const void *msg, size_t len, int64_t timeout_ns)
{
	if (!msg && len)
		return -EINVAL;
	uint64_t pos, span;
	int r = prod_begin(ch, len, timeout_ns, &pos, &span);
	if (r < 0)
		return r;
	unsigned char *rec = ch->ring + (pos & ch->mask);
	/* The record's first cache line, which the consumer polls, is written
	 * last and in one burst (header included, by prod_commit), so it moves
	 * to the consumer once, complete; the rest of the record, and in SPSC
	 * the next header slot, are written before it. */
	size_t first = 56 - ((uintptr_t)rec & 63);
	if (len > first)
		copy_in(rec + 8 + first, (const unsigned char *)msg + first, len - first);
	if (ch->mode == PSHM_CHAN_SPSC)
		STORE(hdr_at(ch, pos + span), 0);
	pshm__copy_small(rec + 8, msg, len < first ? len : first);
	prod_commit(ch, pos, span, (uint32_t)len);
	return 0;
}

static int chan_reserve(pshm_chan *ch, size_t len, void **ptr, int64_t timeout_ns)
{
	if (!ptr)
		return -EINVAL;
	uint64_t pos, span;
	int r = prod_begin(ch, len, timeout_ns, &pos, &span);
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
	if (!ch || ch->role != PSHM_PRODUCER || !ch->resv || len > ch->resv_len)
		return -EINVAL;
	ch->resv = false;
	prod_commit(ch, ch->resv_pos, ch->resv_span, (uint32_t)len);
	return 0;
}

static int cons_begin(pshm_chan *ch, int64_t timeout, uint64_t *wp)
{
	if (!ch || ch->role != PSHM_CONSUMER)
		return -EINVAL;
	if (ch->peeked) {
		*wp = ch->peek_w;
		return 0;
	}
	int r = cons_next(ch, timeout, wp);
	if (r == 0)
		ch->seen_peer = true;
	return r;
}

static ssize_t chan_recv(pshm_chan *ch, void *buf, size_t cap, int64_t timeout_ns)
{
	uint64_t w;
	int r = cons_begin(ch, timeout_ns, &w);
	if (r < 0)
		return r;
	uint32_t len = rec_len(w);
	if (len > cap)
		return -EMSGSIZE;
	if (!buf && len)
		return -EINVAL;
	pshm__copy_out(buf, ch->ring + (ch->head & ch->mask) + 8, len);
	ch->peeked = false;
	cons_release(ch, align8(8 + (uint64_t)len), true, true);
	return (ssize_t)len;
}

static ssize_t chan_peek(pshm_chan *ch, const void **ptr, int64_t timeout_ns)
{
	if (!ptr)
		return -EINVAL;
	uint64_t w;
	int r = cons_begin(ch, timeout_ns, &w);
	if (r < 0)
		return r;
	ch->peeked = true;
	ch->peek_w = w;
	*ptr = ch->ring + (ch->head & ch->mask) + 8;
	return (ssize_t)rec_len(w);
}

static int chan_release(pshm_chan *ch)
{
	if (!ch || ch->role != PSHM_CONSUMER || !ch->peeked)
		return -EINVAL;
	ch->peeked = false;
	cons_release(ch, align8(8 + (uint64_t)rec_len(ch->peek_w)), true, false);
	return 0;
}

/*
 * Traffic goes through the mapping, which does not change the file's mtime
 * on tmpfs, so a channel busy all day would look untouched since its
 * creation and `pshm gc` would take it for abandoned whenever no process
 * happens to be attached (between two `pshm send` runs, say). Each handle
 * sets the mtime at most once per second of CLOCK_MONOTONIC_COARSE: a
 * producer after a send or commit has published (the consumer is busy
 * with the message meanwhile), the consumer on entering recv or peek,
 * before it waits (a release always follows a peek), so that neither
 * check sits between a message's arrival and the reply to it. Reading that
 * clock is a load from the vDSO page (no system call, no TSC read).
 * Best effort: a failure changes nothing, errno included.
 */
static __attribute__((noinline)) void touch_slow(pshm_chan *ch, int64_t sec)
{
	ch->touched_sec = sec;
	int e = errno;
	futimens(pshm_seg_fd(ch->seg), NULL);
	errno = e;
}

static inline void touch(pshm_chan *ch)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	if (__builtin_expect(ts.tv_sec != ch->touched_sec, 0) && ch->seg)
		touch_slow(ch, ts.tv_sec);
}

/*
 * The public operations run under the SIGBUS guard over the whole mapping
 * (header, slots and ring): a peer that truncates the segment makes the
 * call fail with -EFAULT instead of killing the process, whichever load or
 * store meets the missing page. The handle is not usable after that (the
 * segment is gone); close it. The guard costs a sigsetjmp() per call, no
 * system call. Memory handed out by reserve() and peek() is the caller's to
 * touch, outside the guard: see pshm(7).
 */
int pshm_chan_send(pshm_chan *ch, const void *msg, size_t len, int64_t timeout_ns)
{
	int r;
	if (!ch)
		return -EINVAL;
	CHAN_GUARDED(r, ch, chan_send(ch, msg, len, timeout_ns));
	if (r >= 0)
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
	if (r >= 0)
		touch(ch);
	return r;
}

ssize_t pshm_chan_recv(pshm_chan *ch, void *buf, size_t cap, int64_t timeout_ns)
{
	ssize_t r;
	if (!ch)
		return -EINVAL;
	touch(ch);
	CHAN_GUARDED(r, ch, chan_recv(ch, buf, cap, timeout_ns));
	return r;
}

ssize_t pshm_chan_peek(pshm_chan *ch, const void **ptr, int64_t timeout_ns)
{
	ssize_t r;
	if (!ch)
		return -EINVAL;
	touch(ch);
	CHAN_GUARDED(r, ch, chan_peek(ch, ptr, timeout_ns));
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


/* SPDX-License-Identifier: MIT */
/*
 * chan_open.c — channels: creating, attaching (with the recovery of what a
 * dead peer left half-done), closing. The layout is described in chan.h.
 */
#include <stdlib.h>
#include <sys/mman.h>

#include "chan.h"

/* ---- creating and attaching --------------------------------------------- */

struct chan_geom {
	uint64_t ring_size, max_msg;
	unsigned mode, nprod;
};

static bool is_pow2(uint64_t n)
{
	return n && !(n & (n - 1));
}

static bool geom_ok(const struct chan_geom *g)
{
	if (!is_pow2(g->ring_size) || g->ring_size < RING_MIN || g->ring_size > RING_MAX)
		return false;
	/* The largest record and the header slot after it fit in the ring. */
	if (g->max_msg == 0 || g->max_msg > g->ring_size || align8(8 + g->max_msg) + 8 > g->ring_size)
		return false;
	if (g->mode == PSHM_CHAN_SPSC)
		return g->nprod == 1;
	return g->mode == PSHM_CHAN_MPSC && g->nprod >= 1 && g->nprod <= PROD_MAX;
}

static int chan_init(void *addr, size_t size, void *arg)
{
	const struct chan_geom *g = arg;
	struct chan_hdr *h = addr;
	uint64_t off = ring_offset(g->nprod);
	/* The file is fresh (zeros): only non-zero fields are written. */
	h->magic = PSHM_CHAN_MAGIC;
	h->version = CHAN_VERSION;
	h->ring_off = (uint32_t)off;
	h->total_size = size;
	h->ring_size = g->ring_size;
	h->max_msg = (uint32_t)g->max_msg;
	h->mode = g->mode;
	h->max_producers = g->nprod;
	h->rel_pos = IDLE;
	struct chan_slot *s = (struct chan_slot *)(h + 1);
	for (unsigned i = 0; i <= g->nprod; i++)
		s[i].ipos = IDLE;
	return 0;
}

/* Read the constants once, check them against each other and the size. */
static int hdr_read(const void *addr, size_t size, struct chan_geom *g, uint64_t *ring_off)
{
	if (!addr || size < sizeof(struct chan_hdr))
		return -EPROTO;
	const struct chan_hdr *h = addr;
	if (LOAD(&h->magic) != PSHM_CHAN_MAGIC || LOAD(&h->version) != CHAN_VERSION)
		return -EPROTO;
	g->ring_size = LOAD(&h->ring_size);
	g->max_msg = LOAD(&h->max_msg);
	g->mode = LOAD(&h->mode);
	g->nprod = LOAD(&h->max_producers);
	*ring_off = LOAD(&h->ring_off);
	uint64_t total = LOAD(&h->total_size);
	if (!geom_ok(g) || *ring_off != ring_offset(g->nprod) || total != size ||
	    total != *ring_off + g->ring_size)
		return -EPROTO;
	return 0;
}

/* A pshm__hdr_fn: is @h a channel's header, for a file of @size bytes? */
static int hdr_check(const void *h, size_t size)
{
	struct chan_geom g;
	uint64_t off;
	return hdr_read(h, size, &g, &off);
}

/* Is the header of @seg, read with pread (nothing mapped), a channel's of
 * its size? 0, -EPROTO, or -errno. */
static int header_of(pshm_seg *seg)
{
	struct chan_hdr h;
	int r = pshm__seg_pread_full(seg, &h, sizeof(h), 0);
	return r < 0 ? r : hdr_check(&h, pshm_seg_size(seg));
}

int pshm_chan_create(const char *name, const struct pshm_chan_config *cfg, mode_t mode,
		     unsigned flags)
{
	struct pshm_chan_config c = { 0 };
	if (cfg)
		c = *cfg;
	struct chan_geom g = {
		.ring_size = c.ring_size ? c.ring_size : RING_DEFAULT,
		.mode = c.mode,
		.nprod = c.mode == PSHM_CHAN_MPSC ? (c.max_producers ? c.max_producers : PROD_DEFAULT)
						  : (c.max_producers ? c.max_producers : 1),
	};
	g.max_msg = c.max_msg ? c.max_msg : g.ring_size / 4;
	if (!geom_ok(&g))
		return -EINVAL;
	return pshm__create_kind(name, ring_offset(g.nprod) + g.ring_size, mode, flags, chan_init,
				 &g, sizeof(struct chan_hdr), hdr_check);
}

int pshm__chan_new(void *addr, size_t size, unsigned role, bool detached, pshm_chan **out)
{
	struct chan_geom g;
	uint64_t off;
	int r = hdr_read(addr, size, &g, &off);
	if (r < 0)
		return r;
	pshm_chan *ch = calloc(1, sizeof(*ch));
	if (!ch)
		return -ENOMEM;
	ch->h = addr;
	ch->slots = (struct chan_slot *)(ch->h + 1);
	ch->ring = (unsigned char *)addr + off;
	ch->ring_size = g.ring_size;
	ch->mask = g.ring_size - 1;
	ch->shift = (unsigned)__builtin_ctzll(g.ring_size);
	ch->max_msg = (uint32_t)g.max_msg;
	ch->mode = g.mode;
	ch->nprod = g.nprod;
	ch->role = role;
	ch->detached = detached;
	ch->lock_fd = -1;
	ch->slot = role == PSHM_CONSUMER ? 0 : 1;
	ch->wait = PSHM_WAIT_BLOCK;
	ch->spin_ns = PSHM_SPIN_DEFAULT_NS; /* attach() sets the process's own */
	ch->touch_left = 1;                 /* the first operation sets the mtime */
	ch->touched_sec = -1;
	*out = ch;
	return 0;
}

/*
 * SPSC: a producer that died between publishing records and storing tail
 * (which it does once per send or batch) left tail short of what it
 * published; walk over that so the next record does not overwrite a
 * delivered one. The walk ends at the zeroed header slot that follows the
 * last published record, at most a ring's worth on.
 */
static int spsc_recover(pshm_chan *ch)
{
	uint64_t t = LOAD_ACQ(&ch->h->tail);
	if (t & 7)
		return -EPROTO;
	uint64_t t0 = t;
	for (uint64_t i = 0; i <= ch->ring_size / 8 && t - t0 < ch->ring_size; i++) {
		uint64_t w = LOAD_ACQ(hdr_at(ch, t)), span;
		if (w == 0 || rec_check(ch, t, w, &span) < 0 || rec_type(w) == R_BUSY ||
		    rec_type(w) == R_DEAD)
			break;
		t += span;
	}
	uint64_t h = LOAD_ACQ(&ch->h->head);
	if (h > t || t - h > ch->ring_size || (h & 7))
		return -EPROTO;
	ch->tail = t;
	ch->head_seen = h;
	STORE(&ch->h->tail, t);
	return 0;
}


static int cons_attach(pshm_chan *ch)
{
	uint64_t hd = LOAD_ACQ(&ch->h->head), t = LOAD_ACQ(&ch->h->tail);
	/* SPSC tail may trail by a record its dead producer did not count. */
	bool ok = ch->mode == PSHM_CHAN_MPSC ? hd <= t && t - hd <= ch->ring_size
					     : (hd <= t ? t - hd : hd - t) <= ch->ring_size;
	if (!ok || (hd & 7))
		return -EPROTO;
	ch->head = hd;
	ch->received = ch->received0 = LOAD(&ch->h->received);
	pshm__chan_finish_release(ch);
	return 0;
}

static int attach(pshm_chan *ch)
{
	struct chan_hdr *h = ch->h;
	bool consumer = ch->role == PSHM_CONSUMER;
	unsigned a, b;
	ch->spin_ns = pshm__tune_spin_ns();
	peer_range(ch, &a, &b);
	for (unsigned i = a; i <= b; i++)
		ch->owners0[i] = LOAD_ACQ(&slot_at(ch, i)->owner);
	if (!ch->detached) {
		ch->mb = pshm__membarrier_init();
		ch->self_fence = !ch->mb;
		if (!ch->mb)
			STORE_REL(&h->need_fence, 1);
		int r = pshm__chan_claim_slot(ch);
		if (r < 0)
			return r;
		__atomic_fetch_add(consumer ? &h->cons_attaches : &h->prod_attaches, 1,
				   __ATOMIC_ACQ_REL);
	}
	int r = 0;
	if (consumer) {
		r = cons_attach(ch);
		ch->seen_peer = pshm__chan_producers_alive(ch);
	} else {
		if (ch->mode == PSHM_CHAN_SPSC)
			r = spsc_recover(ch); /* the walk needs no peer table */
		else if (!ch->detached)
			STORE_REL(&slot_at(ch, ch->slot)->ipos, IDLE);
		ch->seen_peer = pshm__chan_slot_alive(ch, 0);
	}
	if (r < 0 && !ch->detached)
		pshm__chan_slot_free(ch);
	return r;
}

int pshm__chan_attach_mem(void *addr, size_t size, unsigned role, unsigned flags,
			  pshm_chan **out)
{
	if (!out || (role != PSHM_PRODUCER && role != PSHM_CONSUMER) || (flags & ~PSHM__CHAN_DETACHED))
		return -EINVAL;
	*out = NULL;
	pshm_chan *ch;
	int r = pshm__chan_new(addr, size, role, flags & PSHM__CHAN_DETACHED, &ch);
	if (r < 0)
		return r;
	r = attach(ch);
	if (r < 0) {
		free(ch);
		return r;
	}
	*out = ch;
	return 0;
}

int pshm_chan_open(const char *name, unsigned role, unsigned flags, pshm_chan **out)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	if ((role != PSHM_PRODUCER && role != PSHM_CONSUMER) ||
	    (flags & ~(unsigned)(PSHM_ALLOW_FOREIGN | PSHM_ALLOW_SHARED_WRITE)))
		return -EINVAL;
	pshm_seg *seg;
	int r = pshm_seg_open(name, flags, &seg);
	if (r < 0)
		return r;
	void *addr = pshm_seg_addr(seg);
	size_t size = pshm_seg_size(seg);
	pshm_chan *ch = NULL;
	/* Nothing is read through the mapping before the file is known to
	 * back all of it: the header check reads the first page, and the whole
	 * ring is faulted in below. A planted sparse channel would otherwise
	 * fill /dev/shm (a hole of tmpfs read through a mapping is allocated). */
	r = header_of(seg);
	if (r == 0)
		r = pshm__seg_backed(pshm_seg_fd(seg), size);
	if (r < 0) {
		pshm_seg_close(seg);
		return r;
	}
	/* Guarded, since a peer may truncate the segment while we validate and
	 * join it. pshm__chan_new() touches the mapping only before it
	 * allocates the handle, and attach() frees nothing it allocates, so a
	 * jump out of either leaks nothing. (A slot claimed just before such a
	 * fault is freed when pshm_seg_close() drops its liveness lock.) */
	PSHM__GUARDED(r, addr, size, pshm__chan_new(addr, size, role, false, &ch));
	if (r == 0) {
		ch->lock_fd = pshm_seg_fd(seg);
		PSHM__GUARDED(r, addr, size, attach(ch));
		if (r < 0)
			free(ch);
	}
	if (r < 0) {
		pshm_seg_close(seg);
		return r;
	}
	/* Fault the whole ring in now, not one page per 4 KiB of messages on
	 * the fast path (best effort: MADV_POPULATE_WRITE is Linux 5.14); the
	 * file backs all of it (checked above), so this allocates nothing. */
	madvise(addr, size, MADV_POPULATE_WRITE);
	pshm__zone_init(&ch->zone, addr, size);
	ch->seg = seg;
	*out = ch;
	return 0;
}

/* Give up our slot (and a producer's open reservation), wake the peers. */
static void chan_detach(pshm_chan *ch)
{
	if (ch->resv && ch->mode == PSHM_CHAN_MPSC) {
		/* Drop the claim: the consumer skips a DEAD record. */
		STORE_REL(hdr_at(ch, ch->resv_pos),
			  rec_make(ch, R_DEAD, ch->resv_span, 0, ch->resv_pos));
		STORE(&slot_at(ch, ch->slot)->ipos, IDLE);
	}
	pshm__chan_slot_free(ch);
	/* Let a sleeping peer notice we are gone at its next check. */
	if (ch->role == PSHM_PRODUCER)
		wake_consumer(ch);
	else
		wake_producers(ch);
}

void pshm_chan_close(pshm_chan *ch)
{
	if (!ch)
		return;
	if (!ch->detached) {
		int r;
		/* A truncated segment: nothing left to detach from. */
		CHAN_GUARDED(r, ch, (chan_detach(ch), 0));
		(void)r;
	}
	pshm_seg_close(ch->seg);
	free(ch);
}

size_t pshm_chan_max_msg(const pshm_chan *ch)
{
	return ch ? ch->max_msg : 0;
}

int pshm_chan_set_wait(pshm_chan *ch, unsigned wait, uint64_t spin_ns)
{
	if (!ch || (wait != PSHM_WAIT_BLOCK && wait != PSHM_WAIT_POLL))
		return -EINVAL;
	ch->wait = wait;
	ch->spin_ns = spin_ns == PSHM_SPIN_AUTO ? pshm__tune_spin_ns() : spin_ns;
	return 0;
}


/* ---- dead claims (the consumer's slow path) ----------------------------- */

/* Is @q (a position after the stuck one) known to start a record? Only
 * the true end of a dead claim passes this test; a shorter length lands in
 * the zeros of that claim, which nothing points at (see resolve_empty). */
static bool is_boundary(const pshm_chan *ch, uint64_t q, uint64_t tail)
{
	if (q == tail)
		return true;
	if (q > tail)
		return false;
	for (unsigned i = 1; i <= ch->nprod; i++)
		if (LOAD_ACQ(&slot_at(ch, i)->ipos) == q)
			return true;
	uint64_t w = LOAD_ACQ(hdr_at(ch, q)), span;
	return w != 0 && rec_check(ch, q, w, &span) == 0;
}

static int mark_dead(pshm_chan *ch, uint64_t expect, uint64_t span)
{
	uint64_t p = ch->head;
	uint64_t dead = rec_make(ch, R_DEAD, span, 0, p);
	return __atomic_compare_exchange_n(hdr_at(ch, p), &expect, dead, false, __ATOMIC_ACQ_REL,
					   __ATOMIC_ACQUIRE) ? 1 : 0;
}

/*
 * Head is claimed (tail > head) but no header is there: the claimer died
 * between its CAS on tail and its BUSY store, or has not got there yet.
 * Candidates are the producers whose intent starts at head. If one is alive
 * we wait. If all are dead, one of them won the CAS: a loser may have died
 * with its intent still pointing here. The winner's claim is all zeros, so
 * of the candidate lengths, the smallest that reaches a known record
 * boundary is the winner's.
 */
static int resolve_empty(pshm_chan *ch)
{
	uint64_t p = ch->head;
	uint64_t t = LOAD_ACQ(&ch->h->tail);
	if (t == p)
		return 0;
	if (t < p || t - p > ch->ring_size)
		return -EPROTO;
	uint64_t room = ch->ring_size - (p & ch->mask), best = 0;
	for (unsigned i = 1; i <= ch->nprod; i++) {
		struct chan_slot *s = slot_at(ch, i);
		if (LOAD_ACQ(&s->ipos) != p)
			continue;
		uint64_t len = LOAD(&s->ilen);
		if (LOAD_ACQ(&s->ipos) != p || pshm__chan_slot_alive(ch, i))
			return 0;
		if (len < 8 || (len & 7) || len > room || (best && len >= best))
			continue;
		if (is_boundary(ch, p + len, t))
			best = len;
	}
	return best ? mark_dead(ch, 0, best) : 0;
}

int pshm__chan_resolve_head(pshm_chan *ch)
{
	uint64_t w = LOAD_ACQ(hdr_at(ch, ch->head)), span;
	if (w == 0)
		return resolve_empty(ch);
	if (rec_type(w) != R_BUSY)
		return 0;
	int r = rec_check(ch, ch->head, w, &span);
	if (r < 0)
		return r;
	return pshm__chan_slot_alive(ch, rec_slot(w)) ? 0 : mark_dead(ch, w, span);
}


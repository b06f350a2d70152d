/* SPDX-License-Identifier: MIT */
/*
 * topic_open.c — topics: creating, attaching (the publisher's recovery of
 * a message its dead predecessor completed but did not count, the
 * subscriber's join), closing, removing. The layout is described in topic.h.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "topic.h"

/* ---- geometry ----------------------------------------------------------- */

static bool is_pow2(uint64_t n)
{
	return n && !(n & (n - 1));
}

static uint64_t slot_size_for(uint64_t max_msg)
{
	uint64_t s = 64;
	while (s < max_msg + T_SLOT_HDR)
		s <<= 1;
	return s;
}

static bool geom_ok(const struct topic_geom *g)
{
	if (!is_pow2(g->ring_size) || g->ring_size < PSHM_TOPIC_RING_MIN ||
	    g->ring_size > PSHM_TOPIC_RING_MAX)
		return false;
	if (g->max_msg > g->ring_size || g->slot_size != slot_size_for(g->max_msg) ||
	    g->slot_size > g->ring_size / 2 || g->nslots != g->ring_size / g->slot_size)
		return false;
	if (g->history >= g->nslots)
		return false;
	if (g->max_subs < 1 || g->max_subs > PSHM_TOPIC_MAX_SUBSCRIBERS)
		return false;
	return g->policy == PSHM_TOPIC_BLOCKING || g->policy == PSHM_TOPIC_LOSSY;
}

static int geom_from_config(const struct pshm_topic_config *cfg, struct topic_geom *g)
{
	struct pshm_topic_config c = { 0 };
	if (cfg)
		c = *cfg;
	g->ring_size = c.ring_size ? c.ring_size : PSHM_TOPIC_RING_DEFAULT;
	if (c.max_msg) {
		g->max_msg = c.max_msg;
	} else {
		g->max_msg = PSHM_TOPIC_MSG_DEFAULT;
		if (g->max_msg + T_SLOT_HDR > g->ring_size / 2)
			g->max_msg = g->ring_size / 2 - T_SLOT_HDR;
	}
	if (g->max_msg > UINT32_MAX || g->ring_size > PSHM_TOPIC_RING_MAX)
		return -EINVAL;
	g->slot_size = slot_size_for(g->max_msg);
	g->nslots = g->ring_size / g->slot_size;
	g->history = c.history;
	g->max_subs = c.max_subscribers ? c.max_subscribers : PSHM_TOPIC_SUBSCRIBERS_DEFAULT;
	g->policy = c.policy;
	return geom_ok(g) ? 0 : -EINVAL;
}

int pshm__topic_hdr_read(const void *addr, size_t size, struct topic_geom *g)
{
	if (!addr || size < sizeof(struct topic_hdr))
		return -EPROTO;
	const struct topic_hdr *h = addr;
	if (LOAD(&h->magic) != PSHM_TOPIC_MAGIC || LOAD(&h->version) != TOPIC_VERSION)
		return -EPROTO;
	g->ring_size = LOAD(&h->ring_size);
	g->slot_size = LOAD(&h->slot_size);
	g->max_msg = LOAD(&h->max_msg);
	g->history = LOAD(&h->history);
	g->max_subs = LOAD(&h->max_subs);
	g->policy = LOAD(&h->policy);
	g->nslots = g->slot_size ? g->ring_size / g->slot_size : 0;
	uint64_t off = LOAD(&h->ring_off);
	uint64_t total = LOAD(&h->total_size);
	if (!geom_ok(g) || off != topic_ring_offset(g->max_subs) || total != size ||
	    total != off + g->ring_size || LOAD(&h->reserved0) != 0)
		return -EPROTO;
	return 0;
}

static int topic_init(void *addr, size_t size, void *arg)
{
	const struct topic_geom *g = arg;
	struct topic_hdr *h = addr;
	/* The file is fresh (zeros): only non-zero fields are written. */
	h->magic = PSHM_TOPIC_MAGIC;
	h->version = TOPIC_VERSION;
	h->ring_off = (uint32_t)topic_ring_offset(g->max_subs);
	h->total_size = size;
	h->ring_size = g->ring_size;
	h->slot_size = (uint32_t)g->slot_size;
	h->max_msg = (uint32_t)g->max_msg;
	h->history = g->history;
	h->max_subs = g->max_subs;
	h->policy = g->policy;
	return 0;
}

/* A pshm__hdr_fn: is @h a topic's header, for a file of @size bytes? */
static int hdr_check(const void *h, size_t size)
{
	struct topic_geom g;
	return pshm__topic_hdr_read(h, size, &g);
}

/* Is the header of @seg, read with pread (nothing mapped), a topic's of its
 * size? 0, -EPROTO, or -errno. */
static int header_of(pshm_seg *seg)
{
	struct topic_hdr h;
	int r = pshm__seg_pread_full(seg, &h, sizeof(h), 0);
	return r < 0 ? r : hdr_check(&h, pshm_seg_size(seg));
}

int pshm_topic_create(const char *name, const struct pshm_topic_config *cfg, mode_t mode,
		      unsigned flags)
{
	struct topic_geom g;
	int r = geom_from_config(cfg, &g);
	if (r < 0)
		return r;
	return pshm__create_kind(name, topic_ring_offset(g.max_subs) + g.ring_size, mode, flags,
				 topic_init, &g, sizeof(struct topic_hdr), hdr_check);
}

/* ---- attaching ---------------------------------------------------------- */

static int topic_new(void *addr, size_t size, unsigned role, bool detached, pshm_topic **out)
{
	struct topic_geom g;
	int r = pshm__topic_hdr_read(addr, size, &g);
	if (r < 0)
		return r;
	pshm_topic *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->h = addr;
	t->subs = (struct topic_sub *)(t->h + 1);
	t->ring = (unsigned char *)addr + topic_ring_offset(g.max_subs);
	t->map_len = size;
	t->g = g;
	t->mask = g.nslots - 1;
	t->shift = (unsigned)__builtin_ctzll(g.slot_size);
	t->role = role;
	t->lossy = g.policy == PSHM_TOPIC_LOSSY;
	t->detached = detached;
	t->lock_fd = -1;
	t->wait = PSHM_WAIT_BLOCK;
	t->spin_ns = pshm__spin_or_auto(PSHM_SPIN_AUTO);
	t->touched_sec = -1;
	*out = t;
	return 0;
}

bool pshm__topic_pub_alive(const pshm_topic *t)
{
	if (t->detached || owner_state(LOAD_ACQ(&t->h->pub_owner)) != OWN_ACTIVE)
		return false;
	return pshm__live_byte(t->lock_fd, PSHM__LOCK_ROLE(0));
}

/*
 * The publisher: take its lock (-EBUSY while a live one holds it), then
 * resume the numbering. A predecessor killed between a message's even
 * stamp and pub_seq left that message complete but uncounted: count it,
 * so it is not written over (delivered twice, differently).
 */
static int pub_attach(pshm_topic *t)
{
	struct topic_hdr *h = t->h;
	if (!t->detached) {
		t->dead = calloc(t->g.max_subs, sizeof(*t->dead));
		if (!t->dead)
			return -ENOMEM;
		int r = pshm__lock_take(t->lock_fd, PSHM__LOCK_ROLE(0), true);
		if (r < 0)
			return r == -EAGAIN ? -EBUSY : r;
	}
	/* Checked before the attach is announced: a subscriber that sees
	 * pub_attaches move takes it for a publisher that came. */
	uint64_t p = LOAD_ACQ(&h->pub_seq);
	if (p > UINT64_MAX / 4) {
		if (!t->detached)
			pshm__lock_drop(t->lock_fd, PSHM__LOCK_ROLE(0));
		return -EPROTO;
	}
	if (!t->detached) {
		owner_claim(&h->pub_owner);
		__atomic_fetch_add(&h->pub_attaches, 1, __ATOMIC_ACQ_REL);
	}
	if (LOAD_ACQ(&slot_of(t, p)->stamp) == 2 * p + 2) {
		p++;
		STORE_REL(&h->pub_seq, p);
	}
	t->seq = p;
	t->limit = 0; /* the first message scans */
	return 0;
}

/* Try subscriber slot @i: 1 taken, 0 held by a live peer (or not free when
 * @free_only), or -errno when the lock cannot be taken at all. */
static int try_sub_slot(pshm_topic *t, unsigned i, bool free_only)
{
	int r = pshm__slot_lock(t->lock_fd, &t->subs[i].owner, PSHM__LOCK_ROLE(1 + (uint64_t)i),
				free_only);
	if (r > 0)
		t->slot = i;
	return r;
}

static int claim_sub_slot(pshm_topic *t)
{
	/* A free slot first, then one whose owner is dead. */
	for (int pass = 0; pass < 2; pass++)
		for (unsigned i = 0; i < t->g.max_subs; i++) {
			int r = try_sub_slot(t, i, pass == 0);
			if (r != 0)
				return r < 0 ? r : 0;
		}
	return -EUSERS;
}

/*
 * Where a new subscriber starts: the next message, or with @history the
 * oldest one kept. Blocking mode: `next` is stored, then the owner word
 * (release), a full fence, then the publisher's limit and position are
 * loaded. A start below limit - nslots could be written over by a
 * publisher that has not seen us, and one at or below pub_seq - nslots
 * already may have been: a publisher that ran on while we were between
 * our two stores (preempted, say) and then saw us lowers its limit under
 * its position, so the limit alone does not say how far it went. Either
 * way the start moves up (see topic.h). Bounded: each round either ends
 * or raises the start, which stays at most the publisher's position + 1.
 */
static int sub_join(pshm_topic *t, bool history)
{
	struct topic_hdr *h = t->h;
	struct topic_sub *s = &t->subs[t->slot];
	uint64_t p = LOAD_ACQ(&h->pub_seq);
	if (p > UINT64_MAX / 4)
		return -EPROTO;
	uint64_t n = t->g.nslots;
	uint64_t start = history ? (p > t->g.history ? p - t->g.history : 0) : p;
	STORE(&s->missed, 0);
	STORE(&s->next, start);
	if (!t->detached)
		owner_claim(&s->owner);
	for (int round = 0; !t->lossy && round < 1000; round++) {
		FULL_FENCE();
		uint64_t lim = LOAD_ACQ(&h->limit);
		p = LOAD_ACQ(&h->pub_seq);
		if (p > UINT64_MAX / 4)
			return -EPROTO;
		uint64_t reach = lim > p + 1 ? lim : p + 1; /* what it may write, plus one */
		if (reach <= n || reach - n <= start)
			break;
		start = reach - n;
		if (start > p + 1)
			return -EPROTO;
		STORE(&s->next, start);
	}
	t->next = start;
	return 0;
}

static int attach(pshm_topic *t, unsigned flags)
{
	struct topic_hdr *h = t->h;
	if (!t->detached) {
		t->mb = pshm__membarrier_init();
		t->self_fence = !t->mb;
		if (!t->mb)
			STORE_REL(&h->need_fence, 1);
	}
	if (t->role == PSHM_PUBLISHER)
		return pub_attach(t);
	if (!t->detached) {
		int r = claim_sub_slot(t);
		if (r < 0)
			return r;
	}
	/* The attach count before the liveness check: a publisher coming in
	 * between shows as a change. */
	t->attaches0 = LOAD_ACQ(&h->pub_attaches);
	t->seen_peer = pshm__topic_pub_alive(t);
	int r = sub_join(t, flags & PSHM_TOPIC_HISTORY);
	if (r < 0 && !t->detached) {
		owner_release(&t->subs[t->slot].owner);
		pshm__lock_drop(t->lock_fd, PSHM__LOCK_ROLE(1 + (uint64_t)t->slot));
	} else if (!t->detached) {
		__atomic_fetch_add(&h->sub_attaches, 1, __ATOMIC_ACQ_REL); /* counted once joined */
	}
	return r;
}

static bool role_ok(unsigned role)
{
	return role == PSHM_PUBLISHER || role == PSHM_SUBSCRIBER;
}

int pshm__topic_attach_mem(void *addr, size_t size, unsigned role, unsigned flags,
			   pshm_topic **out)
{
	if (!out || !role_ok(role) || (flags & ~(PSHM__TOPIC_DETACHED | PSHM_TOPIC_HISTORY)))
		return -EINVAL;
	*out = NULL;
	pshm_topic *t;
	int r = topic_new(addr, size, role, flags & PSHM__TOPIC_DETACHED, &t);
	if (r < 0)
		return r;
	r = attach(t, flags);
	if (r < 0) {
		free(t->dead);
		free(t);
		return r;
	}
	*out = t;
	return 0;
}

int pshm_topic_open(const char *name, unsigned role, unsigned flags, pshm_topic **out)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	unsigned allowed = PSHM_ALLOW_FOREIGN | PSHM_ALLOW_SHARED_WRITE;
	if (role == PSHM_SUBSCRIBER)
		allowed |= PSHM_TOPIC_HISTORY;
	if (!role_ok(role) || (flags & ~allowed))
		return -EINVAL;
	pshm_seg *seg;
	int r = pshm_seg_open(name, flags & ~(unsigned)PSHM_TOPIC_HISTORY, &seg);
	if (r < 0)
		return r;
	void *addr = pshm_seg_addr(seg);
	size_t size = pshm_seg_size(seg);
	pshm_topic *t = NULL;
	/* Nothing is read through the mapping before the file is known to
	 * back all of it (a planted sparse topic would otherwise fill
	 * /dev/shm: a hole of tmpfs read through a mapping is allocated). */
	r = header_of(seg);
	if (r == 0)
		r = pshm__seg_backed(pshm_seg_fd(seg), size);
	/* Guarded, since a peer may truncate the segment while we join it.
	 * topic_new() touches the mapping only before it allocates; a jump out
	 * of attach() may leak the publisher's small table at worst, and a
	 * lock taken just before is dropped by pshm_seg_close(). */
	if (r == 0)
		PSHM__GUARDED(r, addr, size, topic_new(addr, size, role, false, &t));
	if (r == 0) {
		t->lock_fd = pshm_seg_fd(seg);
		PSHM__GUARDED(r, addr, size, attach(t, flags));
		if (r < 0) {
			free(t->dead);
			free(t);
		}
	}
	if (r < 0) {
		pshm_seg_close(seg);
		return r;
	}
	madvise(addr, size, MADV_POPULATE_WRITE);
	t->seg = seg;
	*out = t;
	return 0;
}

int pshm_topic_subscribe(const char *name, unsigned flags, pshm_topic **out)
{
	return pshm_topic_open(name, PSHM_SUBSCRIBER, flags, out);
}

/* ---- closing ------------------------------------------------------------ */

static int detach(pshm_topic *t)
{
	struct topic_hdr *h = t->h;
	if (t->role == PSHM_PUBLISHER) {
		/* An open reservation stays odd: never delivered; the next
		 * publisher writes that message again. */
		owner_release(&h->pub_owner);
		pshm__lock_drop(t->lock_fd, PSHM__LOCK_ROLE(0));
		/* Let sleeping subscribers notice we are gone at their next check. */
		wake(t, &h->data_wait, INT_MAX);
	} else {
		struct topic_sub *s = &t->subs[t->slot];
		owner_release(&s->owner);
		pshm__lock_drop(t->lock_fd, PSHM__LOCK_ROLE(1 + (uint64_t)t->slot));
		wake(t, &h->space_wait, 1);
	}
	return 0;
}

void pshm_topic_close(pshm_topic *t)
{
	if (!t)
		return;
	pshm__topic_fd_stop(t);
	if (!t->detached) {
		int r;
		TOPIC_GUARDED(r, t, detach(t));
		(void)r;
	}
	pshm_seg_close(t->seg);
	free(t->dead);
	free(t);
}

/* ---- accessors ---------------------------------------------------------- */

int pshm_topic_set_wait(pshm_topic *t, unsigned wait, uint64_t spin_ns)
{
	if (!t || (wait != PSHM_WAIT_BLOCK && wait != PSHM_WAIT_POLL))
		return -EINVAL;
	t->wait = wait;
	t->spin_ns = pshm__spin_or_auto(spin_ns);
	return 0;
}

size_t pshm_topic_max_msg(const pshm_topic *t)
{
	return t ? (size_t)t->g.max_msg : 0;
}

uint64_t pshm_topic_slots(const pshm_topic *t)
{
	return t ? t->g.nslots : 0;
}

uint64_t pshm_topic_missed(const pshm_topic *t)
{
	return t && t->role == PSHM_SUBSCRIBER ? t->missed : 0;
}

uint64_t pshm_topic_seq(const pshm_topic *t)
{
	if (!t)
		return 0;
	return t->role == PSHM_PUBLISHER ? t->seq : t->last;
}

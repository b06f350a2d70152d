/* SPDX-License-Identifier: MIT */
/*
 * topic.c — the topic fast path: publishing, receiving, waiting. The
 * layout, the slot stamps and the blocking-mode limit are described in
 * topic.h.
 */
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "topic.h"

/* ---- copies ------------------------------------------------------------- */

/*
 * In lossy mode a subscriber may copy a slot while the publisher writes it
 * again; the stamp check after the copy throws such a copy away (a
 * seqlock). ThreadSanitizer would still report the overlap, so under it the
 * payload moves by relaxed atomic words.
 */
#if defined(__SANITIZE_THREAD__)
static void copy_words(unsigned char *dst, const unsigned char *src, size_t len, bool to_ring)
{
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		if (to_ring) {
			memcpy(&w, src + i, 8);
			__atomic_store_n((uint64_t *)(void *)(dst + i), w, __ATOMIC_RELAXED);
		} else {
			w = __atomic_load_n((const uint64_t *)(const void *)(src + i), __ATOMIC_RELAXED);
			memcpy(dst + i, &w, 8);
		}
	}
	for (; i < len; i++) {
		if (to_ring)
			__atomic_store_n(dst + i, src[i], __ATOMIC_RELAXED);
		else
			dst[i] = __atomic_load_n(src + i, __ATOMIC_RELAXED);
	}
}
#define COPY_IN(dst, src, len) copy_words((dst), (src), (len), true)
#define COPY_OUT(dst, src, len) copy_words((dst), (src), (len), false)
#else
#define COPY_IN(dst, src, len) memcpy((dst), (src), (len))
#define COPY_OUT(dst, src, len) memcpy((dst), (src), (len))
#endif

/* ---- waiting ------------------------------------------------------------ */

typedef bool (*ready_fn)(const pshm_topic *t);

struct waiter {
	int64_t timeout, deadline, spin_end;
	bool started;
};

void pshm__topic_sleep_fence(pshm_topic *t, bool *mb)
{
	/* Dekker with the waker: flag store, full barrier, condition load. */
	if (*mb && !pshm__membarrier()) {
		/* From now on the wakers must fence themselves. */
		*mb = false;
		STORE_REL(&t->h->need_fence, 1);
		FULL_FENCE();
	} else if (!*mb) {
		FULL_FENCE();
	}
}

static bool sub_ready(const pshm_topic *t)
{
	return sub_ready_at(t, t->next);
}

/* Sleep on @flag until woken, or until the deadline or the next check. */
static int sleep_on(pshm_topic *t, struct waiter *wt, uint32_t *flag, ready_fn ready, int64_t now)
{
	STORE(flag, 1);
	pshm__topic_sleep_fence(t, &t->mb);
	/* Subscribers share their flag: only the publisher, who wakes them
	 * all, clears it. The publisher is alone on its own. */
	bool mine = t->role == PSHM_PUBLISHER;
	if (ready(t)) {
		if (mine)
			STORE(flag, 0);
		return 0;
	}
	int64_t until = wt->deadline < t->next_check ? wt->deadline : t->next_check;
	int r = pshm__futex_wait(flag, 1, until > now ? until - now : 0);
	if (mine)
		STORE(flag, 0);
	return r == -EINTR ? -EINTR : 0;
}

static int sub_check(pshm_topic *t);
static int pub_check(pshm_topic *t);

/*
 * One step of waiting for @ready: spin (up to spin_ns, or for ever when
 * polling), check the peers every T_CHECK_NS, then sleep on @flag. 0 when
 * the caller should look again, or -EAGAIN (timeout 0), -ETIMEDOUT,
 * -EPIPE, -EINTR.
 */
static int wait_step(pshm_topic *t, struct waiter *wt, uint32_t *flag, ready_fn ready)
{
	int64_t now = pshm__now_ns();
	if (!wt->started) {
		wt->started = true;
		wt->deadline = wt->timeout > 0 && wt->timeout < INT64_MAX - now ? now + wt->timeout
										 : INT64_MAX;
		wt->spin_end = now + (t->spin_ns > INT64_MAX / 2 ? INT64_MAX / 2 : (int64_t)t->spin_ns);
	}
	bool polling = t->wait == PSHM_WAIT_POLL;
	if (wt->timeout != 0 && now < wt->deadline &&
	    (polling ? now < t->next_check : now < wt->spin_end)) {
		for (unsigned i = 1; i <= 256 && !ready(t); i++)
			if (!(i & 7))
				pshm__cpu_relax();
		return 0;
	}
	if (now >= t->next_check ||
	    (t->peer_gone && LOAD(&t->h->pub_attaches) != t->gone_mark)) {
		t->next_check = now + T_CHECK_NS;
		int r = t->role == PSHM_SUBSCRIBER ? sub_check(t) : pub_check(t);
		if (r)
			return r > 0 ? 0 : r;
	} else if (t->peer_gone) {
		/* Between checks, the verdict stands unless a publisher came. */
		return -EPIPE;
	}
	if (wt->timeout == 0)
		return -EAGAIN;
	if (now >= wt->deadline)
		return -ETIMEDOUT;
	if (polling)
		return 0;
	return sleep_on(t, wt, flag, ready, now);
}

/* ---- modification time ------------------------------------------------- */

/*
 * As channels do (chan.c): traffic goes through the mapping, which leaves
 * the file's mtime alone on tmpfs, and `pshm gc` judges abandonment by it.
 * Each handle sets it at most once per second of CLOCK_MONOTONIC_COARSE
 * (a vDSO load): the publisher after a message is out, a subscriber on
 * entering recv or peek. Best effort: a failure changes nothing.
 */
static __attribute__((noinline)) void touch_slow(pshm_topic *t, int64_t sec)
{
	t->touched_sec = sec;
	int e = errno;
	futimens(pshm_seg_fd(t->seg), NULL);
	errno = e;
}

static inline void touch(pshm_topic *t)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	if (__builtin_expect(ts.tv_sec != t->touched_sec, 0) && t->seg)
		touch_slow(t, ts.tv_sec);
}

/* ---- the publisher ------------------------------------------------------ */

/*
 * The lowest `next` among the subscribers that hold message @w back,
 * capped at @w. With @check, one that is a whole ring behind is asked
 * whether it lives (a system call), and one found dead is remembered by
 * its owner word and skipped until the slot is claimed again.
 */
static uint64_t scan_min(pshm_topic *t, uint64_t w, bool check)
{
	uint64_t m = w, n = t->g.nslots;
	if (t->detached)
		return m;
	for (unsigned i = 0; i < t->g.max_subs; i++) {
		struct topic_sub *s = &t->subs[i];
		uint64_t o = LOAD_ACQ(&s->owner);
		if (!owner_state(o) || t->dead[i] == o)
			continue;
		uint64_t c = LOAD_ACQ(&s->next);
		if (c >= m)
			continue;
		if (check && c + n <= w && !pshm__live_byte(t->lock_fd, PSHM__LOCK_ROLE(1 + (uint64_t)i))) {
			t->dead[i] = o;
			continue;
		}
		m = c;
	}
	return m;
}

/*
 * Blocking mode: may message t->seq be written? Refresh the limit: a
 * tentative one first, a full fence, the scan, then the real one (see
 * topic.h). The limit never lets the publisher reach past the history.
 */
static bool pub_refresh(pshm_topic *t, bool check)
{
	uint64_t w = t->seq, n = t->g.nslots;
	uint64_t cap = (w > t->g.history ? w - t->g.history : 0) + n;
	STORE(&t->h->limit, cap);
	FULL_FENCE();
	uint64_t m = scan_min(t, w, check);
	uint64_t lim = m + n < cap ? m + n : cap;
	STORE_REL(&t->h->limit, lim);
	t->limit = lim;
	return w < lim;
}

static bool pub_ready(const pshm_topic *t)
{
	pshm_topic *u = (pshm_topic *)t; /* scan_min() without check writes nothing */
	return scan_min(u, t->seq, false) + t->g.nslots > t->seq;
}

static int pub_check(pshm_topic *t)
{
	return pub_refresh(t, true) ? 1 : 0;
}

static int pub_reserve(pshm_topic *t, size_t len, void **ptr, int64_t timeout_ns)
{
	if (!t->lossy && t->seq >= t->limit) {
		struct waiter wt = { .timeout = timeout_ns };
		while (!pub_refresh(t, false)) {
			int r = wait_step(t, &wt, &t->h->space_wait, pub_ready);
			if (r < 0)
				return r;
		}
	}
	uint64_t w = t->seq;
	struct topic_slot *sl = slot_of(t, w);
	/* Odd first: a subscriber still reading the message this slot held
	 * sees it change and throws its copy away. */
	STORE(&sl->stamp, 2 * w + 1);
	RELEASE_FENCE();
	t->resv = true;
	t->resv_len = (uint32_t)len;
	*ptr = payload_of(sl);
	return 0;
}

static int pub_commit(pshm_topic *t, size_t len)
{
	uint64_t w = t->seq;
	struct topic_slot *sl = slot_of(t, w);
	STORE(&sl->len, (uint32_t)len);
	STORE_REL(&sl->stamp, 2 * w + 2);
	t->seq = w + 1;
	STORE_REL(&t->h->pub_seq, w + 1);
	t->resv = false;
	wake(t, &t->h->data_wait, INT_MAX);
	return 0;
}

static int pub_publish(pshm_topic *t, const void *msg, size_t len, int64_t timeout_ns)
{
	void *p;
	int r = pub_reserve(t, len, &p, timeout_ns);
	if (r < 0)
		return r;
	if (len)
		COPY_IN(p, msg, len);
	return pub_commit(t, len);
}

static int pub_args(const pshm_topic *t, size_t len)
{
	if (!t || t->role != PSHM_PUBLISHER)
		return -EINVAL;
	if (t->resv)
		return -EBUSY;
	return len > t->g.max_msg ? -EMSGSIZE : 0;
}

int pshm_topic_publish(pshm_topic *t, const void *msg, size_t len, int64_t timeout_ns)
{
	int r = pub_args(t, len);
	if (r < 0)
		return r;
	if (!msg && len)
		return -EINVAL;
	TOPIC_GUARDED(r, t, pub_publish(t, msg, len, timeout_ns));
	if (r == 0)
		touch(t);
	return r;
}

int pshm_topic_reserve(pshm_topic *t, size_t len, void **ptr, int64_t timeout_ns)
{
	int r = pub_args(t, len);
	if (r < 0)
		return r;
	if (!ptr)
		return -EINVAL;
	TOPIC_GUARDED(r, t, pub_reserve(t, len, ptr, timeout_ns));
	return r;
}

int pshm_topic_commit(pshm_topic *t, size_t len)
{
	if (!t || t->role != PSHM_PUBLISHER || !t->resv || len > t->resv_len)
		return -EINVAL;
	int r;
	TOPIC_GUARDED(r, t, pub_commit(t, len));
	if (r == 0)
		touch(t);
	return r;
}

/* ---- the subscriber ----------------------------------------------------- */

/* Move our cursor to @to, publishing it (the publisher waits on it). */
static void sub_advance(pshm_topic *t, uint64_t to)
{
	struct topic_sub *s = &t->subs[t->slot];
	t->next = to;
	if (t->detached)
		return;
	STORE_REL(&s->next, to);
	if (!t->lossy)
		wake(t, &t->h->space_wait, 1);
}

/*
 * The publisher lapped us: skip ahead, and count what we skipped. Not to
 * the oldest message that may still be whole (the one after the slot being
 * written now): the publisher is about to write over that one too, and a
 * subscriber a little slower than it would be lapped again at every
 * message. Half a ring behind the publisher leaves it room to catch up.
 */
static void sub_skip(pshm_topic *t)
{
	uint64_t s = t->next, half = t->g.nslots / 2;
	uint64_t p = LOAD_ACQ(&t->h->pub_seq);
	uint64_t to = p >= half && p <= UINT64_MAX / 4 ? p - half : 0;
	if (to <= s)
		to = s + 1;
	t->missed += to - s;
	if (!t->detached)
		STORE(&t->subs[t->slot].missed, t->missed);
	sub_advance(t, to);
}

/*
 * Look at message t->next: 1 with its slot and length when it is there,
 * 0 when it is not yet, or -EPROTO. Laps are skipped and counted on the
 * way (a bounded number of times: a publisher that laps us without end
 * leaves us spinning in the caller, not here).
 */
static int sub_poll(pshm_topic *t, struct topic_slot **slp, uint32_t *lenp)
{
	for (int i = 0; i < 64; i++) {
		uint64_t s = t->next;
		struct topic_slot *sl = slot_of(t, s);
		uint64_t st = LOAD_ACQ(&sl->stamp);
		if (st < 2 * s + 2)
			return 0;
		if (st == 2 * s + 2) {
			uint32_t len = LOAD(&sl->len);
			if (len <= t->g.max_msg) {
				*slp = sl;
				*lenp = len;
				return 1;
			}
			ACQUIRE_FENCE();
			if (LOAD(&sl->stamp) == st)
				return -EPROTO;
		}
		sub_skip(t);
	}
	return 0;
}

/* Is the message we read from @sl (number s) still the one there? */
static bool sub_intact(const struct topic_slot *sl, uint64_t s)
{
	ACQUIRE_FENCE();
	return LOAD(&sl->stamp) == 2 * s + 2;
}

/* Try once: the length of the message copied, -EAGAIN when none is there
 * (or when the publisher kept lapping us: the caller's wait, bounded by
 * its timeout, then tries again). */
static ssize_t sub_take(pshm_topic *t, void *buf, size_t cap)
{
	for (int round = 0; round < 64; round++) {
		struct topic_slot *sl;
		uint32_t len;
		int r = sub_poll(t, &sl, &len);
		if (r <= 0)
			return r == 0 ? -EAGAIN : r;
		uint64_t s = t->next;
		if (len > cap) {
			/* The length of a message overwritten meanwhile? */
			if (!sub_intact(sl, s)) {
				sub_skip(t);
				continue;
			}
			return -EMSGSIZE;
		}
		if (len)
			COPY_OUT(buf, payload_of(sl), len);
		if (!sub_intact(sl, s)) {
			sub_skip(t);
			continue;
		}
		t->last = s + 1;
		sub_advance(t, s + 1);
		return len;
	}
	return -EAGAIN;
}

static ssize_t sub_recv(pshm_topic *t, void *buf, size_t cap, int64_t timeout_ns)
{
	struct waiter wt = { .timeout = timeout_ns };
	for (;;) {
		ssize_t r = sub_take(t, buf, cap);
		if (r != -EAGAIN)
			return r;
		int w = wait_step(t, &wt, &t->h->data_wait, sub_ready);
		if (w < 0)
			return w;
	}
}

static ssize_t sub_peek(pshm_topic *t, const void **ptr, int64_t timeout_ns)
{
	struct waiter wt = { .timeout = timeout_ns };
	for (;;) {
		struct topic_slot *sl;
		uint32_t len;
		int r = sub_poll(t, &sl, &len);
		if (r < 0)
			return r;
		if (r > 0) {
			t->peeked = true;
			t->peek_len = len;
			t->last = t->next + 1;
			*ptr = payload_of(sl);
			return len;
		}
		r = wait_step(t, &wt, &t->h->data_wait, sub_ready);
		if (r < 0)
			return r;
	}
}

static int sub_release(pshm_topic *t)
{
	uint64_t s = t->next;
	bool ok = sub_intact(slot_of(t, s), s);
	t->peeked = false;
	if (!ok) {
		t->missed++;
		if (!t->detached)
			STORE(&t->subs[t->slot].missed, t->missed);
	}
	sub_advance(t, s + 1);
	return ok ? 0 : -ESTALE;
}

/* The fd's thread goes back to watching when a receive finds nothing. */
static ssize_t sub_done(pshm_topic *t, ssize_t r)
{
	if (r == -EAGAIN || r == -ETIMEDOUT || r == -EINTR)
		pshm__topic_fd_rearm(t);
	return r;
}

ssize_t pshm_topic_recv(pshm_topic *t, void *buf, size_t cap, int64_t timeout_ns)
{
	if (!t || t->role != PSHM_SUBSCRIBER || (!buf && cap))
		return -EINVAL;
	/* A message peeked at and not released is received again, whole. */
	t->peeked = false;
	touch(t);
	ssize_t r;
	TOPIC_GUARDED(r, t, sub_recv(t, buf, cap, timeout_ns));
	return sub_done(t, r);
}

ssize_t pshm_topic_peek(pshm_topic *t, const void **ptr, int64_t timeout_ns)
{
	if (!t || t->role != PSHM_SUBSCRIBER || !ptr)
		return -EINVAL;
	if (t->peeked) {
		*ptr = payload_of(slot_of(t, t->next));
		return t->peek_len;
	}
	touch(t);
	ssize_t r;
	TOPIC_GUARDED(r, t, sub_peek(t, ptr, timeout_ns));
	return sub_done(t, r);
}

int pshm_topic_release(pshm_topic *t)
{
	if (!t || t->role != PSHM_SUBSCRIBER || !t->peeked)
		return -EINVAL;
	int r;
	TOPIC_GUARDED(r, t, sub_release(t));
	return r;
}

/* ---- peers -------------------------------------------------------------- */

/*
 * Is the publisher gone for good? -EPIPE when it is not alive and we saw
 * one (or one attached after us), and the last message it left has been
 * read; 1 when a message came meanwhile; 0 to wait on.
 */
static int sub_check(pshm_topic *t)
{
	uint64_t mark = LOAD_ACQ(&t->h->pub_attaches);
	t->peer_gone = false;
	if (pshm__topic_pub_alive(t)) {
		t->seen_peer = true;
		return 0;
	}
	if (!t->seen_peer && mark == t->attaches0)
		return 0;
	if (sub_ready(t))
		return 1;
	t->peer_gone = true;
	t->gone_mark = mark;
	return -EPIPE;
}

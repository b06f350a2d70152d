/* SPDX-License-Identifier: MIT */
/*
 * service_server.c — the server side of a service: taking requests and
 * answering them. The cell protocol is described in service.h. Servers of
 * a pool compete only through the CAS that takes a cell (REQ -> TAKEN), so
 * each request goes to exactly one of them.
 */
#include <string.h>

#include "service.h"

/* ---- taking a request --------------------------------------------------- */

struct take {
	void *buf;
	size_t cap;
	struct pshm_service_req *req;
	ssize_t len;
	bool contended; /* take_from() gave up after losing many CASes */
};

static int answer(pshm_service *s, uint64_t id, const void *rep, size_t len, bool err);

/*
 * Take the oldest request of client slot @i (the smallest sequence number:
 * one client's requests are served in the order it sent them). 1 taken, 0
 * none there, -EMSGSIZE (the buffer is too small: left queued), -EBADMSG
 * (an impossible length: taken and answered with an error).
 *
 * 0 must mean that a whole look found no request: try_client() clears the
 * client's ready bit on it, and a request left behind with its bit clear
 * would wait for the client's next post. So a lost CAS (another server
 * took that cell, or the client withdrew it) looks again: each loss is
 * somebody else's progress. A segment scribbled on without end could make
 * that loop endless, so after TAKE_TRIES losses it returns 0 with
 * t->contended set, and the bit stays.
 */
#define TAKE_TRIES 64

static int take_from(pshm_service *s, unsigned i, struct take *t)
{
	unsigned best, tries = 0;
	uint64_t bw;
	t->contended = false;
again:
	best = UINT_MAX;
	bw = 0;
	for (unsigned c = 0; c < s->g.inflight; c++) {
		uint64_t w = LOAD_ACQ(state_at(s, i, c));
		if (cell_state(w) == C_REQ &&
		    (best == UINT_MAX || (int32_t)(cell_seq(w) - cell_seq(bw)) < 0)) {
			best = c;
			bw = w;
		}
	}
	if (best == UINT_MAX)
		return 0;
	struct svc_cell *cell = cell_at(s, i, best);
	uint32_t len = LOAD(&cell->req_len);
	bool bad = len > s->g.max_req;
	if (!bad && len > t->cap)
		return -EMSGSIZE;
	uint64_t mine = cell_make(C_TAKEN, s->slot, s->gen, cell_seq(bw));
	if (!CAS(state_at(s, i, best), &bw, mine)) {
		if (++tries < TAKE_TRIES)
			goto again;
		t->contended = true;
		return 0;
	}
	__atomic_fetch_add(&s->h->requests, 1, __ATOMIC_RELAXED);
	uint64_t o = LOAD(&cslot_at(s, i)->owner);
	*t->req = (struct pshm_service_req){
		.id = id_make(i, best, cell_seq(bw)), .client = i, .pid = (pid_t)(uint32_t)o,
	};
	if (bad) {
		static const char why[] = "request of an impossible length";
		size_t n = sizeof(why) - 1 < s->g.max_rep ? sizeof(why) - 1 : s->g.max_rep - 1;
		answer(s, t->req->id, why, n, true);
		return -EBADMSG;
	}
	if (len)
		memcpy(t->buf, req_area(s, cell), len);
	t->len = len;
	return 1;
}

/* Look at client slot @i of the ready bitmap: take from it, or clear its
 * bit when it has nothing, then look once more (a client posting meanwhile
 * sets the bit after its cell, with an RMW on the same word). */
static int try_client(pshm_service *s, unsigned i, struct take *t)
{
	int r = take_from(s, i, t);
	if (r != 0 || t->contended)
		return r;
	uint64_t bit = (uint64_t)1 << (i % 64), *rw = &ready_words(s)[i / 64];
	__atomic_fetch_and(rw, ~bit, __ATOMIC_SEQ_CST);
	r = take_from(s, i, t);
	if (r != 0 || t->contended)
		__atomic_fetch_or(rw, bit, __ATOMIC_SEQ_CST); /* there may be more */
	return r;
}

/* Go once round the clients whose bit is set, from the cursor on. */
static int take_one(pshm_service *s, struct take *t)
{
	unsigned n = s->g.clients, nw = (n + 63) / 64, start = s->cursor % n;
	uint64_t *ready = ready_words(s);
	for (unsigned k = 0; k <= nw; k++) {
		unsigned wi = (start / 64 + k) % nw;
		uint64_t bits = LOAD_ACQ(&ready[wi]);
		if (k == 0)
			bits &= ~(uint64_t)0 << (start % 64);
		else if (k == nw)
			bits &= ((uint64_t)1 << (start % 64)) - 1;
		if (wi == nw - 1 && n % 64)
			bits &= ((uint64_t)1 << (n % 64)) - 1;
		for (; bits; bits &= bits - 1) {
			unsigned i = wi * 64 + (unsigned)__builtin_ctzll(bits);
			int r = try_client(s, i, t);
			if (r != 0) {
				s->cursor = i + 1;
				return r;
			}
		}
	}
	return 0;
}

/* Bits past the last client slot are masked as take_one() does: a stray
 * one there (a scribbling peer) must not keep a server from sleeping. */
static bool any_ready(const pshm_service *s)
{
	const uint64_t *ready = ready_words(s);
	unsigned n = s->g.clients, nw = (n + 63) / 64;
	for (unsigned wi = 0; wi < nw; wi++) {
		uint64_t bits = LOAD(&ready[wi]);
		if (wi == nw - 1 && n % 64)
			bits &= ((uint64_t)1 << (n % 64)) - 1;
		if (bits)
			return true;
	}
	return false;
}

static int recv_wait(pshm_service *s, struct take *t, int64_t timeout)
{
	struct svc_hdr *h = s->h;
	struct svc_waiter wt;
	pshm__svc_wait_start(s, &wt, timeout);
	/* Bounded: a stale bit is cleared by the look that finds nothing. */
	for (;;) {
		int r = take_one(s, t);
		if (r != 0)
			return r;
		r = pshm__svc_wait_next(&wt, pshm__now_ns());
		if (r < 0)
			return r;
		if (r > 0)
			continue;
		__atomic_fetch_add(&h->srv_sleep, 1, __ATOMIC_SEQ_CST);
		FULL_FENCE();
		uint32_t seen = LOAD_ACQ(&h->req_seq);
		r = any_ready(s) ? 0 : pshm__svc_sleep(&h->req_seq, seen, wt.deadline);
		__atomic_fetch_sub(&h->srv_sleep, 1, __ATOMIC_SEQ_CST);
		if (r < 0)
			return r;
	}
}

ssize_t pshm_service_recv(pshm_service *s, void *buf, size_t cap, struct pshm_service_req *req,
			  int64_t timeout_ns)
{
	if (!s || s->role != PSHM_SERVER || !req || (!buf && cap))
		return -EINVAL;
	struct take t = { .buf = buf, .cap = cap, .req = req };
	pshm__svc_touch(s);
	int r;
	SVC_GUARDED(r, s, recv_wait(s, &t, timeout_ns));
	return r == 1 ? t.len : r;
}

/* ---- answering ---------------------------------------------------------- */

static void wake_client(pshm_service *s, unsigned i)
{
	struct svc_cslot *cs = cslot_at(s, i);
	/* Dekker with the client going to sleep: the state word (a CAS), this
	 * RMW, then its flag. */
	__atomic_fetch_add(&cs->rep_seq, 1, __ATOMIC_SEQ_CST);
	FULL_FENCE();
	if (LOAD(&cs->waiting))
		pshm__futex_wake(&cs->rep_seq, 1);
}

static int answer(pshm_service *s, uint64_t id, const void *rep, size_t len, bool err)
{
	unsigned i = id_slot(id), c = id_cell(id);
	if (i >= s->g.clients || c >= s->g.inflight)
		return -ESRCH;
	uint64_t *st = state_at(s, i, c);
	uint64_t mine = cell_make(C_TAKEN, s->slot, s->gen, id_seq(id));
	uint64_t w = LOAD_ACQ(st);
	if (w == mine) {
		/* Ours until we let go of it, even if the client gives up now. */
		struct svc_cell *cell = cell_at(s, i, c);
		if (len)
			memcpy(rep_area(s, cell), rep, len);
		STORE(&cell->rep_len, (uint32_t)len);
		STORE(&cell->rep_err, err ? 1u : 0u);
		if (CAS(st, &w, cell_make(C_REPLIED, 0, 0, id_seq(id)))) {
			wake_client(s, i);
			return 0;
		}
	}
	uint64_t gave_up = cell_make(C_CANCELLED, s->slot, s->gen, id_seq(id));
	if (w != gave_up)
		return -ESRCH;
	if (CAS(st, &w, (uint64_t)C_FREE))
		__atomic_fetch_add(&s->h->late_dropped, 1, __ATOMIC_RELAXED);
	return -ECANCELED;
}

static int answer_guarded(pshm_service *s, uint64_t id, const void *rep, size_t len, bool err)
{
	int r;
	SVC_GUARDED(r, s, answer(s, id, rep, len, err));
	return r;
}

int pshm_service_reply(pshm_service *s, uint64_t id, const void *rep, size_t len)
{
	if (!s || s->role != PSHM_SERVER || (!rep && len))
		return -EINVAL;
	if (len > s->g.max_rep)
		return -EMSGSIZE;
	return answer_guarded(s, id, rep, len, false);
}

int pshm_service_fail(pshm_service *s, uint64_t id, const char *msg)
{
	if (!s || s->role != PSHM_SERVER)
		return -EINVAL;
	size_t len = msg ? strlen(msg) : 0;
	return answer_guarded(s, id, msg, len < s->g.max_rep ? len : s->g.max_rep - 1, true);
}

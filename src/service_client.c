/* SPDX-License-Identifier: MIT */
/*
 * service_client.c — the client side of a service: posting requests,
 * collecting replies, giving requests up. The cell protocol is described
 * in service.h: the client owns a cell while it is FREE or REPLIED, a
 * server while it is TAKEN, and leaving REQ, TAKEN or CANCELLED is a CAS.
 */
#include <string.h>

#include "service.h"

/* ---- cells left behind -------------------------------------------------- */

static void count_late(pshm_service *s)
{
	__atomic_fetch_add(&s->h->late_dropped, 1, __ATOMIC_RELAXED);
}

/*
 * Settle cell @c, which holds none of our requests: make it FREE if
 * nobody else can still touch it. A request not yet taken is withdrawn, a
 * reply nobody will collect dropped and counted; a cell a live server
 * holds is marked CANCELLED (that server frees it when it answers), one a
 * dead server holds freed. Returns whether the cell is now FREE.
 */
static bool settle(pshm_service *s, unsigned c)
{
	uint64_t *st = state_at(s, s->slot, c);
	uint64_t w = LOAD_ACQ(st);
	for (int tries = 0; tries < 4; tries++) {
		unsigned k = cell_server(w);
		uint64_t want = C_FREE;
		switch (cell_state(w)) {
		case C_FREE:
			return true;
		case C_TAKEN:
			if (pshm__svc_server_alive(s, k, cell_gen(w)))
				want = cell_make(C_CANCELLED, k, cell_gen(w), cell_seq(w));
			break;
		case C_CANCELLED:
			if (pshm__svc_server_alive(s, k, cell_gen(w)))
				return false;
			break;
		default:
			break;
		}
		if (CAS(st, &w, want)) {
			if (cell_state(w) == C_REPLIED)
				count_late(s);
			return want == C_FREE;
		}
	}
	return false;
}

void pshm__svc_client_sweep(pshm_service *s)
{
	for (unsigned c = 0; c < s->g.inflight; c++)
		settle(s, c);
	/* Stale words may reach the ready bit: servers clear it when they
	 * find nothing. */
}

/* ---- posting ------------------------------------------------------------ */

static void wake_server(pshm_service *s)
{
	struct svc_hdr *h = s->h;
	/* Dekker with a server going to sleep: the state word, then this RMW
	 * (a full barrier), then its count of sleepers. */
	__atomic_fetch_add(&h->req_seq, 1, __ATOMIC_SEQ_CST);
	FULL_FENCE();
	if (LOAD(&h->srv_sleep))
		pshm__futex_wake(&h->req_seq, 1);
}

/* A free cell of ours: -ENOBUFS if every one is in flight or still held. */
static int free_cell(pshm_service *s)
{
	uint64_t idle = ~s->inflight;
	if (s->g.inflight < 64)
		idle &= ((uint64_t)1 << s->g.inflight) - 1;
	for (uint64_t m = idle; m; m &= m - 1) {
		unsigned c = (unsigned)__builtin_ctzll(m);
		if (LOAD_ACQ(state_at(s, s->slot, c)) == C_FREE)
			return (int)c;
	}
	/* Slow path: cells given up earlier, or scribbled on. */
	for (uint64_t m = idle; m; m &= m - 1) {
		unsigned c = (unsigned)__builtin_ctzll(m);
		if (settle(s, c))
			return (int)c;
	}
	return -ENOBUFS;
}

static int post(pshm_service *s, const void *req, size_t len, uint64_t *id)
{
	int c = free_cell(s);
	if (c < 0)
		return c;
	struct svc_cell *cell = cell_at(s, s->slot, (unsigned)c);
	if (len)
		memcpy(req_area(s, cell), req, len);
	STORE(&cell->req_len, (uint32_t)len);
	uint32_t seq = ++s->next_seq;
	if (seq == 0)
		seq = ++s->next_seq;
	STORE_REL(state_at(s, s->slot, (unsigned)c), cell_make(C_REQ, 0, 0, seq));
	/* Always the RMW: a server clears the bit with one, then looks again,
	 * and must then see this cell (see recv in service_server.c). */
	__atomic_fetch_or(&ready_words(s)[s->slot / 64], (uint64_t)1 << (s->slot % 64),
			  __ATOMIC_SEQ_CST);
	wake_server(s);
	s->inflight |= (uint64_t)1 << c;
	s->seqs[c] = seq;
	*id = id_make(s->slot, (unsigned)c, seq);
	return 0;
}

static int client_ok(const pshm_service *s)
{
	return s && s->role == PSHM_CLIENT ? 0 : -EINVAL;
}

int pshm_service_send(pshm_service *s, const void *req, size_t len, uint64_t *id)
{
	int r = client_ok(s);
	if (r < 0 || !id || (!req && len))
		return -EINVAL;
	if (len > s->g.max_req)
		return -EMSGSIZE;
	pshm__svc_touch(s);
	SVC_GUARDED(r, s, post(s, req, len, id));
	return r;
}

/* ---- collecting --------------------------------------------------------- */

/* The cell of request @id if it is in flight, else -ENOMSG. */
static int cell_of(const pshm_service *s, uint64_t id)
{
	unsigned c = id_cell(id);
	if (id_slot(id) != s->slot || c >= s->g.inflight || !(s->inflight & ((uint64_t)1 << c)) ||
	    s->seqs[c] != id_seq(id))
		return -ENOMSG;
	return (int)c;
}

/* Cell @c is done with: FREE, no longer in flight. */
static void retire(pshm_service *s, unsigned c)
{
	STORE_REL(state_at(s, s->slot, c), (uint64_t)C_FREE);
	s->inflight &= ~((uint64_t)1 << c);
}

/* Deliver the reply in cell @c (state REPLIED): its length or -errno. */
static ssize_t deliver(pshm_service *s, unsigned c, void *reply, size_t cap)
{
	struct svc_cell *cell = cell_at(s, s->slot, c);
	uint64_t len = LOAD(&cell->rep_len);
	uint32_t err = LOAD(&cell->rep_err);
	ssize_t r;
	if (len > s->g.max_rep) {
		r = -EBADMSG;
	} else if (err) {
		size_t n = cap ? (len < cap ? len : cap - 1) : 0;
		if (cap) {
			memcpy(reply, rep_area(s, cell), n);
			((char *)reply)[n] = 0;
		}
		r = -EREMOTEIO;
	} else if (len > cap) {
		r = -EMSGSIZE;
	} else {
		if (len)
			memcpy(reply, rep_area(s, cell), len);
		r = (ssize_t)len;
	}
	retire(s, c);
	return r;
}

/*
 * Look at the cells @want (a mask of cells in flight) once: 1 + c when
 * cell c has an outcome (*out: its length or -errno), 0 when none has. With
 * @check, also ask whether the servers are alive (the slow path).
 */
static int look(pshm_service *s, uint64_t want, bool check, void *reply, size_t cap,
		ssize_t *out)
{
	for (uint64_t m = want; m; m &= m - 1) {
		unsigned c = (unsigned)__builtin_ctzll(m);
		uint64_t *st = state_at(s, s->slot, c);
		uint64_t w = LOAD_ACQ(st);
		unsigned state = cell_state(w);
		if (cell_seq(w) != s->seqs[c] || state == C_FREE || state == C_CANCELLED ||
		    state > C_CANCELLED) {
			/* Not what we left there: somebody scribbled. */
			s->inflight &= ~((uint64_t)1 << c);
			*out = -EPROTO;
			return 1 + (int)c;
		}
		if (state == C_REPLIED) {
			*out = deliver(s, c, reply, cap);
			return 1 + (int)c;
		}
		if (!check)
			continue;
		bool gone = state == C_TAKEN
				    ? !pshm__svc_server_alive(s, cell_server(w), cell_gen(w))
				    : LOAD(&s->h->srv_attaches) && !pshm__svc_any_server(s);
		/* The CAS decides between us and a reply landing meanwhile. */
		if (gone && CAS(st, &w, (uint64_t)C_FREE)) {
			s->inflight &= ~((uint64_t)1 << c);
			*out = -EPIPE;
			return 1 + (int)c;
		}
	}
	return 0;
}

static bool any_replied(const pshm_service *s, uint64_t want)
{
	for (uint64_t m = want; m; m &= m - 1) {
		uint64_t w = LOAD(state_at(s, s->slot, (unsigned)__builtin_ctzll(m)));
		if (cell_state(w) != C_REQ && cell_state(w) != C_TAKEN)
			return true;
	}
	return false;
}

struct collect_args {
	uint64_t id;
	void *reply;
	size_t cap;
	int64_t timeout;
	ssize_t out;
};

static int collect(pshm_service *s, struct collect_args *a)
{
	uint64_t want = s->inflight;
	if (a->id) {
		int c = cell_of(s, a->id);
		if (c < 0)
			return c;
		want = (uint64_t)1 << c;
	}
	if (!want)
		return -ENOMSG;
	struct svc_cslot *cs = cslot_at(s, s->slot);
	struct svc_waiter wt;
	pshm__svc_wait_start(s, &wt, a->timeout);
	/* The first check when the spin ends, before the first sleep. */
	int64_t next_check = wt.spin_end;
	for (;;) {
		int64_t now = pshm__now_ns();
		bool check = now >= next_check;
		if (check)
			next_check = now + SVC_CHECK_NS;
		int c = look(s, want, check, a->reply, a->cap, &a->out);
		if (c) {
			a->id = id_make(s->slot, (unsigned)(c - 1), s->seqs[c - 1]);
			return 1;
		}
		int r = pshm__svc_wait_next(&wt, now);
		if (r < 0)
			return r;
		if (r > 0)
			continue;
		uint32_t seen = LOAD_ACQ(&cs->rep_seq);
		STORE(&cs->waiting, 1);
		FULL_FENCE();
		if (!any_replied(s, want)) {
			r = pshm__svc_sleep(&cs->rep_seq, seen,
					    wt.deadline < next_check ? wt.deadline : next_check);
			if (r < 0) {
				STORE(&cs->waiting, 0);
				return r;
			}
		}
		STORE(&cs->waiting, 0);
	}
}

ssize_t pshm_service_collect(pshm_service *s, uint64_t *id, void *reply, size_t cap,
			     int64_t timeout_ns)
{
	int r = client_ok(s);
	if (r < 0 || !id || (!reply && cap))
		return -EINVAL;
	struct collect_args a = { .id = *id, .reply = reply, .cap = cap, .timeout = timeout_ns };
	SVC_GUARDED(r, s, collect(s, &a));
	if (r <= 0)
		return r;
	*id = a.id;
	return a.out;
}

/* ---- giving up ---------------------------------------------------------- */

static int cancel(pshm_service *s, unsigned c)
{
	s->inflight &= ~((uint64_t)1 << c);
	/* Withdrawn, cancelled or dropped: settle() does the right one. A
	 * cancelled cell stays out of use until its server lets it go. */
	settle(s, c);
	return 0;
}

struct cancel_arg {
	pshm_service *s;
	unsigned cell;
};

static int cancel_call(void *arg)
{
	struct cancel_arg *a = arg;
	return cancel(a->s, a->cell);
}

int pshm_service_cancel(pshm_service *s, uint64_t id)
{
	if (client_ok(s) < 0)
		return -EINVAL;
	int c = cell_of(s, id);
	if (c < 0)
		return c;
	struct cancel_arg a = { s, (unsigned)c };
	return pshm__guarded_call(s->base, s->size, cancel_call, &a);
}

void pshm__svc_client_drop_all(pshm_service *s)
{
	for (uint64_t m = s->inflight; m; m &= m - 1)
		cancel(s, (unsigned)__builtin_ctzll(m));
}

/* ---- the blocking call -------------------------------------------------- */

ssize_t pshm_service_call(pshm_service *s, const void *req, size_t len, void *reply, size_t cap,
			  int64_t timeout_ns)
{
	uint64_t id;
	int r = pshm_service_send(s, req, len, &id);
	if (r < 0)
		return r;
	uint64_t got = id;
	ssize_t n = pshm_service_collect(s, &got, reply, cap, timeout_ns);
	if (n == -EAGAIN || n == -ETIMEDOUT || n == -EINTR || n == -EFAULT)
		(void)pshm_service_cancel(s, id);
	return n;
}

ssize_t pshm_service_call_name(const char *name, unsigned flags, const void *req, size_t len,
			       void *reply, size_t cap, int64_t timeout_ns)
{
	pshm_service *s;
	int r = pshm_service_open(name, PSHM_CLIENT, flags, &s);
	if (r < 0)
		return r;
	ssize_t n = pshm_service_call(s, req, len, reply, cap, timeout_ns);
	pshm_service_close(s);
	return n;
}

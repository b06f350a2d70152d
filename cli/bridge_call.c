/* SPDX-License-Identifier: MIT */
/*
 * cli/bridge_call.c — `pshm bridge send|recv` for a service: calls made
 * on one machine, served on another.
 *
 * The sending end (`send NAME URL`, on the clients' machine) is a server
 * of its local service NAME: it takes each request, sends it as a REQ
 * frame, and answers the client with the REP that comes back. The
 * receiving end (`recv URL NAME`, on the servers' machine) is a client of
 * its local service NAME: each REQ becomes a request there, and its
 * outcome goes back as a REP. HELLO and WELCOME open the session as for
 * channels (mode BR_MODE_SERVICE; max_msg: the largest request each side
 * takes).
 *
 * At most once. A request is sent once and never again: when the
 * connection goes while requests are out, the sending end fails each of
 * them (the client's call returns -EREMOTEIO, the text saying that the
 * request may or may not have been served), and the receiving end gives
 * up its own copies (pshm_service_cancel(): a reply that comes later is
 * dropped and counted by its service). Nothing is taken from the local
 * service while no receiving end has welcomed the sender: clients wait,
 * within their own timeouts. Failures on the far side come back as
 * failures: no server there (-EPIPE), a request too large, a server's own
 * error text.
 *
 * Waiting: a service handle is used by one thread, so each end alternates
 * between its service and its socket, in slices of BR_CALL_SLICE_NS while
 * requests are out (that much latency at most, per side); when none is,
 * it sleeps on the one that can start something (the service at the
 * sending end, the socket at the receiving end) for BR_SLICE_MS.
 */
#ifdef PSHM_HAVE_NNG

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"

#define BR_CALL_SLICE_NS INT64_C(50000)
#define BR_CALL_MAX 1024 /* requests out at once at the sending end */

/* Requests out: local id -> the id on the wire (the same at the sending
 * end). A small unordered set: it holds at most the requests in flight. */
struct outset {
	uint64_t local[BR_CALL_MAX], wire[BR_CALL_MAX];
	unsigned n;
};

static void out_add(struct outset *o, uint64_t local, uint64_t wire)
{
	o->local[o->n] = local;
	o->wire[o->n++] = wire;
}

/* Remove the request whose @key (local or wire id) matches: true, and its
 * other id in *@other, if it was out. */
static bool out_take(struct outset *o, bool by_wire, uint64_t key, uint64_t *other)
{
	uint64_t *k = by_wire ? o->wire : o->local, *v = by_wire ? o->local : o->wire;
	for (unsigned i = 0; i < o->n; i++)
		if (k[i] == key) {
			*other = v[i];
			o->n--;
			o->local[i] = o->local[o->n];
			o->wire[i] = o->wire[o->n];
			return true;
		}
	return false;
}

/*
 * Connections: NNG's callback counts them, the loop compares. Only the
 * closing of the peer's connection counts: the dialer's own (the sending
 * end), or the one whose HELLO the receiving end accepted, not a second
 * connection that pair0 turns away.
 */
struct conn {
	atomic_uint adds, rems;
	atomic_int peer_id;
	bool dialer;
	unsigned seen_adds, seen_rems;
};

static void on_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct conn *c = arg;
	char addr[128];
	if (ev == NNG_PIPE_EV_ADD_POST) {
		br_log("connect%s %s", c->dialer ? "ed to" : "ion from",
		       br_peer(p, addr, sizeof(addr)));
		if (c->dialer)
			atomic_store(&c->peer_id, nng_pipe_id(p));
		atomic_fetch_add(&c->adds, 1);
	} else if (nng_pipe_id(p) == atomic_load(&c->peer_id)) {
		if (!cli_stop)
			br_log("connection %s %s closed", c->dialer ? "to" : "from",
			       br_peer(p, addr, sizeof(addr)));
		atomic_fetch_add(&c->rems, 1);
	}
}

/* A REP frame for @wire: @status 0 and the reply, or an errno and a text. */
static void send_rep(nng_socket s, uint64_t wire, uint32_t status, const void *body, size_t len)
{
	nng_msg *m;
	if (nng_msg_alloc(&m, BF_REP_HDR + len) != 0)
		return;
	unsigned char *b = nng_msg_body(m);
	bf_put_rep_hdr(b, wire, status);
	if (len)
		memcpy(b + BF_REP_HDR, body, len);
	if (nng_sendmsg(s, m, 0) != 0)
		nng_msg_free(m);
}

static void send_rep_text(nng_socket s, uint64_t wire, uint32_t err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void send_rep_text(nng_socket s, uint64_t wire, uint32_t err, const char *fmt, ...)
{
	char text[BF_TEXT_MAX + 1];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	send_rep(s, wire, err, text, strlen(text));
}

/* ---- the sending end: local clients, remote servers ---------------------- */

struct csnd {
	nng_socket s;
	pshm_service *svc;
	const char *name;
	const struct br_opts *o;
	struct conn c;
	struct outset out;
	bool welcomed;     /* by the current connection */
	uint32_t nonce;
	int64_t hello_at;
	uint64_t remote_max; /* the largest request the other side takes */
	nng_msg *next;     /* a REQ frame being filled */
	struct br_stats st;
};

static void hello(struct csnd *s)
{
	unsigned char buf[BF_HELLO_LEN];
	struct bf_hello h = { .stream = 1, .next_seq = 1, .mode = BR_MODE_SERVICE,
			      .max_msg = pshm_service_max_request(s->svc),
			      .ring_size = pshm_service_max_reply(s->svc), .nonce = ++s->nonce };
	s->welcomed = false;
	s->hello_at = br_now();
	br_send_frame(s->s, buf, bf_put_hello(buf, &h));
}

/* The connection went with requests out: fail each of them. */
static void fail_out(struct csnd *s)
{
	if (!s->out.n)
		return;
	br_log("%u requests were out when the connection closed: failing them (each may or "
	       "may not have been served)", s->out.n);
	s->st.lost += s->out.n;
	for (unsigned i = 0; i < s->out.n; i++)
		pshm_service_fail(s->svc, s->out.local[i], "pshm bridge: the connection to the "
				  "service's servers closed; the request may or may not have "
				  "been served");
	s->out.n = 0;
}

static void on_rep(struct csnd *s, nng_pipe p, const struct bf_frame *f)
{
	uint64_t local;
	if (!out_take(&s->out, true, f->u.call.id, &local)) {
		br_drop(p, "a REP for no request out");
		return;
	}
	const void *body = f->u.call.body;
	size_t len = f->u.call.len;
	int r;
	char text[BF_TEXT_MAX + 64];
	if (f->u.call.status) {
		snprintf(text, sizeof(text), "%.*s", (int)(len < BF_TEXT_MAX ? len : BF_TEXT_MAX),
			 (const char *)body);
		r = pshm_service_fail(s->svc, local, text);
	} else if (len > pshm_service_max_reply(s->svc)) {
		snprintf(text, sizeof(text), "pshm bridge: a reply of %zu bytes, larger than "
			 "'%s' takes here", len, s->name);
		r = pshm_service_fail(s->svc, local, text);
	} else {
		r = pshm_service_reply(s->svc, local, body, len);
	}
	if (r == 0) {
		s->st.msgs++;
		s->st.bytes += len;
	}
}

static int on_frame(struct csnd *s, nng_msg *m)
{
	struct bf_frame f;
	const char *why;
	nng_pipe p = nng_msg_get_pipe(m);
	if (bf_decode(nng_msg_body(m), nng_msg_len(m), PSHM_SERVICE_MSG_MAX, &f, &why) < 0)
		return br_drop(p, why), 0;
	switch (f.type) {
	case BF_WELCOME:
		if (f.u.welcome.nonce == s->nonce && !s->welcomed) {
			s->welcomed = true;
			s->remote_max = f.u.welcome.max_msg;
		}
		return 0;
	case BF_REP:
		on_rep(s, p, &f);
		return 0;
	case BF_ERROR:
		return cli_failf("bridge send", "the other side refused: %s", f.u.error.text);
	default:
		br_drop(p, "unexpected frame type from a receiver");
		return 0;
	}
}

/* Frames waiting, or the first within @ms when @ms > 0. */
static int pump(struct csnd *s, int ms)
{
	nng_msg *m;
	int flags = ms > 0 ? 0 : NNG_FLAG_NONBLOCK;
	while (nng_recvmsg(s->s, &m, flags) == 0) {
		int st = on_frame(s, m);
		nng_msg_free(m);
		if (st)
			return st;
		flags = NNG_FLAG_NONBLOCK;
	}
	return 0;
}

/* Take one request, waiting up to @wait_ns, and send it. 0, or -errno. */
static int take(struct csnd *s, int64_t wait_ns)
{
	size_t cap = pshm_service_max_request(s->svc);
	if (!s->next && nng_msg_alloc(&s->next, BF_REQ_HDR + cap) != 0)
		return -ENOMEM;
	unsigned char *b = nng_msg_body(s->next);
	struct pshm_service_req rq;
	ssize_t n = pshm_service_recv(s->svc, b + BF_REQ_HDR, cap, &rq, wait_ns);
	if (n == -EAGAIN || n == -ETIMEDOUT || n == -EINTR || n == -EBADMSG)
		return 0;
	if (n < 0)
		return (int)n;
	if ((uint64_t)n > s->remote_max) {
		char text[160];
		snprintf(text, sizeof(text), "pshm bridge: a request of %zd bytes, larger than the "
			 "service on the other side takes (%llu)", n,
			 (unsigned long long)s->remote_max);
		pshm_service_fail(s->svc, rq.id, text);
		return 0;
	}
	bf_put_req_hdr(b, rq.id);
	nng_msg_chop(s->next, cap - (size_t)n);
	if (nng_sendmsg(s->s, s->next, 0) != 0) {
		pshm_service_fail(s->svc, rq.id, "pshm bridge: the request could not be sent");
		nng_msg_free(s->next);
	} else {
		out_add(&s->out, rq.id, rq.id);
	}
	s->next = NULL;
	return 0;
}

static int csnd_turn(struct csnd *s)
{
	unsigned adds = atomic_load(&s->c.adds), rems = atomic_load(&s->c.rems);
	if (rems != s->c.seen_rems) {
		s->c.seen_rems = rems;
		s->welcomed = false;
		fail_out(s);
	}
	if (adds != s->c.seen_adds) {
		s->st.reconnects += s->c.seen_adds != 0;
		s->c.seen_adds = adds;
		hello(s);
	} else if (!s->welcomed && adds && br_now() - s->hello_at > INT64_C(1000000000)) {
		hello(s); /* the first one, or its answer, was lost */
	}
	int r = pump(s, 0);
	if (r)
		return r;
	if (!s->welcomed)
		return pump(s, BR_SLICE_MS);
	if (s->out.n < BR_CALL_MAX &&
	    (r = take(s, s->out.n ? BR_CALL_SLICE_NS : BR_SLICE_MS * BR_NS_PER_MS)) < 0)
		return cli_fail("bridge send", s->name, r);
	if (s->out.n == BR_CALL_MAX)
		r = pump(s, BR_SLICE_MS);
	br_stats_tick(&s->st, s->o->stats);
	return r;
}

int br_call_send(const char *name, const char *url, const struct br_opts *o)
{
	struct csnd *s = calloc(1, sizeof(*s));
	if (!s)
		return cli_fail("bridge send", name, -ENOMEM);
	s->name = name;
	s->o = o;
	br_keep_heap(); /* requests and replies reuse the heap, not fresh pages */
	s->c.dialer = true;
	int r = pshm_service_open(name, PSHM_SERVER, o->flags, &s->svc);
	if (r < 0) {
		free(s);
		return cli_seg_fail("bridge send", name, r, o->flags);
	}
	r = br_open(&s->s, url, false, o, BF_REP_HDR + PSHM_SERVICE_MSG_MAX, on_pipe, &s->c);
	while (!r && !cli_stop)
		r = csnd_turn(s);
	/* Stopping: what is out can no longer be answered. */
	fail_out(s);
	br_log("stopped: %llu calls answered through '%s', %llu failed when a connection closed",
	       (unsigned long long)s->st.msgs, name, (unsigned long long)s->st.lost);
	if (!br_close(s->s))
		return r ? r : EXIT_OK; /* s stays: NNG may still call on_pipe() with it */
	if (s->next)
		nng_msg_free(s->next);
	pshm_service_close(s->svc);
	free(s);
	return r ? r : EXIT_OK;
}

/* ---- the receiving end: remote clients, local servers -------------------- */

struct crcv {
	nng_socket s;
	pshm_service *svc;
	const char *name;
	const struct br_opts *o;
	struct conn c;
	struct outset out; /* local id -> the sender's id */
	nng_pipe peer;     /* the connection that said HELLO */
	unsigned max_out;  /* the service's max_inflight */
	unsigned stale;
	void *buf;         /* a reply being collected */
	size_t cap;
	struct br_stats st;
};

static void refuse(struct crcv *r, nng_pipe p, int code, const char *text)
{
	unsigned char buf[BF_HDR + 4 + BF_TEXT_MAX];
	br_send_frame(r->s, buf, bf_put_error(buf, (uint32_t)code, text));
	br_drop(p, text);
}

/* Give up the requests of an earlier connection: nobody will read their
 * replies. */
static void forget_out(struct crcv *r)
{
	for (unsigned i = 0; i < r->out.n; i++)
		pshm_service_cancel(r->svc, r->out.local[i]);
	r->st.lost += r->out.n;
	r->out.n = 0;
}

static void on_hello(struct crcv *r, nng_pipe p, const struct bf_hello *h)
{
	char why[BF_TEXT_MAX + 1];
	if (!(h->mode & BR_MODE_SERVICE)) {
		snprintf(why, sizeof(why), "'%s' here is a service; the sender's is a channel "
			 "or topic", r->name);
		refuse(r, p, EPROTO, why);
		return;
	}
	if (nng_pipe_id(r->peer) != nng_pipe_id(p)) {
		r->st.reconnects += nng_pipe_id(r->peer) > 0;
		forget_out(r);
	}
	r->peer = p;
	atomic_store(&r->c.peer_id, nng_pipe_id(p));
	r->stale = 0;
	if (h->ring_size > pshm_service_max_reply(r->svc))
		br_log("replies here may reach %zu bytes, the sender's side takes up to %llu",
		       pshm_service_max_reply(r->svc), (unsigned long long)h->ring_size);
	unsigned char buf[BF_WELCOME_LEN];
	struct bf_welcome w = { .max_msg = pshm_service_max_request(r->svc), .nonce = h->nonce };
	br_send_frame(r->s, buf, bf_put_welcome(buf, &w));
}

static void on_req(struct crcv *r, nng_pipe p, const struct bf_frame *f)
{
	if (nng_pipe_id(p) != nng_pipe_id(r->peer)) {
		if (++r->stale > 64)
			br_drop(p, "REQ without HELLO");
		return;
	}
	uint64_t id;
	int e = pshm_service_send(r->svc, f->u.call.body, f->u.call.len, &id);
	if (e == 0) {
		out_add(&r->out, id, f->u.call.id);
		return;
	}
	if (e == -EMSGSIZE)
		send_rep_text(r->s, f->u.call.id, EMSGSIZE, "pshm bridge: a request of %zu bytes, "
			      "larger than '%s' takes there (%zu)", f->u.call.len, r->name,
			      pshm_service_max_request(r->svc));
	else
		send_rep_text(r->s, f->u.call.id, (uint32_t)-e, "pshm bridge: '%s' there: %s",
			      r->name, pshm_strerror(e));
}

static int on_call_frame(struct crcv *r, nng_msg *m)
{
	struct bf_frame f;
	const char *why;
	nng_pipe p = nng_msg_get_pipe(m);
	if (bf_decode(nng_msg_body(m), nng_msg_len(m), PSHM_SERVICE_MSG_MAX, &f, &why) < 0)
		return br_drop(p, why), 0;
	switch (f.type) {
	case BF_HELLO:
		on_hello(r, p, &f.u.hello);
		return 0;
	case BF_REQ:
		on_req(r, p, &f);
		return 0;
	case BF_ERROR:
		br_log("the sender ended the session: %s", f.u.error.text);
		return 0;
	default:
		br_drop(p, "unexpected frame type from a sender");
		return 0;
	}
}

/* The outcome of one request of ours, waiting up to @wait_ns: sent back. */
static int collect(struct crcv *r, int64_t wait_ns)
{
	uint64_t id = 0, wire;
	ssize_t n = pshm_service_collect(r->svc, &id, r->buf, r->cap, wait_ns);
	if (n == -EAGAIN || n == -ETIMEDOUT || n == -EINTR || n == -ENOMSG)
		return 0;
	if (id == 0)
		return (int)n; /* concerns no request: -EFAULT, -EINVAL */
	if (!out_take(&r->out, false, id, &wire))
		return 0;
	if (n >= 0) {
		send_rep(r->s, wire, 0, r->buf, (size_t)n);
		r->st.msgs++;
		r->st.bytes += (uint64_t)n;
	} else if (n == -EREMOTEIO) {
		send_rep(r->s, wire, EREMOTEIO, r->buf, strnlen(r->buf, r->cap));
	} else if (n == -EPIPE) {
		send_rep_text(r->s, wire, EPIPE, "pshm bridge: '%s' there has no server (it died, "
			      "or none is attached)", r->name);
	} else {
		send_rep_text(r->s, wire, (uint32_t)-n, "pshm bridge: '%s' there: %s", r->name,
			      pshm_strerror((int)n));
	}
	return 0;
}

static int crcv_turn(struct crcv *r)
{
	unsigned rems = atomic_load(&r->c.rems);
	if (rems != r->c.seen_rems) {
		r->c.seen_rems = rems;
		forget_out(r);
	}
	/* Read the socket unless every cell of ours is busy (then the sender
	 * waits: TCP and NNG's queues hold what it sent). */
	if (r->out.n < r->max_out) {
		nng_msg *m;
		int flags = r->out.n ? NNG_FLAG_NONBLOCK : 0;
		int n;
		while (r->out.n < r->max_out && (n = nng_recvmsg(r->s, &m, flags)) == 0) {
			int st = on_call_frame(r, m);
			nng_msg_free(m);
			if (st)
				return st;
			flags = NNG_FLAG_NONBLOCK;
		}
	}
	int e = 0;
	if (r->out.n)
		e = collect(r, r->out.n < r->max_out ? BR_CALL_SLICE_NS : BR_SLICE_MS * BR_NS_PER_MS);
	br_stats_tick(&r->st, r->o->stats);
	return e < 0 ? cli_fail("bridge recv", r->name, e) : 0;
}

int br_call_recv(const char *url, const char *name, const struct br_opts *o)
{
	struct crcv *r = calloc(1, sizeof(*r));
	struct pshm_service_info in;
	int e = r ? pshm_service_stat(name, &in) : -ENOMEM;
	if (e == 0)
		e = pshm_service_open(name, PSHM_CLIENT, o->flags, &r->svc);
	if (e < 0) {
		free(r);
		return cli_seg_fail("bridge recv", name, e, o->flags);
	}
	r->name = name;
	r->o = o;
	br_keep_heap();
	r->max_out = in.max_inflight;
	r->cap = pshm_service_max_reply(r->svc);
	r->buf = malloc(r->cap);
	e = r->buf ? br_open(&r->s, url, true, o, BF_REQ_HDR + PSHM_SERVICE_MSG_MAX, on_pipe, &r->c)
		   : cli_fail("bridge recv", name, -ENOMEM);
	while (!e && !cli_stop)
		e = crcv_turn(r);
	br_log("stopped: %llu calls answered through '%s', %llu given up when a connection "
	       "closed", (unsigned long long)r->st.msgs, name, (unsigned long long)r->st.lost);
	if (!br_close(r->s))
		return e ? e : EXIT_OK; /* r stays: NNG may still call on_pipe() with it */
	pshm_service_close(r->svc);
	free(r->buf);
	free(r);
	return e ? e : EXIT_OK;
}

#endif

/* SPDX-License-Identifier: MIT */
/*
 * cli/bridge_recv.c — `pshm bridge recv URL NAME`: listens for a `pshm
 * bridge send` and writes what it forwards into the local channel NAME,
 * as its only producer.
 *
 * Resuming without duplicates after a crash of this process: the sequence
 * number of the last message written is never stored per message; it is
 * computed from the channel itself, whose count of messages ever
 * committed (received + pending, pshm_chan_stat(); a topic's: published)
 * only this process raises. The box NAME.bridge holds the pair (seq, count) taken when a
 * stream started or jumped over lost messages, so after a restart
 *   written = seq + (count now - count then)
 * exactly, wherever the previous process died.
 */
#ifdef PSHM_HAVE_NNG

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge.h"

#define STATE_VERSION 1

/* What NAME.bridge holds (host byte order: it never leaves the machine). */
struct state {
	uint64_t version;
	uint64_t stream;
	uint64_t base_seq;  /* the last seq written when... */
	uint64_t base_sent; /* ...the channel had this many messages */
};

struct rcv {
	nng_socket s;
	const char *name;
	const struct br_opts *o;
	struct br_end end;
	bool open;         /* end is attached */
	bool gaps;         /* the stream is a topic's: its numbers may jump */
	pshm_box *box;
	struct state state;
	bool have_state;
	uint64_t written;  /* seq of the last message written */
	uint64_t sent;     /* messages committed into the channel, ever */
	nng_pipe peer;     /* the connection that said HELLO */
	unsigned stale;    /* DATA frames from a connection without HELLO */
	uint64_t acked;
	int64_t ack_at;
	size_t max_frame;
	char peer_addr[128]; /* for the callback's messages */
	struct br_stats st;
};

static void on_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct rcv *r = arg;
	if (ev == NNG_PIPE_EV_ADD_POST)
		br_log("connection from %s", br_peer(p, r->peer_addr, sizeof(r->peer_addr)));
	else if (!cli_stop)
		br_log("connection from %s closed (by the peer, or for a frame above %zu bytes)",
		       r->peer_addr, r->max_frame);
}

static size_t frame_max(size_t max_msg)
{
	return BF_DATA_HDR + BF_REC_HDR + (max_msg > BR_BATCH ? max_msg : BR_BATCH);
}

static int save(struct rcv *r, uint64_t stream)
{
	r->state = (struct state){ STATE_VERSION, stream, r->written, r->sent };
	r->have_state = true;
	return pshm_box_write(r->box, &r->state, sizeof(r->state));
}

/* The resume point, from NAME.bridge and the channel's count. */
static int load(struct rcv *r)
{
	char box[PSHM_NAME_MAX + 16];
	snprintf(box, sizeof(box), "%s.bridge", r->name);
	int e = r->box ? 0 : pshm_box_create(box, sizeof(struct state), 0,
					     PSHM_OPEN_EXISTING | r->o->flags, &r->box);
	if (e < 0)
		return cli_seg_fail("bridge recv", box, e, r->o->flags);
	if ((e = br_end_count(&r->end, &r->sent)) < 0)
		return cli_seg_fail("bridge recv", r->name, e, r->o->flags);
	ssize_t n = pshm_box_read(r->box, &r->state, sizeof(r->state));
	r->have_state = n == (ssize_t)sizeof(r->state) && r->state.version == STATE_VERSION &&
			r->sent >= r->state.base_sent;
	if (r->have_state)
		r->written = r->state.base_seq + (r->sent - r->state.base_sent);
	return 0;
}

/* Attach to the channel or topic as its producer or publisher; create it
 * from @h with --create. */
static int attach(struct rcv *r, const struct bf_hello *h)
{
	int e = br_end_sink(&r->end, r->name, r->o->flags, r->o->create ? h : NULL);
	if (e == -ENOENT && r->o->create && !h)
		return 0; /* created at the first HELLO, with the sender's geometry */
	if (e == -ENOENT)
		return cli_failn("bridge recv", r->name, "no such channel or topic (--create makes "
				 "it like the sender's)");
	if (e < 0)
		return cli_seg_fail("bridge recv", r->name, e, r->o->flags);
	if ((e = load(r)) != 0) {
		br_end_close(&r->end);
		return e;
	}
	r->open = true;
	r->max_frame = frame_max(br_end_max_msg(&r->end));
	nng_socket_set_size(r->s, NNG_OPT_RECVMAXSZ, r->max_frame);
	return 0;
}

static void refuse(struct rcv *r, nng_pipe p, int code, const char *text)
{
	unsigned char buf[BF_HDR + 4 + BF_TEXT_MAX];
	br_send_frame(r->s, buf, bf_put_error(buf, (uint32_t)code, text));
	br_drop(p, text);
}

static void ack(struct rcv *r, bool force)
{
	unsigned char buf[BF_ACK_LEN];
	int64_t now = br_now();
	if (!force && r->written == r->acked && now - r->ack_at < INT64_C(1000000000))
		return;
	if (nng_pipe_id(r->peer) > 0 && br_send_frame(r->s, buf, bf_put_ack(buf, r->written)) == 0) {
		r->acked = r->written;
		r->ack_at = now;
	}
}

/* Where the stream resumes; what was lost, counted and said. */
static int resume(struct rcv *r, const struct bf_hello *h, uint64_t *lost)
{
	*lost = 0;
	if (!r->have_state || r->state.stream != h->stream) {
		br_log("%s stream: starting at #%llu", r->have_state ? "a new" : "first",
		       (unsigned long long)h->next_seq);
		r->written = h->next_seq - 1;
		return save(r, h->stream);
	}
	if (h->next_seq <= r->written + 1)
		return 0;
	*lost = h->next_seq - 1 - r->written;
	r->st.lost += *lost;
	br_log("lost %llu messages (#%llu to #%llu): the sender no longer holds them (it "
	       "restarted, or another consumer took them)", (unsigned long long)*lost,
	       (unsigned long long)(r->written + 1), (unsigned long long)(h->next_seq - 1));
	r->written = h->next_seq - 1;
	return save(r, h->stream);
}

static int on_hello(struct rcv *r, nng_pipe p, const struct bf_hello *h)
{
	char why[BF_TEXT_MAX + 1];
	int e;
	if (h->mode & BR_MODE_SERVICE) {
		snprintf(why, sizeof(why), "the sender's is a service; '%s' here %s", r->name,
			 r->open ? "is a channel or topic" : "does not exist (--create makes "
			 "channels and topics only)");
		refuse(r, p, EPROTO, why);
		return 0;
	}
	if (!r->open && attach(r, h) != 0) {
		/* said why; a bad geometry in a HELLO must not stop the listener */
		refuse(r, p, EIO, "the receiving side cannot open its channel or topic");
		return 0;
	}
	if (h->max_msg > br_end_max_msg(&r->end)) {
		snprintf(why, sizeof(why), "'%s' takes messages up to %zu bytes, the sender's "
			 "up to %llu", r->name, br_end_max_msg(&r->end),
			 (unsigned long long)h->max_msg);
		refuse(r, p, EMSGSIZE, why);
		return 0;
	}
	uint64_t lost;
	if ((e = resume(r, h, &lost)) < 0)
		return cli_fail("bridge recv", r->name, e);
	if (nng_pipe_id(r->peer) > 0 && nng_pipe_id(r->peer) != nng_pipe_id(p))
		r->st.reconnects++;
	r->peer = p;
	r->stale = 0;
	r->gaps = h->mode & BR_MODE_TOPIC;
	unsigned char buf[BF_WELCOME_LEN];
	struct bf_welcome w = { r->written, lost, br_end_max_msg(&r->end), h->nonce, 0 };
	br_send_frame(r->s, buf, bf_put_welcome(buf, &w));
	return 0;
}

/* Write one message, waiting while the channel is full. 0, 1 (stopped) or
 * an exit status. */
static int put(struct rcv *r, const void *msg, size_t len)
{
	bool said = false;
	for (;;) {
		int e = br_end_put(&r->end, msg, len, BR_SLICE_MS * BR_NS_PER_MS);
		if (e == 0)
			return 0;
		if (e == -EPIPE && !said) {
			br_log("'%s' is full and its consumer gone; waiting for one", r->name);
			said = true;
		}
		if (e != -ETIMEDOUT && e != -EPIPE && e != -EINTR)
			return cli_fail("bridge recv", r->name, e);
		if (cli_stop)
			return 1;
		if (e == -EPIPE)
			usleep(BR_SLICE_MS * 1000);
		ack(r, false);
		br_stats_tick(&r->st, r->o->stats);
	}
}

/* A topic's numbers jumped to @first: what lies between is lost. */
static int jump(struct rcv *r, uint64_t first)
{
	uint64_t lost = first - 1 - r->written;
	r->st.lost += lost;
	br_log("lost %llu messages (#%llu to #%llu): the sender's topic went on without it "
	       "(a lossy topic, or published before it subscribed)", (unsigned long long)lost,
	       (unsigned long long)(r->written + 1), (unsigned long long)(first - 1));
	r->written = first - 1;
	return save(r, r->state.stream);
}

static int on_data(struct rcv *r, nng_pipe p, const struct bf_frame *f)
{
	char why[96];
	if (!r->open || nng_pipe_id(p) != nng_pipe_id(r->peer)) {
		if (++r->stale > 64) /* a late frame of an old connection, or a hostile peer */
			br_drop(p, "DATA without HELLO");
		return 0;
	}
	if (f->u.data.first > r->written + 1 && r->gaps) {
		int e = jump(r, f->u.data.first);
		return e < 0 ? cli_fail("bridge recv", r->name, e) : on_data(r, p, f);
	}
	if (f->u.data.first > r->written + 1) {
		snprintf(why, sizeof(why), "DATA from #%llu, but #%llu is next",
			 (unsigned long long)f->u.data.first, (unsigned long long)(r->written + 1));
		br_drop(p, why);
		return 0;
	}
	struct bf_iter it;
	const void *msg;
	size_t len;
	uint64_t seq = f->u.data.first;
	bf_iter_init(&it, f);
	for (; bf_iter_next(&it, &msg, &len); seq++) {
		if (seq <= r->written)
			continue; /* resent after a reconnection: written already */
		int e = put(r, msg, len);
		if (e)
			return e == 1 ? 0 : e;
		r->written = seq;
		r->sent++;
		r->st.msgs++;
		r->st.bytes += len;
	}
	ack(r, true);
	return 0;
}

static int frame(struct rcv *r, nng_msg *m)
{
	struct bf_frame f;
	const char *why;
	nng_pipe p = nng_msg_get_pipe(m);
	size_t max_msg = r->open ? br_end_max_msg(&r->end) : BR_FRAME_MAX_UNKNOWN;
	if (bf_decode(nng_msg_body(m), nng_msg_len(m), max_msg, &f, &why) < 0)
		return br_drop(p, why), 0;
	switch (f.type) {
	case BF_HELLO:
		return on_hello(r, p, &f.u.hello);
	case BF_DATA:
		return on_data(r, p, &f);
	case BF_ERROR:
		br_log("the sender ended the session: %s", f.u.error.text);
		return 0;
	default:
		br_drop(p, "unexpected frame type from a sender");
		return 0;
	}
}

static void stats(struct rcv *r)
{
	if (r->o->stats && br_now() - (int64_t)r->st.last_ns >= INT64_C(1000000000) && r->open)
		r->st.lag = br_end_pending(&r->end);
	br_stats_tick(&r->st, r->o->stats);
}

int br_recv(const char *url, const char *name, const struct br_opts *o)
{
	struct rcv *r = calloc(1, sizeof(*r));
	if (!r)
		return cli_fail("bridge recv", name, -ENOMEM);
	r->name = name;
	r->o = o;
	br_keep_heap(); /* NNG's frames reuse the heap, not fresh pages */
	r->max_frame = frame_max(BR_FRAME_MAX_UNKNOWN);
	int e = br_open(&r->s, url, true, o, r->max_frame, on_pipe, r);
	if (!e)
		e = attach(r, NULL);
	while (!e && !cli_stop) {
		nng_msg *m;
		int n = nng_recvmsg(r->s, &m, 0);
		if (n == 0) {
			e = frame(r, m);
			nng_msg_free(m);
		} else if (n != NNG_ETIMEDOUT && n != NNG_EINTR) {
			e = cli_failf("bridge recv", "%s", nng_strerror(n));
		}
		ack(r, false);
		stats(r);
	}
	if (r->open)
		br_log("stopped: %llu messages written into '%s' (up to #%llu), %llu counted lost",
		       (unsigned long long)r->st.msgs, name, (unsigned long long)r->written,
		       (unsigned long long)r->st.lost);
	if (!br_close(r->s))
		return e ? e : EXIT_OK; /* r stays: NNG may still call on_pipe() with it */
	br_end_close(&r->end);
	pshm_box_close(r->box);
	free(r);
	return e ? e : EXIT_OK;
}

#endif

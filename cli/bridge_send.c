/* SPDX-License-Identifier: MIT */
/*
 * cli/bridge_send.c — `pshm bridge send NAME URL`: the consumer of a local
 * channel that forwards its messages to a `pshm bridge recv`.
 *
 * Messages are taken out of the channel into a window of DATA frames kept
 * until the receiver acknowledges them (at most --window bytes: a full
 * window stops the taking, so a slow or full remote channel slows the
 * local producers, and nothing is dropped). On each connection the sender
 * says HELLO with the first sequence number it still holds; the WELCOME
 * says what the receiver's channel already has, and the sender resends
 * from there: nothing twice. What neither side holds any more (taken by a
 * sender that died before it was written) is counted lost, on both sides;
 * for that, nothing is taken before a first WELCOME, so the receiver has
 * recorded where the stream stands before any message can be lost.
 */
#ifdef PSHM_HAVE_NNG

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge.h"

struct batch {
	struct batch *next;
	nng_msg *msg;
	uint64_t first;
	uint32_t count;
	size_t bytes;
	uint64_t gap;      /* topic: messages missed just before this batch */
};

enum { S_WAIT_PIPE, S_WAIT_WELCOME, S_STREAMING };

struct snd {
	nng_socket s;
	struct br_end end;
	const char *name;
	const struct br_opts *o;
	uint64_t next_seq; /* seq of the next message taken from the channel */
	uint64_t first_seq; /* ...when this process started */
	uint64_t acked;    /* the receiver has written up to here */
	struct batch *head, *tail, *cursor; /* the window; cursor: next to send */
	uint64_t win_bytes;
	atomic_uint gen;   /* connections made (NNG's callback) */
	unsigned seen_gen;
	int state;
	uint32_t nonce;
	int64_t hello_at;
	uint64_t stream;
	bool source_gone;
	bool welcomed;     /* a receiver has recorded where this stream is */
	char peer[128];    /* for the callback's messages */
	struct br_stats st;
};

static void on_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct snd *s = arg;
	if (ev == NNG_PIPE_EV_ADD_POST) {
		atomic_fetch_add(&s->gen, 1);
		br_log("connected to %s", br_peer(p, s->peer, sizeof(s->peer)));
	} else if (!cli_stop) {
		br_log("connection to %s closed; re-dialing", s->peer);
	}
}

/* The source channel's identity: its host, name and inode (FNV-1a). */
static uint64_t stream_id(const char *name)
{
	char host[256] = "";
	struct pshm_stat st;
	uint64_t h = 0xcbf29ce484222325u;
	gethostname(host, sizeof(host) - 1);
	if (pshm_seg_stat(name, &st) == 0)
		h ^= st.ino * 0x9e3779b97f4a7c15u;
	for (const char *v[] = { host, name }, **p = v; p < v + 2; p++)
		for (const char *c = *p; *c; c++)
			h = (h ^ (unsigned char)*c) * 0x100000001b3u;
	return h;
}

static void free_batch(struct snd *s, struct batch *b)
{
	s->win_bytes -= b->bytes;
	nng_msg_free(b->msg);
	free(b);
}

/* A topic's jump, once the receiver has seen it too. */
static void gap_lost(struct snd *s, const struct batch *b)
{
	s->st.lost += b->gap;
	br_log("lost %llu messages (#%llu to #%llu): '%s' went on without this subscriber "
	       "(a lossy topic, or published before it subscribed)", (unsigned long long)b->gap,
	       (unsigned long long)(b->first - b->gap), (unsigned long long)(b->first - 1), s->name);
}

/* The receiver wrote everything up to @w: drop those batches. */
static void acked(struct snd *s, uint64_t w)
{
	if (w <= s->acked)
		return;
	s->acked = w;
	while (s->head && s->head->first + s->head->count - 1 <= w) {
		struct batch *b = s->head;
		s->head = b->next;
		if (s->cursor == b)
			s->cursor = b->next;
		if (s->tail == b)
			s->tail = NULL;
		if (b->gap)
			gap_lost(s, b);
		free_batch(s, b);
	}
}

static uint64_t first_held(const struct snd *s)
{
	if (!s->head)
		return s->next_seq;
	return s->head->first > s->acked + 1 ? s->head->first : s->acked + 1;
}

static void hello(struct snd *s)
{
	unsigned char buf[BF_HELLO_LEN];
	struct bf_hello h = { .stream = s->stream, .next_seq = first_held(s),
			      .max_msg = br_end_max_msg(&s->end), .nonce = ++s->nonce };
	br_end_geometry(&s->end, &h);
	s->state = S_WAIT_WELCOME;
	s->hello_at = br_now();
	br_send_frame(s->s, buf, bf_put_hello(buf, &h));
}

static int welcome(struct snd *s, const struct bf_welcome *w)
{
	if (s->state != S_WAIT_WELCOME || w->nonce != s->nonce)
		return 0; /* an answer to an earlier HELLO */
	uint64_t from = first_held(s);
	if (w->written >= s->next_seq)
		return cli_failf("bridge send", "the other side holds messages up to #%llu, beyond "
				 "the %llu taken from '%s': another stream? refusing to skip them",
				 (unsigned long long)w->written,
				 (unsigned long long)(s->next_seq - 1), s->name);
	if (w->lost) {
		s->st.lost += w->lost;
		br_log("lost %llu messages (#%llu to #%llu): taken out of '%s' before this "
		       "sender started and never written on the other side",
		       (unsigned long long)w->lost, (unsigned long long)(from - w->lost),
		       (unsigned long long)(from - 1), s->name);
	}
	if (w->max_msg < br_end_max_msg(&s->end))
		br_log("the other side takes messages up to %llu bytes, '%s' up to %zu",
		       (unsigned long long)w->max_msg, s->name, br_end_max_msg(&s->end));
	acked(s, w->written);
	s->cursor = s->head;
	s->state = S_STREAMING;
	s->welcomed = true;
	return 0;
}

/* One frame from the receiver: 0, or an exit status (it ended the session). */
static int frame(struct snd *s, nng_msg *m)
{
	struct bf_frame f;
	const char *why;
	if (bf_decode(nng_msg_body(m), nng_msg_len(m), 0, &f, &why) < 0)
		return br_drop(nng_msg_get_pipe(m), why), 0;
	switch (f.type) {
	case BF_WELCOME:
		return welcome(s, &f.u.welcome);
	case BF_ACK:
		if (f.u.ack >= s->next_seq) { /* never sent: freeing it would lose it silently */
			br_drop(nng_msg_get_pipe(m), "an ACK beyond the messages sent");
			return 0;
		}
		if (s->state == S_STREAMING)
			acked(s, f.u.ack);
		return 0;
	case BF_ERROR:
		return cli_failf("bridge send", "the other side refused: %s", f.u.error.text);
	default:
		br_drop(nng_msg_get_pipe(m), "unexpected frame type from a receiver");
		return 0;
	}
}

/* Every frame waiting, or one within @ms when @ms > 0. */
static int pump(struct snd *s, int ms)
{
	nng_msg *m;
	int r, flags = ms > 0 ? 0 : NNG_FLAG_NONBLOCK;
	while ((r = nng_recvmsg(s->s, &m, flags)) == 0) {
		int st = frame(s, m);
		nng_msg_free(m);
		if (st)
			return st;
		flags = NNG_FLAG_NONBLOCK;
	}
	return 0;
}

/* Append the message at @p (in the segment: copied under the SIGBUS
 * guard) to the batch being made in @m. 0, -ENOMEM, or -EFAULT when the
 * segment was truncated under the copy. */
static int add_rec(nng_msg *m, size_t *used, const void *p, size_t len)
{
	size_t need = BF_DATA_HDR + *used + BF_REC_HDR + len;
	if (need > nng_msg_len(m) && nng_msg_realloc(m, need) != 0)
		return -ENOMEM;
	unsigned char *b = (unsigned char *)nng_msg_body(m) + BF_DATA_HDR + *used;
	bf_put_rec(b, (uint32_t)len);
	int r = pshm_guarded_copy(b + BF_REC_HDR, p, len);
	if (r < 0)
		return r;
	*used += BF_REC_HDR + len;
	return 0;
}

static int window_add(struct snd *s, nng_msg *m, uint64_t first, uint32_t count, size_t used,
		      uint64_t gap)
{
	struct batch *b = malloc(sizeof(*b));
	if (!b)
		return -ENOMEM;
	nng_msg_chop(m, nng_msg_len(m) - BF_DATA_HDR - used);
	bf_put_data_hdr(nng_msg_body(m), first, count);
	*b = (struct batch){ NULL, m, first, count, nng_msg_len(m), gap };
	if (s->tail)
		s->tail->next = b;
	else
		s->head = b;
	s->tail = b;
	if (!s->cursor)
		s->cursor = b;
	s->win_bytes += b->bytes;
	return 0;
}

/* A failed peek: false to end the batch, with *@err set if fatal. */
static bool peek_failed(struct snd *s, ssize_t n, uint32_t count, int *err)
{
	if (n == -EPIPE && !s->source_gone && s->next_seq > s->first_seq)
		br_log("'%s' has no producer now; waiting for one", s->name);
	s->source_gone = n == -EPIPE;
	if (n == -EPIPE && !count)
		usleep(BR_SLICE_MS * 1000);
	if (n != -EAGAIN && n != -ETIMEDOUT && n != -EINTR && n != -EPIPE)
		*err = (int)n;
	return false;
}

/* Take up to a batch of messages out of the channel or topic into the
 * window, waiting up to @wait_ns for the first. A topic's jump in numbers
 * starts a batch of its own. 0, or -errno (fatal). */
static int take(struct snd *s, int64_t wait_ns)
{
	nng_msg *m = NULL;
	size_t used = 0;
	uint32_t count = 0;
	uint64_t gap = 0;
	int err = 0;
	for (;;) {
		const void *p;
		uint64_t seq = s->next_seq;
		ssize_t n = br_end_peek(&s->end, &p, count ? 0 : wait_ns, &seq);
		if (n < 0 && !peek_failed(s, n, count, &err))
			break;
		s->source_gone = false;
		if (seq != s->next_seq && count)
			break; /* stays peeked: the next batch starts with it */
		if (count && used + BF_REC_HDR + (size_t)n > BR_BATCH)
			break;
		/* Sized by the first message: a large one is copied once, not
		 * into a batch that nng_msg_realloc() then copies again. */
		size_t first = BF_REC_HDR + (size_t)n > BR_BATCH ? BF_REC_HDR + (size_t)n : BR_BATCH;
		if (!m && nng_msg_alloc(&m, BF_DATA_HDR + first) != 0) {
			err = -ENOMEM;
			break;
		}
		size_t was = used;
		if ((err = add_rec(m, &used, p, (size_t)n)) < 0)
			break;
		if (br_end_release(&s->end) == -ESTALE) {
			used = was; /* overwritten while copied: missed, as the next jump says */
			continue;
		}
		if (seq > s->next_seq) {
			gap = seq - s->next_seq;
			s->next_seq = seq;
		}
		count++;
		s->next_seq++;
		if (used >= BR_BATCH || s->win_bytes + used >= s->o->window)
			break;
	}
	if (!count) {
		if (m)
			nng_msg_free(m);
		return err;
	}
	int r = window_add(s, m, s->next_seq - count, count, used, gap);
	if (r < 0)
		nng_msg_free(m);
	return r ? r : err;
}

/* Send the batch at the cursor (a copy: the window keeps it until acked).
 * Returns true if it went. */
static bool push(struct snd *s)
{
	nng_msg *m;
	struct batch *b = s->cursor;
	if (nng_msg_dup(&m, b->msg) != 0)
		return false;
	if (nng_sendmsg(s->s, m, 0) != 0) {
		nng_msg_free(m);
		return false;
	}
	s->cursor = b->next;
	uint64_t skip = s->acked >= b->first ? s->acked - b->first + 1 : 0;
	s->st.msgs += b->count - (skip < b->count ? skip : b->count);
	s->st.bytes += b->bytes;
	return true;
}

static void lag(struct snd *s)
{
	s->st.lag = s->head ? s->next_seq - first_held(s) : 0;
}

/* One turn of the loop: 0 to go on, or an exit status. */
static int turn(struct snd *s)
{
	unsigned g = atomic_load(&s->gen);
	if (g != s->seen_gen) {
		s->st.reconnects += s->seen_gen != 0;
		s->seen_gen = g;
		hello(s);
	} else if (s->state == S_WAIT_WELCOME && br_now() - s->hello_at > INT64_C(1000000000)) {
		hello(s); /* the first one, or its answer, was lost */
	}
	int r = pump(s, 0);
	if (r)
		return r;
	/* Nothing is taken before a receiver has recorded where the stream
	 * stands: what a sender killed from then on had taken is counted. */
	bool room = s->welcomed && s->win_bytes < s->o->window;
	bool ready = s->state == S_STREAMING && s->cursor;
	if (room && (r = take(s, ready ? 0 : BR_SLICE_MS * BR_NS_PER_MS)) < 0)
		return cli_fail("bridge send", s->name, r);
	if (s->state == S_STREAMING && s->cursor)
		push(s);
	else if (!room)
		r = pump(s, BR_SLICE_MS); /* wait for an ACK */
	lag(s);
	br_stats_tick(&s->st, s->o->stats);
	return r;
}

/* On SIGINT/SIGTERM: give what was sent a few seconds to be acknowledged. */
static void drain(struct snd *s)
{
	for (int64_t end = br_now() + INT64_C(3000000000); s->head && br_now() < end;) {
		if (s->state == S_STREAMING && s->cursor)
			push(s);
		if (pump(s, BR_SLICE_MS))
			break;
	}
	lag(s);
	br_log("stopped: %llu messages taken from '%s', %llu acknowledged, %llu not "
	       "(lost unless the other side wrote them), %llu counted lost",
	       (unsigned long long)(s->next_seq - 1), s->name, (unsigned long long)s->acked,
	       (unsigned long long)s->st.lag, (unsigned long long)s->st.lost);
}

int br_send(const char *name, const char *url, const struct br_opts *o)
{
	struct snd *s = calloc(1, sizeof(*s));
	if (!s)
		return cli_fail("bridge send", name, -ENOMEM);
	s->name = name;
	s->o = o;
	br_keep_heap(); /* batches reuse the heap, not fresh pages */
	int r = br_end_source(&s->end, name, o->flags, &s->next_seq);
	if (r < 0) {
		free(s);
		return cli_seg_fail("bridge send", name, r, o->flags);
	}
	s->first_seq = s->next_seq;
	s->acked = s->next_seq - 1;
	s->stream = stream_id(name);
	r = br_open(&s->s, url, false, o, 4096, on_pipe, s);
	while (!r && !cli_stop)
		r = turn(s);
	if (!r)
		drain(s);
	if (!br_close(s->s))
		return r ? r : EXIT_OK; /* s stays: NNG may still call on_pipe() with it */
	while (s->head) {
		struct batch *b = s->head;
		s->head = b->next;
		free_batch(s, b);
	}
	br_end_close(&s->end);
	free(s);
	return r ? r : EXIT_OK;
}

#endif

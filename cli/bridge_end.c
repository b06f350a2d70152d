/* SPDX-License-Identifier: MIT */
/*
 * cli/bridge_end.c — the local end of a bridge: a channel or a topic,
 * behind one small interface, so that send and recv do not care which.
 *
 * Sequence numbers: a channel's are the count of messages its consumer
 * ever took (the sender numbers them itself, from that count at attach);
 * a topic's are its own message numbers (pshm_topic_seq()), which may jump
 * where a subscriber missed messages (lossy topics, or published while no
 * bridge was subscribed): a jump is counted lost.
 */
#ifdef PSHM_HAVE_NNG

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge.h"

static bool is_topic(const char *name)
{
	struct pshm_stat st;
	return pshm_seg_stat(name, &st) == 0 && st.kind == PSHM_KIND_TOPIC;
}

int br_end_source(struct br_end *e, const char *name, unsigned flags, uint64_t *next_seq)
{
	memset(e, 0, sizeof(*e));
	e->name = name;
	e->topic = is_topic(name);
	if (e->topic) {
		struct pshm_topic_info in;
		/* Read before subscribing: anything published in between is a
		 * jump, counted lost, never a number given twice. */
		int r = pshm_topic_stat(name, &in);
		if (r == 0)
			r = pshm_topic_open(name, PSHM_SUBSCRIBER, flags, &e->t);
		if (r == 0)
			*next_seq = in.published + 1;
		return r;
	}
	struct pshm_chan_info in;
	int r = pshm_chan_open(name, PSHM_CONSUMER, flags, &e->ch);
	/* The only consumer now: its count of messages taken is stable. */
	if (r == 0 && (r = pshm_chan_stat(name, &in)) < 0)
		pshm_chan_close(e->ch);
	*next_seq = r == 0 ? in.received + 1 : 0;
	return r;
}

ssize_t br_end_peek(struct br_end *e, const void **p, int64_t timeout_ns, uint64_t *seq)
{
	if (!e->topic)
		return pshm_chan_peek(e->ch, p, timeout_ns);
	ssize_t n = pshm_topic_peek(e->t, p, timeout_ns);
	*seq = pshm_topic_seq(e->t);
	return n;
}

int br_end_release(struct br_end *e)
{
	return e->topic ? pshm_topic_release(e->t) : pshm_chan_release(e->ch);
}

size_t br_end_max_msg(const struct br_end *e)
{
	return e->topic ? pshm_topic_max_msg(e->t) : pshm_chan_max_msg(e->ch);
}

void br_end_geometry(const struct br_end *e, struct bf_hello *h)
{
	struct pshm_topic_info ti;
	struct pshm_chan_info ci;
	h->ring_size = 0;
	h->mode = h->history = h->peers = 0;
	if (e->topic && pshm_topic_stat(e->name, &ti) == 0) {
		h->ring_size = ti.ring_size;
		h->mode = BR_MODE_TOPIC | ti.policy;
		h->history = ti.history;
		h->peers = ti.max_subscribers;
	} else if (!e->topic && pshm_chan_stat(e->name, &ci) == 0) {
		h->ring_size = ci.ring_size;
		h->mode = ci.mode;
		h->peers = ci.max_producers;
	}
}

static int create(const char *name, const struct bf_hello *h)
{
	if (h->mode & BR_MODE_TOPIC) {
		struct pshm_topic_config cfg = { .ring_size = h->ring_size, .max_msg = h->max_msg,
						 .history = h->history,
						 .max_subscribers = h->peers,
						 .policy = h->mode & 1 };
		return pshm_topic_create(name, &cfg, 0, 0);
	}
	struct pshm_chan_config cfg = { .ring_size = h->ring_size, .max_msg = h->max_msg,
					.mode = h->mode, .max_producers = h->peers };
	return pshm_chan_create(name, &cfg, 0, 0);
}

int br_end_sink(struct br_end *e, const char *name, unsigned flags, const struct bf_hello *h)
{
	memset(e, 0, sizeof(*e));
	e->name = name;
	int r = 0;
	for (int tries = 0; tries < 2; tries++) {
		e->topic = is_topic(name);
		r = e->topic ? pshm_topic_open(name, PSHM_PUBLISHER, flags, &e->t)
			     : pshm_chan_open(name, PSHM_PRODUCER, flags, &e->ch);
		if (r != -ENOENT || !h)
			return r;
		if ((r = create(name, h)) < 0 && r != -EEXIST)
			return r;
		if (r == 0)
			br_log("created %s '%s': ring %llu bytes, messages up to %llu bytes",
			       h->mode & BR_MODE_TOPIC ? "topic" : "channel", name,
			       (unsigned long long)h->ring_size, (unsigned long long)h->max_msg);
	}
	return r;
}

int br_end_put(struct br_end *e, const void *msg, size_t len, int64_t timeout_ns)
{
	return e->topic ? pshm_topic_publish(e->t, msg, len, timeout_ns)
			: pshm_chan_send(e->ch, msg, len, timeout_ns);
}

/* A channel's count of messages ever committed, exactly: two equal
 * readings in a row (a reading races the consumer by at most a message),
 * and not capped (more than PSHM_CHAN_STAT_MAX_RECORDS pending). */
static int chan_count(struct br_end *e, uint64_t *out)
{
	uint64_t prev = UINT64_MAX;
	bool said = false;
	for (;;) {
		struct pshm_chan_info in;
		int r = pshm_chan_stat(e->name, &in);
		if (r < 0)
			return r;
		if (in.mode == PSHM_CHAN_MPSC && prev == UINT64_MAX)
			br_log("'%s' takes many producers: the count of what was written after a "
			       "restart holds only if this bridge is its only producer", e->name);
		if (in.pending_capped) {
			if (!said)
				br_log("'%s' holds too many messages to count; waiting for its "
				       "consumer", e->name);
			said = true;
			if (cli_stop)
				return -EINTR;
			usleep(100000);
			continue;
		}
		if (in.sent == prev) {
			*out = in.sent;
			return 0;
		}
		prev = in.sent;
	}
}

int br_end_count(struct br_end *e, uint64_t *out)
{
	struct pshm_topic_info in;
	if (!e->topic)
		return chan_count(e, out);
	int r = pshm_topic_stat(e->name, &in);
	*out = in.published; /* one publisher: this process */
	return r;
}

uint64_t br_end_pending(struct br_end *e)
{
	struct pshm_chan_info ci;
	struct pshm_topic_info ti;
	uint64_t lag = 0;
	if (!e->topic)
		return pshm_chan_stat(e->name, &ci) == 0 ? ci.pending : 0;
	if (pshm_topic_stat(e->name, &ti) == 0)
		for (unsigned i = 0; i < ti.n_subs; i++)
			lag = ti.subs[i].alive && ti.subs[i].lag > lag ? ti.subs[i].lag : lag;
	return lag;
}

void br_end_close(struct br_end *e)
{
	pshm_chan_close(e->ch);
	pshm_topic_close(e->t);
	e->ch = NULL;
	e->t = NULL;
}

#endif

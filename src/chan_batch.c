/* SPDX-License-Identifier: MIT */
/*
 * chan_batch.c — sending and receiving several channel messages per call.
 *
 * Each record is written and published exactly as a single send does it
 * (its header stored last, with release ordering), so the consumer may
 * take the first message of a batch while the producer writes the second:
 * nothing is held back. What a batch pays once instead of per message:
 * the SIGBUS zone, the SPSC tail store, the look for a sleeping peer and
 * its fence, the consumer's head store (SPSC) and received count, and the
 * mtime counter. Only the first message of a batch is waited for: a batch
 * is what is there (or what fits) now, never a reason to wait.
 */
#include <string.h>
#include <sys/uio.h>

#include "chan_fast.h"

/* One message of a batch: claim and write it, or the reason not to. */
static ALWAYS_INLINE ssize_t send_many(pshm_chan *ch, const struct iovec *msgs, size_t n,
				       int64_t timeout, bool spsc)
{
	size_t i = 0;
	for (; i < n; i++) {
		const void *m = msgs[i].iov_base;
		size_t len = msgs[i].iov_len;
		uint64_t pos, span = align8(8 + (uint64_t)len);
		int r = len > ch->max_msg ? -EMSGSIZE
		      : !m && len	  ? -EINVAL
					  : claim(ch, span, i ? 0 : timeout, &pos, spsc);
		if (r < 0) {
			if (i == 0)
				return r;
			break;
		}
		put(ch, pos, span, m, len, spsc);
	}
	if (i)
		flush(ch, spsc);
	return (ssize_t)i;
}

static ssize_t send_batch(pshm_chan *ch, const struct iovec *msgs, size_t n, int64_t timeout)
{
	if (ch->role != PSHM_PRODUCER || (!msgs && n))
		return -EINVAL;
	if (ch->resv)
		return -EBUSY;
	if (ch->mode == PSHM_CHAN_SPSC)
		return send_many(ch, msgs, n, timeout, true);
	return send_many(ch, msgs, n, timeout, false);
}

/*
 * The messages from head: the first waited for as @timeout says, the
 * others taken while there (PAD and DEAD records stepped over, to be
 * released with the rest). @copy: into c (recv_batch), else pointers into
 * v (peek_batch). Returns how many were taken, or an error (only when none
 * was); *endp gets the position after the last one taken, where the
 * release goes, and *firstp the first one's header.
 */
struct into {
	unsigned char *buf;
	size_t cap;
	size_t *lens;
	struct iovec *v;
};

static ALWAYS_INLINE ssize_t walk(pshm_chan *ch, size_t max, int64_t timeout, struct into *c,
				  bool copy, uint64_t *endp, uint64_t *firstp)
{
	uint64_t w;
	int r = cons_first(ch, timeout, &w);
	if (r < 0)
		return r;
	*firstp = w;
	uint64_t p = ch->head, end = p, limit = p + ch->ring_size;
	size_t i = 0, off = 0;
	for (uint64_t steps = 0; steps <= ch->ring_size / 8; steps++) {
		uint32_t len = rec_len(w);
		const unsigned char *m = ch->ring + (p & ch->mask) + 8;
		if (copy) {
			if (len > c->cap - off || (!c->buf && len)) {
				if (i == 0)
					return len > c->cap ? -EMSGSIZE : -EINVAL;
				break;
			}
			pshm__copy_out(c->buf + off, m, len);
			off += len;
			c->lens[i] = len;
		} else {
			c->v[i].iov_base = (void *)m;
			c->v[i].iov_len = len;
		}
		p += align8(8 + (uint64_t)len);
		end = p;
		if (++i == max)
			break;
		/* The next message, if there: past head + ring_size lies
		 * head's own record again. */
		for (; steps <= ch->ring_size / 8 && p < limit; steps++) {
			w = LOAD_ACQ(hdr_at(ch, p));
			if (LIKELY(msg_ok(ch, p, w)))
				break;
			uint64_t span;
			r = w ? pshm__chan_look(ch, p, &w, &span) : 0;
			if (r != 2)
				goto out;
			p += span;
		}
		if (p >= limit)
			break;
	}
out:
	*endp = end;
	return (ssize_t)i;
}

static ssize_t recv_batch(pshm_chan *ch, void *buf, size_t cap, size_t *lens, size_t max,
			  int64_t timeout)
{
	if (ch->role != PSHM_CONSUMER || (!lens && max))
		return -EINVAL;
	if (max == 0)
		return 0;
	struct into c = { buf, cap, lens, NULL };
	uint64_t end, first;
	ssize_t n = walk(ch, max, timeout, &c, true, &end, &first);
	if (n > 0) {
		ch->peeked = false;
		release_to(ch, end, (uint64_t)n);
	}
	return n;
}

static ssize_t peek_batch(pshm_chan *ch, struct iovec *msgs, size_t max, int64_t timeout)
{
	if (ch->role != PSHM_CONSUMER || (!msgs && max))
		return -EINVAL;
	if (max == 0)
		return 0;
	struct into c = { NULL, 0, NULL, msgs };
	uint64_t end, first;
	ssize_t n = walk(ch, max, timeout, &c, false, &end, &first);
	if (n > 0) {
		ch->peeked = true;
		ch->peek_w = first;
		ch->peek_end = end;
		ch->peek_n = (uint64_t)n;
	}
	return n;
}

ssize_t pshm_chan_send_batch(pshm_chan *ch, const struct iovec *msgs, size_t n,
			     int64_t timeout_ns)
{
	ssize_t r;
	if (!ch)
		return -EINVAL;
	CHAN_GUARDED(r, ch, send_batch(ch, msgs, n, timeout_ns));
	touch(ch);
	return r;
}

ssize_t pshm_chan_recv_batch(pshm_chan *ch, void *buf, size_t cap, size_t *lens,
			     size_t max_msgs, int64_t timeout_ns)
{
	ssize_t r;
	if (!ch)
		return -EINVAL;
	CHAN_GUARDED(r, ch, recv_batch(ch, buf, cap, lens, max_msgs, timeout_ns));
	touch(ch);
	return r;
}

ssize_t pshm_chan_peek_batch(pshm_chan *ch, struct iovec *msgs, size_t max_msgs,
			     int64_t timeout_ns)
{
	ssize_t r;
	if (!ch)
		return -EINVAL;
	CHAN_GUARDED(r, ch, peek_batch(ch, msgs, max_msgs, timeout_ns));
	touch(ch);
	return r;
}

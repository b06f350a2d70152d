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

#include "chan.h"
#include "smallcopy.h"

static ssize_t send_batch(pshm_chan *ch, const struct iovec *msgs, size_t n, int64_t timeout)
{
	if (ch->role != PSHM_PRODUCER || (!msgs && n))
		return -EINVAL;
	if (ch->resv)
		return -EBUSY;
	size_t i = 0;
	for (; i < n; i++) {
		size_t len = msgs[i].iov_len;
		int r = -EMSGSIZE;
		uint64_t pos, span = align8(8 + (uint64_t)len);
		if (msgs[i].iov_base || !len)
			r = len > ch->max_msg ? -EMSGSIZE
					      : pshm__chan_claim(ch, span, i ? 0 : timeout, &pos);
		else
			r = -EINVAL;
		if (r < 0) {
			if (i == 0)
				return r;
			break;
		}
		pshm__chan_put(ch, pos, span, msgs[i].iov_base, len);
	}
	if (i)
		pshm__chan_flush(ch);
	return (ssize_t)i;
}

/*
 * Walk the messages from head: the first waited for as @timeout says, the
 * others taken while there (PAD and DEAD records stepped over). @take is
 * called for each with its header and payload, and says whether to go on
 * (1), stop before this one (0), or fail (negative, only for the first).
 * Returns how many were taken, or an error; *endp gets the position
 * after the last taken, where the release goes, and *firstp the first
 * one's header.
 */
typedef int (*take_fn)(void *arg, size_t i, const unsigned char *msg, uint32_t len);

static ssize_t walk(pshm_chan *ch, size_t max, int64_t timeout, take_fn take, void *arg,
		    uint64_t *endp, uint64_t *firstp)
{
	uint64_t w, span;
	int r = pshm__chan_first(ch, timeout, &w);
	if (r < 0)
		return r;
	*firstp = w;
	uint64_t p = ch->head, end = p;
	size_t i = 0;
	for (uint64_t steps = 0; i < max && steps <= ch->ring_size / 8; steps++) {
		if (steps) {
			/* Past head + ring_size lies head's own record again. */
			if (p - ch->head >= ch->ring_size)
				break;
			r = pshm__chan_look(ch, p, &w, &span);
			if (r <= 0)
				break;
			if (r == 2) {
				p += span;
				continue;
			}
		}
		r = take(arg, i, ch->ring + (p & ch->mask) + 8, rec_len(w));
		if (r <= 0) {
			if (i == 0 && r < 0)
				return r;
			break;
		}
		i++;
		p += align8(8 + (uint64_t)rec_len(w));
		end = p;
	}
	*endp = end;
	return (ssize_t)i;
}

struct copy_into {
	unsigned char *buf;
	size_t cap, off;
	size_t *lens;
};

static int copy_one(void *arg, size_t i, const unsigned char *msg, uint32_t len)
{
	struct copy_into *c = arg;
	if (len > c->cap - c->off)
		return i ? 0 : -EMSGSIZE;
	if (!c->buf && len)
		return i ? 0 : -EINVAL;
	pshm__copy_out(c->buf + c->off, msg, len);
	c->off += len;
	c->lens[i] = len;
	return 1;
}

static ssize_t recv_batch(pshm_chan *ch, void *buf, size_t cap, size_t *lens, size_t max,
			  int64_t timeout)
{
	if (ch->role != PSHM_CONSUMER || (!lens && max))
		return -EINVAL;
	if (max == 0)
		return 0;
	struct copy_into c = { buf, cap, 0, lens };
	uint64_t end, first;
	ssize_t n = walk(ch, max, timeout, copy_one, &c, &end, &first);
	if (n > 0) {
		ch->peeked = false;
		pshm__chan_release_to(ch, end, (uint64_t)n);
	}
	return n;
}

static int point_at(void *arg, size_t i, const unsigned char *msg, uint32_t len)
{
	struct iovec *v = arg;
	v[i].iov_base = (void *)msg;
	v[i].iov_len = len;
	return 1;
}

static ssize_t peek_batch(pshm_chan *ch, struct iovec *msgs, size_t max, int64_t timeout)
{
	if (ch->role != PSHM_CONSUMER || (!msgs && max))
		return -EINVAL;
	if (max == 0)
		return 0;
	uint64_t end, first;
	ssize_t n = walk(ch, max, timeout, point_at, msgs, &end, &first);
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
	pshm__chan_touch(ch);
	return r;
}

ssize_t pshm_chan_recv_batch(pshm_chan *ch, void *buf, size_t cap, size_t *lens,
			     size_t max_msgs, int64_t timeout_ns)
{
	ssize_t r;
	if (!ch)
		return -EINVAL;
	CHAN_GUARDED(r, ch, recv_batch(ch, buf, cap, lens, max_msgs, timeout_ns));
	pshm__chan_touch(ch);
	return r;
}

ssize_t pshm_chan_peek_batch(pshm_chan *ch, struct iovec *msgs, size_t max_msgs,
			     int64_t timeout_ns)
{
	ssize_t r;
	if (!ch)
		return -EINVAL;
	CHAN_GUARDED(r, ch, peek_batch(ch, msgs, max_msgs, timeout_ns));
	pshm__chan_touch(ch);
	return r;
}

/* SPDX-License-Identifier: MIT */
/*
 * stress_chan.c — producers send sequence-numbered, checksummed messages of
 * random sizes through one channel; the consumer checks that none is lost,
 * duplicated, reordered (per producer) or torn. Copy and zero-copy paths
 * alternate, single messages and batches. Shared by tests/test_chan.c (processes and threads) and
 * tests/tsan_main.c (threads, under ThreadSanitizer).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "stress.h"
#include "test_chan.h"

#define WAIT_NS INT64_C(30000000000) /* 30 s: only a hang would reach it */

#define BATCH 8

/* Send messages [seq, seq + k) of producer @id in batches. 0 or 11. */
static int send_some(pshm_chan *p, const struct stress_load *l, unsigned id, uint64_t seq,
		     unsigned k)
{
	static _Thread_local unsigned char bufs[BATCH][4096];
	struct iovec v[BATCH];
	for (unsigned i = 0; i < k; i++)
		v[i] = (struct iovec){ bufs[i], tc_make(bufs[i], id, seq + i, l->max) };
	for (unsigned i = 0; i < k;) {
		ssize_t r = pshm_chan_send_batch(p, v + i, k - i, WAIT_NS);
		if (r <= 0)
			return 11;
		i += (unsigned)r;
	}
	return 0;
}

int stress_chan_produce(const struct stress_load *l, unsigned id)
{
	pshm_chan *p;
	if (pshm_chan_open(l->name, PSHM_PRODUCER, 0, &p))
		return 10;
	unsigned char buf[4096];
	for (uint64_t seq = 0; seq < l->per_producer;) {
		int r;
		/* One group of BATCH in three goes as batches. */
		if ((seq / BATCH) % 3 == 1) {
			unsigned k = l->per_producer - seq < BATCH ? (unsigned)(l->per_producer - seq)
								   : BATCH;
			if (send_some(p, l, id, seq, k))
				return 11;
			seq += k;
			continue;
		}
		size_t len = tc_make(buf, id, seq, l->max);
		if (l->zero_copy && seq % 2) {
			void *w;
			r = pshm_chan_reserve(p, len, &w, WAIT_NS);
			if (r == 0) {
				memcpy(w, buf, len);
				r = pshm_chan_commit(p, len);
			}
		} else {
			r = pshm_chan_send(p, buf, len, WAIT_NS);
		}
		if (r)
			return 11;
		seq++;
	}
	pshm_chan_close(p);
	return 0;
}

/* Check a received message; returns its producer, -1 if torn, -2 if lost,
 * duplicated or reordered. */
static int check_msg(const unsigned char *buf, size_t len, unsigned nprod, uint64_t *next)
{
	struct tc_hdr h;
	if (tc_check(buf, len, nprod, &h) < 0)
		return -1;
	if (h.seq != next[h.producer])
		return -2;
	next[h.producer]++;
	return (int)h.producer;
}

/* Receive up to @max messages, one way or another (by @got): recv, peek,
 * recv_batch, peek_batch. How many, or a negative errno; *bad: the first
 * that failed its check (-1 torn, -2 out of sequence), else 0. */
static ssize_t take_some(pshm_chan *c, const struct stress_load *l, uint64_t got, unsigned max,
			 uint64_t *next, int *bad)
{
	static _Thread_local unsigned char buf[BATCH * 4096];
	size_t lens[BATCH];
	struct iovec v[BATCH];
	unsigned way = (unsigned)(got / BATCH) % 4;
	bool zc = l->zero_copy && (way == 3 || (way < 2 && got % 2));
	ssize_t n;
	*bad = 0;
	if (way >= 2 && zc) {
		n = pshm_chan_peek_batch(c, v, max, WAIT_NS);
	} else if (way >= 2) {
		n = pshm_chan_recv_batch(c, buf, sizeof(buf), lens, max, WAIT_NS);
		for (ssize_t i = 0, off = 0; i < n; off += (ssize_t)lens[i++])
			v[i] = (struct iovec){ buf + off, lens[i] };
	} else if (zc) {
		const void *ptr;
		n = pshm_chan_peek(c, &ptr, WAIT_NS);
		v[0] = (struct iovec){ (void *)ptr, n < 0 ? 0 : (size_t)n };
		n = n < 0 ? n : 1;
	} else {
		n = pshm_chan_recv(c, buf, 4096, WAIT_NS);
		v[0] = (struct iovec){ buf, n < 0 ? 0 : (size_t)n };
		n = n < 0 ? n : 1;
	}
	for (ssize_t i = 0; i < n && !*bad; i++) {
		int who = check_msg(v[i].iov_base, v[i].iov_len, l->producers, next);
		*bad = who < 0 ? who : 0;
	}
	if (n > 0 && zc && pshm_chan_release(c) != 0)
		return -EBADE;
	return n;
}

int stress_chan_consume(const struct stress_load *l, char *err, size_t errlen)
{
	pshm_chan *c;
	int r = pshm_chan_open(l->name, PSHM_CONSUMER, 0, &c);
	if (r < 0) {
		snprintf(err, errlen, "open %s: %s", l->name, pshm_strerror(r));
		return -1;
	}
	uint64_t next[64] = { 0 }, total = l->producers * l->per_producer;
	r = 0;
	for (uint64_t got = 0; got < total && r == 0;) {
		int bad;
		unsigned max = total - got < BATCH ? (unsigned)(total - got) : BATCH;
		ssize_t n = take_some(c, l, got, max, next, &bad);
		if (n < 0 || bad) {
			snprintf(err, errlen, "message %llu: %s", (unsigned long long)got,
				 n == -EBADE ? "release failed"
				 : n < 0     ? pshm_strerror((int)n)
				 : bad == -1 ? "corrupted"
					     : "out of sequence");
			r = -1;
		}
		got += n > 0 ? (uint64_t)n : 0;
	}
	for (unsigned i = 0; i < l->producers && r == 0; i++)
		if (next[i] != l->per_producer) {
			snprintf(err, errlen, "producer %u: %llu of %llu messages", i,
				 (unsigned long long)next[i], (unsigned long long)l->per_producer);
			r = -1;
		}
	char b[8];
	ssize_t last = r == 0 ? pshm_chan_recv(c, b, sizeof(b), WAIT_NS / 6) : -EPIPE;
	if (last != -EPIPE) {
		snprintf(err, errlen, "after the last message: %zd, not -EPIPE", last);
		r = -1;
	}
	pshm_chan_close(c);
	return r;
}

struct thread_arg {
	const struct stress_load *l;
	unsigned id;
	int status;
};

static void *producer_thread(void *arg)
{
	struct thread_arg *a = arg;
	a->status = stress_chan_produce(a->l, a->id);
	return NULL;
}

/* Producers in threads of this process, the consumer on this thread. */
static int load_threads(const struct stress_load *l, char *err, size_t errlen)
{
	pthread_t t[16];
	struct thread_arg a[16];
	unsigned started = 0;
	for (; started < l->producers; started++) {
		a[started] = (struct thread_arg){ l, started, -1 };
		if (pthread_create(&t[started], NULL, producer_thread, &a[started]))
			break;
	}
	int r = started == l->producers ? stress_chan_consume(l, err, errlen) : -1;
	for (unsigned i = 0; i < started; i++) {
		pthread_join(t[i], NULL);
		if (a[i].status != 0 && r == 0) {
			snprintf(err, errlen, "producer thread %u: status %d", i, a[i].status);
			r = -1;
		}
	}
	return r;
}

static int with_channel(struct stress_load *l, const char *tag, size_t ring, size_t max_msg,
			unsigned mode, char *err, size_t errlen)
{
	char name[64];
	snprintf(name, sizeof(name), "/pshm-test-stress-%s-%d", tag, (int)getpid());
	struct pshm_chan_config cfg = { .ring_size = ring, .max_msg = max_msg, .mode = mode };
	int r = pshm_chan_create(name, &cfg, 0, 0);
	if (r < 0) {
		snprintf(err, errlen, "create %s: %s", name, pshm_strerror(r));
		return -1;
	}
	l->name = name;
	r = load_threads(l, err, errlen);
	pshm_seg_unlink(name);
	return r;
}

int stress_chan_mpsc_threads(char *err, size_t errlen)
{
	struct stress_load l = { .producers = 4, .per_producer = 50000ull * (uint64_t)stress_scale(),
				 .max = 512, .zero_copy = true };
	return with_channel(&l, "mpsc", 16384, 4096, PSHM_CHAN_MPSC, err, errlen);
}

int stress_chan_spsc_threads(char *err, size_t errlen)
{
	struct stress_load l = { .producers = 1, .per_producer = 200000ull * (uint64_t)stress_scale(),
				 .max = 700, .zero_copy = true };
	return with_channel(&l, "spsc", 4096, 1024, PSHM_CHAN_SPSC, err, errlen);
}

/* SPDX-License-Identifier: MIT */
/*
 * stress_chan.c — producers send sequence-numbered, checksummed messages of
 * random sizes through one channel; the consumer checks that none is lost,
 * duplicated, reordered (per producer) or torn. Copy and zero-copy paths
 * alternate. Shared by tests/test_chan.c (processes and threads) and
 * tests/tsan_main.c (threads, under ThreadSanitizer).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "stress.h"
#include "test_chan.h"

#define WAIT_NS INT64_C(30000000000) /* 30 s: only a hang would reach it */

int stress_chan_produce(const struct stress_load *l, unsigned id)
{
	pshm_chan *p;
	if (pshm_chan_open(l->name, PSHM_PRODUCER, 0, &p))
		return 10;
	unsigned char buf[4096];
	for (uint64_t seq = 0; seq < l->per_producer; seq++) {
		size_t len = tc_make(buf, id, seq, l->max);
		int r;
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

int stress_chan_consume(const struct stress_load *l, char *err, size_t errlen)
{
	pshm_chan *c;
	int r = pshm_chan_open(l->name, PSHM_CONSUMER, 0, &c);
	if (r < 0) {
		snprintf(err, errlen, "open %s: %s", l->name, pshm_strerror(r));
		return -1;
	}
	uint64_t next[64] = { 0 }, total = l->producers * l->per_producer;
	unsigned char buf[4096];
	r = 0;
	for (uint64_t got = 0; got < total && r == 0; got++) {
		ssize_t n;
		const void *ptr = NULL;
		if (l->zero_copy && got % 2)
			n = pshm_chan_peek(c, &ptr, WAIT_NS);
		else
			n = pshm_chan_recv(c, buf, sizeof(buf), WAIT_NS);
		int who = n < 0 ? 0 : check_msg(ptr ? ptr : buf, (size_t)n, l->producers, next);
		if (n < 0 || who < 0) {
			snprintf(err, errlen, "message %llu: %s", (unsigned long long)got,
				 n < 0 ? pshm_strerror((int)n) : who == -1 ? "corrupted" : "out of sequence");
			r = -1;
		} else if (ptr && pshm_chan_release(c) != 0) {
			snprintf(err, errlen, "release failed");
			r = -1;
		}
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

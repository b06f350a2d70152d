/* SPDX-License-Identifier: MIT */
/*
 * stress_topic.c — a publisher thread publishes numbered, checksummed
 * messages of varying sizes to subscriber threads, copy and zero-copy
 * calls alternating. Blocking: every subscriber gets every message, in
 * order, whole, then -EPIPE. Lossy: every subscriber gets whole messages
 * in order, with gaps exactly as large as its missed count grew, one of
 * them waiting in poll(2) on the topic's descriptor. Shared by
 * tests/test_topic.c and tests/tsan_main.c (under ThreadSanitizer).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "stress.h"

#define WAIT_NS INT64_C(30000000000) /* 30 s: only a hang would reach it */
#define MAXMSG 200
#define NSUB 3

size_t stress_topic_make(unsigned char *b, uint64_t k, size_t max)
{
	size_t len = 12 + (size_t)((k * 2654435761u) % (max - 11));
	memcpy(b, &k, 8);
	uint32_t sum = 0;
	for (size_t i = 12; i < len; i++) {
		b[i] = (unsigned char)(k * 131 + i * 7);
		sum = sum * 33 + b[i];
	}
	memcpy(b + 8, &sum, 4);
	return len;
}

bool stress_topic_ok(const unsigned char *b, size_t len, uint64_t k, size_t max)
{
	unsigned char want[4096];
	if (max > sizeof(want))
		return false;
	size_t wl = stress_topic_make(want, k, max);
	return len == wl && memcmp(b, want, len) == 0;
}

struct sub_arg {
	pshm_topic *t;
	uint64_t total;
	bool lossy, poll;
	int status;
	uint64_t got, missed;
};

/* The next message, by recv or peek + release (@k picks). */
static ssize_t take(struct sub_arg *a, unsigned char *buf, uint64_t k, bool *stale)
{
	*stale = false;
	if (k & 1)
		return pshm_topic_recv(a->t, buf, MAXMSG, a->poll ? 0 : WAIT_NS);
	const void *p;
	ssize_t n = pshm_topic_peek(a->t, &p, a->poll ? 0 : WAIT_NS);
	if (n < 0)
		return n;
	memcpy(buf, p, (size_t)n);
	*stale = pshm_topic_release(a->t) == -ESTALE;
	return n;
}

static void *sub_main(void *arg)
{
	struct sub_arg *a = arg;
	unsigned char buf[MAXMSG];
	uint64_t prev = 0, missed = 0;
	int fd = a->poll ? pshm_topic_fd(a->t) : -1;
	a->status = a->poll && fd < 0 ? 1 : 0;
	for (uint64_t i = 0; a->status == 0; i++) {
		bool stale;
		ssize_t n = take(a, buf, i, &stale);
		if (n == -EAGAIN && a->poll) {
			struct pollfd pf = { .fd = fd, .events = POLLIN };
			if (poll(&pf, 1, 30000) != 1)
				a->status = 2;
			continue;
		}
		if (n == -EPIPE)
			break;
		if (n < 0) {
			a->status = 3;
			break;
		}
		uint64_t k = pshm_topic_seq(a->t), m = pshm_topic_missed(a->t);
		if (!a->lossy && (k != prev + 1 || m != 0))
			a->status = 4;
		if (a->lossy && k != prev + 1 + (m - missed) - (stale ? 1 : 0))
			a->status = 5;
		if (!stale && !stress_topic_ok(buf, (size_t)n, k, MAXMSG))
			a->status = 6;
		prev = k;
		missed = m;
		a->got += !stale;
	}
	a->missed = missed;
	if (a->status == 0 && prev != a->total)
		a->status = 7;
	return NULL;
}

struct pub_arg {
	const char *name;
	uint64_t total;
	int status;
};

static void *pub_main(void *arg)
{
	struct pub_arg *a = arg;
	pshm_topic *p;
	if (pshm_topic_open(a->name, PSHM_PUBLISHER, 0, &p) < 0) {
		a->status = 10;
		return NULL;
	}
	unsigned char buf[MAXMSG];
	for (uint64_t k = 1; k <= a->total && a->status == 0; k++) {
		size_t len = stress_topic_make(buf, k, MAXMSG);
		if (k % 2) {
			void *w;
			a->status = pshm_topic_reserve(p, len, &w, WAIT_NS) ? 11 : 0;
			if (a->status == 0) {
				memcpy(w, buf, len);
				a->status = pshm_topic_commit(p, len) ? 12 : 0;
			}
		} else {
			a->status = pshm_topic_publish(p, buf, len, WAIT_NS) ? 13 : 0;
		}
	}
	pshm_topic_close(p);
	return NULL;
}

static int run(unsigned policy, char *err, size_t errlen)
{
	char name[64];
	snprintf(name, sizeof(name), "/pshm-test-stress-topic%u-%d", policy, (int)getpid());
	struct pshm_topic_config cfg = { .ring_size = 8192, .max_msg = MAXMSG, .policy = policy };
	int r = pshm_topic_create(name, &cfg, 0, 0);
	if (r < 0) {
		snprintf(err, errlen, "create %s: %s", name, pshm_strerror(r));
		return -1;
	}
	uint64_t total = 20000 * (uint64_t)stress_scale();
	struct sub_arg s[NSUB];
	pthread_t ts[NSUB], tp;
	unsigned opened = 0;
	r = 0;
	for (; opened < NSUB; opened++) {
		s[opened] = (struct sub_arg){ .total = total, .lossy = policy == PSHM_TOPIC_LOSSY,
					      .poll = policy == PSHM_TOPIC_LOSSY && opened == 0 };
		if (pshm_topic_open(name, PSHM_SUBSCRIBER, 0, &s[opened].t) < 0)
			break;
	}
	struct pub_arg pa = { .name = name, .total = total };
	unsigned started = 0;
	if (opened == NSUB) {
		for (; started < NSUB; started++)
			if (pthread_create(&ts[started], NULL, sub_main, &s[started]))
				break;
		if (started == NSUB && pthread_create(&tp, NULL, pub_main, &pa) == 0)
			pthread_join(tp, NULL);
		else
			pa.status = 20;
	}
	for (unsigned i = 0; i < started; i++)
		pthread_join(ts[i], NULL);
	if (opened < NSUB || started < NSUB || pa.status) {
		snprintf(err, errlen, "setup or publisher failed (%u, %u, %d)", opened, started,
			 pa.status);
		r = -1;
	}
	for (unsigned i = 0; i < NSUB && r == 0; i++)
		if (s[i].status || (!s[i].lossy && s[i].got != total) ||
		    (s[i].lossy && s[i].got + s[i].missed != total)) {
			snprintf(err, errlen, "subscriber %u: status %d, got %llu, missed %llu", i,
				 s[i].status, (unsigned long long)s[i].got,
				 (unsigned long long)s[i].missed);
			r = -1;
		}
	for (unsigned i = 0; i < opened; i++)
		pshm_topic_close(s[i].t);
	pshm_topic_unlink(name);
	return r;
}

int stress_topic_blocking_threads(char *err, size_t errlen)
{
	return run(PSHM_TOPIC_BLOCKING, err, errlen);
}

int stress_topic_lossy_threads(char *err, size_t errlen)
{
	return run(PSHM_TOPIC_LOSSY, err, errlen);
}

/* SPDX-License-Identifier: MIT */
/*
 * stress_box.c — many writers and readers hammer one box; no reader may
 * ever get a torn or unverifiable value. Shared by tests/test_box.c
 * (processes and threads) and tests/tsan_main.c (threads, under TSan).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stress.h"

long stress_scale(void)
{
	const char *s = getenv("PSHM_TEST_SCALE");
	long v = s ? atol(s) : 1;
	return v > 0 ? v : 1;
}
/* A value that checks itself: counter, writer, length, then a pattern. */
static size_t make_value(unsigned char *v, uint64_t c, uint32_t w)
{
	uint32_t len = 16 + (uint32_t)((c * 7 + w) % (STRESS_BOX_CAP - 15));
	memcpy(v, &c, 8);
	memcpy(v + 8, &w, 4);
	memcpy(v + 12, &len, 4);
	for (uint32_t i = 16; i < len; i++)
		v[i] = (unsigned char)(c + w * 13 + i * 7);
	return len;
}

static bool value_ok(const unsigned char *v, ssize_t n)
{
	if (n == 0)
		return true; /* the initial empty value */
	if (n < 16)
		return false;
	unsigned char want[STRESS_BOX_CAP];
	uint64_t c;
	uint32_t w;
	memcpy(&c, v, 8);
	memcpy(&w, v + 8, 4);
	return make_value(want, c, w) == (size_t)n && !memcmp(want, v, (size_t)n);
}

/* Is all of @v from @from to the end zero? */
static bool zero_from(const unsigned char *v, size_t from)
{
	for (size_t i = from; i < STRESS_BOX_CAP; i++)
		if (v[i])
			return false;
	return true;
}

void stress_box_write(pshm_box *b, struct stress_box_hammer *h, uint32_t w)
{
	unsigned char v[STRESS_BOX_CAP];
	for (uint64_t c = 0; !__atomic_load_n(&h->stop, __ATOMIC_RELAXED); c++) {
		int r = pshm_box_write(b, v, make_value(v, c, w));
		if (r == 0)
			__atomic_fetch_add(&h->t[w].writes, 1, __ATOMIC_RELAXED);
		else if (r == -EAGAIN)
			__atomic_fetch_add(&h->t[w].write_again, 1, __ATOMIC_RELAXED);
		else
			__atomic_fetch_add(&h->t[w].write_err, 1, __ATOMIC_RELAXED);
	}
}

void stress_box_read(pshm_box *b, struct stress_tally *t, long quota)
{
	unsigned char v[STRESS_BOX_CAP];
	long ok = 0, again = 0, bad = 0;
	while (ok < quota && bad == 0) {
		memset(v, 0, sizeof(v));
		ssize_t n = pshm_box_read(b, v, sizeof(v));
		if (!zero_from(v, n < 0 ? 0 : (size_t)n))
			bad++; /* unverified bytes left behind (an abandoned attempt's) */
		else if (n >= 0 && value_ok(v, n))
			ok++;
		else if (n == -EAGAIN)
			again++;
		else
			bad++;
	}
	__atomic_store_n(&t->ok, ok, __ATOMIC_RELAXED);
	__atomic_store_n(&t->again, again, __ATOMIC_RELAXED);
	__atomic_store_n(&t->bad, bad, __ATOMIC_RELAXED);
}

int stress_box_check(const struct stress_box_hammer *h, int writers, int readers, long quota,
		     char *err, size_t errlen)
{
	long ok = 0, again = 0, writes = 0;
	for (int i = 0; i < writers + readers; i++) {
		const struct stress_tally *t = &h->t[i];
		if (t->bad || t->write_err) {
			snprintf(err, errlen, "participant %d: %ld torn or unverifiable values, %ld failed writes",
				 i, t->bad, t->write_err);
			return -1;
		}
		ok += t->ok;
		again += t->again;
		writes += t->writes;
	}
	if (ok < quota * readers || writes == 0) {
		snprintf(err, errlen, "only %ld verified reads and %ld writes", ok, writes);
		return -1;
	}
	fprintf(stderr, "hammer: %ld verified reads, %ld -EAGAIN, %ld writes\n", ok, again, writes);
	return 0;
}

struct thread_arg {
	pshm_box *box;
	struct stress_box_hammer *h;
	int id;
	long quota;
};

static void *writer_thread(void *p)
{
	struct thread_arg *a = p;
	stress_box_write(a->box, a->h, (uint32_t)a->id);
	return NULL;
}

static void *reader_thread(void *p)
{
	struct thread_arg *a = p;
	stress_box_read(a->box, &a->h->t[a->id], a->quota);
	return NULL;
}

/* Writers and the first reader share one handle; the other readers have
 * their own. 2*10^5 verified reads at scale 1 (TSan makes each slow). */
int stress_box_threads(char *err, size_t errlen)
{
	enum { WRITERS = 2, READERS = 3 };
	const long quota = 200000 / READERS * stress_scale() + 1;
	static struct stress_box_hammer h;
	char n[64];
	snprintf(n, sizeof(n), "/pshm-test-stress-box-%d", (int)getpid());
	pshm_box *b, *own[READERS] = { NULL };
	int r = pshm_box_create(n, STRESS_BOX_CAP, 0, 0, &b);
	if (r < 0) {
		snprintf(err, errlen, "pshm_box_create: %s", pshm_strerror(r));
		return -1;
	}
	memset(&h, 0, sizeof(h));
	for (int i = 1; i < READERS && r == 0; i++)
		r = pshm_box_open(n, PSHM_RDONLY, &own[i]);
	pthread_t th[WRITERS + READERS];
	struct thread_arg args[WRITERS + READERS];
	int started = 0;
	for (int i = 0; i < WRITERS + READERS && r == 0; i++, started++) {
		int rd = i - WRITERS;
		args[i] = (struct thread_arg){ rd > 0 ? own[rd] : b, &h, i, quota };
		r = -pthread_create(&th[i], NULL, rd < 0 ? writer_thread : reader_thread, &args[i]);
	}
	if (r < 0) {
		snprintf(err, errlen, "setting up: %s", pshm_strerror(r));
		__atomic_store_n(&h.stop, 1, __ATOMIC_RELAXED);
	}
	/* Readers stop on their quota; then the writers on the flag. */
	for (int i = WRITERS; i < started; i++)
		pthread_join(th[i], NULL);
	__atomic_store_n(&h.stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < WRITERS && i < started; i++)
		pthread_join(th[i], NULL);
	if (r == 0)
		r = stress_box_check(&h, WRITERS, READERS, quota, err, errlen);
	for (int i = 1; i < READERS; i++)
		pshm_box_close(own[i]);
	pshm_box_close(b);
	pshm_seg_unlink(n);
	return r < 0 ? -1 : 0;
}

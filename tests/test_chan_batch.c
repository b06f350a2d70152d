/* SPDX-License-Identifier: MIT */
/*
 * test_chan_batch.c — channel batches (send_batch, recv_batch, peek_batch)
 * and the per-process speed choices (pshm_chan_tuning()): order, partial
 * batches on a full ring, timeouts, several MPSC producers, batches across
 * the ring's end, a producer killed after a batch, releases that clear
 * nothing (SPSC) or everything (MPSC) without a stale byte ever read as a
 * header, the environment variables, and truncation under the zone guard.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chan_helpers.h"
#include "helpers.h"
#include "pshm.h"
#include "test_chan.h"

TestSuite(chan_batch, TH_FIXTURE, .timeout = 60);

/* Message @i: "m<i>" padded with a pattern to a length that varies. */
static size_t msg_of(unsigned i, char *buf, size_t max)
{
	size_t len = 8 + (i * 37) % (max - 8);
	memset(buf, 'a' + (int)(i % 26), len);
	snprintf(buf, 8, "%07u", i);
	return len;
}

static void expect_msg(unsigned i, const void *got, size_t len, size_t max)
{
	char want[4096];
	size_t n = msg_of(i, want, max);
	cr_assert_eq(len, n, "message %u: %zu bytes, want %zu", i, len, n);
	cr_assert(!memcmp(got, want, n), "message %u differs", i);
}

/* Send messages [first, first + n) in batches of @b; all must go. */
static void send_range(pshm_chan *p, unsigned first, unsigned n, unsigned b, size_t max)
{
	static char bufs[64][4096];
	struct iovec v[64];
	for (unsigned i = 0; i < n;) {
		unsigned k = n - i < b ? n - i : b;
		for (unsigned j = 0; j < k; j++)
			v[j] = (struct iovec){ bufs[j], msg_of(first + i + j, bufs[j], max) };
		ssize_t s = pshm_chan_send_batch(p, v, k, PSHM_FOREVER);
		cr_assert(s > 0 && s <= (ssize_t)k, "send_batch: %zd", s);
		i += (unsigned)s;
	}
}

/* Receive messages [first, first + n) with recv_batch, checking each. */
static void recv_range(pshm_chan *c, unsigned first, unsigned n, size_t max)
{
	static char buf[64 * 4096];
	size_t lens[64];
	for (unsigned i = 0; i < n;) {
		ssize_t r = pshm_chan_recv_batch(c, buf, sizeof(buf), lens, 64, 100 * MS);
		cr_assert_gt(r, 0, "recv_batch after %u: %s", i, pshm_strerror((int)r));
		size_t off = 0;
		for (ssize_t j = 0; j < r; j++, i++) {
			expect_msg(first + i, buf + off, lens[j], max);
			off += lens[j];
		}
	}
}

static void in_order(unsigned mode)
{
	const char *n = mkchan("order", 1 << 16, 1000, mode);
	pshm_chan *p = open_as(n, PSHM_PRODUCER), *c = open_as(n, PSHM_CONSUMER);
	send_range(p, 0, 40, 16, 1000);
	recv_range(c, 0, 40, 1000);
	char b[16];
	cr_expect_eq(pshm_chan_recv(c, b, sizeof(b), 0), -EAGAIN);
	struct pshm_chan_info in;
	cr_assert_eq(pshm_chan_stat(n, &in), 0);
	cr_expect_eq(in.sent, 40);
	cr_expect_eq(in.received, 40);
	cr_expect_eq(in.used, 0);
	pshm_chan_close(p);
	pshm_chan_close(c);
}

Test(chan_batch, spsc_batches_arrive_in_order) { in_order(PSHM_CHAN_SPSC); }
Test(chan_batch, mpsc_batches_arrive_in_order) { in_order(PSHM_CHAN_MPSC); }

Test(chan_batch, empty_batches_and_bad_arguments)
{
	const char *n = mkchan("args", 4096, 1000, PSHM_CHAN_SPSC);
	pshm_chan *p = open_as(n, PSHM_PRODUCER), *c = open_as(n, PSHM_CONSUMER);
	size_t lens[4];
	char buf[64];
	struct iovec v[2] = { { NULL, 5 }, { "x", 1 } };
	cr_expect_eq(pshm_chan_send_batch(p, v, 0, 0), 0);
	cr_expect_eq(pshm_chan_send_batch(p, NULL, 1, 0), -EINVAL);
	cr_expect_eq(pshm_chan_send_batch(p, v, 2, 0), -EINVAL); /* NULL with a length */
	cr_expect_eq(pshm_chan_send_batch(c, v + 1, 1, 0), -EINVAL);
	cr_expect_eq(pshm_chan_send_batch(NULL, v + 1, 1, 0), -EINVAL);
	cr_expect_eq(pshm_chan_recv_batch(c, buf, sizeof(buf), lens, 0, 0), 0);
	cr_expect_eq(pshm_chan_recv_batch(c, buf, sizeof(buf), NULL, 1, 0), -EINVAL);
	cr_expect_eq(pshm_chan_recv_batch(p, buf, sizeof(buf), lens, 1, 0), -EINVAL);
	cr_expect_eq(pshm_chan_peek_batch(c, NULL, 1, 0), -EINVAL);
	cr_expect_eq(pshm_chan_peek_batch(p, v, 1, 0), -EINVAL);
	/* A message over max_msg: -EMSGSIZE first, else the batch stops there. */
	static char big[2000];
	struct iovec w[2] = { { "ok", 2 }, { big, sizeof(big) } };
	cr_expect_eq(pshm_chan_send_batch(p, w + 1, 1, 0), -EMSGSIZE);
	cr_expect_eq(pshm_chan_send_batch(p, w, 2, 0), 1);
	/* Empty messages are messages. */
	struct iovec e[3] = { { NULL, 0 }, { "", 0 }, { "z", 1 } };
	cr_expect_eq(pshm_chan_send_batch(p, e, 3, 0), 3);
	cr_expect_eq(pshm_chan_recv_batch(c, buf, sizeof(buf), lens, 4, 0), 4);
	cr_expect_eq(lens[0], 2);
	cr_expect_eq(lens[1], 0);
	cr_expect_eq(lens[2], 0);
	cr_expect_eq(lens[3], 1);
	cr_expect(!memcmp(buf, "okz", 3));
	/* A reservation open: -EBUSY. */
	void *ptr;
	cr_assert_eq(pshm_chan_reserve(p, 8, &ptr, 0), 0);
	cr_expect_eq(pshm_chan_send_batch(p, w, 1, 0), -EBUSY);
	cr_assert_eq(pshm_chan_commit(p, 0), 0);
	pshm_chan_close(p);
	pshm_chan_close(c);
}

Test(chan_batch, partial_batch_on_a_full_ring_then_the_rest)
{
	const char *n = mkchan("full", 4096, 1000, PSHM_CHAN_SPSC);
	pshm_chan *p = open_as(n, PSHM_PRODUCER), *c = open_as(n, PSHM_CONSUMER);
	static char m[100];
	struct iovec v[100];
	for (int i = 0; i < 100; i++)
		v[i] = (struct iovec){ m, sizeof(m) };
	ssize_t s = pshm_chan_send_batch(p, v, 100, 0);
	cr_assert(s > 10 && s < 100, "a 4 KiB ring takes some of 100 x 100 B: %zd", s);
	cr_expect_eq(pshm_chan_send_batch(p, v, 100, 0), -EAGAIN);
	cr_expect_eq(pshm_chan_send_batch(p, v, 100, 20 * MS), -ETIMEDOUT);
	/* A consumer taking less than the whole backlog. */
	static char buf[4096];
	size_t lens[8];
	cr_expect_eq(pshm_chan_recv_batch(c, buf, sizeof(buf), lens, 8, 0), 8);
	/* recv_batch takes what fits in @cap: here two. */
	cr_expect_eq(pshm_chan_recv_batch(c, buf, 250, lens, 8, 0), 2);
	cr_expect_eq(pshm_chan_recv_batch(c, buf, 50, lens, 8, 0), -EMSGSIZE);
	ssize_t more = pshm_chan_send_batch(p, v, 100, 0);
	cr_expect(more > 0 && more <= 10, "room for the 10 taken: %zd", more);
	pshm_chan_close(p);
	pshm_chan_close(c);
}

Test(chan_batch, timeouts_when_empty)
{
	const char *n = mkchan("empty", 4096, 1000, PSHM_CHAN_MPSC);
	pshm_chan *p = open_as(n, PSHM_PRODUCER), *c = open_as(n, PSHM_CONSUMER);
	char buf[64];
	size_t lens[4];
	struct iovec v[4];
	cr_expect_eq(pshm_chan_recv_batch(c, buf, sizeof(buf), lens, 4, 0), -EAGAIN);
	cr_expect_eq(pshm_chan_recv_batch(c, buf, sizeof(buf), lens, 4, 10 * MS), -ETIMEDOUT);
	cr_expect_eq(pshm_chan_peek_batch(c, v, 4, 0), -EAGAIN);
	cr_expect_eq(pshm_chan_peek_batch(c, v, 4, 10 * MS), -ETIMEDOUT);
	cr_expect_eq(pshm_chan_release(c), -EINVAL);
	pshm_chan_close(p);
	pshm_chan_close(c);
}

/* ---- several producers -------------------------------------------------- */

struct prod_arg {
	const char *name;
	unsigned id, count;
	int err;
};

static void *producer(void *arg)
{
	struct prod_arg *a = arg;
	pshm_chan *p;
	if ((a->err = pshm_chan_open(a->name, PSHM_PRODUCER, 0, &p)) < 0)
		return NULL;
	unsigned char bufs[16][128];
	struct iovec v[16];
	for (unsigned i = 0; i < a->count;) {
		unsigned k = a->count - i < 16 ? a->count - i : 16;
		for (unsigned j = 0; j < k; j++)
			v[j] = (struct iovec){ bufs[j], tc_make(bufs[j], a->id, i + j, 128) };
		ssize_t s = pshm_chan_send_batch(p, v, k, 10000 * MS);
		if (s < 0) {
			a->err = (int)s;
			break;
		}
		i += (unsigned)s;
	}
	pshm_chan_close(p);
	return NULL;
}

Test(chan_batch, mpsc_batches_from_several_producers)
{
	enum { NP = 4 };
	unsigned count = 5000 * scale();
	const char *n = mkchan("mpsc", 8192, 128, PSHM_CHAN_MPSC);
	pshm_chan *c = open_as(n, PSHM_CONSUMER);
	pthread_t th[NP];
	struct prod_arg a[NP];
	for (unsigned i = 0; i < NP; i++) {
		a[i] = (struct prod_arg){ n, i, count, 0 };
		cr_assert_eq(pthread_create(&th[i], NULL, producer, &a[i]), 0);
	}
	uint64_t next[NP] = { 0 };
	static unsigned char buf[32 * 128];
	size_t lens[32];
	for (unsigned got = 0; got < NP * count;) {
		ssize_t r = pshm_chan_recv_batch(c, buf, sizeof(buf), lens, 32, 10000 * MS);
		cr_assert_gt(r, 0, "recv_batch: %s", pshm_strerror((int)r));
		size_t off = 0;
		for (ssize_t j = 0; j < r; j++, got++) {
			struct tc_hdr h;
			cr_assert_eq(tc_check(buf + off, lens[j], NP, &h), 0, "torn message");
			cr_assert_eq(h.seq, next[h.producer], "producer %u: %llu after %llu",
				     h.producer, (unsigned long long)h.seq,
				     (unsigned long long)next[h.producer]);
			next[h.producer]++;
			off += lens[j];
		}
	}
	for (unsigned i = 0; i < NP; i++) {
		pthread_join(th[i], NULL);
		cr_expect_eq(a[i].err, 0, "producer %u: %s", i, pshm_strerror(a[i].err));
	}
	pshm_chan_close(c);
}

/* ---- the ring's end ------------------------------------------------------ */

static void across_the_end(unsigned mode)
{
	/* 1 KiB ring, records of up to 208 bytes: a PAD every lap or so. */
	const char *n = mkchan("wrap", 1024, 200, mode);
	pshm_chan *p = open_as(n, PSHM_PRODUCER), *c = open_as(n, PSHM_CONSUMER);
	unsigned next = 0, sent = 0;
	for (int lap = 0; lap < 200; lap++) {
		unsigned k = 1 + (unsigned)lap % 5;
		send_range(p, sent, k, k, 200);
		sent += k;
		if (lap & 1) {
			recv_range(c, next, sent - next, 200);
			next = sent;
			continue;
		}
		/* Zero-copy: peek what is there, check it, release it all. */
		struct iovec v[8];
		ssize_t r = pshm_chan_peek_batch(c, v, 8, 0);
		cr_assert_eq(r, (ssize_t)(sent - next), "peek_batch: %zd", r);
		/* Peeking again starts from the same first message. */
		struct iovec again[8];
		cr_assert_eq(pshm_chan_peek_batch(c, again, 8, 0), r);
		cr_expect_eq(again[0].iov_base, v[0].iov_base);
		for (ssize_t j = 0; j < r; j++)
			expect_msg(next + (unsigned)j, v[j].iov_base, v[j].iov_len, 200);
		cr_assert_eq(pshm_chan_release(c), 0);
		next = sent;
	}
	char b[256];
	cr_expect_eq(pshm_chan_recv(c, b, sizeof(b), 0), -EAGAIN);
	pshm_chan_close(p);
	pshm_chan_close(c);
}

Test(chan_batch, spsc_batches_across_the_end_of_the_ring) { across_the_end(PSHM_CHAN_SPSC); }
Test(chan_batch, mpsc_batches_across_the_end_of_the_ring) { across_the_end(PSHM_CHAN_MPSC); }

Test(chan_batch, recv_after_peek_batch_takes_the_first_peeked)
{
	const char *n = mkchan("peekrecv", 4096, 200, PSHM_CHAN_SPSC);
	pshm_chan *p = open_as(n, PSHM_PRODUCER), *c = open_as(n, PSHM_CONSUMER);
	send_range(p, 0, 3, 3, 200);
	struct iovec v[4];
	cr_assert_eq(pshm_chan_peek_batch(c, v, 4, 0), 3);
	char b[256];
	ssize_t r = pshm_chan_recv(c, b, sizeof(b), 0);
	cr_assert_gt(r, 0);
	expect_msg(0, b, (size_t)r, 200);
	cr_expect_eq(pshm_chan_release(c), -EINVAL); /* the peek ended with the recv */
	recv_range(c, 1, 2, 200);
	pshm_chan_close(p);
	pshm_chan_close(c);
}

/* ---- crashes ------------------------------------------------------------- */

/* A SPSC producer stores tail once per batch: one killed between the
 * batch's records and that store left tail behind what it published. The
 * next producer must walk over all of it, not write over messages the
 * consumer has not read. */
Test(chan_batch, spsc_producer_killed_before_storing_tail)
{
	const char *n = mkchan("killtail", 1 << 16, 200, PSHM_CHAN_SPSC);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		pshm_chan *p;
		if (pshm_chan_open(n, PSHM_PRODUCER, 0, &p) < 0)
			_exit(1);
		send_range(p, 0, 40, 40, 200);
		pause();
		_exit(0);
	}
	pshm_chan *c = open_as(n, PSHM_CONSUMER);
	struct iovec v[1];
	cr_assert_eq(pshm_chan_peek_batch(c, v, 1, 5000 * MS), 1);
	/* Wait for the whole batch, then wind tail back as if the producer had
	 * died before its store. */
	struct pshm_chan_info in;
	for (int i = 0; i < 500 && (pshm_chan_stat(n, &in), in.pending < 40); i++)
		usleep(10000);
	cr_assert_eq(in.pending, 40);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	size_t size;
	void *m = th_map_raw(n, &size);
	*cl_u64(m, CL_TAIL) = 0;
	munmap(m, size);
	pshm_chan *p = open_as(n, PSHM_PRODUCER);
	send_range(p, 40, 10, 10, 200);
	recv_range(c, 0, 50, 200);
	pshm_chan_close(p);
	pshm_chan_close(c);
}

Test(chan_batch, mpsc_producer_killed_then_the_batch_ends_with_epipe)
{
	const char *n = mkchan("killmpsc", 1 << 16, 200, PSHM_CHAN_MPSC);
	pshm_chan *c = open_as(n, PSHM_CONSUMER);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		pshm_chan *p;
		if (pshm_chan_open(n, PSHM_PRODUCER, 0, &p) < 0)
			_exit(1);
		send_range(p, 0, 30, 30, 200);
		raise(SIGKILL);
	}
	waitpid(pid, NULL, 0);
	recv_range(c, 0, 30, 200);
	char b[256];
	size_t lens[4];
	cr_expect_eq(pshm_chan_recv_batch(c, b, sizeof(b), lens, 4, 5000 * MS), -EPIPE);
	pshm_chan_close(c);
}

/* ---- releases ------------------------------------------------------------ */

/*
 * Stale bytes are never taken for a header. The payloads below are made of
 * words that are valid headers for the positions they sit at, one and two
 * laps on (a MSG of 8 bytes with the right lap tag). SPSC releases leave
 * them in the ring (nothing is cleared: the producer's zeroed header slot
 * after each record is what ends the consumer's walk); MPSC releases clear
 * them. Either way the consumer must see exactly the messages sent.
 */
static void stale_headers(unsigned mode)
{
	enum { RING = 4096, LEN = 248 };
	const char *n = mkchan("stale", RING, 1000, mode);
	pshm_chan *p = open_as(n, PSHM_PRODUCER), *c = open_as(n, PSHM_CONSUMER);
	size_t size;
	unsigned char *m = th_map_raw(n, &size);
	uint32_t off = *cl_u32(m, CL_RING_OFF);
	uint64_t pos = 0;
	for (unsigned i = 0; i < 100; i++) {
		uint64_t body[LEN / 8];
		for (unsigned j = 0; j < LEN / 8; j++) {
			uint64_t at = pos + 8 + 8 * j + RING * (1 + j % 2);
			body[j] = cl_rec(CL_R_MSG, 8, 0, at, 12);
		}
		body[0] = i;
		bool zc = i & 1;
		if (zc) {
			void *w;
			cr_assert_eq(pshm_chan_reserve(p, LEN, &w, 0), 0);
			memcpy(w, body, LEN);
			cr_assert_eq(pshm_chan_commit(p, LEN), 0);
		} else {
			cr_assert_eq(pshm_chan_send(p, body, LEN, 0), 0);
		}
		uint64_t got[LEN / 8];
		const void *ptr;
		ssize_t r = zc ? pshm_chan_peek(c, &ptr, 0) : pshm_chan_recv(c, got, LEN, 0);
		cr_assert_eq(r, LEN, "message %u: %zd", i, r);
		if (zc)
			memcpy(got, ptr, LEN);
		cr_assert_eq(got[0], i);
		if (zc)
			cr_assert_eq(pshm_chan_release(c), 0);
		/* What the release left in the ring. */
		uint64_t left;
		memcpy(&left, m + off + ((pos + 16) & (RING - 1)), 8);
		if (mode == PSHM_CHAN_SPSC)
			cr_expect_eq(left, body[1], "SPSC: the release cleared the payload");
		else
			cr_expect_eq(left, 0, "MPSC: the release left the payload");
		char b[8];
		cr_assert_eq(pshm_chan_recv(c, b, sizeof(b), 0), -EAGAIN, "message %u", i);
		pos += 8 + LEN;
		if ((pos & (RING - 1)) + 8 + LEN > RING)
			pos = (pos | (RING - 1)) + 1; /* the PAD to the ring's end */
	}
	munmap(m, size);
	pshm_chan_close(p);
	pshm_chan_close(c);
}

Test(chan_batch, spsc_release_clears_nothing_and_stale_bytes_stay_unread)
{
	stale_headers(PSHM_CHAN_SPSC);
}

Test(chan_batch, mpsc_release_clears_the_record) { stale_headers(PSHM_CHAN_MPSC); }

/* ---- tuning -------------------------------------------------------------- */

Test(chan_batch, tuning_is_measured_and_bounded)
{
	/* Each Criterion test runs in its own process: the first call here
	 * measures (unless the caller's environment sets the variables). */
	if (getenv("PSHM_SPIN_NS") || getenv("PSHM_COPY"))
		th_skip("PSHM_SPIN_NS or PSHM_COPY is set");
	struct pshm_chan_tuning t;
	cr_expect_eq(pshm_chan_tuning(NULL), -EINVAL);
	cr_assert_eq(pshm_chan_tuning(&t), 0);
	if (t.spin_source == PSHM_TUNE_MEASURED) {
		cr_expect_gt(t.wake_rtt_ns, 0);
		cr_expect(t.spin_ns >= PSHM_SPIN_MIN_NS && t.spin_ns <= PSHM_SPIN_MAX_NS);
	} else {
		cr_expect_eq(t.spin_source, PSHM_TUNE_FALLBACK);
		cr_expect_eq(t.spin_ns, PSHM_SPIN_DEFAULT_NS);
	}
	cr_expect(t.copy_source == PSHM_TUNE_MEASURED || t.copy_source == PSHM_TUNE_FALLBACK);
	cr_expect(t.copy == PSHM_COPY_MEMCPY || t.copy == PSHM_COPY_LOOP);
	struct pshm_chan_tuning again;
	cr_assert_eq(pshm_chan_tuning(&again), 0);
	cr_expect(!memcmp(&t, &again, sizeof(t)), "measured once per process");
}

/* With PSHM_SPIN_NS and PSHM_COPY set before the first channel, they are
 * the choices, and large messages copied by the loop arrive whole. */
Test(chan_batch, environment_sets_the_spin_and_the_copy)
{
	setenv("PSHM_SPIN_NS", "12345", 1);
	setenv("PSHM_COPY", "loop", 1);
	const char *n = mkchan("env", 1 << 17, 40000, PSHM_CHAN_SPSC);
	pshm_chan *p = open_as(n, PSHM_PRODUCER), *c = open_as(n, PSHM_CONSUMER);
	struct pshm_chan_tuning t;
	cr_assert_eq(pshm_chan_tuning(&t), 0);
	cr_expect_eq(t.spin_ns, 12345);
	cr_expect_eq(t.spin_source, PSHM_TUNE_ENV);
	cr_expect_eq(t.copy, PSHM_COPY_LOOP);
	cr_expect_eq(t.copy_source, PSHM_TUNE_ENV);
	cr_expect_eq(pshm_chan_set_wait(p, PSHM_WAIT_BLOCK, PSHM_SPIN_AUTO), 0);
	static unsigned char big[40000], out[40000];
	for (size_t len = 8000; len <= sizeof(big); len += 3999) {
		for (size_t i = 0; i < len; i++)
			big[i] = (unsigned char)(i * 7 + len);
		cr_assert_eq(pshm_chan_send(p, big, len, 0), 0);
		cr_assert_eq(pshm_chan_recv(c, out, sizeof(out), 0), (ssize_t)len);
		cr_assert(!memcmp(big, out, len), "%zu bytes copied by the loop", len);
	}
	pshm_chan_close(p);
	pshm_chan_close(c);
}

Test(chan_batch, environment_values_that_are_not_numbers_are_ignored)
{
	setenv("PSHM_SPIN_NS", "12x", 1);
	setenv("PSHM_COPY", "fast", 1);
	struct pshm_chan_tuning t;
	cr_assert_eq(pshm_chan_tuning(&t), 0);
	cr_expect_neq(t.spin_source, PSHM_TUNE_ENV);
	cr_expect_neq(t.copy_source, PSHM_TUNE_ENV);
}

/* ---- truncation ---------------------------------------------------------- */

/* Under the zone guard a truncated segment is -EFAULT for batches too, and
 * the handle stays -EFAULT (the mapping is gone) until closed. */
Test(chan_batch, truncated_segment_batches_are_efault)
{
	const char *n = mkchan("trunc", 65536, 1024, PSHM_CHAN_SPSC);
	pshm_chan *p = open_as(n, PSHM_PRODUCER), *c = open_as(n, PSHM_CONSUMER);
	struct iovec v[2] = { { "hi", 2 }, { "there", 5 } };
	cr_assert_eq(pshm_chan_send_batch(p, v, 2, 0), 2);
	struct iovec pv[2];
	cr_assert_eq(pshm_chan_peek_batch(c, pv, 2, 0), 2);
	char path[128], b[64];
	size_t lens[2];
	cr_assert_eq(truncate(th_path(n, path, sizeof(path)), 0), 0);
	cr_expect_eq(pshm_chan_release(c), -EFAULT);
	cr_expect_eq(pshm_chan_recv_batch(c, b, sizeof(b), lens, 2, 0), -EFAULT);
	cr_expect_eq(pshm_chan_peek_batch(c, pv, 2, PSHM_FOREVER), -EFAULT);
	cr_expect_eq(pshm_chan_recv(c, b, sizeof(b), PSHM_FOREVER), -EFAULT);
	cr_expect_eq(pshm_chan_send_batch(p, v, 2, PSHM_FOREVER), -EFAULT);
	cr_expect_eq(pshm_chan_send(p, "x", 1, 0), -EFAULT);
	pshm_chan_close(p);
	pshm_chan_close(c);
}

/* SPDX-License-Identifier: MIT */
/*
 * test_chan_crash.c — channels under kill -9: producers and consumers killed
 * at random moments, then the guarantees of pshm(7) checked:
 *  - no torn or corrupted message is ever delivered (every message carries
 *    a checksum);
 *  - each producer's messages arrive as a contiguous prefix of what it sent
 *    (the survivors' complete), none duplicated or reordered;
 *  - the other producers go on; the consumer gets -EPIPE, in bounded time,
 *    once every producer is gone; producers blocked on a full ring get
 *    -EPIPE once the consumer is gone;
 *  - a new consumer resumes after the last released message, the one
 *    message its predecessor had peeked at but not released coming again.
 * Plus forged crash states, for the windows too narrow to hit by chance.
 *
 * 220 rounds at PSHM_TEST_SCALE=1. The PRNG seed is printed; set
 * PSHM_TEST_SEED to replay a run's kill schedule (timing still varies).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "pshm.h"
#include "test_chan.h"

#define MS INT64_C(1000000)
#define MAXP 8
#define EXIT_EPIPE 42

static uint64_t seed;

static void ready_init(void);

static void crash_setup(void)
{
	th_setup();
	ready_init();
	const char *s = getenv("PSHM_TEST_SEED");
	seed = s ? strtoull(s, NULL, 0) : 20261128;
	fprintf(stderr, "test_chan_crash: seed %llu (PSHM_TEST_SEED)\n", (unsigned long long)seed);
}

static unsigned rounds(unsigned n)
{
	const char *s = getenv("PSHM_TEST_SCALE");
	int v = s ? atoi(s) : 1;
	return n * (unsigned)(v > 0 ? v : 1);
}

static uint32_t rnd(void)
{
	return tc_rnd(&seed);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

TestSuite(chan_crash, .init = crash_setup, .fini = th_cleanup, .timeout = 120);

/* ---- peers in child processes ------------------------------------------ */

/* Children say on this pipe when they have attached: a peer killed before
 * it attached never came, and the other side rightly waits for it. */
static int ready[2] = { -1, -1 };

static void ready_init(void)
{
	cr_assert_eq(pipe(ready), 0);
}

static void ready_say(void)
{
	if (write(ready[1], "", 1) != 1)
		_exit(5);
}

static void ready_wait(unsigned n)
{
	char c;
	for (unsigned i = 0; i < n; i++)
		cr_assert_eq(read(ready[0], &c, 1), 1);
}

/* A producer: @count messages of at most @max bytes, in order. Exits 0 when
 * done, EXIT_EPIPE when the consumer went away, 10 + errno otherwise. */
static pid_t spawn_producer(const char *name, unsigned id, uint64_t first, uint64_t count,
			    size_t max)
{
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid)
		return pid;
	pshm_chan *p;
	int r = pshm_chan_open(name, PSHM_PRODUCER, 0, &p);
	if (r)
		_exit(10 + (-r & 63));
	ready_say();
	unsigned char buf[4096];
	for (uint64_t seq = first; seq < first + count; seq++) {
		size_t len = tc_make(buf, id, seq, max);
		if (seq % 3 == 1) {
			void *w;
			r = pshm_chan_reserve(p, len, &w, 10000 * MS);
			if (r == 0) {
				memcpy(w, buf, len);
				r = pshm_chan_commit(p, len);
			}
		} else {
			r = pshm_chan_send(p, buf, len, 10000 * MS);
		}
		if (r == -EPIPE)
			_exit(EXIT_EPIPE);
		if (r)
			_exit(10 + (-r & 63));
	}
	pshm_chan_close(p);
	_exit(0);
}

struct report {
	uint32_t producer;
	uint64_t seq;
} __attribute__((packed));

/* A consumer that reports each message (producer, seq) on @fd before it
 * releases it, so the test knows what it saw when it is killed. */
static pid_t spawn_consumer(const char *name, int fd, unsigned nprod)
{
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid)
		return pid;
	pshm_chan *c;
	if (pshm_chan_open(name, PSHM_CONSUMER, 0, &c))
		_exit(2);
	ready_say();
	for (;;) {
		const void *m;
		ssize_t n = pshm_chan_peek(c, &m, 10000 * MS);
		struct tc_hdr h;
		if (n < 0 || tc_check(m, (size_t)n, nprod, &h) < 0)
			_exit(3);
		struct report rep = { h.producer, h.seq };
		if (write(fd, &rep, sizeof(rep)) != (ssize_t)sizeof(rep))
			_exit(4);
		pshm_chan_release(c);
	}
}

static int wait_status(pid_t pid)
{
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Wait for @pid for at most @secs; its exit status, or -1 if it is still there. */
static int wait_bounded(pid_t pid, double secs)
{
	double end = now_s() + secs;
	int st;
	while (now_s() < end) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		usleep(1000);
	}
	return -1;
}

/* ---- the checking consumer ------------------------------------------------ */

struct tally {
	unsigned nprod;
	uint64_t next[MAXP];  /* next sequence number expected per producer */
	uint64_t first[MAXP]; /* where each producer started */
	bool dup_ok;          /* one redelivery of *dup is allowed */
	struct report dup;
};

static void tally_init(struct tally *t, unsigned nprod)
{
	memset(t, 0, sizeof(*t));
	t->nprod = nprod;
}

/* Check one received message against the tally. */
static void tally_add(struct tally *t, const void *m, ssize_t n, unsigned round)
{
	struct tc_hdr h;
	cr_assert_geq(n, 0, "round %u: %s", round, pshm_strerror((int)n));
	cr_assert_eq(tc_check(m, (size_t)n, t->nprod, &h), 0, "round %u: torn message", round);
	if (t->dup_ok && h.producer == t->dup.producer && h.seq == t->dup.seq) {
		t->dup_ok = false; /* the message the dead consumer had peeked */
		return;
	}
	t->dup_ok = false;
	cr_assert_eq(h.seq, t->next[h.producer],
		     "round %u: producer %u sent %llu, expected %llu (lost, duplicated or reordered)",
		     round, h.producer, (unsigned long long)h.seq,
		     (unsigned long long)t->next[h.producer]);
	t->next[h.producer]++;
}

/* Receive (busy-polling, zero-copy every other time) until @until, or
 * until -EPIPE if @until is 0. Returns the last error (-EAGAIN or -EPIPE). */
static int drain(pshm_chan *c, struct tally *t, double until, unsigned round)
{
	static unsigned char buf[8192];
	for (unsigned i = 0;; i++) {
		if (until && now_s() >= until)
			return -EAGAIN;
		int64_t to = until ? 0 : 10000 * MS;
		ssize_t n;
		if (i & 1) {
			const void *m;
			n = pshm_chan_peek(c, &m, to);
			if (n >= 0) {
				tally_add(t, m, n, round);
				cr_assert_eq(pshm_chan_release(c), 0);
				continue;
			}
		} else {
			n = pshm_chan_recv(c, buf, sizeof(buf), to);
			if (n >= 0) {
				tally_add(t, buf, n, round);
				continue;
			}
		}
		if (n == -EAGAIN && until)
			continue;
		cr_assert(n == -EPIPE, "round %u: %s", round, pshm_strerror((int)n));
		return (int)n;
	}
}

static const char *new_chan(const char *name, size_t ring, size_t max, unsigned mode)
{
	pshm_seg_unlink(name);
	struct pshm_chan_config c = { .ring_size = ring, .max_msg = max, .mode = mode };
	cr_assert_eq(pshm_chan_create(name, &c, 0, 0), 0);
	return name;
}

/* ---- rounds ------------------------------------------------------------------ */

/*
 * Producers send while the test consumes; at a random moment @victims of
 * them are killed. Survivors must complete, the dead ones leave a prefix,
 * and once all are gone the consumer gets -EPIPE in bounded time.
 */
static void kill_producers_round(const char *name, unsigned mode, unsigned nprod,
				 unsigned victims, unsigned round)
{
	new_chan(name, 8192, 2048, mode);
	pshm_chan *c;
	cr_assert_eq(pshm_chan_open(name, PSHM_CONSUMER, 0, &c), 0);
	struct tally t;
	tally_init(&t, nprod);
	pid_t pid[MAXP];
	const uint64_t count = 200;
	for (unsigned i = 0; i < nprod; i++)
		pid[i] = spawn_producer(name, i, 0, count, 64 + rnd() % 1900);
	ready_wait(nprod);
	drain(c, &t, now_s() + (rnd() % 4000) / 1e6, round);
	bool killed[MAXP] = { false };
	for (unsigned v = 0; v < victims; v++) {
		unsigned i = victims >= nprod ? v % nprod : rnd() % nprod;
		killed[i] = true;
		kill(pid[i], SIGKILL);
		drain(c, &t, now_s() + (rnd() % 500) / 1e6, round);
	}
	/* drain() waits 10 s at most: -EPIPE rather than -ETIMEDOUT. */
	cr_assert_eq(drain(c, &t, 0, round), -EPIPE);
	for (unsigned i = 0; i < nprod; i++) {
		int st = wait_status(pid[i]);
		if (killed[i] && st == 128 + SIGKILL) {
			cr_assert_leq(t.next[i], count, "round %u", round);
		} else {
			cr_assert_eq(st, 0, "round %u: producer %u status %d", round, i, st);
			cr_assert_eq(t.next[i], count, "round %u: survivor %u complete", round, i);
		}
	}
	pshm_chan_close(c);
}

Test(chan_crash, mpsc_producers_killed_at_random)
{
	const char *name = th_name("killp");
	for (unsigned r = 0; r < rounds(80); r++)
		kill_producers_round(name, PSHM_CHAN_MPSC, 3, 1 + (r % 4 == 0), r);
}

Test(chan_crash, mpsc_all_producers_killed_then_epipe)
{
	const char *name = th_name("killall");
	for (unsigned r = 0; r < rounds(20); r++)
		kill_producers_round(name, PSHM_CHAN_MPSC, 2, 4, r);
}

/* SPSC: kill the producer, check its prefix and EPIPE, then a new producer
 * continues the stream where the dead one stopped. */
Test(chan_crash, spsc_producer_killed_then_a_new_one_continues)
{
	const char *name = th_name("killsp");
	for (unsigned r = 0; r < rounds(40); r++) {
		new_chan(name, 4096, 1024, PSHM_CHAN_SPSC);
		pshm_chan *c;
		cr_assert_eq(pshm_chan_open(name, PSHM_CONSUMER, 0, &c), 0);
		struct tally t;
		tally_init(&t, 1);
		pid_t pid = spawn_producer(name, 0, 0, 300, 64 + rnd() % 900);
		ready_wait(1);
		drain(c, &t, now_s() + (rnd() % 3000) / 1e6, r);
		kill(pid, SIGKILL);
		int st = wait_status(pid);
		cr_assert_eq(drain(c, &t, 0, r), -EPIPE, "round %u", r);
		cr_assert(st == 0 || st == 128 + SIGKILL);
		/* The successor sends from where the consumer is. */
		uint64_t from = t.next[0];
		pid = spawn_producer(name, 0, from, 50, 512);
		ready_wait(1);
		cr_assert_eq(drain(c, &t, 0, r), -EPIPE);
		cr_assert_eq(wait_status(pid), 0);
		cr_assert_eq(t.next[0], from + 50, "round %u: the new producer's messages", r);
		pshm_chan_close(c);
	}
}

/*
 * The consumer (a child) is killed at a random moment; the test attaches
 * as the new consumer and must see each producer's stream continue: what
 * the child reported, then what the test receives, contiguous, with at
 * most the child's last peeked message coming twice.
 */
static void kill_consumer_round(const char *name, unsigned mode, unsigned nprod, unsigned round)
{
	new_chan(name, 8192, 1024, mode);
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	pid_t cons = spawn_consumer(name, fds[1], nprod);
	close(fds[1]);
	pid_t pid[MAXP];
	for (unsigned i = 0; i < nprod; i++)
		pid[i] = spawn_producer(name, i, 0, 300, 64 + rnd() % 900);
	ready_wait(nprod + 1);
	usleep(rnd() % 4000);
	kill(cons, SIGKILL);
	wait_status(cons);
	struct tally t;
	tally_init(&t, nprod);
	struct report rep;
	while (read(fds[0], &rep, sizeof(rep)) == (ssize_t)sizeof(rep)) {
		cr_assert_lt(rep.producer, nprod);
		cr_assert_eq(rep.seq, t.next[rep.producer], "round %u: child saw a gap", round);
		t.next[rep.producer]++;
		t.dup = rep;
		t.dup_ok = true;
	}
	close(fds[0]);
	pshm_chan *c;
	cr_assert_eq(pshm_chan_open(name, PSHM_CONSUMER, 0, &c), 0, "round %u: take over", round);
	/* The old producers may all be gone already, with nothing left for
	 * the new consumer to see: it would rightly wait for producers to
	 * come. One comes, sends a last message and leaves. */
	int status[MAXP];
	for (unsigned left = nprod; left;) {
		drain(c, &t, now_s() + 0.002, round);
		for (unsigned i = 0; i < nprod; i++) {
			int st;
			if (pid[i] > 0 && waitpid(pid[i], &st, WNOHANG) == pid[i]) {
				status[i] = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
				cr_assert(status[i] == 0 || status[i] == EXIT_EPIPE,
					  "round %u: producer %u status %d", round, i, status[i]);
				pid[i] = 0;
				left--;
			}
		}
	}
	t.nprod = nprod + 1;
	pid_t last = spawn_producer(name, nprod, 0, 1, 64);
	ready_wait(1);
	cr_assert_eq(drain(c, &t, 0, round), -EPIPE);
	cr_assert_eq(wait_status(last), 0);
	cr_assert_eq(t.next[nprod], 1, "round %u: the last message", round);
	for (unsigned i = 0; i < nprod; i++) {
		/* A producer that found the ring full while no consumer was
		 * attached got -EPIPE (as documented) and stopped early. */
		if (status[i] == 0)
			cr_assert_eq(t.next[i], 300, "round %u: producer %u complete", round, i);
	}
	pshm_chan_close(c);
}

Test(chan_crash, mpsc_consumer_killed_then_a_new_one_resumes)
{
	const char *name = th_name("killc");
	for (unsigned r = 0; r < rounds(40); r++)
		kill_consumer_round(name, PSHM_CHAN_MPSC, 2, r);
}

Test(chan_crash, spsc_consumer_killed_then_a_new_one_resumes)
{
	const char *name = th_name("killcs");
	for (unsigned r = 0; r < rounds(20); r++)
		kill_consumer_round(name, PSHM_CHAN_SPSC, 1, r);
}

/* Producers blocked on a full ring get -EPIPE once the consumer is dead. */
Test(chan_crash, producers_get_epipe_when_the_consumer_is_killed)
{
	const char *name = th_name("epipe");
	for (unsigned r = 0; r < rounds(20); r++) {
		unsigned mode = r % 2, nprod = mode ? 3 : 1;
		new_chan(name, 4096, 1024, mode);
		int fds[2];
		cr_assert_eq(pipe(fds), 0);
		pid_t cons = spawn_consumer(name, fds[1], nprod);
		close(fds[1]);
		pid_t pid[MAXP];
		for (unsigned i = 0; i < nprod; i++)
			pid[i] = spawn_producer(name, i, 0, 1000000, 1024);
		ready_wait(nprod + 1);
		usleep(rnd() % 3000);
		kill(cons, SIGKILL);
		wait_status(cons);
		close(fds[0]);
		for (unsigned i = 0; i < nprod; i++) {
			int st = wait_bounded(pid[i], 8.0);
			if (st < 0)
				kill(pid[i], SIGKILL), wait_status(pid[i]);
			cr_assert_eq(st, EXIT_EPIPE, "round %u: producer %u status %d", r, i, st);
		}
	}
}

/* ---- forged crash states --------------------------------------------------------- */


/* A child that attaches as a producer, reserves @len bytes (so it owns a
 * claim: intent in its slot, BUSY header) and dies without committing. */
/* A process that attaches as @role and exits without closing: its pid. */
static pid_t die_attached(const char *name, unsigned role)
{
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		pshm_chan *ch;
		_exit(pshm_chan_open(name, role, 0, &ch) ? 1 : 0);
	}
	cr_assert_eq(wait_status(pid), 0);
	return pid;
}

static void die_holding_a_claim(const char *name, size_t len)
{
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		pshm_chan *p;
		void *w;
		if (pshm_chan_open(name, PSHM_PRODUCER, 0, &p) ||
		    pshm_chan_reserve(p, len, &w, 0))
			_exit(1);
		memset(w, 0xee, len); /* a partial message nobody may see */
		_exit(0);
	}
	cr_assert_eq(wait_status(pid), 0);
}

static void expect_next(pshm_chan *c, const char *want)
{
	char b[64] = { 0 };
	ssize_t n = pshm_chan_recv(c, b, sizeof(b), 5000 * MS);
	cr_assert_eq(n, (ssize_t)strlen(want), "got %zd: %s", n, n < 0 ? pshm_strerror((int)n) : b);
	cr_assert_eq(memcmp(b, want, (size_t)n), 0);
}

Test(chan_crash, dead_producer_busy_claim_is_skipped)
{
	const char *n = new_chan(th_name("busy"), 4096, 1024, PSHM_CHAN_MPSC);
	pshm_chan *c, *p;
	cr_assert_eq(pshm_chan_open(n, PSHM_CONSUMER, 0, &c), 0);
	die_holding_a_claim(n, 100);
	cr_assert_eq(pshm_chan_open(n, PSHM_PRODUCER, 0, &p), 0);
	cr_assert_eq(pshm_chan_send(p, "alive", 5, 0), 0);
	expect_next(c, "alive");
	pshm_chan_close(p);
	pshm_chan_close(c);
}

/* The claimer died between its CAS on tail and its BUSY store: no header,
 * only its intent says where the claim ends. */
Test(chan_crash, dead_producer_claim_without_header_is_skipped)
{
	const char *n = new_chan(th_name("nohdr"), 4096, 1024, PSHM_CHAN_MPSC);
	pshm_chan *c, *p;
	cr_assert_eq(pshm_chan_open(n, PSHM_CONSUMER, 0, &c), 0);
	die_holding_a_claim(n, 100);
	size_t size;
	void *m = th_map_raw(n, &size);
	uint32_t off = *cl_u32(m, CL_RING_OFF);
	cr_assert_eq(*cl_u64(m, off) >> 32 & 0xf, CL_R_BUSY);
	*cl_u64(m, off) = 0;
	cr_assert_eq(pshm_chan_open(n, PSHM_PRODUCER, 0, &p), 0);
	cr_assert_eq(pshm_chan_send(p, "alive", 5, 0), 0);
	expect_next(c, "alive");
	munmap(m, size);
	pshm_chan_close(p);
	pshm_chan_close(c);
}

/*
 * Two dead producers whose intents both start at head: the winner of the
 * CAS (its claim really there, all zeros) and a loser that died before it
 * could retry. The consumer must skip exactly the winner's claim, whether
 * the loser wanted less or more.
 */
static void ambiguous(size_t winner, size_t loser_span)
{
	const char *n = new_chan(th_name("ambig"), 4096, 1024, PSHM_CHAN_MPSC);
	pshm_chan *c, *p;
	cr_assert_eq(pshm_chan_open(n, PSHM_CONSUMER, 0, &c), 0);
	die_holding_a_claim(n, winner);
	size_t size;
	void *m = th_map_raw(n, &size);
	uint32_t off = *cl_u32(m, CL_RING_OFF);
	*cl_u64(m, off) = 0; /* died before its BUSY store */
	/* The loser: a second dead producer with an intent at the same place. */
	pid_t pid = die_attached(n, PSHM_PRODUCER);
	unsigned loser = 0;
	for (unsigned i = 1; i <= 64; i++)
		if ((uint32_t)*cl_u64(m, cl_slot(i, CL_SLOT_OWNER)) == (uint32_t)pid)
			loser = i;
	cr_assert_neq(loser, 0);
	*cl_u64(m, cl_slot(loser, CL_SLOT_ILEN)) = loser_span;
	*cl_u64(m, cl_slot(loser, CL_SLOT_IPOS)) = 0;
	cr_assert_eq(pshm_chan_open(n, PSHM_PRODUCER, 0, &p), 0);
	cr_assert_eq(pshm_chan_send(p, "alive", 5, 0), 0);
	expect_next(c, "alive");
	munmap(m, size);
	pshm_chan_close(p);
	pshm_chan_close(c);
}

Test(chan_crash, dead_claim_with_a_shorter_dead_loser) { ambiguous(400, 64); }
Test(chan_crash, dead_claim_with_a_longer_dead_loser) { ambiguous(100, 1024); }
Test(chan_crash, dead_claim_with_a_loser_reaching_the_next_record) { ambiguous(100, 112 + 16); }

/* A consumer killed while wiping a released record: its successor must
 * finish that release, not deliver the half-wiped record. */
static void mid_release(unsigned mode)
{
	const char *n = new_chan(th_name("midrel"), 4096, 1024, mode);
	pshm_chan *p;
	cr_assert_eq(pshm_chan_open(n, PSHM_PRODUCER, 0, &p), 0);
	char first[200];
	memset(first, 'a', sizeof(first));
	cr_assert_eq(pshm_chan_send(p, first, sizeof(first), 0), 0);
	cr_assert_eq(pshm_chan_send(p, "second", 6, 0), 0);
	die_attached(n, PSHM_CONSUMER);
	size_t size;
	void *m = th_map_raw(n, &size);
	uint32_t off = *cl_u32(m, CL_RING_OFF);
	*cl_u64(m, CL_REL_LEN) = 8 + 200;
	*cl_u64(m, CL_REL_POS) = 0;
	memset((char *)m + off + 8, 0, 100); /* half wiped */
	pshm_chan *c;
	cr_assert_eq(pshm_chan_open(n, PSHM_CONSUMER, 0, &c), 0);
	expect_next(c, "second");
	cr_expect_eq(*cl_u64(m, CL_REL_POS), CL_IDLE);
	munmap(m, size);
	pshm_chan_close(p);
	pshm_chan_close(c);
}

Test(chan_crash, mpsc_consumer_killed_mid_release_is_finished_by_the_next)
{
	mid_release(PSHM_CHAN_MPSC);
}

Test(chan_crash, spsc_consumer_killed_mid_release_is_finished_by_the_next)
{
	mid_release(PSHM_CHAN_SPSC);
}

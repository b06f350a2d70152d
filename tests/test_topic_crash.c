/* SPDX-License-Identifier: MIT */
/*
 * test_topic_crash.c — topics under kill -9: publishers and subscribers
 * killed at random moments, then the guarantees of pshm(7) checked:
 *  - no torn, corrupted or duplicated message is ever delivered, and none
 *    skipped in blocking mode (every message carries its number and a
 *    checksum);
 *  - subscribers get -EPIPE, in bounded time, once the publisher is gone,
 *    and a new publisher goes on numbering where the dead one stopped;
 *  - a dead subscriber, reaped or not, never blocks the publisher; a
 *    stopped (live) one does, in blocking mode.
 * 260 rounds at PSHM_TEST_SCALE=1. The PRNG seed is printed; set
 * PSHM_TEST_SEED to replay a run's kill schedule (timing still varies).
 */
#include <criterion/criterion.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

#include "test_topic.h"

#define MAX 100
static uint64_t seed;

static void crash_setup(void)
{
	th_setup();
	tready_init();
	const char *s = getenv("PSHM_TEST_SEED");
	seed = s ? strtoull(s, NULL, 0) : 20261204;
	fprintf(stderr, "test_topic_crash: seed %llu (PSHM_TEST_SEED)\n", (unsigned long long)seed);
}

TestSuite(topic_crash, .init = crash_setup, .fini = th_cleanup, .timeout = 120);

static unsigned rounds(unsigned n)
{
	const char *s = getenv("PSHM_TEST_SCALE");
	int v = s ? atoi(s) : 1;
	return n * (unsigned)(v > 0 ? v : 1);
}

static uint32_t rnd(void)
{
	seed = seed * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(seed >> 33);
}

static void reap(pid_t pid, bool killed)
{
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	if (killed)
		cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "status %#x", st);
	else
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
}

/* ---- killed publishers -------------------------------------------------- */

/* A publisher that numbers its messages after the topic's (it may follow a
 * dead one) and publishes until killed, copying or in place. */
static pid_t spawn_publisher(const char *n)
{
	pid_t pid = tfork();
	if (pid)
		return pid;
	pshm_topic *p = tchild_open(n, PSHM_PUBLISHER);
	unsigned char m[MAX];
	for (;;) {
		uint64_t k = pshm_topic_seq(p) + 1;
		size_t len = tmsg_make(m, k, MAX);
		int r;
		if (k & 1) {
			void *w;
			r = pshm_topic_reserve(p, len, &w, PSHM_FOREVER);
			if (r == 0) {
				/* Slowly, so that kills land mid-write too. */
				memcpy(w, m, len / 2);
				memcpy((char *)w + len / 2, m + len / 2, len - len / 2);
				r = pshm_topic_commit(p, len);
			}
		} else {
			r = pshm_topic_publish(p, m, len, PSHM_FOREVER);
		}
		if (r < 0)
			_exit(11);
	}
}

/* Receive, checking each message is the next one (after the gap the
 * missed count says, on a lossy topic) and whole, until @stop messages or
 * an error; returns the error (or 0), the next number in *k. */
static ssize_t drain(pshm_topic *s, uint64_t *k, unsigned stop, int64_t timeout)
{
	unsigned char out[MAX];
	for (unsigned i = 0; i < stop; i++) {
		uint64_t missed = pshm_topic_missed(s);
		ssize_t r = pshm_topic_recv(s, out, sizeof(out), timeout);
		if (r < 0)
			return r;
		*k += pshm_topic_missed(s) - missed;
		cr_assert_eq(pshm_topic_seq(s), *k, "expected message %llu, got %llu",
			     (unsigned long long)*k, (unsigned long long)pshm_topic_seq(s));
		cr_assert(tmsg_ok(out, (size_t)r, *k, MAX), "message %llu torn or corrupt",
			  (unsigned long long)*k);
		(*k)++;
	}
	return 0;
}

static void publishers_killed(unsigned policy, unsigned nr)
{
	const char *n = mktopic("pubkill", 4096, MAX, 0, policy); /* 32 slots */
	pshm_topic *s = topen(n, PSHM_SUBSCRIBER, 0);
	uint64_t k = 1;
	for (unsigned round = 0; round < nr; round++) {
		pid_t pid = spawn_publisher(n);
		tready_wait(1);
		cr_assert_eq(drain(s, &k, rnd() % 100, 5000 * MS), 0);
		if (rnd() & 1)
			usleep(rnd() % 300); /* the ring fills (or laps): killed waiting or mid-write */
		kill(pid, SIGKILL);
		reap(pid, true);
		/* What it completed comes, then -EPIPE, in bounded time. */
		ssize_t r = drain(s, &k, 1000, 5000 * MS);
		cr_assert_eq(r, -EPIPE, "round %u: %s", round, pshm_strerror((int)r));
	}
	if (policy == PSHM_TOPIC_BLOCKING)
		cr_expect_eq(pshm_topic_missed(s), 0);
	pshm_topic_close(s);
}

Test(topic_crash, publishers_killed_at_random_then_a_new_one_goes_on)
{
	publishers_killed(PSHM_TOPIC_BLOCKING, rounds(120));
}

Test(topic_crash, lossy_publishers_killed_at_random_then_a_new_one_goes_on)
{
	publishers_killed(PSHM_TOPIC_LOSSY, rounds(40));
}

/* Forged: a publisher killed with a reservation half written. Nothing of
 * it is delivered; the next publisher writes that number again, whole. */
Test(topic_crash, a_half_written_reservation_is_never_delivered)
{
	const char *n = mktopic("halfres", 4096, MAX, 0, PSHM_TOPIC_LOSSY);
	pshm_topic *s = topen(n, PSHM_SUBSCRIBER, 0);
	pid_t pid = tfork();
	if (pid == 0) {
		pshm_topic *p;
		void *w;
		if (pshm_topic_open(n, PSHM_PUBLISHER, 0, &p) < 0 ||
		    pshm_topic_reserve(p, MAX, &w, 0) < 0)
			_exit(10);
		memset(w, 0xee, MAX / 2);
		tready_say();
		pause();
		_exit(11);
	}
	tready_wait(1);
	kill(pid, SIGKILL);
	reap(pid, true);
	unsigned char out[MAX];
	cr_expect_eq(pshm_topic_recv(s, out, sizeof(out), 5000 * MS), -EPIPE);
	pshm_topic *p = topen(n, PSHM_PUBLISHER, 0);
	cr_expect_eq(pshm_topic_seq(p), 0, "message 1 was never published");
	unsigned char m[MAX];
	cr_assert_eq(pshm_topic_publish(p, m, tmsg_make(m, 1, MAX), 0), 0);
	ssize_t r = pshm_topic_recv(s, out, sizeof(out), 5000 * MS);
	cr_assert(r >= 0 && tmsg_ok(out, (size_t)r, 1, MAX));
	cr_expect_eq(pshm_topic_seq(s), 1);
	pshm_topic_close(p);
	pshm_topic_close(s);
}

/* ---- killed subscribers ------------------------------------------------- */

/* A subscriber that checks every message until -EPIPE; exits 0 if it got
 * 1..@total exactly. */
static pid_t spawn_subscriber(const char *n, uint64_t total)
{
	pid_t pid = tfork();
	if (pid)
		return pid;
	pshm_topic *s = tchild_open(n, PSHM_SUBSCRIBER);
	unsigned char out[MAX];
	uint64_t k = 1;
	for (;;) {
		ssize_t r = (k & 1) ? pshm_topic_recv(s, out, sizeof(out), 10000 * MS) : -1;
		if (!(k & 1)) {
			const void *ptr;
			r = pshm_topic_peek(s, &ptr, 10000 * MS);
			if (r >= 0) {
				memcpy(out, ptr, (size_t)r);
				if (pshm_topic_release(s) < 0)
					_exit(14);
			}
		}
		if (r == -EPIPE)
			break;
		if (r < 0)
			_exit(11);
		if (pshm_topic_seq(s) != k || !tmsg_ok(out, (size_t)r, k, MAX))
			_exit(12);
		k++;
	}
	_exit(k == total + 1 ? 0 : 13);
}

Test(topic_crash, subscribers_killed_at_random_never_block_the_publisher)
{
	const uint64_t total = 200;
	unsigned nr = rounds(100);
	const char *n = th_name("subkill"); /* a fresh topic each round, one name */
	struct pshm_topic_config c = { .ring_size = 4096, .max_msg = MAX }; /* 32 slots, blocking */
	for (unsigned round = 0; round < nr; round++) {
		cr_assert_eq(pshm_topic_create(n, &c, 0, 0), 0);
		pid_t kids[3];
		bool doomed[3];
		uint64_t at[3];
		for (int i = 0; i < 3; i++) {
			kids[i] = spawn_subscriber(n, total);
			doomed[i] = i < 2 ? (rnd() % 4) != 0 : false; /* one always survives */
			at[i] = rnd() % total;
		}
		tready_wait(3);
		pshm_topic *p = topen(n, PSHM_PUBLISHER, 0);
		unsigned char m[MAX];
		for (uint64_t k = 1; k <= total; k++) {
			for (int i = 0; i < 3; i++)
				if (doomed[i] && at[i] == k)
					kill(kids[i], SIGKILL); /* not reaped until the end */
			int r = pshm_topic_publish(p, m, tmsg_make(m, k, MAX), 10000 * MS);
			cr_assert_eq(r, 0, "round %u, message %llu: %s", round, (unsigned long long)k,
				     pshm_strerror(r));
		}
		pshm_topic_close(p);
		for (int i = 0; i < 3; i++)
			reap(kids[i], doomed[i] && at[i] >= 1);
		cr_assert_eq(pshm_topic_unlink(n), 0);
	}
}

Test(topic_crash, a_zombie_subscriber_does_not_block_the_publisher)
{
	const char *n = mktopic("zombie", 4096, MAX, 0, PSHM_TOPIC_BLOCKING);
	pid_t pid = tfork();
	if (pid == 0) {
		(void)tchild_open(n, PSHM_SUBSCRIBER);
		_exit(0); /* and is never reaped until the end */
	}
	tready_wait(1);
	usleep(20000);
	pshm_topic *p = topen(n, PSHM_PUBLISHER, 0);
	unsigned char m[MAX];
	for (uint64_t k = 1; k <= 3 * pshm_topic_slots(p); k++)
		cr_assert_eq(pshm_topic_publish(p, m, tmsg_make(m, k, MAX), 5000 * MS), 0);
	struct pshm_topic_info in;
	cr_assert_eq(pshm_topic_stat(n, &in), 0);
	cr_expect_eq(in.n_subs, 1);
	cr_expect_eq(in.subs[0].alive, 0);
	cr_expect_eq(in.subs[0].pid, pid);
	pshm_topic_close(p);
	reap(pid, false);
}

/* A publisher killed and not reaped (a zombie: its pid still taken) is
 * gone for its subscriber: what it published arrives, then -EPIPE, and
 * stat says it is not alive. */
Test(topic_crash, a_zombie_publisher_is_gone_for_its_subscribers)
{
	const char *n = mktopic("zpub", 4096, MAX, 0, PSHM_TOPIC_BLOCKING);
	pshm_topic *s = topen(n, PSHM_SUBSCRIBER, 0);
	pid_t pid = tfork();
	if (pid == 0) {
		pshm_topic *p = tchild_open(n, PSHM_PUBLISHER);
		unsigned char m[MAX];
		for (uint64_t k = 1; k <= 3; k++)
			if (pshm_topic_publish(p, m, tmsg_make(m, k, MAX), 0) < 0)
				_exit(11);
		tready_say(); /* published */
		pause();
		_exit(12);
	}
	tready_wait(2);
	kill(pid, SIGKILL);
	siginfo_t si;
	cr_assert_eq(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0, "dead, left unreaped");
	unsigned char out[MAX];
	for (uint64_t k = 1; k <= 3; k++) {
		ssize_t r = pshm_topic_recv(s, out, sizeof(out), 5000 * MS);
		cr_assert_geq(r, 0, "%s", pshm_strerror((int)r));
		cr_expect(tmsg_ok(out, (size_t)r, k, MAX));
	}
	cr_expect_eq(pshm_topic_recv(s, out, sizeof(out), 5000 * MS), -EPIPE);
	struct pshm_topic_info in;
	cr_assert_eq(pshm_topic_stat(n, &in), 0);
	cr_expect_eq(in.publisher_alive, 0);
	pshm_topic_close(s);
	reap(pid, true);
}

Test(topic_crash, a_stopped_subscriber_blocks_until_killed)
{
	const char *n = mktopic("stopped", 4096, MAX, 0, PSHM_TOPIC_BLOCKING);
	pid_t pid = spawn_subscriber(n, 0);
	tready_wait(1);
	kill(pid, SIGSTOP);
	pshm_topic *p = topen(n, PSHM_PUBLISHER, 0);
	unsigned char m[MAX];
	uint64_t k = 1;
	for (; k <= pshm_topic_slots(p); k++)
		cr_assert_eq(pshm_topic_publish(p, m, tmsg_make(m, k, MAX), 0), 0);
	cr_expect_eq(pshm_topic_publish(p, m, tmsg_make(m, k, MAX), 0), -EAGAIN, "the ring is full");
	cr_expect_eq(pshm_topic_publish(p, m, tmsg_make(m, k, MAX), 50 * MS), -ETIMEDOUT,
		     "a live subscriber is waited for");
	kill(pid, SIGKILL);
	cr_expect_eq(pshm_topic_publish(p, m, tmsg_make(m, k, MAX), 5000 * MS), 0,
		     "a dead one is not");
	reap(pid, true);
	pshm_topic_close(p);
}

Test(topic_crash, dead_subscribers_slots_are_taken_over)
{
	const char *n = th_name("takeover");
	struct pshm_topic_config c = { .ring_size = 4096, .max_msg = MAX, .max_subscribers = 2 };
	cr_assert_eq(pshm_topic_create(n, &c, 0, 0), 0);
	pid_t a = spawn_subscriber(n, 0), b = spawn_subscriber(n, 0);
	tready_wait(2);
	pshm_topic *x;
	cr_expect_eq(pshm_topic_open(n, PSHM_SUBSCRIBER, 0, &x), -EUSERS);
	kill(a, SIGKILL);
	kill(b, SIGKILL);
	reap(a, true);
	reap(b, true);
	pshm_topic *s1 = topen(n, PSHM_SUBSCRIBER, 0), *s2 = topen(n, PSHM_SUBSCRIBER, 0);
	cr_expect_eq(pshm_topic_open(n, PSHM_SUBSCRIBER, 0, &x), -EUSERS);
	pshm_topic_close(s1);
	pshm_topic_close(s2);
}

/* Liveness does not go by pid: a publisher in another PID namespace (pid
 * 1 there, some other process here) is alive while it runs, and gone,
 * with -EPIPE for its subscriber, once killed. */
Test(topic_crash, publisher_in_another_pid_namespace)
{
	if (unshare(CLONE_NEWPID) != 0)
		th_skip("cannot make a PID namespace here (needs root)");
	const char *n = mktopic("pidns", 4096, MAX, 0, PSHM_TOPIC_BLOCKING);
	pshm_topic *s = topen(n, PSHM_SUBSCRIBER, 0);
	pid_t pid = tfork();
	if (pid == 0) {
		pshm_topic *p = tchild_open(n, PSHM_PUBLISHER);
		unsigned char m[MAX];
		if (getpid() != 1 || pshm_topic_publish(p, m, tmsg_make(m, 1, MAX), 0) < 0)
			_exit(11);
		pause();
		_exit(12);
	}
	tready_wait(1);
	unsigned char out[MAX];
	ssize_t r = pshm_topic_recv(s, out, sizeof(out), 5000 * MS);
	cr_assert(r >= 0 && tmsg_ok(out, (size_t)r, 1, MAX));
	struct pshm_topic_info in;
	cr_assert_eq(pshm_topic_stat(n, &in), 0);
	cr_expect_eq(in.publisher, 1, "the pid it has in its own namespace");
	cr_expect_eq(in.publisher_alive, 1);
	cr_expect_eq(pshm_topic_recv(s, out, sizeof(out), 100 * MS), -ETIMEDOUT, "alive: waited for");
	kill(pid, SIGKILL);
	reap(pid, true);
	cr_expect_eq(pshm_topic_recv(s, out, sizeof(out), 5000 * MS), -EPIPE);
	pshm_topic_close(s);
}

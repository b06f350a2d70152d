/* SPDX-License-Identifier: MIT */
/*
 * test_topic.c — topics: creating, attaching, publishing to many
 * subscribers, history for late joiners, lossy subscribers, the poll
 * descriptor, and describing a topic.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "test_topic.h"

static void topic_setup(void)
{
	th_setup();
	tready_init();
}

TestSuite(topic, .init = topic_setup, .fini = th_cleanup, .timeout = 60);

/* ---- creating and attaching --------------------------------------------- */

Test(topic, create_defaults_then_stat)
{
	const char *n = th_name("defaults");
	cr_assert_eq(pshm_topic_create(n, NULL, 0, 0), 0);
	struct stat st = th_lstat(n);
	cr_expect_eq(st.st_mode & 07777, 0600);
	struct pshm_stat ps;
	cr_assert_eq(pshm_seg_stat(n, &ps), 0);
	cr_expect_eq(ps.kind, PSHM_KIND_TOPIC);
	struct pshm_topic_info in;
	cr_assert_eq(pshm_topic_stat(n, &in), 0);
	cr_expect_eq(in.ring_size, PSHM_TOPIC_RING_DEFAULT);
	cr_expect_eq(in.max_msg, PSHM_TOPIC_MSG_DEFAULT);
	cr_expect_eq(in.slots, PSHM_TOPIC_RING_DEFAULT / PSHM_TOPIC_SLOT(PSHM_TOPIC_MSG_DEFAULT));
	cr_expect_eq(in.max_subscribers, PSHM_TOPIC_SUBSCRIBERS_DEFAULT);
	cr_expect_eq(in.policy, PSHM_TOPIC_BLOCKING);
	cr_expect_eq(in.published, 0);
	cr_expect_eq(in.n_subs, 0);
	cr_expect_eq(in.publisher_alive, 0);
	cr_expect_eq(pshm_topic_create(n, NULL, 0, 0), -EEXIST);
	cr_expect_eq(pshm_topic_create(n, NULL, 0, PSHM_OPEN_EXISTING), 0);
	cr_expect_eq(pshm_topic_unlink(n), 0);
	cr_expect_eq(pshm_topic_unlink(n), -ENOENT);
}

Test(topic, slot_macro_and_small_rings)
{
	cr_expect_eq(PSHM_TOPIC_SLOT(0), 64);
	cr_expect_eq(PSHM_TOPIC_SLOT(48), 64);
	cr_expect_eq(PSHM_TOPIC_SLOT(49), 128);
	cr_expect_eq(PSHM_TOPIC_SLOT(1008), 1024);
	cr_expect_eq(PSHM_TOPIC_SLOT(1009), 2048);
	const char *n = mktopic("small", 1024, 0, 0, 0); /* the default max_msg shrinks */
	pshm_topic *p = topen(n, PSHM_PUBLISHER, 0);
	cr_expect_eq(pshm_topic_max_msg(p), 512 - 16);
	cr_expect_eq(pshm_topic_slots(p), 2);
	pshm_topic_close(p);
}

Test(topic, create_refuses_bad_configs)
{
	const char *n = th_name("bad");
	struct pshm_topic_config bad[] = {
		{ .ring_size = 1000 },
		{ .ring_size = 512 },
		{ .ring_size = (size_t)1 << 32 },
		{ .ring_size = 4096, .max_msg = 4096 },
		{ .ring_size = 4096, .max_msg = 2048 - 15 },        /* one slot */
		{ .ring_size = 4096, .max_msg = 48, .history = 64 }, /* 64 slots */
		{ .max_subscribers = PSHM_TOPIC_MAX_SUBSCRIBERS + 1 },
		{ .policy = 2 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(pshm_topic_create(n, &bad[i], 0, 0), -EINVAL, "config %zu", i);
	struct pshm_topic_config ok = { .ring_size = 4096, .max_msg = 48, .history = 63 };
	cr_expect_eq(pshm_topic_create(n, &ok, 0, 0), 0, "history = slots - 1");
	cr_expect_eq(pshm_topic_create(th_name("m"), NULL, 010000, 0), -EINVAL);
	cr_expect_eq(pshm_topic_create(th_name("f"), NULL, 0, PSHM_RDONLY), -EINVAL);
	cr_expect_eq(pshm_topic_create("a/b", NULL, 0, 0), -EINVAL);
	cr_expect_eq(pshm_topic_create("", NULL, 0, 0), -EINVAL);
	cr_expect_eq(pshm_topic_create(NULL, NULL, 0, 0), -EINVAL);
	cr_expect_eq(pshm_topic_create("..", NULL, 0, 0), -EINVAL);
}

Test(topic, open_errors)
{
	pshm_topic *t = (pshm_topic *)1;
	cr_expect_eq(pshm_topic_open(th_name("absent"), PSHM_SUBSCRIBER, 0, &t), -ENOENT);
	cr_expect_null(t);
	cr_expect_eq(pshm_topic_open("a/b", PSHM_SUBSCRIBER, 0, &t), -EINVAL);
	cr_expect_eq(pshm_topic_subscribe("..", 0, &t), -EINVAL);
	struct pshm_topic_info in;
	cr_expect_eq(pshm_topic_stat("", &in), -EINVAL);
	cr_expect_eq(pshm_topic_unlink("/a/b"), -EINVAL);
	char longname[PSHM_NAME_MAX + 2];
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	cr_expect_eq(pshm_topic_open(longname, PSHM_SUBSCRIBER, 0, &t), -ENAMETOOLONG);
	cr_expect_eq(pshm_topic_stat(th_name("absent"), &in), -ENOENT);
	cr_expect_eq(pshm_topic_unlink(th_name("absent")), -ENOENT);
	const char *n = mktopic("roles", 4096, 0, 0, 0);
	cr_expect_eq(pshm_topic_open(n, PSHM_CONSUMER, 0, &t), -EINVAL);
	cr_expect_eq(pshm_topic_open(n, PSHM_SUBSCRIBER, PSHM_RDONLY, &t), -EINVAL);
	cr_expect_eq(pshm_topic_open(n, PSHM_PUBLISHER, PSHM_TOPIC_HISTORY, &t), -EINVAL);
	cr_expect_eq(pshm_topic_open(n, PSHM_SUBSCRIBER, 0, NULL), -EINVAL);
	pshm_topic *p = topen(n, PSHM_PUBLISHER, 0);
	cr_expect_eq(pshm_topic_open(n, PSHM_PUBLISHER, 0, &t), -EBUSY, "one publisher");
	pshm_topic_close(p);
	p = topen(n, PSHM_PUBLISHER, 0); /* the slot is free again */
	pshm_topic_close(p);
	pshm_topic_close(NULL);

	/* Not a topic: a channel, and junk. */
	const char *ch = th_name("chan");
	cr_assert_eq(pshm_chan_create(ch, NULL, 0, 0), 0);
	cr_expect_eq(pshm_topic_open(ch, PSHM_SUBSCRIBER, 0, &t), -EPROTO);
	cr_expect_eq(pshm_topic_unlink(ch), -EPROTO, "a channel is not removed as a topic");
	cr_expect_eq(pshm_chan_unlink(n), -EPROTO, "nor a topic as a channel");
	cr_expect_eq(pshm_topic_stat(ch, &in), -EPROTO);
	cr_expect_eq(pshm_topic_stat(n, NULL), -EINVAL);
	cr_expect_eq(pshm_topic_create(ch, NULL, 0, PSHM_OPEN_EXISTING), -EPROTO);
	const char *raw = th_name("raw");
	char junk[100];
	memset(junk, 0x5a, sizeof(junk));
	th_write_file(raw, junk, sizeof(junk), 0600);
	cr_expect_eq(pshm_topic_open(raw, PSHM_SUBSCRIBER, 0, &t), -EPROTO);
	cr_expect_eq(pshm_topic_stat(raw, &in), -EPROTO);
}

Test(topic, open_policy_refuses_a_group_writable_topic)
{
	const char *n = th_name("perm");
	cr_assert_eq(pshm_topic_create(n, NULL, 0660, 0), 0);
	pshm_topic *t;
	cr_expect_eq(pshm_topic_open(n, PSHM_SUBSCRIBER, 0, &t), -EPERM);
	cr_expect_eq(pshm_topic_create(n, NULL, 0, PSHM_OPEN_EXISTING), -EPERM);
	cr_expect_eq(pshm_topic_create(n, NULL, 0, PSHM_OPEN_EXISTING | PSHM_ALLOW_SHARED_WRITE), 0);
	cr_assert_eq(pshm_topic_open(n, PSHM_SUBSCRIBER, PSHM_ALLOW_SHARED_WRITE, &t), 0);
	pshm_topic_close(t);
}

/* Traffic goes through the mapping, which leaves the mtime alone: the
 * handles set it, so `pshm gc` does not take a busy topic for abandoned. */
Test(topic, traffic_updates_the_mtime)
{
	const char *n = mktopic("mtime", 4096, 48, 0, 0);
	char path[300];
	th_path(n, path, sizeof(path));
	struct timespec old[2] = { { 1000, 0 }, { 1000, 0 } };
	pshm_topic *p = topen(n, PSHM_PUBLISHER, 0), *s = topen(n, PSHM_SUBSCRIBER, 0);
	cr_assert_eq(utimensat(AT_FDCWD, path, old, 0), 0);
	cr_assert_eq(pshm_topic_publish(p, "x", 1, 0), 0);
	cr_expect_gt(th_lstat(n).st_mtime, 1000, "the publisher sets it");
	cr_assert_eq(utimensat(AT_FDCWD, path, old, 0), 0);
	char out[48];
	cr_assert_eq(pshm_topic_recv(s, out, sizeof(out), 0), 1);
	cr_expect_gt(th_lstat(n).st_mtime, 1000, "the subscriber sets it");
	pshm_topic_close(s);
	pshm_topic_close(p);
}

Test(topic, wrong_role_and_state_is_einval_or_ebusy)
{
	const char *n = mktopic("state", 4096, 100, 0, 0);
	pshm_topic *p = topen(n, PSHM_PUBLISHER, 0), *s = topen(n, PSHM_SUBSCRIBER, 0);
	char buf[128];
	const void *cp;
	void *w;
	cr_expect_eq(pshm_topic_recv(p, buf, sizeof(buf), 0), -EINVAL);
	cr_expect_eq(pshm_topic_peek(p, &cp, 0), -EINVAL);
	cr_expect_eq(pshm_topic_release(s), -EINVAL, "nothing peeked");
	cr_expect_eq(pshm_topic_publish(s, "x", 1, 0), -EINVAL);
	cr_expect_eq(pshm_topic_reserve(s, 1, &w, 0), -EINVAL);
	cr_expect_eq(pshm_topic_commit(p, 0), -EINVAL, "nothing reserved");
	cr_expect_eq(pshm_topic_publish(p, NULL, 1, 0), -EINVAL);
	cr_expect_eq(pshm_topic_publish(p, buf, 101, 0), -EMSGSIZE);
	cr_expect_eq(pshm_topic_fd(p), -EINVAL);
	cr_expect_eq(pshm_topic_set_wait(p, 7, 0), -EINVAL);
	cr_expect_eq(pshm_topic_reserve(p, 10, &w, 0), 0);
	cr_expect_eq(pshm_topic_publish(p, "x", 1, 0), -EBUSY);
	cr_expect_eq(pshm_topic_reserve(p, 10, &w, 0), -EBUSY);
	cr_expect_eq(pshm_topic_commit(p, 11), -EINVAL, "longer than reserved");
	memcpy(w, "hello", 5);
	cr_expect_eq(pshm_topic_commit(p, 5), 0);
	cr_expect_eq(pshm_topic_recv(s, buf, 4, 0), -EMSGSIZE, "the message stays next");
	cr_expect_eq(pshm_topic_recv(s, buf, sizeof(buf), 0), 5);
	cr_expect_eq(memcmp(buf, "hello", 5), 0);
	cr_expect_eq(pshm_topic_recv(s, buf, sizeof(buf), 0), -EAGAIN);
	cr_expect_eq(pshm_topic_recv(s, buf, sizeof(buf), 20 * MS), -ETIMEDOUT);
	cr_expect_eq(pshm_topic_publish(p, NULL, 0, 0), 0, "an empty message");
	cr_expect_eq(pshm_topic_recv(s, NULL, 0, 0), 0);
	cr_expect_eq(pshm_topic_seq(s), 2);
	cr_expect_eq(pshm_topic_seq(p), 2);
	pshm_topic_close(s);
	pshm_topic_close(p);
}

Test(topic, zero_copy_peek_release_and_recv_after_peek)
{
	const char *n = mktopic("zc", 4096, 200, 0, 0);
	pshm_topic *p = topen(n, PSHM_PUBLISHER, 0), *s = topen(n, PSHM_SUBSCRIBER, 0);
	unsigned char m[200];
	for (uint64_t k = 1; k <= 100; k++) {
		size_t len = tmsg_make(m, k, sizeof(m));
		void *w;
		cr_assert_eq(pshm_topic_reserve(p, len, &w, 0), 0);
		memcpy(w, m, len);
		cr_assert_eq(pshm_topic_commit(p, len), 0);
		const void *a, *b;
		ssize_t r = pshm_topic_peek(s, &a, 0);
		cr_assert_eq(pshm_topic_peek(s, &b, 0), r, "peek again: the same");
		cr_assert_eq(a, b);
		cr_assert(tmsg_ok(a, (size_t)r, k, sizeof(m)), "message %llu", (unsigned long long)k);
		cr_assert_eq(pshm_topic_seq(s), k);
		if (k & 1) {
			cr_assert_eq(pshm_topic_release(s), 0);
		} else {
			unsigned char out[200];
			cr_assert_eq(pshm_topic_recv(s, out, sizeof(out), 0), r, "recv takes the peeked one");
		}
	}
	cr_expect_eq(pshm_topic_missed(s), 0);
	pshm_topic_close(s);
	pshm_topic_close(p);
}

/* ---- fan-out ------------------------------------------------------------ */

#define FAN_MSGS 20000

/* A subscriber child: every message in order, whole, then -EPIPE. */
static int fan_sub(const char *n, uint64_t count, size_t max)
{
	pshm_topic *s = tchild_open(n, PSHM_SUBSCRIBER);
	unsigned char buf[4096];
	for (uint64_t k = 1; k <= count; k++) {
		ssize_t r = pshm_topic_recv(s, buf, sizeof(buf), 10000 * MS);
		if (r < 0)
			return 11;
		if (pshm_topic_seq(s) != k || !tmsg_ok(buf, (size_t)r, k, max))
			return 12;
	}
	if (pshm_topic_recv(s, buf, sizeof(buf), 10000 * MS) != -EPIPE)
		return 13;
	if (pshm_topic_missed(s) != 0)
		return 14;
	pshm_topic_close(s);
	return 0;
}

static void fan_out(unsigned nsubs)
{
	const size_t max = 300;
	const char *n = mktopic("fan", 16384, max, 0, PSHM_TOPIC_BLOCKING);
	pid_t kids[8];
	for (unsigned i = 0; i < nsubs; i++) {
		kids[i] = tfork();
		if (kids[i] == 0)
			_exit(fan_sub(n, FAN_MSGS, max));
	}
	tready_wait((int)nsubs);
	pshm_topic *p = topen(n, PSHM_PUBLISHER, 0);
	unsigned char m[300];
	for (uint64_t k = 1; k <= FAN_MSGS; k++) {
		size_t len = tmsg_make(m, k, max);
		int r = pshm_topic_publish(p, m, len, 10000 * MS);
		cr_assert_eq(r, 0, "publish %llu: %s", (unsigned long long)k, pshm_strerror(r));
	}
	struct pshm_topic_info in;
	cr_assert_eq(pshm_topic_stat(n, &in), 0);
	cr_expect_eq(in.published, FAN_MSGS);
	cr_expect_eq(in.publisher_alive, 1);
	cr_expect_eq(in.publisher, getpid());
	pshm_topic_close(p);
	for (unsigned i = 0; i < nsubs; i++) {
		int st;
		cr_assert_eq(waitpid(kids[i], &st, 0), kids[i]);
		cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "subscriber %u: status %#x", i, st);
	}
}

Test(topic, fan_out_1_subscriber) { fan_out(1); }
Test(topic, fan_out_2_subscribers) { fan_out(2); }
Test(topic, fan_out_4_subscribers) { fan_out(4); }
Test(topic, fan_out_8_subscribers) { fan_out(8); }

/* ---- history ------------------------------------------------------------ */

Test(topic, history_late_joiner_gets_the_last_n_then_the_rest)
{
	const size_t max = 100;
	const char *n = mktopic("hist", 8192, max, 10, PSHM_TOPIC_BLOCKING); /* 64 slots */
	pshm_topic *p = topen(n, PSHM_PUBLISHER, 0);
	pshm_topic *early = topen(n, PSHM_SUBSCRIBER, PSHM_TOPIC_HISTORY);
	unsigned char m[100], out[100];
	for (uint64_t k = 1; k <= 50; k++) {
		cr_assert_eq(pshm_topic_publish(p, m, tmsg_make(m, k, max), 0), 0);
		cr_assert_geq(pshm_topic_recv(early, out, sizeof(out), 0), 0);
	}
	pshm_topic *late = topen(n, PSHM_SUBSCRIBER, PSHM_TOPIC_HISTORY);
	pshm_topic *now = topen(n, PSHM_SUBSCRIBER, 0);
	struct pshm_topic_info in;
	cr_assert_eq(pshm_topic_stat(n, &in), 0);
	cr_expect_eq(in.kept, 10);
	cr_expect_eq(in.n_subs, 3);
	/* The late joiner: 41..50 (the history), then 51..200, nothing else.
	 * It reads one message per message published: it stays 10 behind. */
	uint64_t kl = 41;
	for (uint64_t k = 51; k <= 200; k++) {
		cr_assert_eq(pshm_topic_publish(p, m, tmsg_make(m, k, max), 10000 * MS), 0);
		ssize_t r = pshm_topic_recv(early, out, sizeof(out), 0);
		cr_assert(r >= 0 && tmsg_ok(out, (size_t)r, k, max));
		r = pshm_topic_recv(now, out, sizeof(out), 0);
		cr_assert(r >= 0 && tmsg_ok(out, (size_t)r, k, max), "now: %llu", (unsigned long long)k);
		r = pshm_topic_recv(late, out, sizeof(out), 0);
		cr_assert(r >= 0 && tmsg_ok(out, (size_t)r, kl, max), "late: %llu (%zd)",
			  (unsigned long long)kl, r);
		kl++;
	}
	for (; kl <= 200; kl++) {
		ssize_t r = pshm_topic_recv(late, out, sizeof(out), 0);
		cr_assert(r >= 0 && tmsg_ok(out, (size_t)r, kl, max), "late: %llu (%zd)",
			  (unsigned long long)kl, r);
	}
	cr_expect_eq(pshm_topic_recv(late, out, sizeof(out), 0), -EAGAIN);
	cr_expect_eq(pshm_topic_missed(late), 0);
	pshm_topic_close(late);
	pshm_topic_close(now);
	pshm_topic_close(early);
	pshm_topic_close(p);
}

Test(topic, history_zero_and_history_flag_on_a_new_topic)
{
	const char *n = mktopic("hist0", 4096, 48, 0, 0);
	pshm_topic *p = topen(n, PSHM_PUBLISHER, 0);
	pshm_topic *a = topen(n, PSHM_SUBSCRIBER, PSHM_TOPIC_HISTORY);
	char out[64];
	cr_expect_eq(pshm_topic_recv(a, out, sizeof(out), 0), -EAGAIN, "nothing yet");
	cr_assert_eq(pshm_topic_publish(p, "one", 3, 0), 0);
	pshm_topic *b = topen(n, PSHM_SUBSCRIBER, PSHM_TOPIC_HISTORY);
	cr_expect_eq(pshm_topic_recv(b, out, sizeof(out), 0), -EAGAIN, "history 0 keeps nothing");
	cr_expect_eq(pshm_topic_recv(a, out, sizeof(out), 0), 3);
	pshm_topic_close(b);
	pshm_topic_close(a);
	pshm_topic_close(p);
}

/* A subscriber joins, with history, a topic being published to: it gets a
 * contiguous run from where it joined to the end (no gap, no duplicate). */
Test(topic, history_join_mid_stream_has_no_gap_or_duplicate)
{
	const size_t max = 64;
	const char *n = mktopic("midjoin", 8192, max, 50, PSHM_TOPIC_BLOCKING);
	pid_t kid = tfork();
	if (kid == 0) {
		pshm_topic *p = tchild_open(n, PSHM_PUBLISHER);
		unsigned char m[64];
		for (uint64_t k = 1;; k++) /* until killed */
			if (pshm_topic_publish(p, m, tmsg_make(m, k, max), 10000 * MS) < 0)
				_exit(11);
	}
	tready_wait(1);
	for (int j = 0; j < 5; j++) {
		usleep(2000);
		pshm_topic *s = topen(n, PSHM_SUBSCRIBER, PSHM_TOPIC_HISTORY);
		unsigned char out[64];
		uint64_t first = 0, k = 0;
		for (int i = 0; i < 20000; i++) {
			ssize_t r = pshm_topic_recv(s, out, sizeof(out), 10000 * MS);
			cr_assert_geq(r, 0, "%s", pshm_strerror((int)r));
			uint64_t got = pshm_topic_seq(s);
			if (!first)
				first = k = got;
			cr_assert_eq(got, k, "joined at %llu: got %llu, expected %llu",
				     (unsigned long long)first, (unsigned long long)got,
				     (unsigned long long)k);
			cr_assert(tmsg_ok(out, (size_t)r, k, max));
			k++;
		}
		cr_expect_eq(pshm_topic_missed(s), 0);
		pshm_topic_close(s);
	}
	kill(kid, SIGKILL);
	int st;
	cr_assert_eq(waitpid(kid, &st, 0), kid);
	cr_expect(WIFSIGNALED(st), "publisher: %#x", st);
}

/* ---- lossy subscribers -------------------------------------------------- */

/* A stopped subscriber never slows a lossy publisher: every publish
 * succeeds without waiting (timeout 0); resumed, the subscriber learns the
 * exact number it missed, then gets the rest in order. */
Test(topic, lossy_stopped_subscriber_counts_exactly_what_it_missed)
{
	const size_t max = 100;
	const uint64_t total = 5000;
	const char *n = mktopic("lossy", 4096, max, 0, PSHM_TOPIC_LOSSY); /* 32 slots */
	int res[2];
	cr_assert_eq(pipe(res), 0);
	pid_t kid = tfork();
	if (kid == 0) {
		pshm_topic *s = tchild_open(n, PSHM_SUBSCRIBER);
		unsigned char out[100];
		uint64_t got = 0, gaps = 0, prev = 0, missed = 0;
		while (prev < total) {
			ssize_t r = pshm_topic_recv(s, out, sizeof(out), 10000 * MS);
			if (r < 0)
				_exit(11);
			uint64_t k = pshm_topic_seq(s), m = pshm_topic_missed(s);
			if (!tmsg_ok(out, (size_t)r, k, max))
				_exit(12);
			/* A gap is exactly what the missed count grew by. */
			if (k != prev + 1 + (m - missed))
				_exit(13);
			gaps += m != missed;
			missed = m;
			prev = k;
			got++;
		}
		uint64_t v[3] = { got, missed, gaps };
		(void)!write(res[1], v, sizeof(v));
		pshm_topic_close(s);
		_exit(0);
	}
	tready_wait(1);
	pshm_topic *p = topen(n, PSHM_PUBLISHER, 0);
	unsigned char m[100];
	cr_assert_eq(pshm_topic_publish(p, m, tmsg_make(m, 1, max), 0), 0);
	usleep(20000); /* let it receive the first one and wait for the next */
	cr_assert_eq(kill(kid, SIGSTOP), 0);
	for (uint64_t k = 2; k <= total; k++) {
		int r = pshm_topic_publish(p, m, tmsg_make(m, k, max), 0);
		cr_assert_eq(r, 0, "publish %llu waited: %s", (unsigned long long)k, pshm_strerror(r));
	}
	struct pshm_topic_info in;
	cr_assert_eq(pshm_topic_stat(n, &in), 0);
	cr_expect_eq(in.n_subs, 1);
	cr_expect_geq(in.subs[0].lag, total - 2, "the stopped one lags");
	cr_assert_eq(kill(kid, SIGCONT), 0);
	uint64_t v[3];
	cr_assert_eq(read(res[0], v, sizeof(v)), (ssize_t)sizeof(v));
	int st;
	cr_assert_eq(waitpid(kid, &st, 0), kid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "subscriber: %#x", st);
	cr_expect_eq(v[0] + v[1], total, "received %llu + missed %llu", (unsigned long long)v[0],
		     (unsigned long long)v[1]);
	cr_expect_gt(v[1], 0);
	cr_expect_eq(v[2], 1, "one gap");
	cr_expect_leq(v[0], 32, "then the ring's worth, in order");
	pshm_topic_close(p);
	close(res[0]);
	close(res[1]);
}

/* In lossy mode a peeked message overwritten before its release is
 * reported (-ESTALE) and counted as missed. */
Test(topic, lossy_release_reports_an_overwritten_message)
{
	const char *n = mktopic("stale", 4096, 48, 0, PSHM_TOPIC_LOSSY); /* 64 slots */
	pshm_topic *p = topen(n, PSHM_PUBLISHER, 0), *s = topen(n, PSHM_SUBSCRIBER, 0);
	cr_assert_eq(pshm_topic_publish(p, "first", 5, 0), 0);
	const void *ptr;
	cr_assert_eq(pshm_topic_peek(s, &ptr, 0), 5);
	for (int i = 0; i < 64; i++)
		cr_assert_eq(pshm_topic_publish(p, "later", 5, 0), 0);
	cr_expect_eq(pshm_topic_release(s), -ESTALE);
	cr_expect_eq(pshm_topic_missed(s), 1);
	char out[48];
	/* Message 2 is still there: the next one received. */
	cr_assert_eq(pshm_topic_recv(s, out, sizeof(out), 0), 5);
	cr_expect_eq(pshm_topic_seq(s) - 1, pshm_topic_missed(s));
	pshm_topic_close(s);
	pshm_topic_close(p);
}

/* ---- waiting ------------------------------------------------------------ */

Test(topic, poll_descriptor_wakes_an_event_loop)
{
	const char *n = mktopic("fd", 4096, 48, 0, 0);
	pshm_topic *s = topen(n, PSHM_SUBSCRIBER, 0);
	int fd = pshm_topic_fd(s);
	cr_assert_geq(fd, 0);
	cr_expect_eq(pshm_topic_fd(s), fd, "the same one again");
	struct pollfd pf = { .fd = fd, .events = POLLIN };
	cr_expect_eq(poll(&pf, 1, 50), 0, "no publisher, nothing to read");
	pid_t kid = tfork();
	if (kid == 0) {
		pshm_topic *p;
		if (pshm_topic_open(n, PSHM_PUBLISHER, 0, &p) < 0)
			_exit(10);
		for (int i = 0; i < 3; i++) {
			usleep(30000);
			if (pshm_topic_publish(p, "tick", 4, 0) < 0)
				_exit(11);
		}
		usleep(30000);
		_exit(0); /* gone: the descriptor says so too */
	}
	int got = 0, epipe = 0;
	char out[48];
	while (!epipe) {
		pf.revents = 0;
		cr_assert_eq(poll(&pf, 1, 10000), 1, "woken");
		cr_assert(pf.revents & POLLIN);
		for (;;) {
			ssize_t r = pshm_topic_recv(s, out, sizeof(out), 0);
			if (r == -EAGAIN)
				break;
			if (r == -EPIPE) {
				epipe = 1;
				break;
			}
			cr_assert_eq(r, 4);
			got++;
		}
	}
	cr_expect_eq(got, 3);
	int st;
	cr_assert_eq(waitpid(kid, &st, 0), kid);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	pshm_topic_close(s); /* stops the thread */
}

static void on_alarm(int sig)
{
	(void)sig;
}

Test(topic, a_signal_interrupts_a_wait_with_eintr)
{
	const char *n = mktopic("eintr", 4096, 48, 0, 0);
	pshm_topic *s = topen(n, PSHM_SUBSCRIBER, 0);
	pshm_topic_set_wait(s, PSHM_WAIT_BLOCK, 0);
	struct sigaction sa = { .sa_handler = on_alarm }, old; /* without SA_RESTART */
	sigemptyset(&sa.sa_mask);
	cr_assert_eq(sigaction(SIGALRM, &sa, &old), 0);
	/* A signal may land between two sleeps (the wait wakes every 20 ms to
	 * check the publisher): it is sent again until one interrupts a sleep. */
	struct itimerval it = { { 0, 30000 }, { 0, 30000 } }, off = { { 0, 0 }, { 0, 0 } };
	cr_assert_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
	char out[48];
	ssize_t r;
	do
		r = pshm_topic_recv(s, out, sizeof(out), 200 * MS);
	while (r == -ETIMEDOUT);
	setitimer(ITIMER_REAL, &off, NULL);
	sigaction(SIGALRM, &old, NULL);
	cr_expect_eq(r, -EINTR);
	pshm_topic_close(s);
}

/* ---- many subscribers --------------------------------------------------- */

Test(topic, sixty_four_subscribers_at_once_then_eusers)
{
	const char *n = mktopic("many", 8192, 48, 0, 0);
	pshm_topic *s[PSHM_TOPIC_SUBSCRIBERS_DEFAULT], *x;
	for (int i = 0; i < PSHM_TOPIC_SUBSCRIBERS_DEFAULT; i++)
		s[i] = topen(n, PSHM_SUBSCRIBER, 0);
	cr_expect_eq(pshm_topic_open(n, PSHM_SUBSCRIBER, 0, &x), -EUSERS);
	pshm_topic *p = topen(n, PSHM_PUBLISHER, 0);
	for (int k = 0; k < 300; k++) { /* past the ring: everyone reads along */
		cr_assert_eq(pshm_topic_publish(p, &k, sizeof(k), 0), 0, "%d", k);
		for (int i = 0; i < PSHM_TOPIC_SUBSCRIBERS_DEFAULT; i++) {
			int v = -1;
			cr_assert_eq(pshm_topic_recv(s[i], &v, sizeof(v), 0), (ssize_t)sizeof(v));
			cr_assert_eq(v, k);
		}
	}
	cr_assert_eq(pshm_topic_publish(p, "x", 1, 0), 0);
	struct pshm_topic_info in;
	cr_assert_eq(pshm_topic_stat(n, &in), 0);
	cr_expect_eq(in.n_subs, PSHM_TOPIC_SUBSCRIBERS_DEFAULT);
	for (int i = 0; i < PSHM_TOPIC_SUBSCRIBERS_DEFAULT; i++) {
		cr_expect_eq(in.subs[i].alive, 1);
		cr_expect_eq(in.subs[i].lag, 1);
		cr_expect_eq(in.subs[i].next, 301);
	}
	pshm_topic_close(s[7]);
	x = topen(n, PSHM_SUBSCRIBER, 0); /* a slot is free again */
	pshm_topic_close(x);
	pshm_topic_close(p);
	for (int i = 0; i < PSHM_TOPIC_SUBSCRIBERS_DEFAULT; i++)
		if (i != 7)
			pshm_topic_close(s[i]);
}

/* ---- threads ------------------------------------------------------------ */

Test(topic, threads_blocking_every_subscriber_every_message)
{
	char err[256] = "";
	cr_expect_eq(stress_topic_blocking_threads(err, sizeof(err)), 0, "%s", err);
}

Test(topic, threads_lossy_gaps_match_the_missed_counts)
{
	char err[256] = "";
	cr_expect_eq(stress_topic_lossy_threads(err, sizeof(err)), 0, "%s", err);
}

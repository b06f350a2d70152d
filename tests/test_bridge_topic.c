/* SPDX-License-Identifier: MIT */
/*
 * test_bridge_topic.c — `pshm bridge` carrying a topic between two
 * "hosts" (bridge_helpers.h): host A publishes numbered messages into its
 * topic /a, subscribed to by `bridge send`; host B subscribes to its topic
 * /b, into which `bridge recv` publishes. Blocking topic: everything
 * arrives, in order. Lossy topic: the numbers only grow, and what went
 * missing is exactly what both ends counted lost.
 */
#include <criterion/criterion.h>

#include "bridge_helpers.h"

TestSuite(bridge_topic, TH_FIXTURE, .timeout = 120);

static struct {
	unsigned n;
	unsigned policy;   /* host A's topic */
	int port_pipe[2];  /* B -> A */
	int done_pipe[2];  /* test -> A */
	int count_pipe[2]; /* B -> test */
	char send_log[96], recv_log[96];
} sc;

/* Wait (up to 20 s) for a live subscriber on @name: the bridge's. */
static bool subscribed(const char *name)
{
	static struct pshm_topic_info in;
	for (int i = 0; i < 1000; i++, usleep(20000))
		for (unsigned s = 0; pshm_topic_stat(name, &in) == 0 && s < in.n_subs; s++)
			if (in.subs[s].alive)
				return true;
	return false;
}

static int host_a(void *arg)
{
	(void)arg;
	char url[64], m[16];
	struct pshm_topic_config cfg = { .ring_size = 64 << 10, .max_msg = 16,
					 .policy = sc.policy };
	pshm_topic *t;
	if (pshm_topic_create("/a", &cfg, 0, 0) < 0 ||
	    pshm_topic_open("/a", PSHM_PUBLISHER, 0, &t) < 0)
		return 10;
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", bt_get(sc.port_pipe[0]));
	pid_t br = bt_bridge(sc.send_log, "send", "/a", url, NULL);
	if (!subscribed("/a"))
		return 11;
	for (unsigned i = 1; i <= sc.n; i++) {
		int len = snprintf(m, sizeof(m), "%u", i);
		if (pshm_topic_publish(t, m, (size_t)len, 30 * BT_NS_PER_S) < 0)
			return 12;
	}
	bt_get(sc.done_pipe[0]);
	pshm_topic_close(t);
	return bt_stop(br) == 0 ? 0 : 13;
}

static int host_b(void *arg)
{
	(void)arg;
	char m[32];
	unsigned last = 0, got = 0;
	struct pshm_topic_config cfg = { .ring_size = 64 << 10, .max_msg = 16 };
	pshm_topic *t;
	if (pshm_topic_create("/b", &cfg, 0, 0) < 0 || pshm_topic_subscribe("/b", 0, &t) < 0)
		return 20;
	pid_t br = bt_bridge(sc.recv_log, "recv", "tcp://127.0.0.1:0", "/b", NULL);
	int port = bt_port(sc.recv_log);
	if (port <= 0)
		return 21;
	bt_put(sc.port_pipe[1], port);
	while (last < sc.n) {
		ssize_t len = pshm_topic_recv(t, m, sizeof(m) - 1, 30 * BT_NS_PER_S);
		if (len < 0)
			return 22;
		m[len] = '\0';
		unsigned v = (unsigned)strtoul(m, NULL, 10);
		if (v <= last)
			return 23; /* duplicated or out of order */
		last = v;
		got++;
	}
	bt_put(sc.count_pipe[1], (int)got);
	pshm_topic_close(t);
	return bt_stop(br) == 0 ? 0 : 24;
}

/* Returns how many messages went missing. */
static unsigned long long scenario(unsigned n, unsigned policy)
{
	const char *why;
	if (!bt_usable(&why))
		th_skip("%s", why);
	sc.n = n;
	sc.policy = policy;
	bt_logs(sc.send_log, sc.recv_log, sizeof(sc.send_log), "t");
	cr_assert(pipe(sc.port_pipe) == 0 && pipe(sc.done_pipe) == 0 && pipe(sc.count_pipe) == 0);
	pid_t b = bt_host(host_b, NULL), a = bt_host(host_a, NULL);
	int rb = bt_reap(b);
	bt_put(sc.done_pipe[1], 1);
	int ra = bt_reap(a);
	int got = bt_get(sc.count_pipe[0]);
	return bt_settle(rb, ra, n, got, sc.send_log, sc.recv_log);
}

Test(bridge_topic, blocking_topic_arrives_whole_and_in_order)
{
	cr_expect_eq(scenario(50000, PSHM_TOPIC_BLOCKING), 0);
}

Test(bridge_topic, lossy_topic_gaps_are_counted_on_both_sides)
{
	scenario(200000, PSHM_TOPIC_LOSSY);
}

/* On one host, over an ipc:// URL: `bridge recv --create` makes the topic
 * when the first HELLO comes, with the sender's ring, largest message,
 * policy, history and subscriber slots, and what was published arrives
 * there. */
Test(bridge_topic, create_makes_the_topic_like_the_senders_over_ipc)
{
	if (!bt_have_nng())
		th_skip("pshm was built without NNG: no bridge");
	const char *a = th_name("a"), *b = th_name("b");
	struct pshm_topic_config cfg = { .ring_size = 64 << 10, .max_msg = 100, .history = 20,
					 .max_subscribers = 9, .policy = PSHM_TOPIC_LOSSY };
	cr_assert_eq(pshm_topic_create(a, &cfg, 0, 0), 0);
	char url[128], sock[96];
	bt_ipc_url(url, sizeof(url), sock, sizeof(sock));
	bt_logs(sc.send_log, sc.recv_log, sizeof(sc.send_log), "ipc");
	pid_t r = bt_bridge(sc.recv_log, "recv", url, b, "--create", NULL);
	cr_assert(bt_wait_log(sc.recv_log, "listening on ipc://"), "%s", bt_slurp(sc.recv_log));
	pid_t s = bt_bridge(sc.send_log, "send", a, url, NULL);
	cr_assert(subscribed(a), "%s", bt_slurp(sc.send_log));
	pshm_topic *p;
	cr_assert_eq(pshm_topic_open(a, PSHM_PUBLISHER, 0, &p), 0);
	for (int i = 0; i < 50; i++) {
		char m[16];
		int len = snprintf(m, sizeof(m), "m%d", i);
		cr_assert_eq(pshm_topic_publish(p, m, (size_t)len, 20000 * INT64_C(1000000)), 0);
	}
	static struct pshm_topic_info in;
	for (int i = 0; i < 1000 && (pshm_topic_stat(b, &in) != 0 || in.published < 50); i++)
		usleep(20000);
	cr_expect_eq(in.published, 50, "%s", bt_slurp(sc.recv_log));
	cr_expect_eq(in.ring_size, 64u << 10);
	cr_expect_eq(in.max_msg, 100);
	cr_expect_eq(in.policy, PSHM_TOPIC_LOSSY);
	cr_expect_eq(in.history, 20);
	cr_expect_eq(in.max_subscribers, 9);
	pshm_topic_close(p);
	cr_expect_eq(bt_stop(s), 0);
	cr_expect_eq(bt_stop(r), 0);
	pshm_topic_unlink(b);
	bt_ipc_done(b, sock, sc.send_log, sc.recv_log);
}

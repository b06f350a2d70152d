/* SPDX-License-Identifier: MIT */
/*
 * test_bridge.c — `pshm bridge` between two "hosts" (bridge_helpers.h):
 * host A produces into its channel /a and runs `bridge send`; host B runs
 * `bridge recv` into /b and consumes. Every message is its number; host B
 * checks that the numbers only grow (in order, nothing twice), and the
 * test that what is missing is exactly what both ends counted lost.
 * Then --create (a channel like the sender's), a channel truncated under
 * the sender, and the command's refusals: another user's segments, URLs
 * beyond loopback, bad options.
 */
#include <criterion/criterion.h>

#include <sys/mman.h>

#include "bridge_helpers.h"
#include "test_chan.h" /* the channel header's layout */

TestSuite(bridge, TH_FIXTURE, .timeout = 180);

/* One scenario, set before the hosts fork. */
static struct {
	unsigned n;         /* messages */
	bool kill_send;     /* kill -9 host A's bridge a third of the way, restart it */
	bool kill_recv;     /* kill -9 host B's bridge half way, restart it */
	bool full;          /* B consumes only once A's producer was held back */
	size_t ring;        /* both channels' ring */
	int port_pipe[2];   /* B -> A: the port */
	int done_pipe[2];   /* test -> A: B has everything */
	int held_pipe[2];   /* A -> test: the producer was held back (full) */
	int go_pipe[2];     /* test -> B: start consuming (full) */
	int count_pipe[2];  /* B -> test: messages received */
	char send_log[96], recv_log[96];
} sc;

static int host_a(void *arg)
{
	(void)arg;
	char url[64], win[16] = "32M";
	struct pshm_chan_config cfg = { .ring_size = sc.ring };
	pshm_chan *ch;
	if (pshm_chan_create("/a", &cfg, 0, 0) < 0 || pshm_chan_open("/a", PSHM_PRODUCER, 0, &ch))
		return 10;
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", bt_get(sc.port_pipe[0]));
	if (sc.full)
		snprintf(win, sizeof(win), "%zu", sc.ring);
	pid_t br = bt_bridge(sc.send_log, "send", "/a", url, "--window", win, NULL);
	bool held = false;
	for (unsigned i = 1; i <= sc.n; i++) {
		char m[16];
		int len = snprintf(m, sizeof(m), "%u", i);
		if (sc.kill_send && i == sc.n / 3) {
			kill(br, SIGKILL);
			bt_reap(br);
			br = bt_bridge(sc.send_log, "send", "/a", url, "--window", win, NULL);
		}
		if (sc.full && !held) {
			int r = pshm_chan_send(ch, m, (size_t)len, 0);
			if (r == 0)
				continue;
			if (r != -EAGAIN)
				return 13;
			held = true; /* the remote channel is full: this side waits */
			bt_put(sc.held_pipe[1], 1);
		}
		if (bt_send(ch, m, (size_t)len) < 0)
			return 11;
	}
	if (sc.full && !held)
		bt_put(sc.held_pipe[1], 0);
	bt_get(sc.done_pipe[0]);
	pshm_chan_close(ch);
	return bt_stop(br) == 0 ? 0 : 12;
}

/* Receive until message n; every number larger than the last. */
static int consume(pshm_chan *ch, int port, pid_t *br, unsigned *got)
{
	unsigned last = 0, gone = 0;
	char url[64], m[32];
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
	while (last < sc.n) {
		ssize_t len = pshm_chan_recv(ch, m, sizeof(m) - 1, 30 * BT_NS_PER_S);
		if (len == -EPIPE && ++gone < 3000) {
			usleep(10000); /* the bridge end is being restarted */
			continue;
		}
		if (len < 0)
			return 20;
		gone = 0;
		m[len] = '\0';
		unsigned v = (unsigned)strtoul(m, NULL, 10);
		if (v <= last)
			return 21; /* duplicated or out of order */
		last = v;
		if (++*got == sc.n / 2 && sc.kill_recv) {
			kill(*br, SIGKILL);
			bt_reap(*br);
			*br = bt_bridge(sc.recv_log, "recv", url, "/b", NULL);
		}
	}
	return 0;
}

static int host_b(void *arg)
{
	(void)arg;
	struct pshm_chan_config cfg = { .ring_size = sc.ring };
	if (sc.full && pshm_chan_create("/b", &cfg, 0, 0) < 0)
		return 30;
	pid_t br = bt_bridge(sc.recv_log, "recv", "tcp://127.0.0.1:0", "/b", "--create", NULL);
	int port = bt_port(sc.recv_log);
	if (port <= 0)
		return 31;
	bt_put(sc.port_pipe[1], port);
	pshm_chan *ch = bt_consumer("/b");
	if (!ch)
		return 32;
	if (sc.full)
		bt_get(sc.go_pipe[0]);
	unsigned got = 0;
	int r = consume(ch, port, &br, &got);
	bt_put(sc.count_pipe[1], (int)got);
	pshm_chan_close(ch);
	int st = bt_stop(br);
	return r ? r : st ? 33 : 0;
}

/* Runs the scenario; returns how many messages went missing (each counted
 * lost by both ends). */
static unsigned long long scenario(unsigned n, size_t ring)
{
	const char *why;
	if (!bt_usable(&why))
		th_skip("%s", why);
	sc.n = n;
	sc.ring = ring;
	bt_logs(sc.send_log, sc.recv_log, sizeof(sc.send_log), "");
	cr_assert(pipe(sc.port_pipe) == 0 && pipe(sc.done_pipe) == 0 && pipe(sc.held_pipe) == 0 &&
		  pipe(sc.go_pipe) == 0 && pipe(sc.count_pipe) == 0);
	pid_t b = bt_host(host_b, NULL), a = bt_host(host_a, NULL);
	if (sc.full) {
		cr_expect_eq(bt_get(sc.held_pipe[0]), 1, "host A's producer was never held back");
		bt_put(sc.go_pipe[1], 1);
	}
	int rb = bt_reap(b);
	bt_put(sc.done_pipe[1], 1);
	int ra = bt_reap(a);
	int got = bt_get(sc.count_pipe[0]);
	return bt_settle(rb, ra, n, got, sc.send_log, sc.recv_log);
}

Test(bridge, lines_arrive_in_order_on_the_other_host)
{
	cr_expect_eq(scenario(100000, 1 << 20), 0);
}

Test(bridge, killed_sender_restarts_without_silent_loss)
{
#if defined(__SANITIZE_ADDRESS__)
	/* Known: once, under ASan on a loaded 2-CPU machine, this scenario
	 * ran past its 180 s; the cause is not found yet (pshm(1), BUGS).
	 * It runs in every plain and clang build. */
	th_skip("killed-sender scenario not run under AddressSanitizer (see BUGS in pshm(1))");
#endif
	sc.kill_send = true;
	scenario(100000, 64 << 10); /* a small ring: the restart comes mid-stream */
}

Test(bridge, killed_receiver_restarts_without_loss_or_duplicate)
{
	sc.kill_recv = true;
	cr_expect_eq(scenario(100000, 64 << 10), 0);
}

Test(bridge, both_ends_killed_and_restarted)
{
	sc.kill_send = sc.kill_recv = true;
	scenario(60000, 64 << 10);
}

Test(bridge, full_remote_channel_holds_the_producer_back_without_loss)
{
	sc.full = true;
	cr_expect_eq(scenario(50000, 64 << 10), 0);
}

/* ---- --create ----------------------------------------------------------- */

/* On one host, over ipc://: `bridge recv --create` makes the channel like
 * the sender's (MPSC, its producer slots, ring and largest message), and
 * the messages arrive there. */
Test(bridge, create_makes_the_channel_like_the_senders_mpsc_too)
{
	if (!bt_have_nng())
		th_skip("pshm was built without NNG: no bridge");
	const char *a = th_name("a"), *b = th_name("b");
	struct pshm_chan_config cfg = { .ring_size = 64 << 10, .max_msg = 200,
					.mode = PSHM_CHAN_MPSC, .max_producers = 5 };
	cr_assert_eq(pshm_chan_create(a, &cfg, 0, 0), 0);
	char url[128], sock[96], log[96], rlog[96];
	bt_ipc_url(url, sizeof(url), sock, sizeof(sock));
	bt_logs(log, rlog, sizeof(log), "mpsc");
	pid_t r = bt_bridge(rlog, "recv", url, b, "--create", NULL);
	cr_assert(bt_wait_log(rlog, "listening on ipc://"), "%s", bt_slurp(rlog));
	pid_t s = bt_bridge(log, "send", a, url, NULL);
	pshm_chan *p;
	cr_assert_eq(pshm_chan_open(a, PSHM_PRODUCER, 0, &p), 0);
	for (int i = 0; i < 50; i++)
		cr_assert_eq(bt_send(p, "message", 7), 0, "%s", bt_slurp(log));
	pshm_chan *c = bt_consumer(b);
	cr_assert_not_null(c, "%s", bt_slurp(rlog));
	char m[256];
	for (int i = 0; i < 50; i++)
		cr_assert_eq(pshm_chan_recv(c, m, sizeof(m), 20 * BT_NS_PER_S), 7);
	static struct pshm_chan_info in;
	cr_assert_eq(pshm_chan_stat(b, &in), 0);
	cr_expect_eq(in.mode, PSHM_CHAN_MPSC);
	cr_expect_eq(in.max_producers, 5);
	cr_expect_eq(in.ring_size, 64u << 10);
	cr_expect_eq(in.max_msg, 200);
	pshm_chan_close(c);
	pshm_chan_close(p);
	cr_expect_eq(bt_stop(s), 0);
	cr_expect_eq(bt_stop(r), 0);
	pshm_chan_unlink(b);
	pshm_chan_unlink(a);
	bt_ipc_done(b, sock, log, rlog);
}

/* ---- a channel truncated under the sender ------------------------------ */

/* One host: /a -> bridge send -> bridge recv -> /b. With the sender
 * stopped, a 1 MiB message goes into the fresh /a, and /a is truncated
 * one page into that message's payload: the record's header stays, so the
 * sender's peek succeeds and only its copy of the payload (under the
 * SIGBUS guard) meets the missing pages. It must end with an error that
 * says so, not be killed. 0, or the step that failed. */
static int host_truncated(void *arg)
{
	const char *log = arg;
	const size_t big = 1 << 20;
	struct pshm_chan_config cfg = { .ring_size = 8 << 20, .max_msg = big };
	pshm_chan *p;
	if (pshm_chan_create("/a", &cfg, 0, 0) < 0 || pshm_chan_open("/a", PSHM_PRODUCER, 0, &p))
		return 40;
	pid_t rb = bt_bridge(sc.recv_log, "recv", "tcp://127.0.0.1:0", "/b", "--create", NULL);
	int port = bt_port(sc.recv_log);
	char url[64];
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
	pid_t sb = bt_bridge(log, "send", "/a", url, NULL);
	if (port <= 0 || !bt_wait_log(log, "connected to"))
		return 41;
	usleep(300000); /* welcomed, and waiting for a message */
	kill(sb, SIGSTOP);
	char *m = calloc(1, big);
	if (!m || pshm_chan_send(p, m, big, 0) < 0)
		return 42;
	free(m);
	size_t size;
	void *h = th_map_raw("/a", &size);
	uint32_t ring_off = *cl_u32(h, CL_RING_OFF);
	munmap(h, size);
	if (truncate("/dev/shm/a", (off_t)ring_off + 4096) < 0)
		return 43;
	kill(sb, SIGCONT);
	int st = -1;
	for (int i = 0; i < 1000 && st < 0; i++) {
		if (waitpid(sb, &st, WNOHANG) == 0) {
			st = -1;
			usleep(20000);
		}
	}
	pshm_chan_close(p);
	bt_stop(rb);
	if (st < 0) {
		bt_stop(sb);
		return 45; /* still running */
	}
	if (WIFSIGNALED(st))
		return 60 + WTERMSIG(st);
	return WEXITSTATUS(st) == 1 ? 0 : 46;
}

Test(bridge, channel_truncated_under_the_sender_is_an_error_not_sigbus)
{
	const char *why;
	if (!bt_usable(&why))
		th_skip("%s", why);
	char log[96];
	bt_logs(log, sc.recv_log, sizeof(log), "trunc");
	int r = bt_reap(bt_host(host_truncated, log));
	char *s = bt_slurp(log);
	cr_expect_eq(r, 0, "host: %d (60 + a signal: the sender was killed)\n%s", r, s);
	cr_expect(strstr(s, "truncated") != NULL, "the sender says why it stopped:\n%s", s);
	free(s);
	if (!getenv("PSHM_TEST_KEEP_LOGS")) {
		unlink(log);
		unlink(sc.recv_log);
	}
}

/* ---- the command's refusals (nothing is opened: no host needed) ------- */

static void refused(int want, const char *args, const char *says)
{
	char *o = NULL, *e = NULL;
	int r = th_pshm(NULL, &o, &e, "bridge %s", args);
	cr_expect_eq(r, want, "pshm bridge %s: status %d, said: %s", args, r, e);
	cr_expect(strstr(e, says) != NULL, "pshm bridge %s said: %s", args, e);
	free(o);
	free(e);
}

/* Another user's bridge end gets what the library gives that user: root's
 * private channel and topic are refused, before any connection is made,
 * with the reason and exit status 1. */
Test(bridge, another_users_private_channel_or_topic_is_refused)
{
	if (!bt_have_nng())
		th_skip("pshm was built without NNG: no bridge");
	if (!th_is_root() || th_run("command -v setpriv && id nobody", NULL, NULL, NULL) != 0)
		th_skip("needs root, setpriv and a 'nobody' user");
	const char *c = th_name("nobody-c"), *t = th_name("nobody-t");
	cr_assert_eq(pshm_chan_create(c, NULL, 0, 0), 0);
	cr_assert_eq(pshm_topic_create(t, NULL, 0, 0), 0);
	char bin[300], cmd[1024];
	th_public_copy(PSHM_BIN, bin, sizeof(bin));
	const char *fmt[] = { "%s bridge send %s tcp://127.0.0.1:1",
			      "%s bridge recv tcp://127.0.0.1:0 %s" };
	const char *names[] = { c, t };
	for (int i = 0; i < 4; i++) {
		char args[512];
		snprintf(args, sizeof(args), fmt[i % 2], bin, names[i / 2]);
		snprintf(cmd, sizeof(cmd),
			 "setpriv --reuid=nobody --regid=$(id -g nobody) --clear-groups timeout 20 %s",
			 args);
		char *o = NULL, *e = NULL;
		cr_expect_eq(th_run(cmd, NULL, &o, &e), 1, "%s: %s", args, e);
		cr_expect(strstr(e, "Permission denied"), "%s: %s", args, e);
		free(o);
		free(e);
	}
	th_public_remove(bin);
	cr_expect(th_exists(c) && th_exists(t));
}

Test(bridge, listens_on_loopback_unless_told_otherwise)
{
	const char *why;
	if (!bt_usable(&why))
		th_skip("%s", why);
	refused(1, "recv tcp://0.0.0.0:0 /x", "refusing to listen beyond loopback");
	refused(1, "recv tcp://10.1.2.3:0 /x", "refusing to listen beyond loopback");
	refused(1, "recv tcp://:0 /x", "refusing to listen beyond loopback");
	refused(1, "recv tcp://[::]:0 /x", "--listen-any");
}

Test(bridge, bad_urls_verbs_and_tls_options_are_refused)
{
	const char *why;
	if (!bt_usable(&why))
		th_skip("%s", why);
	refused(1, "recv http://127.0.0.1:80 /x", "not a URL the bridge takes");
	refused(1, "recv tcp://127.0.0.1 /x", "not a URL the bridge takes");
	refused(1, "recv tls+tcp://127.0.0.1:0 /x", "needs --tls-cert and --tls-key");
	refused(2, "frob", "unknown verb 'frob'");
	refused(2, "recv tcp://127.0.0.1:0", "missing URL and channel name");
	refused(2, "send /x tcp://127.0.0.1:1 --window 1", "bad --window");
}

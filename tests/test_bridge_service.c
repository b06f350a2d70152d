/* SPDX-License-Identifier: MIT */
/*
 * test_bridge_service.c — `pshm bridge send|recv` for a service: calls on
 * the service /A (the clients' side) are served by the servers of /B (the
 * other side), through the two bridge ends over loopback TCP. Both
 * services live in this /dev/shm under different names: only the bridge
 * joins them. What is shown: replies reach their callers, many in flight
 * and matched by id; a connection that closes with a request out fails
 * that request (at most once, never a hang); failures on the far side come
 * back as failures; a channel on the far side is refused.
 */
#include <criterion/criterion.h>
#include <pthread.h>

#include "bridge_helpers.h"
#include "service_helpers.h"

TestSuite(bridge_service, TH_FIXTURE, .timeout = 120);

struct ends {
	const char *a, *b;
	char send_log[96], recv_log[96];
	pid_t send, recv;
};

static void skip_unless_nng(void)
{
	if (!bt_have_nng())
		th_skip("pshm was built without NNG: no bridge");
}

/* /A and /B (with @cfg_b), and the two ends between them. */
static void start(struct ends *x, const struct pshm_service_config *cfg_b)
{
	skip_unless_nng();
	x->a = mksvc("A", NULL);
	x->b = mksvc("B", cfg_b);
	bt_logs(x->send_log, x->recv_log, sizeof(x->send_log), "svc");
	x->recv = bt_bridge(x->recv_log, "recv", "tcp://127.0.0.1:0", x->b, NULL);
	int port = bt_port(x->recv_log);
	cr_assert_gt(port, 0, "the receiving end did not listen:\n%s", bt_slurp(x->recv_log));
	char url[64];
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
	x->send = bt_bridge(x->send_log, "send", x->a, url, NULL);
}

static void stop(struct ends *x)
{
	if (x->send > 0)
		cr_expect_eq(bt_stop(x->send), 0, "send:\n%s", bt_slurp(x->send_log));
	if (x->recv > 0)
		cr_expect_eq(bt_stop(x->recv), 0, "recv:\n%s", bt_slurp(x->recv_log));
	unlink(x->send_log);
	unlink(x->recv_log);
}

struct srv {
	pthread_t t;
	const char *name;
	int served;
};

static void *serve(void *arg)
{
	struct srv *v = arg;
	pshm_service *s = svc_open(v->name, PSHM_SERVER);
	v->served = echo_serve(s, 1 << 30, '!', 20000 * MS);
	pshm_service_close(s);
	return NULL;
}

Test(bridge_service, calls_are_answered_by_the_far_sides_servers)
{
	struct ends x;
	start(&x, NULL);
	struct srv v = { .name = x.b };
	cr_assert_eq(pthread_create(&v.t, NULL, serve, &v), 0);
	pshm_service *c = svc_open(x.a, PSHM_CLIENT);
	for (int i = 0; i < 300; i++) {
		char req[32], want[48], got[64];
		int len = snprintf(req, sizeof(req), "call %d", i);
		snprintf(want, sizeof(want), "re:%s!", req);
		ssize_t r = pshm_service_call(c, req, (size_t)len, got, sizeof(got), 20000 * MS);
		cr_assert_eq(r, (ssize_t)strlen(want), "call %d: %s", i, pshm_strerror((int)r));
		cr_assert_eq(memcmp(got, want, (size_t)r), 0);
	}
	/* Many in flight, each reply matched to its request by id. */
	uint64_t ids[16];
	char reqs[16][16];
	for (int i = 0; i < 16; i++) {
		int len = snprintf(reqs[i], sizeof(reqs[i]), "async %d", i);
		cr_assert_eq(pshm_service_send(c, reqs[i], (size_t)len, &ids[i]), 0);
	}
	for (int k = 0; k < 16; k++) {
		uint64_t id = 0;
		char got[64];
		ssize_t r = pshm_service_collect(c, &id, got, sizeof(got) - 1, 20000 * MS);
		cr_assert_gt(r, 0, "%s", pshm_strerror((int)r));
		got[r] = 0;
		int i = 0;
		while (i < 16 && ids[i] != id)
			i++;
		cr_assert_lt(i, 16, "an id we sent");
		cr_expect_eq(strncmp(got + 3, reqs[i], strlen(reqs[i])), 0, "%s for %s", got,
			     reqs[i]);
	}
	char r[16];
	pshm_service_call(c, "quit", 4, r, sizeof(r), 20000 * MS);
	pthread_join(v.t, NULL);
	cr_expect_eq(v.served, 300 + 16 + 1, "each call served once");
	pshm_service_close(c);
	stop(&x);
}

Test(bridge_service, far_side_failures_come_back_as_failures)
{
	struct pshm_service_config small = { .max_request = 16 };
	struct ends x;
	start(&x, &small);
	pshm_service *c = svc_open(x.a, PSHM_CLIENT), *s = svc_open(x.b, PSHM_SERVER);
	char got[256], big[100] = { 0 };
	/* Larger than /B takes: refused there, not sent on. */
	cr_expect_eq(pshm_service_call(c, big, sizeof(big), got, sizeof(got), 20000 * MS),
		     -EREMOTEIO);
	cr_expect(strstr(got, "larger than") != NULL, "%s", got);
	/* A server's own failure, its text intact. */
	uint64_t id;
	struct pshm_service_req rq;
	char b[16];
	cr_assert_eq(pshm_service_send(c, "q", 1, &id), 0);
	cr_assert_eq(pshm_service_recv(s, b, sizeof(b), &rq, 20000 * MS), 1);
	cr_assert_eq(pshm_service_fail(s, rq.id, "no such thing"), 0);
	cr_expect_eq(pshm_service_collect(c, &id, got, sizeof(got), 20000 * MS), -EREMOTEIO);
	cr_expect_str_eq(got, "no such thing");
	/* /B's only server leaves with a request taken: -EPIPE there, a
	 * failure here. */
	cr_assert_eq(pshm_service_send(c, "r", 1, &id), 0);
	cr_assert_eq(pshm_service_recv(s, b, sizeof(b), &rq, 20000 * MS), 1);
	pshm_service_close(s);
	cr_expect_eq(pshm_service_collect(c, &id, got, sizeof(got), 20000 * MS), -EREMOTEIO);
	cr_expect(strstr(got, "no server") != NULL, "%s", got);
	pshm_service_close(c);
	stop(&x);
}

Test(bridge_service, a_closed_connection_fails_the_requests_out_once)
{
	struct ends x;
	start(&x, NULL);
	pshm_service *c = svc_open(x.a, PSHM_CLIENT), *s = svc_open(x.b, PSHM_SERVER);
	uint64_t id;
	struct pshm_service_req rq;
	char b[16], got[256];
	cr_assert_eq(pshm_service_send(c, "slow", 4, &id), 0);
	cr_assert_eq(pshm_service_recv(s, b, sizeof(b), &rq, 20000 * MS), 4, "taken over there");
	kill(x.recv, SIGKILL);
	bt_reap(x.recv);
	x.recv = -1;
	cr_expect_eq(pshm_service_collect(c, &id, got, sizeof(got), 20000 * MS), -EREMOTEIO,
		     "failed, not hung");
	cr_expect(strstr(got, "may or may not have been served") != NULL, "%s", got);
	/* The late answer there (its client, the killed end, is gone) goes
	 * nowhere here; nothing is delivered twice. */
	int late = pshm_service_reply(s, rq.id, "late", 4);
	cr_expect(late == 0 || late == -ECANCELED, "%s", pshm_strerror(late));
	cr_expect_eq(pshm_service_collect(c, &id, got, sizeof(got), 0), -ENOMSG);
	pshm_service_close(s);
	pshm_service_close(c);
	char *sl = bt_slurp(x.send_log);
	cr_expect(strstr(sl, "1 requests were out") != NULL, "%s", sl);
	free(sl);
	stop(&x);
}

Test(bridge_service, a_channel_on_the_far_side_is_refused)
{
	skip_unless_nng();
	const char *a = mksvc("A", NULL), *b = th_name("B");
	cr_assert_eq(pshm_chan_create(b, NULL, 0, 0), 0);
	struct ends x = { .a = a, .b = b };
	bt_logs(x.send_log, x.recv_log, sizeof(x.send_log), "svcchan");
	pid_t r = bt_bridge(x.recv_log, "recv", "tcp://127.0.0.1:0", b, NULL);
	int port = bt_port(x.recv_log);
	cr_assert_gt(port, 0);
	char url[64];
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
	pid_t s = bt_bridge(x.send_log, "send", a, url, NULL);
	cr_expect_eq(bt_reap(s), 1, "the sending end gives up (EXIT_FAIL)");
	char *sl = bt_slurp(x.send_log);
	cr_expect(strstr(sl, "the sender's is a service") != NULL, "%s", sl);
	free(sl);
	cr_expect_eq(bt_stop(r), 0);
	char box[PSHM_NAME_MAX + 16];
	snprintf(box, sizeof(box), "%s.bridge", b); /* the channel end's resume point */
	pshm_box_unlink(box);
	unlink(x.send_log);
	unlink(x.recv_log);
}

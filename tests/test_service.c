/* SPDX-License-Identifier: MIT */
/*
 * test_service.c — services: the API's contract and its error codes:
 * creating, attaching, calls, many requests in flight, a pool of servers,
 * given-up requests and late replies, servers that go away, names, kinds
 * and permissions. Hostile segments are in test_service_hostile.c, kill -9
 * rounds in test_service_crash.c.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "service_helpers.h"
#include "stress.h"

TestSuite(service, TH_FIXTURE, .timeout = 180);

/* ---- servers in threads ------------------------------------------------- */

struct srv_thread {
	pthread_t t;
	const char *name;
	char tag;
	int served;
};

static void *srv_main(void *arg)
{
	struct srv_thread *st = arg;
	pshm_service *s = NULL;
	if (pshm_service_open(st->name, PSHM_SERVER, 0, &s) == 0) {
		st->served = echo_serve(s, 1 << 30, st->tag, 20000 * MS);
		pshm_service_close(s);
	}
	return NULL;
}

static void srv_start(struct srv_thread *st, const char *n, char tag)
{
	*st = (struct srv_thread){ .name = n, .tag = tag };
	cr_assert_eq(pthread_create(&st->t, NULL, srv_main, st), 0);
}

/* Stop the servers with one "quit" each, then join them. */
static void srv_stop(struct srv_thread *st, int n)
{
	pshm_service *c = svc_open(st[0].name, PSHM_CLIENT);
	char r[64];
	for (int i = 0; i < n; i++)
		pshm_service_call(c, "quit", 4, r, sizeof(r), 20000 * MS);
	pshm_service_close(c);
	for (int i = 0; i < n; i++)
		pthread_join(st[i].t, NULL);
}

/* ---- creating ----------------------------------------------------------- */

Test(service, create_defaults_then_stat)
{
	const char *n = mksvc("defaults", NULL);
	struct pshm_stat st;
	cr_assert_eq(pshm_seg_stat(n, &st), 0);
	cr_expect_eq(st.kind, PSHM_KIND_SERVICE);
	cr_expect_eq(st.mode & 0777, 0600);
	struct pshm_service_info in;
	cr_assert_eq(pshm_service_stat(n, &in), 0);
	cr_expect_eq(in.max_request, 4096);
	cr_expect_eq(in.max_reply, 4096);
	cr_expect_eq(in.max_clients, 64);
	cr_expect_eq(in.max_servers, 8);
	cr_expect_eq(in.max_inflight, 16);
	cr_expect_eq(in.servers + in.clients + in.queued + in.late_dropped, 0);
	cr_expect_eq(pshm_service_create(n, NULL, 0, 0), -EEXIST);
	cr_expect_eq(pshm_service_create(n, NULL, 0, PSHM_OPEN_EXISTING), 0);
}

Test(service, create_refuses_bad_configs)
{
	struct pshm_service_config bad[] = {
		{ .max_request = PSHM_SERVICE_MSG_MAX + 1 },
		{ .max_reply = PSHM_SERVICE_MSG_MAX + 1 },
		{ .max_clients = PSHM_SERVICE_MAX_CLIENTS + 1 },
		{ .max_servers = PSHM_SERVICE_MAX_SERVERS + 1 },
		{ .max_inflight = PSHM_SERVICE_MAX_INFLIGHT + 1 },
	};
	const char *n = th_name("bad");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(pshm_service_create(n, &bad[i], 0, 0), -EINVAL, "config %zu", i);
	cr_expect_eq(pshm_service_create(n, NULL, 010000, 0), -EINVAL);
	cr_expect_eq(pshm_service_create(n, NULL, 0, 1u << 20), -EINVAL);
	cr_expect_not(th_exists(n));
}

Test(service, bad_names_missing_and_wrong_kind)
{
	pshm_service *s = (pshm_service *)1;
	const char *bad[] = { "", "/", "a/b", ".", "..", NULL };
	for (int i = 0; bad[i]; i++) {
		cr_expect_eq(pshm_service_create(bad[i], NULL, 0, 0), -EINVAL, "'%s'", bad[i]);
		cr_expect_eq(pshm_service_open(bad[i], PSHM_CLIENT, 0, &s), -EINVAL);
	}
	cr_expect_null(s, "*out cleared on failure");
	const char *n = th_name("missing");
	struct pshm_service_info in;
	char r[8];
	cr_expect_eq(pshm_service_open(n, PSHM_SERVER, 0, &s), -ENOENT);
	cr_expect_eq(pshm_service_stat(n, &in), -ENOENT);
	cr_expect_eq(pshm_service_unlink(n), -ENOENT);
	cr_expect_eq(pshm_service_call_name(n, 0, "x", 1, r, sizeof(r), 0), -ENOENT);
	const char *c = th_name("chan");
	cr_assert_eq(pshm_chan_create(c, NULL, 0, 0), 0);
	cr_expect_eq(pshm_service_open(c, PSHM_CLIENT, 0, &s), -EPROTO);
	cr_expect_eq(pshm_service_stat(c, &in), -EPROTO);
	cr_expect_eq(pshm_service_unlink(c), -EPROTO);
	cr_expect_eq(pshm_service_create(c, NULL, 0, PSHM_OPEN_EXISTING), -EPROTO);
	cr_expect(th_exists(c), "a channel is not removed as a service");
	const char *v = mksvc("wrongrole", NULL);
	cr_expect_eq(pshm_service_open(v, PSHM_PRODUCER, 0, &s), -EINVAL);
	cr_expect_eq(pshm_chan_open(v, PSHM_CONSUMER, 0, &(pshm_chan *){ 0 }), -EPROTO);
	cr_expect_eq(pshm_service_unlink(v), 0);
	cr_expect_not(th_exists(v));
}

static const char *nobody_name;

static int open_as_nobody(void *arg)
{
	(void)arg;
	pshm_service *s;
	int r = pshm_service_open(nobody_name, PSHM_CLIENT, 0, &s);
	return r == -EACCES ? 0 : 1;
}

Test(service, another_user_cannot_attach, .timeout = 30)
{
	if (!th_is_root())
		th_skip("needs root to become nobody");
	nobody_name = mksvc("nobody", NULL);
	cr_expect_eq(th_as_nobody(open_as_nobody, NULL), 0);
}

Test(service, a_role_slot_table_full_is_eusers)
{
	struct pshm_service_config c = { .max_servers = 1, .max_clients = 2 };
	const char *n = mksvc("eusers", &c);
	pshm_service *s1 = svc_open(n, PSHM_SERVER), *s2, *c1, *c2, *c3;
	cr_expect_eq(pshm_service_open(n, PSHM_SERVER, 0, &s2), -EUSERS);
	c1 = svc_open(n, PSHM_CLIENT);
	c2 = svc_open(n, PSHM_CLIENT);
	cr_expect_eq(pshm_service_open(n, PSHM_CLIENT, 0, &c3), -EUSERS);
	pshm_service_close(c1);
	c3 = svc_open(n, PSHM_CLIENT);
	struct pshm_service_info in;
	cr_assert_eq(pshm_service_stat(n, &in), 0);
	cr_expect_eq(in.servers, 1);
	cr_expect_eq(in.clients, 2);
	cr_expect_eq(in.server_attaches, 1);
	cr_expect_eq(in.client_attaches, 3);
	pshm_service_close(c2);
	pshm_service_close(c3);
	pshm_service_close(s1);
	pshm_service_close(NULL);
}

/* ---- calls -------------------------------------------------------------- */

Test(service, call_round_trip)
{
	const char *n = mksvc("call", NULL);
	struct srv_thread st;
	srv_start(&st, n, '!');
	pshm_service *c = svc_open(n, PSHM_CLIENT);
	for (int i = 0; i < 1000; i++) {
		char req[32], want[40], got[64];
		int len = snprintf(req, sizeof(req), "hello %d", i);
		snprintf(want, sizeof(want), "re:%s!", req);
		ssize_t r = pshm_service_call(c, req, (size_t)len, got, sizeof(got), 20000 * MS);
		cr_assert_eq(r, (ssize_t)strlen(want), "call %d: %zd %s", i, r, pshm_strerror((int)r));
		cr_assert_eq(memcmp(got, want, (size_t)r), 0);
	}
	cr_expect_eq(pshm_service_call(c, "", 0, NULL, 0, 20000 * MS), -EMSGSIZE,
		     "the reply does not fit in nothing");
	pshm_service_close(c);
	char got[16];
	cr_expect_eq(pshm_service_call_name(n, 0, "x", 1, got, sizeof(got), 20000 * MS), 5);
	srv_stop(&st, 1);
	struct pshm_service_info in;
	cr_assert_eq(pshm_service_stat(n, &in), 0);
	cr_expect_eq(in.requests, 1003);
	cr_expect_eq(in.queued + in.in_progress + in.answered, 0);
}

Test(service, many_requests_in_flight_are_matched_by_id)
{
	struct pshm_service_config cfg = { .max_inflight = 64 };
	const char *n = mksvc("async", &cfg);
	struct srv_thread st[2];
	srv_start(&st[0], n, 'a');
	srv_start(&st[1], n, 'b');
	pshm_service *c = svc_open(n, PSHM_CLIENT);
	for (int round = 0; round < 50; round++) {
		uint64_t ids[64];
		char req[64][16];
		for (int i = 0; i < 64; i++) {
			int len = snprintf(req[i], sizeof(req[i]), "r%d.%d", round, i);
			cr_assert_eq(pshm_service_send(c, req[i], (size_t)len, &ids[i]), 0);
		}
		uint64_t extra;
		cr_expect_eq(pshm_service_send(c, "x", 1, &extra), -ENOBUFS);
		/* The middle one by its id, then the rest in any order. */
		uint64_t id = ids[32];
		char got[64];
		ssize_t r = pshm_service_collect(c, &id, got, sizeof(got), 20000 * MS);
		cr_assert_gt(r, 0);
		cr_assert_eq(id, ids[32]);
		cr_assert_eq(strncmp(got + 3, req[32], strlen(req[32])), 0);
		int seen[64] = { 0 };
		seen[32] = 1;
		for (int k = 0; k < 63; k++) {
			id = 0;
			r = pshm_service_collect(c, &id, got, sizeof(got) - 1, 20000 * MS);
			cr_assert_gt(r, 0, "%s", pshm_strerror((int)r));
			got[r] = 0;
			int i = 0;
			while (i < 64 && ids[i] != id)
				i++;
			cr_assert_lt(i, 64, "an id we sent");
			cr_assert_eq(seen[i]++, 0, "each once");
			cr_assert_eq((size_t)r, strlen(req[i]) + 4);
			cr_assert_eq(strncmp(got + 3, req[i], strlen(req[i])), 0, "%s for %s", got,
				     req[i]);
		}
		id = 0;
		cr_assert_eq(pshm_service_collect(c, &id, got, sizeof(got), 0), -ENOMSG);
	}
	pshm_service_close(c);
	srv_stop(st, 2);
	cr_expect_gt(st[0].served + st[1].served, 50 * 64);
}

/* A client in a child process: @calls calls carrying its pid; exits 0 if
 * every reply was its own. */
static int client_child(const char *n, int calls)
{
	pshm_service *c;
	if (pshm_service_open(n, PSHM_CLIENT, 0, &c) < 0)
		return 2;
	for (int i = 0; i < calls; i++) {
		char req[48], got[64];
		int len = snprintf(req, sizeof(req), "%d:%d", (int)getpid(), i);
		ssize_t r = pshm_service_call(c, req, (size_t)len, got, sizeof(got), 20000 * MS);
		if (r != len + 4 || memcmp(got + 3, req, (size_t)len))
			return 3;
	}
	pshm_service_close(c);
	return 0;
}

Test(service, clients_never_see_each_others_replies)
{
	const char *n = mksvc("two", NULL);
	/* The clients are forked before the server threads start: a child
	 * of a process with threads inherits whatever lock one of them held
	 * (under ASan, its allocator's), and its first malloc can wait for
	 * ever. A call waits for a server to come. */
	pid_t kids[4];
	for (int i = 0; i < 4; i++) {
		kids[i] = fork();
		if (kids[i] == 0)
			_exit(client_child(n, 2000));
	}
	struct srv_thread st[3];
	for (int i = 0; i < 3; i++)
		srv_start(&st[i], n, (char)('x' + i));
	for (int i = 0; i < 4; i++) {
		int ws;
		cr_assert_eq(waitpid(kids[i], &ws, 0), kids[i]);
		cr_expect(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "client %d: %d", i, ws);
	}
	srv_stop(st, 3);
	cr_expect_eq(st[0].served + st[1].served + st[2].served, 4 * 2000 + 3, "each request once");
}

Test(service, an_error_reply_is_eremoteio)
{
	const char *n = mksvc("fail", NULL);
	pshm_service *s = svc_open(n, PSHM_SERVER), *c = svc_open(n, PSHM_CLIENT);
	uint64_t id;
	cr_assert_eq(pshm_service_send(c, "q", 1, &id), 0);
	char buf[16];
	struct pshm_service_req rq;
	cr_assert_eq(pshm_service_recv(s, buf, 0, &rq, 0), -EMSGSIZE, "left queued");
	cr_assert_eq(pshm_service_recv(s, buf, sizeof(buf), &rq, 0), 1);
	cr_expect_eq(rq.id, id, "client and server see the same id");
	cr_expect_eq(rq.pid, getpid());
	cr_expect_eq(pshm_service_fail(s, rq.id, "no such thing"), 0);
	cr_expect_eq(pshm_service_fail(s, rq.id, "twice"), -ESRCH);
	char got[8];
	cr_expect_eq(pshm_service_collect(c, &id, got, sizeof(got), 1000 * MS), -EREMOTEIO);
	cr_expect_str_eq(got, "no such", "truncated, NUL-terminated");
	cr_expect_eq(pshm_service_recv(s, buf, sizeof(buf), &rq, 0), -EAGAIN);
	cr_expect_eq(pshm_service_recv(s, buf, sizeof(buf), &rq, 30 * MS), -ETIMEDOUT);
	char big[5000] = { 0 };
	cr_expect_eq(pshm_service_send(c, big, sizeof(big), &id), -EMSGSIZE);
	cr_expect_eq(pshm_service_reply(s, UINT64_C(0x7fff000500000001), "x", 1), -ESRCH);
	pshm_service_close(c);
	pshm_service_close(s);
}

Test(service, wrong_role_and_null_arguments_are_einval)
{
	const char *n = mksvc("role", NULL);
	pshm_service *s = svc_open(n, PSHM_SERVER), *c = svc_open(n, PSHM_CLIENT);
	uint64_t id = 0;
	char b[8];
	struct pshm_service_req rq;
	cr_expect_eq(pshm_service_send(s, "x", 1, &id), -EINVAL);
	cr_expect_eq(pshm_service_send(c, NULL, 1, &id), -EINVAL);
	cr_expect_eq(pshm_service_send(c, "x", 1, NULL), -EINVAL);
	cr_expect_eq(pshm_service_collect(s, &id, b, sizeof(b), 0), -EINVAL);
	cr_expect_eq(pshm_service_collect(c, &id, b, sizeof(b), 0), -ENOMSG);
	cr_expect_eq(pshm_service_cancel(c, 12345), -ENOMSG);
	cr_expect_eq(pshm_service_recv(c, b, sizeof(b), &rq, 0), -EINVAL);
	cr_expect_eq(pshm_service_recv(s, b, sizeof(b), NULL, 0), -EINVAL);
	cr_expect_eq(pshm_service_reply(c, 1, "x", 1), -EINVAL);
	cr_expect_eq(pshm_service_reply(s, 1, NULL, 1), -EINVAL);
	cr_expect_eq(pshm_service_call(NULL, "x", 1, b, sizeof(b), 0), -EINVAL);
	cr_expect_eq(pshm_service_max_request(c), 4096);
	cr_expect_eq(pshm_service_max_reply(NULL), 0);
	pshm_service_close(c);
	pshm_service_close(s);
}

/* ---- giving up, late replies -------------------------------------------- */

Test(service, a_cancelled_request_never_reaches_a_server)
{
	const char *n = mksvc("cancel", NULL);
	pshm_service *s = svc_open(n, PSHM_SERVER), *c = svc_open(n, PSHM_CLIENT);
	uint64_t id;
	cr_assert_eq(pshm_service_send(c, "gone", 4, &id), 0);
	cr_assert_eq(pshm_service_cancel(c, id), 0);
	cr_expect_eq(pshm_service_cancel(c, id), -ENOMSG);
	char b[8];
	struct pshm_service_req rq;
	cr_expect_eq(pshm_service_recv(s, b, sizeof(b), &rq, 0), -EAGAIN);
	cr_expect_eq(pshm_service_call(c, "x", 1, b, sizeof(b), 0), -EAGAIN,
		     "timeout 0: tried once, given up");
	cr_expect_eq(pshm_service_recv(s, b, sizeof(b), &rq, 0), -EAGAIN, "withdrawn");
	struct pshm_service_info in;
	cr_assert_eq(pshm_service_stat(n, &in), 0);
	cr_expect_eq(in.queued + in.late_dropped, 0);
	pshm_service_close(c);
	pshm_service_close(s);
}

Test(service, a_late_reply_is_dropped_and_counted_never_delivered)
{
	const char *n = mksvc("late", NULL);
	pshm_service *s = svc_open(n, PSHM_SERVER), *c = svc_open(n, PSHM_CLIENT);
	char b[32];
	struct pshm_service_req old, rq;
	uint64_t id;
	/* Taken, then the call times out: the server answers too late. */
	cr_assert_eq(pshm_service_send(c, "first", 5, &id), 0);
	cr_assert_eq(pshm_service_recv(s, b, sizeof(b), &old, 0), 5);
	cr_expect_eq(pshm_service_collect(c, &id, b, sizeof(b), 20 * MS), -ETIMEDOUT,
		     "still in flight after a wait that ended");
	cr_assert_eq(pshm_service_cancel(c, id), 0);
	struct pshm_service_info in;
	cr_assert_eq(pshm_service_stat(n, &in), 0);
	cr_expect_eq(in.in_progress, 0, "cancelled, its cell not reused yet");
	/* The next request, in another cell; the late reply goes nowhere. */
	cr_assert_eq(pshm_service_send(c, "second", 6, &id), 0);
	cr_expect_eq(pshm_service_reply(s, old.id, "LATE", 4), -ECANCELED);
	cr_assert_eq(pshm_service_recv(s, b, sizeof(b), &rq, 0), 6);
	cr_assert_eq(pshm_service_reply(s, rq.id, "ok2", 3), 0);
	cr_expect_eq(pshm_service_collect(c, &id, b, sizeof(b), 1000 * MS), 3);
	cr_expect_eq(memcmp(b, "ok2", 3), 0);
	cr_assert_eq(pshm_service_stat(n, &in), 0);
	cr_expect_eq(in.late_dropped, 1);
	/* A timed-out call: the same, through pshm_service_call(). */
	uint64_t c2;
	cr_assert_eq(pshm_service_send(c, "third", 5, &c2), 0);
	cr_assert_eq(pshm_service_recv(s, b, sizeof(b), &old, 0), 5);
	uint64_t mine = c2;
	cr_expect_eq(pshm_service_collect(c, &mine, b, sizeof(b), 0), -EAGAIN);
	cr_assert_eq(pshm_service_cancel(c, c2), 0);
	for (int i = 0; i < 64; i++) {
		/* Many calls while the late one is held: none gets "LATE". */
		uint64_t x;
		cr_assert_eq(pshm_service_send(c, "n", 1, &x), 0);
		cr_assert_eq(pshm_service_recv(s, b, sizeof(b), &rq, 0), 1);
		cr_assert_eq(pshm_service_reply(s, rq.id, "fresh", 5), 0);
		cr_assert_eq(pshm_service_collect(c, &x, b, sizeof(b), 1000 * MS), 5);
		cr_assert_eq(memcmp(b, "fresh", 5), 0);
	}
	cr_expect_eq(pshm_service_reply(s, old.id, "LATE", 4), -ECANCELED);
	cr_assert_eq(pshm_service_stat(n, &in), 0);
	cr_expect_eq(in.late_dropped, 2);
	pshm_service_close(c);
	pshm_service_close(s);
}

/* ---- servers that go away ------------------------------------------------ */

Test(service, no_server_yet_is_waited_for_then_epipe_once_one_left)
{
	const char *n = mksvc("noserver", NULL);
	pshm_service *c = svc_open(n, PSHM_CLIENT);
	char b[8];
	cr_expect_eq(pshm_service_call(c, "x", 1, b, sizeof(b), 50 * MS), -ETIMEDOUT,
		     "a service that never had a server is waited for");
	pshm_service *s = svc_open(n, PSHM_SERVER);
	pshm_service_close(s);
	cr_expect_eq(pshm_service_call(c, "x", 1, b, sizeof(b), 20000 * MS), -EPIPE);
	pshm_service_close(c);
}

Test(service, a_server_closing_with_a_request_taken_is_epipe)
{
	const char *n = mksvc("closed", NULL);
	pshm_service *s = svc_open(n, PSHM_SERVER), *s2 = svc_open(n, PSHM_SERVER);
	pshm_service *c = svc_open(n, PSHM_CLIENT);
	uint64_t id;
	cr_assert_eq(pshm_service_send(c, "x", 1, &id), 0);
	char b[8];
	struct pshm_service_req rq;
	cr_assert_eq(pshm_service_recv(s, b, sizeof(b), &rq, 0), 1);
	pshm_service_close(s);
	/* Another server is alive, but the request was taken: at most once. */
	cr_expect_eq(pshm_service_collect(c, &id, b, sizeof(b), 20000 * MS), -EPIPE);
	cr_expect_eq(pshm_service_recv(s2, b, sizeof(b), &rq, 0), -EAGAIN);
	pshm_service_close(s2);
	pshm_service_close(c);
}

/* A server child that takes one request, says so, then waits to be killed. */
static pid_t taker(const char *n, int fd)
{
	pid_t p = fork();
	if (p == 0) {
		pshm_service *s;
		char b[8];
		struct pshm_service_req rq;
		if (pshm_service_open(n, PSHM_SERVER, 0, &s) < 0 ||
		    pshm_service_recv(s, b, sizeof(b), &rq, 20000 * MS) < 0)
			_exit(1);
		(void)!write(fd, "t", 1);
		pause();
		_exit(0);
	}
	return p;
}

static void killed_server_is_epipe(bool reap)
{
	const char *n = mksvc(reap ? "killed" : "zombie", NULL);
	pshm_service *c = svc_open(n, PSHM_CLIENT);
	int pfd[2];
	cr_assert_eq(pipe(pfd), 0);
	uint64_t id;
	cr_assert_eq(pshm_service_send(c, "x", 1, &id), 0);
	pid_t p = taker(n, pfd[1]);
	char t, b[8];
	cr_assert_eq(read(pfd[0], &t, 1), 1);
	kill(p, SIGKILL);
	if (reap)
		waitpid(p, NULL, 0);
	cr_expect_eq(pshm_service_collect(c, &id, b, sizeof(b), 10000 * MS), -EPIPE);
	cr_expect_eq(pshm_service_call(c, "y", 1, b, sizeof(b), 10000 * MS), -EPIPE,
		     "and no server is left");
	if (!reap)
		waitpid(p, NULL, 0);
	close(pfd[0]);
	close(pfd[1]);
	pshm_service_close(c);
}

Test(service, a_killed_server_makes_its_pending_calls_epipe)
{
	killed_server_is_epipe(true);
}

Test(service, a_zombie_server_is_dead)
{
	killed_server_is_epipe(false);
}

Test(service, a_dead_clients_slot_is_reclaimed_without_its_replies)
{
	struct pshm_service_config cfg = { .max_clients = 1, .max_inflight = 2 };
	const char *n = mksvc("deadcli", &cfg);
	pshm_service *s = svc_open(n, PSHM_SERVER);
	pid_t p = fork();
	if (p == 0) {
		pshm_service *c;
		uint64_t id;
		if (pshm_service_open(n, PSHM_CLIENT, 0, &c) < 0 ||
		    pshm_service_send(c, "a", 1, &id) < 0 || pshm_service_send(c, "b", 1, &id) < 0)
			_exit(1);
		pause();
	}
	char b[8];
	struct pshm_service_req ra, rb;
	cr_assert_eq(pshm_service_recv(s, b, sizeof(b), &ra, 20000 * MS), 1);
	cr_assert_eq(pshm_service_recv(s, b, sizeof(b), &rb, 20000 * MS), 1);
	cr_assert_eq(pshm_service_reply(s, ra.id, "old-a", 5), 0, "answered before the death");
	kill(p, SIGKILL);
	waitpid(p, NULL, 0);
	/* The one slot is taken over: the owed replies are not the new owner's. */
	pshm_service *c = svc_open(n, PSHM_CLIENT);
	cr_expect_eq(pshm_service_reply(s, rb.id, "old-b", 5), -ECANCELED);
	uint64_t id;
	cr_assert_eq(pshm_service_send(c, "new", 3, &id), 0);
	struct pshm_service_req rq;
	cr_assert_eq(pshm_service_recv(s, b, sizeof(b), &rq, 0), 3);
	cr_assert_eq(pshm_service_reply(s, rq.id, "mine", 4), 0);
	cr_expect_eq(pshm_service_collect(c, &id, b, sizeof(b), 1000 * MS), 4);
	cr_expect_eq(memcmp(b, "mine", 4), 0);
	struct pshm_service_info in;
	cr_assert_eq(pshm_service_stat(n, &in), 0);
	cr_expect_eq(in.late_dropped, 2);
	pshm_service_close(c);
	pshm_service_close(s);
}

Test(service, threads_keep_requests_in_flight_and_get_their_own_replies)
{
	char err[256] = "";
	cr_expect_eq(stress_service_threads(err, sizeof(err)), 0, "%s", err);
}

/* SPDX-License-Identifier: MIT */
/*
 * test_service_crash.c — services under kill -9: rounds of servers (a
 * pool of two) and clients in child processes, one or more of them killed
 * at a random moment, on one service that lives through all the rounds (so
 * every round also inherits what the killed peers of the last one left).
 * Checked:
 *  - every reply a client gets is the answer to the request it is waiting
 *    for (each request unique: pid, counter, random bytes): no corrupt,
 *    duplicated or misdelivered reply;
 *  - a call whose server died fails with -EPIPE, never a hang (a call that
 *    times out after 10 s fails the test), and the survivors go on;
 *  - slots of killed clients and servers are taken over.
 * 200 rounds at PSHM_TEST_SCALE=1; PSHM_TEST_SEED replays a kill schedule.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "service_helpers.h"

#define SERVERS 2
#define CLIENTS 3
#define CALLS 200

static uint64_t seed;

static void crash_setup(void)
{
	th_setup();
	const char *s = getenv("PSHM_TEST_SEED");
	seed = s ? strtoull(s, NULL, 0) : 20261204;
	fprintf(stderr, "test_service_crash: seed %llu (PSHM_TEST_SEED)\n",
		(unsigned long long)seed);
}

TestSuite(service_crash, .init = crash_setup, .fini = th_cleanup, .timeout = 300);

static uint32_t rnd(uint64_t *s)
{
	*s = *s * 6364136223846793005u + 1442695040888963407u;
	return (uint32_t)(*s >> 33);
}

/* The answer to @req: its bytes reversed, then "!" (so a reply cannot be
 * taken for its request, and every byte of it is checked). */
static size_t answer_of(const char *req, size_t len, char *out)
{
	for (size_t i = 0; i < len; i++)
		out[i] = req[len - 1 - i];
	out[len] = '!';
	return len + 1;
}

/* Servers say on this pipe when they have attached: clients start then
 * (a request sent between two rounds, when the last round's servers are
 * dead and the next ones not there yet, rightly fails with -EPIPE). */
static int ready[2] = { -1, -1 };

static int server_child(const char *n)
{
	pshm_service *s;
	if (pshm_service_open(n, PSHM_SERVER, 0, &s) < 0)
		return 2;
	(void)!write(ready[1], "s", 1);
	for (;;) {
		char req[256], rep[260];
		struct pshm_service_req rq;
		ssize_t len = pshm_service_recv(s, req, sizeof(req), &rq, PSHM_FOREVER);
		if (len < 0)
			return 3;
		int r = pshm_service_reply(s, rq.id, rep, answer_of(req, (size_t)len, rep));
		if (r < 0 && r != -ECANCELED)
			return 4;
	}
}

/* Exit codes: 0 done, 3 a wrong reply, 4 a call that hung, 5 another error. */
static int client_child(const char *n, uint64_t rs)
{
	pshm_service *c;
	if (pshm_service_open(n, PSHM_CLIENT, 0, &c) < 0)
		return 2;
	for (int i = 0; i < CALLS; i++) {
		char req[200], want[260], got[260];
		int len = snprintf(req, sizeof(req), "%d:%d:", (int)getpid(), i);
		int extra = (int)(rnd(&rs) % 120);
		for (int k = 0; k < extra; k++)
			req[len++] = (char)('a' + rnd(&rs) % 26);
		size_t wl = answer_of(req, (size_t)len, want);
		ssize_t r = pshm_service_call(c, req, (size_t)len, got, sizeof(got), 10000 * MS);
		if (r == -EPIPE)
			continue;
		if (r == -ETIMEDOUT)
			return 4;
		if (r < 0)
			return 5;
		if ((size_t)r != wl || memcmp(got, want, wl))
			return 3;
	}
	pshm_service_close(c);
	return 0;
}

static void reap(pid_t p, bool killed, const char *who)
{
	int ws;
	cr_assert_eq(waitpid(p, &ws, 0), p);
	if (killed)
		return;
	cr_assert(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "%s %d: %s %d", who, (int)p,
		  WIFEXITED(ws) ? "exit" : "signal", WIFEXITED(ws) ? WEXITSTATUS(ws) : WTERMSIG(ws));
}

Test(service_crash, kill_9_rounds_over_clients_and_servers)
{
	struct pshm_service_config cfg = {
		.max_request = 256, .max_reply = 256, .max_clients = 2 * CLIENTS,
		.max_servers = 2 * SERVERS, .max_inflight = 2,
	};
	const char *n = mksvc("crash", &cfg);
	cr_assert_eq(pipe(ready), 0);
	const char *s = getenv("PSHM_TEST_SCALE");
	int rounds = 200 * (s && atoi(s) > 0 ? atoi(s) : 1);
	for (int round = 0; round < rounds; round++) {
		pid_t srv[SERVERS], cli[CLIENTS];
		bool cli_dead[CLIENTS] = { 0 };
		for (int i = 0; i < SERVERS; i++)
			if ((srv[i] = fork()) == 0)
				_exit(server_child(n));
		for (int i = 0; i < SERVERS; i++) {
			char c;
			cr_assert_eq(read(ready[0], &c, 1), 1);
		}
		for (int i = 0; i < CLIENTS; i++) {
			uint64_t rs = seed ^ ((uint64_t)round << 8 | (uint64_t)i);
			if ((cli[i] = fork()) == 0)
				_exit(client_child(n, rs));
		}
		/* Kill a server, a client, or both servers, after a while. */
		uint32_t what = rnd(&seed) % 8;
		struct timespec d = { 0, (long)(rnd(&seed) % 4000) * 1000 };
		nanosleep(&d, NULL);
		if (what < 3) {
			int v = (int)(rnd(&seed) % SERVERS);
			kill(srv[v], SIGKILL);
		} else if (what < 7) {
			int v = (int)(rnd(&seed) % CLIENTS);
			kill(cli[v], SIGKILL);
			cli_dead[v] = true;
		} else {
			for (int v = 0; v < SERVERS; v++)
				kill(srv[v], SIGKILL);
		}
		for (int i = 0; i < CLIENTS; i++)
			reap(cli[i], cli_dead[i], "client");
		for (int i = 0; i < SERVERS; i++) {
			kill(srv[i], SIGKILL);
			reap(srv[i], true, "server");
		}
	}
	struct pshm_service_info in;
	cr_assert_eq(pshm_service_stat(n, &in), 0);
	cr_expect_eq(in.servers + in.clients, 0);
	cr_expect_eq(in.server_attaches, (uint64_t)rounds * SERVERS);
	close(ready[0]);
	close(ready[1]);
}

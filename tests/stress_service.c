/* SPDX-License-Identifier: MIT */
/*
 * stress_service.c — a pool of server threads answers client threads that
 * keep several requests in flight each; every reply must be the answer to
 * the request with its id, from the client that sent it. Shared by
 * tests/test_service.c and tests/tsan_main.c (under ThreadSanitizer).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "stress.h"

#define WAIT_NS INT64_C(30000000000) /* 30 s: only a hang would reach it */
#define SERVERS 2
#define CLIENTS 3
#define INFLIGHT 4

struct svc_stress {
	const char *name;
	long calls;
	int failed[CLIENTS + SERVERS];
};

/* The answer to a request: its bytes in reverse order. */
static void reverse(const char *in, size_t len, char *out)
{
	for (size_t i = 0; i < len; i++)
		out[i] = in[len - 1 - i];
}

static void *server(void *arg)
{
	struct svc_stress *st = arg;
	pshm_service *s;
	if (pshm_service_open(st->name, PSHM_SERVER, 0, &s))
		return (void *)1;
	for (;;) {
		char req[128], rep[128];
		struct pshm_service_req rq;
		ssize_t n = pshm_service_recv(s, req, sizeof(req), &rq, WAIT_NS);
		if (n < 0)
			break;
		if (n == 4 && !memcmp(req, "quit", 4)) {
			pshm_service_reply(s, rq.id, "", 0);
			break;
		}
		reverse(req, (size_t)n, rep);
		if (pshm_service_reply(s, rq.id, rep, (size_t)n))
			break;
	}
	pshm_service_close(s);
	return NULL;
}

struct client_arg {
	struct svc_stress *st;
	int me;
};

/* Collect one outcome and check it against what was sent with its id. */
static int collect_one(pshm_service *c, uint64_t *ids, char sent[][64], size_t *lens)
{
	uint64_t id = 0;
	char got[64], want[64];
	ssize_t n = pshm_service_collect(c, &id, got, sizeof(got), WAIT_NS);
	int k = 0;
	while (k < INFLIGHT && ids[k] != id)
		k++;
	if (n < 0 || k == INFLIGHT || (size_t)n != lens[k])
		return -1;
	reverse(sent[k], lens[k], want);
	if (memcmp(got, want, lens[k]))
		return -1;
	ids[k] = 0;
	return k;
}

static void *client(void *arg)
{
	struct client_arg *ca = arg;
	pshm_service *c;
	if (pshm_service_open(ca->st->name, PSHM_CLIENT, 0, &c)) {
		ca->st->failed[ca->me] = 1;
		return NULL;
	}
	uint64_t ids[INFLIGHT] = { 0 };
	char sent[INFLIGHT][64];
	size_t lens[INFLIGHT];
	long done = 0, posted = 0;
	while (done < ca->st->calls) {
		for (int k = 0; k < INFLIGHT && posted < ca->st->calls; k++) {
			if (ids[k])
				continue;
			int n = snprintf(sent[k], sizeof(sent[k]), "c%d-%ld-%.*s", ca->me, posted,
					 (int)(posted % 40), "abcdefghijklmnopqrstuvwxyz0123456789ABCD");
			lens[k] = (size_t)n;
			if (pshm_service_send(c, sent[k], lens[k], &ids[k]))
				goto fail;
			posted++;
		}
		if (collect_one(c, ids, sent, lens) < 0)
			goto fail;
		done++;
	}
	pshm_service_close(c);
	return NULL;
fail:
	ca->st->failed[ca->me] = 1;
	pshm_service_close(c);
	return NULL;
}

int stress_service_threads(char *err, size_t errlen)
{
	char name[64];
	snprintf(name, sizeof(name), "/pshm-test-stress-svc-%d", (int)getpid());
	struct pshm_service_config cfg = { .max_request = 64, .max_reply = 64,
					   .max_inflight = INFLIGHT };
	if (pshm_service_create(name, &cfg, 0, 0)) {
		snprintf(err, errlen, "create %s", name);
		return -1;
	}
	struct svc_stress st = { .name = name, .calls = 2000 * stress_scale() };
	pthread_t t[SERVERS + CLIENTS];
	struct client_arg ca[CLIENTS];
	for (int i = 0; i < SERVERS; i++)
		pthread_create(&t[i], NULL, server, &st);
	for (int i = 0; i < CLIENTS; i++) {
		ca[i] = (struct client_arg){ &st, i };
		pthread_create(&t[SERVERS + i], NULL, client, &ca[i]);
	}
	for (int i = 0; i < CLIENTS; i++)
		pthread_join(t[SERVERS + i], NULL);
	pshm_service *c;
	char b[8];
	if (pshm_service_open(name, PSHM_CLIENT, 0, &c) == 0) {
		for (int i = 0; i < SERVERS; i++)
			pshm_service_call(c, "quit", 4, b, sizeof(b), WAIT_NS);
		pshm_service_close(c);
	}
	for (int i = 0; i < SERVERS; i++)
		pthread_join(t[i], NULL);
	pshm_service_unlink(name);
	for (int i = 0; i < CLIENTS; i++)
		if (st.failed[i]) {
			snprintf(err, errlen, "client %d got a wrong reply or an error", i);
			return -1;
		}
	return 0;
}

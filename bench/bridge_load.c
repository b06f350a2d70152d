/* SPDX-License-Identifier: MIT */
/*
 * bridge_load.c — load for bench/bridge.sh: the two ends of a channel
 * carried by `pshm bridge`, and the same data over a plain NNG push/pull
 * pair (one NNG message per message, as an application would use NNG).
 *
 *   bridge_load produce NAME COUNT SIZE   COUNT messages of SIZE bytes into channel NAME
 *   bridge_load consume NAME COUNT        take COUNT messages; print the rate
 *   bridge_load push URL COUNT SIZE       the same over NNG push0 (dials)
 *   bridge_load pull URL COUNT            NNG pull0 (listens); print the rate
 *
 * The rate is measured by the receiving side, from its first message to
 * its last: "RESULT <msgs/s> <MB/s>".
 */
#include <errno.h>
#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pshm.h"

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int die(const char *what, int err)
{
	fprintf(stderr, "bridge_load: %s: %s\n", what, err < 0 ? pshm_strerror(err) : nng_strerror(err));
	return 1;
}

static void result(unsigned long n, size_t bytes, double t0)
{
	double dt = now() - t0;
	printf("RESULT %.0f %.1f\n", (double)(n - 1) / dt, (double)bytes / dt / 1e6);
}

static int produce(const char *name, unsigned long n, size_t size)
{
	pshm_chan *ch;
	char *buf = calloc(1, size ? size : 1);
	int r = pshm_chan_open(name, PSHM_PRODUCER, 0, &ch);
	if (r < 0 || !buf)
		return die(name, r < 0 ? r : -ENOMEM);
	for (unsigned long i = 0; i < n; i++) {
		memcpy(buf, &i, size < sizeof(i) ? size : sizeof(i));
		if ((r = pshm_chan_send(ch, buf, size, PSHM_FOREVER)) < 0)
			return die("send", r);
	}
	pshm_chan_close(ch);
	free(buf);
	return 0;
}

static int consume(const char *name, unsigned long n)
{
	pshm_chan *ch;
	const void *p;
	size_t bytes = 0;
	double t0 = 0;
	int r = pshm_chan_open(name, PSHM_CONSUMER, 0, &ch);
	if (r < 0)
		return die(name, r);
	for (unsigned long i = 0; i < n; i++) {
		ssize_t len = pshm_chan_peek(ch, &p, PSHM_FOREVER);
		if (len < 0)
			return die("recv", (int)len);
		if (i == 0)
			t0 = now();
		else
			bytes += (size_t)len;
		pshm_chan_release(ch);
	}
	result(n, bytes, t0);
	pshm_chan_close(ch);
	return 0;
}

static int push(const char *url, unsigned long n, size_t size)
{
	nng_socket s;
	char *buf = calloc(1, size ? size : 1);
	int r = nng_push0_open(&s);
	if (!r) /* queue messages, as the bridge batches them: not lock-step */
		nng_socket_set_int(s, NNG_OPT_SENDBUF, 8192);
	if (!r)
		r = nng_dial(s, url, NULL, NNG_FLAG_NONBLOCK);
	if (r || !buf)
		return die(url, r ? r : NNG_ENOMEM);
	for (unsigned long i = 0; i < n; i++) {
		memcpy(buf, &i, size < sizeof(i) ? size : sizeof(i));
		if ((r = nng_send(s, buf, size, 0)) != 0)
			return die("nng_send", r);
	}
	struct timespec ts = { 1, 0 }; /* let the last ones leave before closing */
	nanosleep(&ts, NULL);
	nng_close(s);
	free(buf);
	return 0;
}

static int pull(const char *url, unsigned long n)
{
	nng_socket s;
	size_t bytes = 0;
	double t0 = 0;
	int r = nng_pull0_open(&s);
	if (!r) {
		nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, 0);
		nng_socket_set_int(s, NNG_OPT_RECVBUF, 8192);
	}
	if (!r)
		r = nng_listen(s, url, NULL, 0);
	if (r)
		return die(url, r);
	printf("READY\n");
	fflush(stdout);
	for (unsigned long i = 0; i < n; i++) {
		nng_msg *m;
		if ((r = nng_recvmsg(s, &m, 0)) != 0)
			return die("nng_recv", r);
		if (i == 0)
			t0 = now();
		else
			bytes += nng_msg_len(m);
		nng_msg_free(m);
	}
	result(n, bytes, t0);
	nng_close(s);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: bridge_load produce|consume|push|pull NAME|URL COUNT [SIZE]\n");
		return 2;
	}
	unsigned long n = strtoul(argv[3], NULL, 0);
	size_t size = argc > 4 ? strtoul(argv[4], NULL, 0) : 0;
	if (!strcmp(argv[1], "produce"))
		return produce(argv[2], n, size);
	if (!strcmp(argv[1], "consume"))
		return consume(argv[2], n);
	if (!strcmp(argv[1], "push"))
		return push(argv[2], n, size);
	if (!strcmp(argv[1], "pull"))
		return pull(argv[2], n);
	return 2;
}
